/** Schemas of the state machine's task inputs: every handler parses its input at the boundary. */
import * as z from "zod";
import { MAX_REPORT_CHARS } from "../domain/checks.ts";
import {
  MAX_STAGE_TESTS,
  MAX_TEST_TIMEOUT_MINUTES,
  type Pipeline,
  pipelineSchema,
} from "../domain/pipeline.ts";
import { MAX_DEFINITION_BYTES } from "../domain/pipeline-registry.ts";
import { versionSchema } from "../domain/version.ts";

const digestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, {
  error: 'must be "sha256:" followed by 64 lowercase hex characters',
});

/** How many distinct snapshots a process keeps validated (a Lambda serves few runs at once). */
const SNAPSHOT_CACHE_SIZE = 16;
const validatedSnapshots = new Map<string, Pipeline>();

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * The run's snapshot, validated whole by `pipelineSchema` the first time a process sees it and
 * then recognised by its exact JSON text. It arrives as that text (src/domain/execution-input.ts;
 * as an object from executions started before 2026-12-03). Every task of a run carries the same
 * snapshot, and its whole-pipeline checks (placements, cells, bakes) cost time in proportion to
 * the pipeline: run on every step they made a step of a 1,000-scope pipeline cost several times
 * one of a 10-scope pipeline. The cache key is the content itself, so an altered snapshot is a
 * miss and is checked afresh; the cached value is frozen, so no handler can change what the
 * next one is given.
 */
const snapshotSchema = z.unknown().transform((value, ctx): Pipeline => {
  const problem = (message: string) => {
    ctx.issues.push({ code: "custom", message, input: value });
    return z.NEVER;
  };
  if (typeof value === "string" && value.length > MAX_DEFINITION_BYTES) {
    return problem(`is ${value.length} characters of JSON; at most ${MAX_DEFINITION_BYTES}`);
  }
  const key = typeof value === "string" ? value : JSON.stringify(value);
  const hit = validatedSnapshots.get(key);
  if (hit) {
    validatedSnapshots.delete(key);
    validatedSnapshots.set(key, hit); // most recently used last
    return hit;
  }
  let candidate: unknown = value;
  if (typeof value === "string") {
    try {
      candidate = JSON.parse(value);
    } catch {
      return problem("is not valid JSON (the snapshot travels as the definition's JSON text)");
    }
  }
  const parsed = pipelineSchema.safeParse(candidate);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.issues.push({ code: "custom", message: issue.message, path: issue.path, input: value });
    }
    return z.NEVER;
  }
  validatedSnapshots.set(key, deepFreeze(parsed.data));
  if (validatedSnapshots.size > SNAPSHOT_CACHE_SIZE) {
    validatedSnapshots.delete(validatedSnapshots.keys().next().value as string);
  }
  return parsed.data;
});

export const stageContextSchema = z
  .object({
    runId: z.string().min(1),
    pipeline: z.string().min(1),
    version: versionSchema,
    stage: z.string().min(1),
    /** The stage's execution attempt (2, 3, … after a `retry` decision); absent: the first. */
    attempt: z.number().int().min(2).optional(),
    /** The run's arrival number (the deploy step's line check; absent before 2026-12-02). */
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    /** The run's immutable snapshot (absent in executions started before 2026-12-02). */
    definition: snapshotSchema.optional(),
    artifactDigest: digestSchema.optional(),
  })
  .strict();

/**
 * A scope's state as a step wrote it, carried to the step's next transition as its basis (one
 * round trip when still current; see `ScopeTransition.basis`). Only a hint: a stale or forged
 * basis makes the store read and decide afresh, it never passes a check.
 */
export const scopeBasisSchema = z
  .object({
    pipeline: z.string().min(1),
    scope: z.string().min(1),
    version: z.string().min(1),
    previousVersion: z.string().min(1).optional(),
    percent: z.number().min(0).max(100),
    status: z.enum(["stable", "deploying", "baking", "rolling-back", "rolled-back"]),
    since: z.iso.datetime(),
    cause: z.string(),
    runId: z.string().min(1).optional(),
    blocked: z
      .object({ reason: z.string(), since: z.string(), kinds: z.array(z.string()) })
      .strict()
      .optional(),
    rev: z.number().int().min(1),
  })
  .strict();

export const deployStepSchema = z
  .object({
    scope: z.string().min(1),
    region: z.string().min(1),
    az: z.string().min(1).optional(),
    cell: z.string().min(1).optional(),
    kind: z.enum(["one-box", "rolling", "full"]),
    percent: z.number().int().min(1).max(100),
    bakeSeconds: z.number().int().min(0),
  })
  .strict();

export const planInputSchema = z.object({ ctx: stageContextSchema }).strict();

/** A test of a step as the state machine carries it (`TestRun`); bounded like the stage's tests. */
const testRunSchema = z
  .object({
    kind: z.enum(["lambda", "codebuild"]),
    name: z.string().min(1).max(255),
    timeoutMinutes: z.number().int().min(1).max(MAX_TEST_TIMEOUT_MINUTES),
    handle: z.string().max(2048),
    state: z.enum(["running", "passed", "failed"]),
    report: z.string().max(MAX_REPORT_CHARS).optional(),
  })
  .strict();

export const deployInputSchema = z.discriminatedUnion("action", [
  z
    .object({ action: z.literal("start"), ctx: stageContextSchema, step: deployStepSchema })
    .strict(),
  z
    .object({
      action: z.literal("status"),
      ctx: stageContextSchema,
      step: deployStepSchema,
      deployStartedAt: z.iso.datetime(),
      /** The scope as the start wrote it (absent before 2026-12-02). */
      scope: scopeBasisSchema.optional(),
    })
    .strict(),
  z
    .object({
      action: z.literal("start-tests"),
      ctx: stageContextSchema,
      step: deployStepSchema,
      /** When the deploy finished: the tests' timeouts count from it. */
      startedAt: z.iso.datetime(),
    })
    .strict(),
  z
    .object({
      action: z.literal("check-tests"),
      ctx: stageContextSchema,
      step: deployStepSchema,
      startedAt: z.iso.datetime(),
      runs: z.array(testRunSchema).max(MAX_STAGE_TESTS),
    })
    .strict(),
]);

export const evaluateInputSchema = z
  .object({
    ctx: stageContextSchema,
    step: deployStepSchema,
    bakeStartedAt: z.iso.datetime(),
    deployStartedAt: z.iso.datetime(),
    /** The scope as the deploy's end wrote it (absent before 2026-12-02). */
    scope: scopeBasisSchema.optional(),
  })
  .strict();

export const rollbackInputSchema = z
  .object({
    action: z.enum(["start", "status"]),
    ctx: stageContextSchema,
    step: deployStepSchema,
    attempt: z.number().int().min(0),
    why: z
      .object({
        kind: z.enum([
          "unhealthy",
          "deploy-failed",
          "tests-failed",
          "step-error",
          "alarm",
          "decision",
        ]),
        details: z.union([z.string(), z.array(z.string())]).optional(),
        /** A decision's rollback names its target (the last version before the bad one). */
        toVersion: z.string().min(1).optional(),
      })
      .optional(),
  })
  .strict();

export const recordInputSchema = z.discriminatedUnion("action", [
  z
    .object({
      action: z.literal("step"),
      ctx: stageContextSchema,
      step: deployStepSchema,
      /** Present when the bake was inconclusive (the run halted without a rollback). */
      reasons: z.array(z.string()).optional(),
      /** The scope as the deploy's end wrote it (absent before 2026-12-02). */
      scope: scopeBasisSchema.optional(),
      /**
       * Evaluate's Healthy verdict, which this step records with the scope's transition to
       * stable, in one transaction (absent before 2026-12-02: Evaluate recorded it).
       */
      healthy: z
        .object({
          phase: z.literal("Healthy"),
          reasons: z.array(z.string()),
          at: z.iso.datetime(),
        })
        .strict()
        .optional(),
    })
    .strict(),
  z.object({ action: z.literal("finish-stage"), ctx: stageContextSchema }).strict(),
]);

/** What a run records about the change it deploys (who approved it, what was built). */
export const changeFactsSchema = z
  .object({
    trigger: z.enum(["github", "artifact", "local", "manual"]),
    /** The merged commit (40 hex characters). */
    sha: z
      .string()
      .regex(/^[0-9a-fA-F]{40}$/, { error: "must be a 40-character hex commit SHA" })
      .optional(),
    /** The immutable artifact built from it. */
    artifactDigest: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/, {
        error: 'must be "sha256:" followed by 64 lowercase hex characters',
      })
      .optional(),
    approvers: z.array(z.string().min(1)).default([]),
    /** When the change merged (or the artifact was published): orders late deliveries. */
    mergedAt: z.iso.datetime({ offset: true }).optional(),
    repository: z.string().min(1).optional(),
    pr: z.number().int().positive().optional(),
    /** GitHub: the PR head the approvals were given on. */
    headSha: z.string().optional(),
  })
  .strict();

export type ChangeFacts = z.output<typeof changeFactsSchema>;

/**
 * "Approved Change Merged": the event that asks start-run for a run. Only a pointer to the run
 * request a trigger or an operator wrote first (src/app/run-requests.ts): the bus is not proof of
 * approval, so the change's facts are read from the request, never taken from the event.
 */
export const approvedChangeSchema = z.object({
  "detail-type": z.literal("Approved Change Merged"),
  source: z.literal("breakwater"),
  detail: z
    .object({
      pipeline: z.string().min(1),
      version: versionSchema,
      /** The run request this event points at (see src/app/run-requests.ts). */
      requestId: z.string().min(1),
      /** When the request names an artifact, the event repeats its digest (checked to match). */
      artifactDigest: z
        .string()
        .regex(/^sha256:[0-9a-f]{64}$/, {
          error: 'must be "sha256:" followed by 64 lowercase hex characters',
        })
        .optional(),
    })
    .strict(),
});

/** An approval timer execution's input (`ApprovalTimerInput`, src/domain/ports.ts). */
export const approvalTimerInputSchema = z
  .object({
    approvalTimer: z.literal(true),
    runId: z.string().min(1).max(200),
    pipeline: z.string().min(1).max(40),
    version: versionSchema,
    stage: z.string().min(1).max(40),
    requestedAt: z.iso.datetime(),
    waitSeconds: z.number().int().min(0),
  })
  .strict();

/** The fields Breakwater reads from AWS's "Step Functions Execution Status Change" event. */
export const executionStatusChangeSchema = z.object({
  "detail-type": z.literal("Step Functions Execution Status Change"),
  source: z.literal("aws.states"),
  detail: z.object({
    executionArn: z.string(),
    stateMachineArn: z.string(),
    name: z.string(),
    status: z.enum(["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]),
    input: z.string().nullable().optional(),
    error: z.string().nullable().optional(),
    cause: z.string().nullable().optional(),
  }),
});

/** The fields Breakwater reads from CloudWatch's "CloudWatch Alarm State Change" event. */
export const alarmStateChangeSchema = z.object({
  "detail-type": z.literal("CloudWatch Alarm State Change"),
  source: z.literal("aws.cloudwatch"),
  region: z.string().min(1),
  time: z.string().min(1),
  detail: z.object({
    alarmName: z.string().min(1),
    state: z.object({
      value: z.enum(["OK", "ALARM", "INSUFFICIENT_DATA"]),
      reason: z.string().optional(),
      timestamp: z.string().optional(),
    }),
    previousState: z.object({ value: z.enum(["OK", "ALARM", "INSUFFICIENT_DATA"]) }).optional(),
  }),
});
