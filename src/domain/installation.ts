/**
 * The installation's configuration, shared by every pipeline: organisation-wide alarms (for
 * example "org sev-1 open"), region overrides for time zones and holiday calendars, and how
 * often a blocked step checks again. JSON file `breakwater.config.json`, validated like
 * pipelines (strict, every problem with its path).
 */
import { z } from "zod";
import { triggerConfigSchema } from "../triggers/decisions.ts";
import { collectProblems, PipelineValidationError } from "./pipeline.ts";
import { regionOverridesSchema } from "./time-windows.ts";

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

export const installationSchema = z
  .object({
    $schema: z.string().optional(),
    orgAlarms: z
      .array(orgAlarm, { error: "must be a list of alarm names" })
      .optional()
      .describe(
        "Organisation-wide alarms: while any is in ALARM, no pipeline of the installation starts a deploy step.",
      ),
    regions: regionOverridesSchema
      .optional()
      .describe("Per-region overrides of the built-in time zone and holiday calendar."),
    github: triggerConfigSchema
      .optional()
      .describe(
        "Which merges start runs: [{ repository, branch, pipeline, minApprovals, requireApprovalOnHead, apiUrl, approvers }].",
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
