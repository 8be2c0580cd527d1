/**
 * Pipeline definitions (pipelines as code): one zod schema is the single source of truth for
 * the JSON files, the typed `definePipeline()` helper, the published JSON Schema and the
 * runtime validation in every handler that reads a definition.
 */
import * as z from "zod";
import { REGION_PATTERN } from "./aws-names.ts";
import { azProblem, regionProblem } from "./aws-regions.ts";
import { BreakwaterError } from "./errors.ts";
import { deployTargetSchema, targetProblems } from "./targets/index.ts";
import { timeWindowsSchema } from "./time-windows/schema.ts";

export { deployTargetSchema, REGION_PATTERN };

const positiveInt = (what = "must be a positive integer") =>
  z.number({ error: what }).int({ error: what }).min(1, { error: what });

/**
 * The longest a Step Functions Wait state may wait, and the longest a standard execution may
 * run: one year (AWS Step Functions developer guide, "Wait workflow state" and service quotas).
 * A bake is a Wait state inside a stage execution, so no bake, and no stage's bakes together,
 * may be longer.
 */
export const MAX_WAIT_MINUTES = 365 * 24 * 60;
/** `bake.checkEveryMinutes` at most: a day. */
export const MAX_CHECK_EVERY_MINUTES = 1440;

const durationMinutes = () =>
  positiveInt().max(MAX_WAIT_MINUTES, {
    error: `must be at most ${MAX_WAIT_MINUTES} minutes (one year, the longest a Step Functions execution waits)`,
  });

const regionName = z
  .string({ error: "must be an AWS region name such as us-east-1" })
  .regex(REGION_PATTERN, { error: "must be an AWS region name such as us-east-1" })
  // A well-formed name AWS does not have (`us-est-1`) is refused here, with the closest known
  // region: otherwise it only surfaces as a blocker nobody can lift (src/domain/aws-regions.ts).
  .superRefine((region, ctx) => {
    if (!REGION_PATTERN.test(region)) return;
    const problem = regionProblem(region);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .describe("An AWS region name, one AWS has (us-east-1, eu-north-1, ...).");

const AZ_ID_PATTERN = /^[a-z0-9]+(-[a-z0-9]+)+$/;

const azId = z
  .string({ error: "must be an Availability Zone id such as use1-az1" })
  .regex(AZ_ID_PATTERN, {
    error: "must be an Availability Zone id such as use1-az1 (lowercase letters, digits, dashes)",
  });

const regionWithAzs = z
  .object({
    region: regionName,
    azs: z
      .array(azId, { error: "must be a list of Availability Zone ids" })
      .min(1, { error: "must list at least one Availability Zone" })
      .optional()
      .describe(
        "The region's Availability Zone ids (use1-az1, not us-east-1a: ids are the same in every account), deployed one at a time unless azsInParallel.",
      ),
  })
  .strict()
  .superRefine((entry, ctx) => {
    entry.azs?.forEach((az, k) => {
      // A malformed id already has its own problem.
      if (!AZ_ID_PATTERN.test(az)) return;
      const problem = azProblem(entry.region, az);
      if (problem) ctx.addIssue({ code: "custom", path: ["azs", k], message: problem });
    });
  });

const regionEntry = z.union([regionName, regionWithAzs], {
  error: 'must be a region name ("us-east-1") or { "region": ..., "azs": [...] }',
});

const oneBox = z.union(
  [
    z.boolean(),
    z
      .object({
        percent: z
          .number({ error: "must be a whole percentage from 1 to 50" })
          .int({ error: "must be a whole percentage from 1 to 50" })
          .min(1, { error: "must be a whole percentage from 1 to 50" })
          .max(50, { error: "must be a whole percentage from 1 to 50" })
          .describe("The share of the scope's traffic the one-box step serves, in percent."),
      })
      .strict(),
  ],
  { error: 'must be true, false or { "percent": n }' },
);

/** `approval: true` waits this long for an operator's decision before the run halts. */
export const DEFAULT_APPROVAL_TIMEOUT_MINUTES = 24 * 60;
/** The longest an approval may wait: a week (a stale approval is worse than asking again). */
export const MAX_APPROVAL_TIMEOUT_MINUTES = 7 * 24 * 60;

const approvalError = `must be true, false or { "timeoutMinutes": n } with n from 1 to ${MAX_APPROVAL_TIMEOUT_MINUTES}`;
const approval = z.union(
  [
    z.boolean(),
    z
      .object({
        timeoutMinutes: positiveInt(
          `must be a whole number of minutes from 1 to ${MAX_APPROVAL_TIMEOUT_MINUTES} (a week)`,
        )
          .max(MAX_APPROVAL_TIMEOUT_MINUTES, {
            error: `must be a whole number of minutes from 1 to ${MAX_APPROVAL_TIMEOUT_MINUTES} (a week)`,
          })
          .describe(
            "How long the run waits for an operator's approve or reject before it halts (approval-timeout).",
          ),
      })
      .strict(),
  ],
  { error: approvalError },
);

const bake = z
  .object({
    minutes: durationMinutes().describe(
      "Minimum bake after every deploy step (one-box and full) of this stage, in minutes.",
    ),
    minRequests: positiveInt()
      .optional()
      .describe(
        "Bake also until the scope's new version has served this many requests (counted from metrics during the bake).",
      ),
    maxMinutes: durationMinutes()
      .optional()
      .describe(
        "Longest bake while waiting for minRequests (default 4 x minutes); if traffic never reaches the minimum, the bake is inconclusive.",
      ),
    checkEveryMinutes: positiveInt("must be a whole number of minutes from 1 to 1440")
      .max(MAX_CHECK_EVERY_MINUTES, { error: "must be a whole number of minutes from 1 to 1440" })
      .optional()
      .describe(
        "The built-in detector also judges the bake every this many minutes (default 5), so a clear regression rolls back within minutes; at most 12 looks per bake (a longer bake spaces them out). Thresholds are corrected for the looks.",
      ),
  })
  .strict()
  .superRefine((b, ctx) => {
    // Only compare well-formed values: a malformed one already has its own problem.
    const wellFormed = (n: unknown) => Number.isInteger(n) && (n as number) >= 1;
    if (wellFormed(b.maxMinutes) && wellFormed(b.minutes) && (b.maxMinutes as number) < b.minutes) {
      ctx.addIssue({
        code: "custom",
        path: ["maxMinutes"],
        message: "must be at least bake.minutes",
      });
    }
  });

const alarmTemplate = z
  .string({ error: "must be an alarm name" })
  .min(1, { error: "must be a non-empty alarm name" })
  .regex(/^[^{}*]*(\{(stage|region|az|scope|pipeline)\}[^{}*]*)*\*?$/, {
    error:
      "may only use the placeholders {pipeline}, {stage}, {region}, {az}, {scope}, and a final * for a name prefix",
  });

/** At most this many tests, and this many canaries, per stage (each is a call per deploy step). */
export const MAX_STAGE_TESTS = 10;
export const MAX_STAGE_CANARIES = 10;
/** A test's default and longest answer time (CodeBuild's default build timeout is one hour). */
export const DEFAULT_TEST_TIMEOUT_MINUTES = 30;
export const MAX_TEST_TIMEOUT_MINUTES = 480;
/** A canary's default success threshold (issue 13: below 99% is unhealthy). */
export const DEFAULT_CANARY_MIN_SUCCESS_PERCENT = 99;

/**
 * A name template with only `{stage}`, `{region}` and `{az}`: a test function, a test project or
 * a canary is named once per scope (README, "Tests and canaries"). No `*`: every name becomes
 * an IAM resource, and a wildcard would grant more than the named ones.
 */
function scopeNameTemplate(what: string, chars: { class: string; said: string }, max: number) {
  const message = `must be a ${what} name (${chars.said}) with only the placeholders {stage}, {region}, {az}`;
  return z
    .string({ error: message })
    .min(1, { error: message })
    .max(max, { error: `must be at most ${max} characters` })
    .regex(new RegExp(`^([${chars.class}]|\\{(stage|region|az)\\})+$`), { error: message });
}

const NAME_CHARS = { class: "A-Za-z0-9_-", said: "letters, digits, - and _" };
const CANARY_CHARS = { class: "a-z0-9_-", said: "lowercase letters, digits, - and _" };

const testTimeout = z
  .number({ error: `must be a whole number of minutes from 1 to ${MAX_TEST_TIMEOUT_MINUTES}` })
  .int({ error: `must be a whole number of minutes from 1 to ${MAX_TEST_TIMEOUT_MINUTES}` })
  .min(1, { error: `must be a whole number of minutes from 1 to ${MAX_TEST_TIMEOUT_MINUTES}` })
  .max(MAX_TEST_TIMEOUT_MINUTES, {
    error: `must be a whole number of minutes from 1 to ${MAX_TEST_TIMEOUT_MINUTES}`,
  })
  .optional()
  .describe(
    `How long the test may take to answer (default ${DEFAULT_TEST_TIMEOUT_MINUTES} minutes); no answer by then is a failure.`,
  );

const lambdaTest = z
  .object({
    lambda: scopeNameTemplate("Lambda function", NAME_CHARS, 64).describe(
      "The test function's name (template): invoked with the scope and version, it answers passed or failed with its report.",
    ),
    timeoutMinutes: testTimeout,
  })
  .strict();

const codebuildTest = z
  .object({
    codebuild: scopeNameTemplate("CodeBuild project", NAME_CHARS, 150).describe(
      "The test project's name (template): one build per deploy step, told the scope and version by BREAKWATER_* variables.",
    ),
    timeoutMinutes: testTimeout,
  })
  .strict();

const stageTest = z.union([lambdaTest, codebuildTest], {
  error: 'must be { "lambda": "<function>" } or { "codebuild": "<project>" }',
});

const canaryName = scopeNameTemplate("CloudWatch Synthetics canary", CANARY_CHARS, 255);

const canaryEntry = z.union(
  [
    canaryName,
    z
      .object({
        name: canaryName,
        minSuccessPercent: z
          .number({ error: "must be a percentage from 0 to 100" })
          .min(0, { error: "must be a percentage from 0 to 100" })
          .max(100, { error: "must be a percentage from 0 to 100" })
          .optional()
          .describe(
            `A bake whose canary success rate is below this is unhealthy (default ${DEFAULT_CANARY_MIN_SUCCESS_PERCENT}).`,
          ),
      })
      .strict(),
  ],
  { error: 'must be a canary name or { "name": ..., "minSuccessPercent": n }' },
);

const nameRule = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const nameError =
  "must be 1-40 lowercase letters, digits or dashes, not starting or ending with a dash";

export const stageSchema = z
  .object({
    name: z
      .string({ error: nameError })
      .regex(nameRule, { error: nameError })
      .describe(
        "The stage's name, unique in the pipeline: alpha, beta, gamma (pre-production) or prod-1, prod-2 (production waves: the lint and the plan's blast radius count stages named prod…).",
      ),
    regions: z
      .array(regionEntry, { error: "must be a list of regions" })
      .min(1, { error: "must list at least one region" })
      .describe(
        "The stage's regions, in deployment order: a name (the whole region is one scope) or { region, azs } (one scope per AZ).",
      ),
    regionsInParallel: positiveInt()
      .optional()
      .describe("How many regions of this stage deploy at the same time (default 1)."),
    azsInParallel: z
      .boolean({ error: "must be true or false" })
      .optional()
      .describe(
        "Deploy all listed AZs of a region at once instead of one at a time (default false).",
      ),
    oneBox: oneBox
      .optional()
      .describe(
        "Deploy first to the first scope of each region with only this share of its traffic (true = 10%), and bake, before the rest.",
      ),
    approval: approval
      .optional()
      .describe(
        `Before the stage starts, wait for an operator's approve or reject (true: time out after ${DEFAULT_APPROVAL_TIMEOUT_MINUTES} minutes; a timeout halts the run).`,
      ),
    bake: bake.describe(
      "How long each step of the stage bakes before it is judged: at least minutes, and with minRequests until that many requests were served (at most maxMinutes).",
    ),
    onInsufficientTraffic: z
      .enum(["halt", "proceed"], { error: "must be halt or proceed" })
      .optional()
      .describe(
        "When a bake never reaches bake.minRequests: halt the run (default) or proceed as healthy.",
      ),
    timeWindows: timeWindowsSchema
      .optional()
      .describe("When this stage may deploy (replaces the pipeline's timeWindows)."),
    target: deployTargetSchema
      .optional()
      .describe(
        "This stage's deploy target (replaces the pipeline's): pre-production often lives in other accounts.",
      ),
    tests: z
      .array(stageTest, { error: "must be a list of tests" })
      .max(MAX_STAGE_TESTS, { error: `must list at most ${MAX_STAGE_TESTS} tests` })
      .optional()
      .describe(
        "Tests run after every deploy step (one-box and full) of this stage, before its bake: a failed test, or one that does not answer within timeoutMinutes, rolls the scope back.",
      ),
    canaries: z
      .array(canaryEntry, { error: "must be a list of canary names" })
      .max(MAX_STAGE_CANARIES, { error: `must list at most ${MAX_STAGE_CANARIES} canaries` })
      .optional()
      .describe(
        "CloudWatch Synthetics canaries (name templates with {stage}, {region}, {az}) judged over every bake: a success rate below minSuccessPercent (default 99) is unhealthy.",
      ),
  })
  .strict()
  .superRefine((stage, ctx) => {
    const regions = stage.regions.length;
    if (
      Number.isInteger(stage.regionsInParallel) &&
      (stage.regionsInParallel as number) > regions
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["regionsInParallel"],
        message: `must be at most the stage's ${regions} region${regions === 1 ? "" : "s"}`,
      });
    }
    const longest = longestBakeMinutes(stage);
    if (longest > MAX_WAIT_MINUTES) {
      ctx.addIssue({
        code: "custom",
        path: ["bake"],
        message: `this stage's bakes, one after another, add up to ${Math.round(longest / 1440)} days: more than one year, the longest a Step Functions execution runs (fewer minutes, or more regionsInParallel)`,
      });
    }
  });

/**
 * The stage's bake time end to end in the worst case: waves of `regionsInParallel` regions one
 * after another; in each, the longest region's steps (one-box, then each AZ, or all AZs at
 * once) one after another, each baking up to its maximum (`maxMinutes`, default 4 × minutes
 * with `minRequests`), after its tests' longest timeout. Blocked time is not counted: it cannot
 * be known ahead.
 */
function longestBakeMinutes(stage: {
  regions: ReadonlyArray<string | { azs?: string[] | undefined }>;
  regionsInParallel?: number | undefined;
  azsInParallel?: boolean | undefined;
  oneBox?: boolean | { percent: number } | undefined;
  bake: { minutes: number; minRequests?: number | undefined; maxMinutes?: number | undefined };
  tests?: ReadonlyArray<{ timeoutMinutes?: number | undefined }> | undefined;
}): number {
  const { minutes, minRequests, maxMinutes } = stage.bake;
  // A malformed or too long value has its own problem already.
  const ok = (n: unknown) =>
    Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_WAIT_MINUTES;
  if (!ok(minutes) || (maxMinutes !== undefined && !ok(maxMinutes))) return 0;
  // A step's tests run before its bake, at most their longest timeout (they run side by side).
  const tests = Math.max(
    0,
    ...(stage.tests ?? []).map((t) =>
      ok(t.timeoutMinutes ?? DEFAULT_TEST_TIMEOUT_MINUTES)
        ? (t.timeoutMinutes ?? DEFAULT_TEST_TIMEOUT_MINUTES)
        : 0,
    ),
  );
  const perStep = tests + (maxMinutes ?? (minRequests !== undefined ? minutes * 4 : minutes));
  const steps = stage.regions.map((r) => {
    const azs = typeof r === "string" ? 0 : (r.azs?.length ?? 0);
    const oneBox = stage.oneBox === undefined || stage.oneBox === false ? 0 : 1;
    return oneBox + (stage.azsInParallel || azs === 0 ? 1 : azs);
  });
  const parallel = Math.max(1, Math.min(stage.regionsInParallel ?? 1, steps.length));
  let total = 0;
  for (let i = 0; i < steps.length; i += parallel) {
    total += Math.max(...steps.slice(i, i + parallel)) * perStep;
  }
  return total;
}

const dimensionTemplate = z
  .string({ error: "must be a dimension value template" })
  .regex(/^[^{}]*(\{(stage|region|az|scope|pipeline)\}[^{}]*)*$/, {
    error: "may only use the placeholders {pipeline}, {stage}, {region}, {az}, {scope}",
  });

export const metricsSchema = z
  .object({
    namespace: z
      .string({ error: "must be a CloudWatch namespace" })
      .min(1, { error: "must be a CloudWatch namespace" })
      .describe("The CloudWatch namespace of the scope's metrics."),
    dimensions: z
      .record(z.string(), dimensionTemplate, {
        error: "must map dimension names to value templates",
      })
      .optional()
      .describe('Dimensions that select one scope, e.g. { "AvailabilityZone": "{az}" }.'),
    versionDimension: z
      .string({ error: "must be a dimension name" })
      .min(1, { error: "must be a dimension name" })
      .describe("Dimension whose value is the version serving the request."),
    requests: z
      .string({ error: "must be a metric name" })
      .min(1, { error: "must be a metric name" })
      .describe("The metric counting requests served (Sum per minute)."),
    faults: z
      .string({ error: "must be a metric name" })
      .min(1, { error: "must be a metric name" })
      .describe("The metric counting failed requests (Sum per minute)."),
    latency: z
      .string({ error: "must be a metric name" })
      .min(1, { error: "must be a metric name" })
      .describe("The latency metric, in milliseconds (p99 per minute)."),
  })
  .strict();

export const pipelineSchema = z
  .object({
    $schema: z
      .string()
      .optional()
      .describe("The JSON Schema this file follows, for editors (schema/pipeline.schema.json)."),
    name: z
      .string({ error: nameError })
      .regex(nameRule, { error: nameError })
      .describe("The pipeline's name: unique per control plane, part of every scope's history."),
    description: z.string().optional().describe("What this pipeline deploys, for people."),
    service: z
      .string({ error: nameError })
      .regex(nameRule, { error: nameError })
      .optional()
      .describe(
        "The service this pipeline deploys one part of. Pipelines of one service never deploy to the same region/AZ at the same time (the second waits, with the reason recorded).",
      ),
    kind: z
      .enum(["app", "infrastructure", "config", "os-patches", "static-assets"], {
        error: "must be one of app, infrastructure, config, os-patches, static-assets",
      })
      .optional()
      .describe(
        "What kind of change the pipeline deploys (app code, infrastructure, configuration, OS patches, static assets).",
      ),
    target: deployTargetSchema
      .optional()
      .describe(
        "What a deploy step changes (README, 'Deploy targets'): lambda-alias, ecs, cloudformation, appconfig, codebuild, lambda-function (your own), or none (a dry run).",
      ),
    alarms: z
      .array(alarmTemplate, { error: "must be a list of alarm names" })
      .optional()
      .describe(
        "CloudWatch alarm names (templates with {stage}, {region}, {az}): in ALARM they block a scope's next deploy step and make a baking scope unhealthy.",
      ),
    oneBoxAlarms: z
      .array(alarmTemplate, { error: "must be a list of alarm names" })
      .optional()
      .describe("Alarms that judge only the one-box step of a scope (its new-version hosts)."),
    alarmMissingData: z
      .enum(["ok", "alarm", "inconclusive"], { error: "must be ok, alarm or inconclusive" })
      .optional()
      .describe("How an alarm in INSUFFICIENT_DATA counts when a bake is judged (default ok)."),
    anomalyDetection: z
      .boolean({ error: "must be true or false" })
      .optional()
      .describe(
        "Built-in anomaly detection on the scope's metrics (traffic drop, fault rate, latency); on by default.",
      ),
    rollbackAll: z
      .enum(["wave-by-wave", "all-at-once"], { error: "must be wave-by-wave or all-at-once" })
      .optional()
      .describe(
        "How an engineer's rollback-all returns scopes to the last good version: wave-by-wave (default; newest stage first, regions in parallel, AZs one at a time as the stage deploys them) or all-at-once (every scope at once, for incidents; a decision's fast: true does the same once).",
      ),
    timeWindows: timeWindowsSchema
      .optional()
      .describe(
        "When the pipeline may deploy: weekly windows in each region's local time, holidays, freezes.",
      ),
    metrics: metricsSchema
      .optional()
      .describe(
        "AWS only: where the scope's per-version request, fault and latency metrics are, for the anomaly detector and bake.minRequests.",
      ),
    stages: z
      .array(stageSchema, { error: "must be a list of stages" })
      .min(1, { error: "must list at least one stage" })
      .describe(
        "The stages in order: pre-production (alpha, beta, gamma) then production waves (named prod…), each finished, bake included, before the next starts.",
      ),
  })
  .strict()
  .superRefine((p, ctx) => {
    for (const problem of targetProblems(p.target, p.stages)) {
      ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
    }
    const stageNames = new Map<string, number>();
    p.stages.forEach((stage, i) => {
      const first = stageNames.get(stage.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["stages", i, "name"],
          message: `duplicate stage name "${stage.name}" (also stages[${first}])`,
        });
      } else stageNames.set(stage.name, i);
      const regions = new Map<string, number>();
      stage.regions.forEach((entry, j) => {
        const region = typeof entry === "string" ? entry : entry.region;
        const seen = regions.get(region);
        if (seen !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["stages", i, "regions", j],
            message: `duplicate region "${region}" (also regions[${seen}])`,
          });
        } else regions.set(region, j);
        if (typeof entry !== "string" && entry.azs) {
          const azs = new Set<string>();
          entry.azs.forEach((az, k) => {
            if (azs.has(az)) {
              ctx.addIssue({
                code: "custom",
                path: ["stages", i, "regions", j, "azs", k],
                message: `duplicate Availability Zone "${az}"`,
              });
            }
            azs.add(az);
          });
        }
      });
    });
  });

/** A pipeline as written by its authors (optional fields may be absent). */
export type PipelineInput = z.input<typeof pipelineSchema>;
/** A validated pipeline definition. */
export type Pipeline = z.output<typeof pipelineSchema>;
export type Stage = Pipeline["stages"][number];
export type RegionEntry = Stage["regions"][number];

/** One problem found in a pipeline definition, with the path of the offending field. */
export interface Problem {
  path: string;
  message: string;
}

/** Raised when a pipeline definition is invalid; carries every problem, not just the first. */
export class PipelineValidationError extends BreakwaterError {
  override name = "PipelineValidationError";
  constructor(
    readonly source: string,
    readonly problems: Problem[],
    /** What was invalid, for the message: a pipeline, an installation config. */
    what = "pipeline",
  ) {
    super(`${source}: invalid ${what}\n${formatProblems(problems, "\n", "  ")}`);
  }
}

export function formatProblem(p: Problem): string {
  return p.path ? `${p.path}: ${p.message}` : p.message;
}

/** At most this many problems are printed; the rest are counted (a huge file, a huge message). */
export const MAX_PROBLEMS_SHOWN = 50;

/**
 * The one formatter of problem lists for messages: the first {@link MAX_PROBLEMS_SHOWN}
 * problems, then how many more there are (the full list stays on the error's `problems`).
 *
 * @example
 * formatProblems([{ path: "name", message: "is required" }], "; ") // "name: is required"
 */
export function formatProblems(
  problems: readonly Problem[],
  separator: string,
  indent = "",
): string {
  const shown = problems.slice(0, MAX_PROBLEMS_SHOWN).map((p) => `${indent}${formatProblem(p)}`);
  const more = problems.length - shown.length;
  if (more > 0) shown.push(`${indent}… and ${more} more problem${more === 1 ? "" : "s"}`);
  return shown.join(separator);
}

/** A value as shown in a message: at most `max` characters, then how long it was. */
export function clip(value: string, max = 80): string {
  return value.length <= max ? value : `${value.slice(0, max)}… (${value.length} characters)`;
}

/** Renders a zod path as `stages[2].bake.minutes`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

type Issue = z.core.$ZodIssue;

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** Every problem of a failed parse, with its path (unknown fields named one by one). */
export function collectProblems(
  issues: readonly Issue[],
  root: unknown,
  base: PropertyKey[] = [],
): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        out.push({ path: formatPath([...path, key]), message: "unknown field" });
      }
    } else if (issue.code === "invalid_union") {
      // Report the problems of the branch that matches the value's shape (an object is judged
      // against the object form, a string against the string form), else the union's message.
      const value = valueAt(root, path);
      const branches = issue.errors.filter((branch) => {
        const top = branch.find((i) => i.path.length === 0);
        return !(top && top.code === "invalid_type");
      });
      const chosen = typeof value === "object" && value !== null ? branches[0] : undefined;
      if (chosen && chosen.length > 0) out.push(...collectProblems(chosen, root, path));
      else out.push({ path: formatPath(path), message: issue.message });
    } else if (issue.code === "invalid_type" && valueAt(root, path) === undefined) {
      out.push({ path: formatPath(path), message: "is required" });
    } else {
      out.push({ path: formatPath(path), message: issue.message });
    }
  }
  return out;
}

/**
 * Validates a pipeline definition and returns it, or throws {@link PipelineValidationError}
 * listing every problem with its path.
 *
 * @example
 * parsePipeline({ name: "orders-api", stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } }] }, "orders.json");
 */
export function parsePipeline(input: unknown, source = "pipeline"): Pipeline {
  const result = pipelineSchema.safeParse(input);
  if (result.success) return result.data;
  throw new PipelineValidationError(source, collectProblems(result.error.issues, input));
}

/**
 * Typed helper for pipeline files written in TypeScript. It validates eagerly, so a typo fails
 * where the file is loaded, with the field's path.
 *
 * @example
 * export default definePipeline({ name: "orders-api", stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } }] });
 */
export function definePipeline(definition: PipelineInput): Pipeline {
  return parsePipeline(definition, definition?.name ? `pipeline "${definition.name}"` : "pipeline");
}

/** JSON Schema for pipeline files, generated from {@link pipelineSchema}. */
export function pipelineJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(pipelineSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: "https://breakwater.dev/schema/pipeline.schema.json",
    title: "Breakwater pipeline",
  };
}

/**
 * The stage's manual approval, if it has one: how long the run waits for a decision.
 *
 * @example
 * approvalOf({ ...stage, approval: true }); // → { timeoutMinutes: 1440 }
 */
export function approvalOf(stage: Stage): { timeoutMinutes: number } | undefined {
  if (stage.approval === undefined || stage.approval === false) return undefined;
  if (stage.approval === true) return { timeoutMinutes: DEFAULT_APPROVAL_TIMEOUT_MINUTES };
  return { timeoutMinutes: stage.approval.timeoutMinutes };
}

/** Default one-box share when `oneBox: true`. */
export const DEFAULT_ONE_BOX_PERCENT = 10;

export function oneBoxPercent(stage: Stage): number | undefined {
  if (stage.oneBox === undefined || stage.oneBox === false) return undefined;
  if (stage.oneBox === true) return DEFAULT_ONE_BOX_PERCENT;
  return stage.oneBox.percent;
}
