/**
 * The override function's input: the engineer's one safe, audited lever. Every action names
 * its actor and a reason; input is validated strictly (unknown fields and actions rejected,
 * every problem with its path). Pure: checks that need state (does the pipeline exist?) are the
 * application service's.
 */
import * as z from "zod";
import type { BlockerKind } from "./blockers.ts";
import { BreakwaterError } from "./errors.ts";
import { collectProblems, formatProblems, type Problem } from "./pipeline.ts";
import { globMatches, MAX_SCOPE_GLOB_LENGTH } from "./scope.ts";
import { versionSchema } from "./version.ts";

/**
 * Decisions on a halted run (safety rule 3: an engineer decides what happens after a rollback),
 * and on a run awaiting a stage's approval (`approve`, `reject`).
 */
export const DECISION_ACTIONS = [
  "rollback-all",
  "retry",
  "roll-forward",
  "cancel",
  "approve",
  "reject",
] as const;

/** Every action of the override function. */
export const OVERRIDE_ACTIONS = [
  "block",
  "unblock",
  "bypass",
  "start",
  "apply-pipeline",
  ...DECISION_ACTIONS,
] as const;

/** A bypass may last at most this long: long enough to ship a fix, short enough to be forgotten safely. */
export const MAX_BYPASS_HOURS = 24;
/** A block with an end may be set at most this far ahead. */
export const MAX_BLOCK_DAYS = 30;

const actor = z
  .string({ error: "is required: who is acting (for example alice or ops-bot)" })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/, {
    error: "must be 1-64 letters, digits or . _ @ + - (a login or role session name)",
  });
const reason = z
  .string({ error: "is required: why (it goes into the audit history)" })
  .trim()
  .min(3, { error: "must say why, in at least 3 characters" })
  .max(500, { error: "must be at most 500 characters" });
const pipeline = z
  .string({ error: "must be a pipeline name" })
  .regex(/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/, { error: "must be a pipeline name" });
const version = versionSchema;
const artifactDigest = z
  .string({ error: 'must be "sha256:" followed by 64 lowercase hex characters' })
  .regex(/^sha256:[0-9a-f]{64}$/, {
    error: 'must be "sha256:" followed by 64 lowercase hex characters',
  });
const instant = z.iso.datetime({ offset: true, error: "must be an ISO time with Z or an offset" });
const blockerKind = z.enum(["alarm", "org-alarm", "time-window", "manual"], {
  error: "must be one of alarm, org-alarm, time-window, manual",
});

const target = {
  level: z.enum(["org", "pipeline", "scope"], { error: "must be org, pipeline or scope" }),
  pipeline: pipeline.optional(),
  scopes: z
    .string({ error: "must be a scope glob such as prod-2/us-east-1/*" })
    .regex(/^[a-z0-9*][a-z0-9*/-]*$/, { error: "must be a scope glob such as prod-2/us-east-1/*" })
    .max(MAX_SCOPE_GLOB_LENGTH, {
      error: `must be at most ${MAX_SCOPE_GLOB_LENGTH} characters (a scope glob such as prod-2/us-east-1/*)`,
    })
    .optional(),
};

function checkTarget(
  v: {
    level: "org" | "pipeline" | "scope";
    pipeline?: string | undefined;
    scopes?: string | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  if (v.level !== "org" && !v.pipeline) {
    ctx.addIssue({
      code: "custom",
      path: ["pipeline"],
      message: `is required for level ${v.level}`,
    });
  }
  if (v.level === "scope" && !v.scopes) {
    ctx.addIssue({ code: "custom", path: ["scopes"], message: "is required for level scope" });
  }
  if (v.level === "org" && v.pipeline) {
    ctx.addIssue({ code: "custom", path: ["pipeline"], message: "must not be set for level org" });
  }
  if (v.level !== "scope" && v.scopes) {
    ctx.addIssue({ code: "custom", path: ["scopes"], message: "is only for level scope" });
  }
}

export const overrideSchema = z.discriminatedUnion(
  "action",
  [
    z
      .object({ action: z.literal("block"), actor, reason, ...target, until: instant.optional() })
      .strict()
      .superRefine(checkTarget),
    z
      .object({ action: z.literal("unblock"), actor, reason, ...target })
      .strict()
      .superRefine(checkTarget),
    z
      .object({
        action: z.literal("bypass"),
        actor,
        reason,
        pipeline,
        version,
        kinds: z.array(blockerKind, { error: "must list blocker kinds" }).min(1, {
          error: "must list at least one blocker kind",
        }),
        expiresAt: instant,
      })
      .strict(),
    // A manual start: the operator's authenticated, audited run request (issue 10 finding 3).
    z
      .object({
        action: z.literal("start"),
        actor,
        reason,
        pipeline,
        version,
        artifactDigest: artifactDigest.optional(),
      })
      .strict(),
    // `pipelines apply`: register or update a definition (validated as a pipeline by the
    // service, with every problem under `definition.`), optionally only over a known revision.
    z
      .object({
        action: z.literal("apply-pipeline"),
        actor,
        reason,
        definition: z.record(z.string(), z.unknown(), {
          error: "must be a pipeline definition (a JSON object)",
        }),
        /** The version the pipeline's scopes without state run now (seeded, audited). */
        initialVersion: version.optional(),
        expectRevision: z
          .int({ error: "must be a whole number: the revision the change was reviewed against" })
          .min(0, { error: "must be 0 (no applied revision yet) or more" })
          .max(99_999_999, { error: "must be at most 99999999" })
          .optional(),
      })
      .strict(),
    // rollback-all alone may be asked fast: every scope at once, for incidents (safety rule 1).
    z
      .object({
        action: z.literal("rollback-all"),
        actor,
        reason,
        pipeline,
        version,
        fast: z.boolean({ error: "must be true or false" }).optional(),
      })
      .strict(),
    ...DECISION_ACTIONS.filter((a) => a !== "rollback-all").map((action) =>
      z.object({ action: z.literal(action), actor, reason, pipeline, version }).strict(),
    ),
  ],
  { error: () => `must be one of ${OVERRIDE_ACTIONS.join(", ")}` },
);

export type Override = z.output<typeof overrideSchema>;
export type BlockOverride = Extract<Override, { action: "block" }>;
export type UnblockOverride = Extract<Override, { action: "unblock" }>;
export type BypassOverride = Extract<Override, { action: "bypass" }>;
export type StartOverride = Extract<Override, { action: "start" }>;
export type ApplyPipelineOverride = Extract<Override, { action: "apply-pipeline" }>;
export type DecisionOverride = Extract<Override, { action: (typeof DECISION_ACTIONS)[number] }>;

/** A live bypass: one version may ignore the named blocker kinds until it expires. */
export interface Bypass {
  pipeline: string;
  version: string;
  kinds: BlockerKind[];
  expiresAt: string;
  actor: string;
  /** The authenticated principal that set it (absent on bypasses written before 2026-12-01). */
  principal?: string;
  reason: string;
  createdAt: string;
  /** Compare-and-set token of the stored bypass (see `ManualBlock.rev`). */
  rev?: number;
}

export class OverrideRejectedError extends BreakwaterError {
  override name = "OverrideRejectedError";
  constructor(readonly problems: Problem[]) {
    super(`override rejected: ${formatProblems(problems, "; ")}`);
  }
}

/**
 * Parses an override request, also checking its times against `now`: an expiry in the past or
 * too far ahead is rejected.
 *
 * @example
 * parseOverride({ action: "block", level: "org", actor: "alice", reason: "sev-1 open" }, new Date());
 */
export function parseOverride(input: unknown, now: Date): Override {
  const result = overrideSchema.safeParse(input);
  if (!result.success) {
    const problems = collectProblems(result.error.issues, input).map((p) =>
      p.path === "" && (input as { action?: unknown })?.action !== undefined
        ? { ...p, path: "action" }
        : p,
    );
    throw new OverrideRejectedError(problems);
  }
  const o = result.data;
  const problems: Problem[] = [];
  const future = (field: string, iso: string, maxMs: number, what: string) => {
    const t = Date.parse(iso);
    if (t <= now.getTime()) problems.push({ path: field, message: "must be in the future" });
    else if (t - now.getTime() > maxMs)
      problems.push({ path: field, message: `must be at most ${what} ahead` });
  };
  if (o.action === "bypass")
    future("expiresAt", o.expiresAt, MAX_BYPASS_HOURS * 3_600_000, `${MAX_BYPASS_HOURS} hours`);
  if (o.action === "block" && o.until)
    future("until", o.until, MAX_BLOCK_DAYS * 86_400_000, `${MAX_BLOCK_DAYS} days`);
  if (problems.length > 0) throw new OverrideRejectedError(problems);
  return o;
}

/**
 * Who acts, as authenticated rather than as typed: in AWS the IAM principal that signed the
 * request to the override function URL (`requestContext.authorizer.iam`); locally the name
 * bound to `serve`'s bearer token (`local:token`). The typed `actor` is recorded beside it.
 */
export interface Principal {
  /** The caller's principal ARN, e.g. `arn:aws:sts::123456789012:assumed-role/Operators/alice`. */
  arn: string;
  accountId?: string;
  /** IAM's caller id (`AROA…:session` for an assumed role). */
  callerId?: string;
}

/** The override function was called without an authenticated caller identity (fail closed). */
export class UnauthenticatedOverrideError extends BreakwaterError {
  override name = "UnauthenticatedOverrideError";
}

/** A principal pattern: an ARN (or local name) where `*` stands for any run of characters. */
const PRINCIPAL_PATTERN =
  /^(arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/*-]+|local:[A-Za-z0-9._@+*-]+)$/;

/**
 * Parses the override allow-list (`BREAKWATER_OVERRIDE_PRINCIPALS`, comma-separated principal
 * ARN patterns). A malformed entry is an error naming it, not a silently ignored line.
 *
 * @example
 * parsePrincipalPatterns("arn:aws:sts::123456789012:assumed-role/Operators/*");
 */
export function parsePrincipalPatterns(list: string): string[] {
  const patterns = list
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const bad = patterns.filter((p) => !PRINCIPAL_PATTERN.test(p));
  if (bad.length > 0) {
    throw new Error(
      `override principal allow-list: ${bad.map((b) => `"${b}"`).join(", ")} is not a principal ARN pattern (arn:aws:sts::<account>:assumed-role/<role>/<session or *>, arn:aws:iam::<account>:user/<name>, or local:<name>)`,
    );
  }
  return patterns;
}

/**
 * Whether `arn` matches `pattern`, where `*` matches any run of characters (also `/` and `:`):
 * the same linear-time wildcard matcher as scope globs ({@link globMatches}), never a regular
 * expression built from the pattern.
 *
 * @example
 * principalMatches("arn:aws:sts::123456789012:assumed-role/Operators/*", "arn:aws:sts::123456789012:assumed-role/Operators/alice"); // true
 */
export function principalMatches(pattern: string, arn: string): boolean {
  return globMatches(pattern, arn);
}
