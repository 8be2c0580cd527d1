/**
 * Pipeline definitions (pipelines as code): one zod schema is the single source of truth for
 * the JSON files, the typed `definePipeline()` helper, the published JSON Schema and the
 * runtime validation in every handler that reads a definition.
 */
import * as z from "zod";
import { REGION_PATTERN } from "./aws-names.ts";
import { azProblem, regionProblem } from "./aws-regions.ts";
import { azName, groupBatches, type RegionEntryLike, regionLayout } from "./cells.ts";
import { BreakwaterError } from "./errors.ts";
import { applyStageDefaults } from "./pipeline-template.ts";
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

/** The most Availability Zones one region entry lists (AWS regions have at most six). */
export const MAX_AZS_PER_REGION = 10;
/** The most cells one region, or one AZ, lists. */
export const MAX_CELLS_PER_GROUP = 20;
/** The most scopes one stage has (regions x AZs x cells): its plan travels in one state payload. */
export const MAX_SCOPES_PER_STAGE = 300;

/**
 * A cell id: 1-16 lowercase letters and digits, no dash. The missing dash is what tells a cell
 * from an AZ id (which always has one) in a scope id `stage/region/<az or cell>`.
 */
export const CELL_PATTERN = /^[a-z0-9]{1,16}$/;
const cellError = "must be a cell id: 1-16 lowercase letters or digits (no dashes), such as c1";
const cellId = z.string({ error: cellError }).regex(CELL_PATTERN, { error: cellError });

const cellList = z
  .array(cellId, { error: "must be a list of cell ids" })
  .min(1, { error: "must list at least one cell" })
  .max(MAX_CELLS_PER_GROUP, { error: `must list at most ${MAX_CELLS_PER_GROUP} cells` });

const azWithCells = z
  .object({
    az: azId.describe("The Availability Zone id (use1-az1), one the region has."),
    cells: cellList.describe(
      "The cells of this AZ, in deployment order (scopes stage/region/az/cell).",
    ),
  })
  .strict();

const azEntry = z.union([azId, azWithCells], {
  error: 'must be an Availability Zone id ("use1-az1") or { "az": ..., "cells": [...] }',
});

const regionWithAzs = z
  .object({
    region: regionName,
    azs: z
      .array(azEntry, { error: "must be a list of Availability Zone ids" })
      .min(1, { error: "must list at least one Availability Zone" })
      .max(MAX_AZS_PER_REGION, {
        error: `must list at most ${MAX_AZS_PER_REGION} Availability Zones`,
      })
      .optional()
      .describe(
        "The region's Availability Zone ids (use1-az1, not us-east-1a: ids are the same in every account), or AZs with cells; deployed one at a time unless azsInParallel.",
      ),
    cells: cellList
      .optional()
      .describe(
        "The region's cells, in deployment order (scopes stage/region/cell); not with azs (give each AZ its cells there).",
      ),
  })
  .strict()
  .superRefine((entry, ctx) => {
    entry.azs?.forEach((a, k) => {
      const az = azName(a);
      // A malformed id already has its own problem.
      if (!AZ_ID_PATTERN.test(az)) return;
      const problem = azProblem(entry.region, az);
      const path = typeof a === "string" ? ["azs", k] : ["azs", k, "az"];
      if (problem) ctx.addIssue({ code: "custom", path, message: problem });
    });
  });

const regionEntry = z.union([regionName, regionWithAzs], {
  error:
    'must be a region name ("us-east-1") or { "region": ..., "azs": [...] } or { "region": ..., "cells": [...] }',
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

// --- rolling steps (issue 13 item 5) -------------------------------------------------------

/** The most traffic steps one rolling full step may have (100% included). */
export const MAX_ROLLING_STEPS = 10;

const ROLLING_PERCENT = "must be a whole percentage from 1 to 100";

const rolling = z
  .object({
    percents: z
      .array(
        z
          .number({ error: ROLLING_PERCENT })
          .int({ error: ROLLING_PERCENT })
          .min(1, { error: ROLLING_PERCENT })
          .max(100, { error: ROLLING_PERCENT }),
        { error: "must be a list of percentages such as [25, 50, 100]" },
      )
      .max(MAX_ROLLING_STEPS, { error: `must list at most ${MAX_ROLLING_STEPS} steps` })
      .describe(
        "The new version's share of each scope's traffic after each step, strictly increasing, ending at 100.",
      ),
    bakeMinutes: durationMinutes().describe(
      "How long each step below 100% bakes before the next; the 100% step bakes the stage's full bake.",
    ),
  })
  .strict()
  .superRefine((r, ctx) => {
    const ps = r.percents;
    if (!Array.isArray(ps) || ps.some((p) => !Number.isInteger(p))) return;
    if (ps.length < 2) {
      ctx.addIssue({
        code: "custom",
        path: ["percents"],
        message: "must list at least one share below 100, then 100",
      });
      return;
    }
    ps.forEach((p, i) => {
      const before = ps[i - 1];
      if (i > 0 && before !== undefined && p <= before) {
        ctx.addIssue({
          code: "custom",
          path: ["percents", i],
          message: `must be larger than the step before (${before})`,
        });
      }
    });
    if (ps.at(-1) !== 100) {
      ctx.addIssue({
        code: "custom",
        path: ["percents"],
        message: "must end at 100 (the step that bakes the stage's full bake)",
      });
    }
  });

/** The rolling problems that need the whole stage: rolling steps come after the one-box. */
function rollingProblems(
  stage: {
    oneBox?: boolean | { percent: number } | undefined;
    rolling?: { percents: number[] } | undefined;
  },
  ctx: z.core.$RefinementCtx,
): void {
  const first = stage.rolling?.percents?.[0];
  const box =
    stage.oneBox === true
      ? DEFAULT_ONE_BOX_PERCENT
      : stage.oneBox
        ? stage.oneBox.percent
        : undefined;
  if (typeof first === "number" && box !== undefined && first <= box) {
    ctx.addIssue({
      code: "custom",
      path: ["rolling", "percents", 0],
      message: `must be larger than the one-box share (${box}%): rolling steps come after the one-box`,
    });
  }
}

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
  .regex(/^[^{}*]*(\{(stage|region|az|cell|scope|pipeline)\}[^{}*]*)*\*?$/, {
    error:
      "may only use the placeholders {pipeline}, {stage}, {region}, {az}, {cell}, {scope}, and a final * for a name prefix",
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
        name: canaryName.describe(
          "The CloudWatch Synthetics canary (a name template with {stage}, {region}, {az}).",
        ),
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
    cellsInParallel: positiveInt()
      .optional()
      .describe(
        "How many cells of one AZ (or of one region) deploy at the same time (default 1); only for stages with cells.",
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
    rolling: rolling
      .optional()
      .describe(
        "Deploy each full step in traffic steps (e.g. [25, 50, 100]), each baking bakeMinutes before the next; needs a target that can split traffic.",
      ),
    onInsufficientTraffic: z
      .enum(["halt", "proceed"], { error: "must be halt or proceed" })
      .optional()
      .describe(
        "When a bake never reaches bake.minRequests: halt the run (default) or proceed as healthy.",
      ),
    timeWindows: timeWindowsSchema
      .optional()
      .describe(
        "When this stage may deploy: replaces the pipeline's allowed windows and holidays; freezes add up (the pipeline's, the organisation's and the stage's all hold).",
      ),
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
    for (const problem of cellProblems(stage)) ctx.addIssue({ code: "custom", ...problem });
    rollingProblems(stage, ctx);
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
 * The problems of a stage's cells (paths relative to the stage): cells on a region and in its
 * AZs at once, a region whose AZs mix both forms, duplicate cells in one group,
 * `cellsInParallel` without cells or above the largest group, too many scopes.
 */
function cellProblems(stage: {
  regions: readonly RegionEntryLike[];
  cellsInParallel?: number | undefined;
}): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  let largest = 0;
  let scopes = 0;
  stage.regions.forEach((entry, j) => {
    if (typeof entry === "string") {
      scopes++;
      return;
    }
    if (entry.cells && entry.azs) {
      out.push({
        path: ["regions", j, "cells"],
        message:
          'give cells either on the region or inside each AZ ({ "az": ..., "cells": [...] }), not both',
      });
      return;
    }
    const azs = entry.azs ?? [];
    const withCells = azs.filter((a) => typeof a !== "string").length;
    if (withCells > 0 && withCells < azs.length) {
      out.push({
        path: ["regions", j, "azs"],
        message: "either every AZ of a region lists its cells or none does",
      });
    }
    const groupPath = (k: number) =>
      azs.length > 0 ? ["regions", j, "azs", k, "cells"] : ["regions", j, "cells"];
    regionLayout(entry).groups.forEach((group, k) => {
      largest = Math.max(largest, group.cells.length);
      scopes += Math.max(1, group.cells.length);
      const seen = new Map<string, number>();
      group.cells.forEach((cell, c) => {
        const first = seen.get(cell);
        if (first !== undefined) {
          out.push({
            path: [...groupPath(k), c],
            message: `duplicate cell "${cell}" (also cells[${first}])`,
          });
        } else seen.set(cell, c);
      });
    });
  });
  const n = stage.cellsInParallel;
  if (Number.isInteger(n) && largest === 0) {
    out.push({
      path: ["cellsInParallel"],
      message: "the stage lists no cells (give a region or AZ its cells, or remove this)",
    });
  } else if (Number.isInteger(n) && (n as number) > largest) {
    out.push({
      path: ["cellsInParallel"],
      message: `must be at most the stage's largest cell list (${largest} cell${largest === 1 ? "" : "s"})`,
    });
  }
  if (scopes > MAX_SCOPES_PER_STAGE) {
    out.push({
      path: ["regions"],
      message: `this stage has ${scopes} scopes (regions x AZs x cells): at most ${MAX_SCOPES_PER_STAGE}`,
    });
  }
  return out;
}

/**
 * The stage's bake time end to end in the worst case: waves of `regionsInParallel` regions one
 * after another; in each, the longest region's steps (one-box, then each AZ or batch of
 * `cellsInParallel` cells, or all AZs at once) one after another, each baking up to its
 * maximum (`maxMinutes`, default 4 × minutes with `minRequests`), after its tests' longest
 * timeout, each full step after its rolling steps' `bakeMinutes` (each after its tests too).
 * Blocked time is not counted: it cannot be known ahead.
 */
function longestBakeMinutes(stage: {
  regions: readonly RegionEntryLike[];
  regionsInParallel?: number | undefined;
  azsInParallel?: boolean | undefined;
  cellsInParallel?: number | undefined;
  oneBox?: boolean | { percent: number } | undefined;
  bake: { minutes: number; minRequests?: number | undefined; maxMinutes?: number | undefined };
  rolling?: { percents: number[]; bakeMinutes: number } | undefined;
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
  // Each full step's rolling steps below 100% bake bakeMinutes each, after their tests.
  const r = stage.rolling;
  const rollingMinutes =
    r && Array.isArray(r.percents) && ok(r.bakeMinutes)
      ? Math.max(0, r.percents.length - 1) * (tests + r.bakeMinutes)
      : 0;
  const regionMinutes = stage.regions.map((entry) => {
    const batches = regionLayout(entry).groups.map(
      (g) => groupBatches(g, stage.cellsInParallel).length,
    );
    const oneBox = stage.oneBox === undefined || stage.oneBox === false ? 0 : 1;
    const fulls = stage.azsInParallel ? Math.max(...batches) : batches.reduce((a, b) => a + b, 0);
    return oneBox * perStep + fulls * (perStep + rollingMinutes);
  });
  const parallel = Math.max(1, Math.min(stage.regionsInParallel ?? 1, regionMinutes.length));
  let total = 0;
  for (let i = 0; i < regionMinutes.length; i += parallel) {
    total += Math.max(...regionMinutes.slice(i, i + parallel));
  }
  return total;
}

// --- templates (issue 13 item 6) ------------------------------------------------------------

/**
 * Fields every stage gets unless it sets them (merged as `extends` merges: objects key by key).
 * Every stage field but `name`, each validated as in a stage.
 */
export const stageDefaultsSchema = z
  .object(stageSchema.shape)
  .omit({ name: true })
  .partial()
  .strict();

const dimensionTemplate = z
  .string({ error: "must be a dimension value template" })
  .regex(/^[^{}]*(\{(stage|region|az|cell|scope|pipeline)\}[^{}]*)*$/, {
    error: "may only use the placeholders {pipeline}, {stage}, {region}, {az}, {cell}, {scope}",
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
        "CloudWatch alarm names (templates with {stage}, {region}, {az}, {cell}): in ALARM they block a scope's next deploy step and make a baking scope unhealthy.",
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
    stageDefaults: stageDefaultsSchema
      .optional()
      .describe(
        "Fields every stage gets unless it sets them (objects merge: a stage's bake.minutes keeps the defaults' bake.minRequests).",
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
          entry.azs.forEach((a, k) => {
            const az = azName(a);
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
  if (typeof input === "object" && input !== null && "extends" in input) {
    // Only the file loader resolves a base file (its path is relative to the file).
    throw new PipelineValidationError(source, [
      {
        path: "extends",
        message:
          "only a JSON pipeline file may extend another (loaded with its path); in TypeScript, build the definition with extendPipeline(base, {...})",
      },
    ]);
  }
  const expanded = applyStageDefaults(input);
  const result = pipelineSchema.safeParse(expanded);
  if (result.success) return result.data;
  throw new PipelineValidationError(source, collectProblems(result.error.issues, expanded));
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
  // A file may extend a base file (resolved by the loader before validation).
  const properties = {
    ...(schema.properties as Record<string, unknown>),
    extends: {
      type: "string",
      description:
        'A base pipeline file to extend, relative to this one ("./base.json"): objects merge, arrays and scalars replace, stages match by name (README, "Templates").',
    },
  };
  return {
    ...schema,
    properties,
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
