/**
 * The installation's configuration, shared by every pipeline: organisation-wide alarms (for
 * example "org sev-1 open"), organisation-wide freezes, region overrides for time zones and holiday calendars, and how
 * often a blocked step checks again. JSON file `breakwater.config.json`, validated like
 * pipelines (strict, every problem with its path).
 */
import * as z from "zod";
import { collectProblems, PipelineValidationError } from "./pipeline.ts";
import { regionOverridesSchema } from "./time-windows/regions.ts";
import { freezeSchema, MAX_FREEZES } from "./time-windows/schema.ts";
import { triggerConfigSchema } from "./trigger-config.ts";

const orgAlarm = z.union(
  [
    z.string().min(1, { error: "must be a non-empty alarm name" }),
    z
      .object({
        name: z
          .string({ error: "must be an alarm name" })
          .min(1, { error: "must be an alarm name" }),
        region: z
          .string({ error: "must be an AWS region name" })
          .regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$/, { error: "must be an AWS region name" })
          .optional(),
      })
      .strict(),
  ],
  { error: 'must be an alarm name or { "name": ..., "region": ... }' },
);

/**
 * An IAM role or user ARN with a 12-digit account and no wildcard: it becomes an
 * `aws:PrincipalArn` value in the bus's resource policy, where a `*` would let anyone in.
 */
const PRINCIPAL_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)\/[A-Za-z0-9+=,.@_/-]{1,512}$/;
/** An EventBridge `source` a CI may use: not AWS's (`aws.`) nor Breakwater's own. */
const CI_SOURCE = /^(?!aws\.)(?!breakwater$)[A-Za-z0-9._-]{1,256}$/;

export const artifactPublisherSchema = z
  .object({
    principalArn: z
      .string({ error: "is required: the CI's IAM role or user ARN" })
      .regex(PRINCIPAL_ARN, {
        error:
          "must be an IAM role or user ARN with a 12-digit account and no wildcard (arn:aws:iam::123456789012:role/ci)",
      }),
    sources: z
      .array(
        z.string().regex(CI_SOURCE, {
          error: 'must be an event source such as "ci.buildkite" (not aws.* nor breakwater)',
        }),
        { error: "must be a list of event sources" },
      )
      .min(1, { error: "must name at least one source, or be left out (any source)" })
      .optional(),
  })
  .strict();

export type ArtifactPublisher = z.output<typeof artifactPublisherSchema>;

/**
 * Why an "Artifact Published" from `source` is refused, or undefined when it may count: the
 * installation must name at least one CI publisher (none: every such event is refused, fail
 * closed), and the source must be one a publisher lists (a publisher without `sources` allows
 * any; its principal is what the bus policy checks).
 *
 * @example
 * artifactSourceRefusal([], "ci.buildkite");
 * // → "no CI publisher is named in the installation's artifactPublishers: every Artifact Published is refused"
 */
export function artifactSourceRefusal(
  publishers: readonly ArtifactPublisher[],
  source: string,
): string | undefined {
  if (publishers.length === 0) {
    return "no CI publisher is named in the installation's artifactPublishers: every Artifact Published is refused";
  }
  if (publishers.some((p) => p.sources === undefined || p.sources.includes(source)))
    return undefined;
  const named = [...new Set(publishers.flatMap((p) => p.sources ?? []))].sort();
  return `source "${source}" is not one the installation's artifactPublishers name (${named.join(", ")})`;
}

export const installationSchema = z
  .object({
    $schema: z.string().optional(),
    orgAlarms: z
      .array(orgAlarm, { error: "must be a list of alarm names" })
      .optional()
      .describe(
        "Organisation-wide alarms: while any is in ALARM, no pipeline of the installation starts a deploy step.",
      ),
    freezes: z
      .array(freezeSchema, { error: "must be a list of freezes" })
      .max(MAX_FREEZES, { error: `must list at most ${MAX_FREEZES} freezes` })
      .optional()
      .describe(
        "Organisation-wide freezes [{ from, to, reason }]: no pipeline starts a deploy step inside one, whatever its own or its stages' timeWindows say.",
      ),
    regions: regionOverridesSchema
      .optional()
      .describe("Per-region overrides of the built-in time zone and holiday calendar."),
    github: triggerConfigSchema
      .optional()
      .describe(
        "Which merges start runs: [{ repository, branch, pipeline, minApprovals, requireApprovalOnHead, apiUrl, approvers }].",
      ),
    artifactPublishers: z
      .array(artifactPublisherSchema, { error: "must be a list of { principalArn, sources? }" })
      .optional()
      .describe(
        'Which CI principals may publish "Artifact Published": [{ principalArn, sources? }]. None: no principal may.',
      ),
    blockerRecheckMinutes: z
      .number({ error: "must be a whole number of minutes from 1 to 60" })
      .int({ error: "must be a whole number of minutes from 1 to 60" })
      .min(1, { error: "must be a whole number of minutes from 1 to 60" })
      .max(60, { error: "must be a whole number of minutes from 1 to 60" })
      .optional()
      .describe("How often a blocked step checks its blockers again (default 5 minutes)."),
  })
  .strict();

export type InstallationInput = z.input<typeof installationSchema>;
export type Installation = z.output<typeof installationSchema>;

export const DEFAULT_RECHECK_MINUTES = 5;

/** Organisation alarms as { name, region } (region defaults to the control plane's home region). */
export function orgAlarmsOf(
  config: Installation,
  homeRegion: string,
): { name: string; region: string }[] {
  return (config.orgAlarms ?? []).map((a) =>
    typeof a === "string"
      ? { name: a, region: homeRegion }
      : { name: a.name, region: a.region ?? homeRegion },
  );
}

export function parseInstallation(input: unknown, source = "installation config"): Installation {
  const result = installationSchema.safeParse(input);
  if (result.success) return result.data;
  throw new PipelineValidationError(
    source,
    collectProblems(result.error.issues, input),
    "installation config",
  );
}
