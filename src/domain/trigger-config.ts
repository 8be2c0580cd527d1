/**
 * The trigger configuration: which pipelines deploy from which branch of which repository, and
 * the approvals a change needs (issue 8). Pure zod, in the domain because the installation file
 * embeds it (`installation.ts`); the trigger rules that read it are in `src/triggers/`.
 */
import * as z from "zod";
import { InvalidInputError } from "./errors.ts";
import { collectProblems, formatProblems } from "./pipeline.ts";

/** Same rule as pipeline names in pipeline files, so a config can only name a valid pipeline. */
const PIPELINE_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const TEAM = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9_.-]+$/;
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(:\d+)?(\/|$)/;

/** One pipeline deployed from one branch of one repository. */
export const pipelineTriggerSchema = z
  .object({
    /** `owner/name`, as GitHub's `repository.full_name` (compared case-insensitively). */
    repository: z.string().regex(REPOSITORY, { error: 'must be "owner/name"' }),
    /** The base branch a merge must land on (exact, case-sensitive like git refs). */
    branch: z.string().min(1),
    pipeline: z.string().regex(PIPELINE_NAME, {
      error: "must be a pipeline name (lowercase letters, digits and hyphens, at most 40)",
    }),
    /** Distinct approvers needed, not counting the author. At least 1: every change is reviewed. */
    minApprovals: z.number().int().min(1).default(1),
    /**
     * Only approvals of the merged head commit count (an approval of an earlier push does not
     * vouch for what was pushed after it). On by default.
     */
    requireApprovalOnHead: z.boolean().default(true),
    /**
     * GitHub's REST API, asked who the reviewers are (default `https://api.github.com`; GitHub
     * Enterprise Server: `https://<host>/api/v3`). It receives the API token: https, or http on
     * the loopback interface only (local mode, tests).
     */
    apiUrl: z
      .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
      .refine((u) => u.startsWith("https://") || LOOPBACK.test(u), {
        error: "must be https (http only on 127.0.0.1, [::1] or localhost)",
      })
      .optional(),
    /**
     * Who may approve, beyond having write access to the repository: these users, or active
     * members of these teams (`org/team-slug`). Without it, every writer may.
     */
    approvers: z
      .object({
        users: z
          .array(z.string().regex(LOGIN, { error: "must be a GitHub login" }))
          .min(1)
          .optional(),
        teams: z
          .array(z.string().regex(TEAM, { error: 'must be "org/team-slug"' }))
          .min(1)
          .optional(),
      })
      .strict()
      .refine((a) => a.users !== undefined || a.teams !== undefined, {
        error: "must list users or teams",
      })
      .optional(),
  })
  .strict();

/** Several pipelines per repository (and per branch) are allowed; duplicates are not. */
export const triggerConfigSchema = z.array(pipelineTriggerSchema).superRefine((entries, ctx) => {
  const seen = new Map<string, number>();
  entries.forEach((e, i) => {
    const key = `${e.repository.toLowerCase()}|${e.branch}|${e.pipeline}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else
      ctx.addIssue({
        code: "custom",
        path: [i],
        message: `duplicates entry [${first}] (${e.repository} ${e.branch} → ${e.pipeline})`,
      });
  });
});

export type PipelineTrigger = z.output<typeof pipelineTriggerSchema>;
export type TriggerConfig = z.output<typeof triggerConfigSchema>;
export type TriggerConfigInput = z.input<typeof triggerConfigSchema>;

/**
 * Validates the trigger configuration, reporting every problem with its path.
 *
 * @example
 * parseTriggerConfig([{ repository: "acme/orders", branch: "main", pipeline: "orders-api" }]);
 * // → [{ repository: "acme/orders", branch: "main", pipeline: "orders-api", minApprovals: 1, requireApprovalOnHead: true }]
 */
export function parseTriggerConfig(input: unknown): TriggerConfig {
  const parsed = triggerConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = collectProblems(parsed.error.issues, input);
  throw new InvalidInputError(
    `invalid trigger config: ${formatProblems(problems, "; ")}`,
    problems,
  );
}
