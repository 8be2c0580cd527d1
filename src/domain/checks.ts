/**
 * Tests and canaries of a stage (issue 13, items 2 and 3): the names they resolve to for one
 * scope, and the pure rules that judge their answers. The application services call the ports
 * (`TestRunner`, `CanarySource`) and hand what they said to these rules.
 */
import * as z from "zod";
import {
  clip,
  DEFAULT_CANARY_MIN_SUCCESS_PERCENT,
  DEFAULT_TEST_TIMEOUT_MINUTES,
  type Stage,
} from "./pipeline.ts";
import type { ScopeRef } from "./scope.ts";

/** At most this many characters of a test's own report go into the timeline and the history. */
export const MAX_REPORT_CHARS = 1000;

/** One test of a stage, resolved for a scope. */
export interface ResolvedTest {
  kind: "lambda" | "codebuild";
  /** The function or project name for this scope. */
  name: string;
  timeoutMinutes: number;
}

/** One canary of a stage, resolved for a scope. */
export interface ResolvedCanary {
  name: string;
  minSuccessPercent: number;
}

/**
 * A name template for one scope. A template with `{az}` names nothing in a scope without an AZ
 * (as alarm templates: it is zonal).
 *
 * @example
 * resolveScopeName("it-{stage}-{region}", { id: "beta/us-east-1", stage: "beta", region: "us-east-1" }) // "it-beta-us-east-1"
 */
export function resolveScopeName(template: string, scope: ScopeRef): string | undefined {
  if (template.includes("{az}") && !scope.az) return undefined;
  return template
    .replaceAll("{stage}", scope.stage)
    .replaceAll("{region}", scope.region)
    .replaceAll("{az}", scope.az ?? "");
}

/**
 * The stage's tests for one scope, each with its timeout (default
 * {@link DEFAULT_TEST_TIMEOUT_MINUTES}); one name given twice runs once.
 *
 * @example
 * resolveTests({ ...stage, tests: [{ lambda: "it-{region}" }] }, scope) // [{ kind: "lambda", name: "it-us-east-1", timeoutMinutes: 30 }]
 */
export function resolveTests(stage: Pick<Stage, "tests">, scope: ScopeRef): ResolvedTest[] {
  const out = new Map<string, ResolvedTest>();
  for (const t of stage.tests ?? []) {
    const kind = "lambda" in t ? "lambda" : "codebuild";
    const name = resolveScopeName("lambda" in t ? t.lambda : t.codebuild, scope);
    if (!name || out.has(`${kind}:${name}`)) continue;
    out.set(`${kind}:${name}`, {
      kind,
      name,
      timeoutMinutes: t.timeoutMinutes ?? DEFAULT_TEST_TIMEOUT_MINUTES,
    });
  }
  return [...out.values()];
}

/** The stage's canaries for one scope, each with its threshold (default 99%). */
export function resolveCanaries(stage: Pick<Stage, "canaries">, scope: ScopeRef): ResolvedCanary[] {
  const out = new Map<string, ResolvedCanary>();
  for (const c of stage.canaries ?? []) {
    const template = typeof c === "string" ? c : c.name;
    const name = resolveScopeName(template, scope);
    if (!name || out.has(name)) continue;
    out.set(name, {
      name,
      minSuccessPercent:
        (typeof c === "string" ? undefined : c.minSuccessPercent) ??
        DEFAULT_CANARY_MIN_SUCCESS_PERCENT,
    });
  }
  return [...out.values()];
}

/** What a test runner says about one test. */
export type TestState =
  | { state: "running"; pollSeconds: number }
  | { state: "passed"; report?: string }
  | { state: "failed"; report: string };

/** One test of a step as the state machine carries it between checks. */
export interface TestRun {
  kind: ResolvedTest["kind"];
  name: string;
  timeoutMinutes: number;
  /** How the runner finds it again (a build id, the test's id). */
  handle: string;
  /** Known final: not asked again. */
  state: "running" | "passed" | "failed";
  report?: string;
}

export type TestsVerdict =
  | { done: false; pollSeconds: number }
  | { done: true; passed: true; summary: string }
  | { done: true; passed: false; reason: string };

/** Polls at least this often while tests run, and never later than the next timeout. */
const MAX_POLL_SECONDS = 300;

/**
 * Judges a step's tests: failed as soon as one failed or one did not answer within its
 * `timeoutMinutes` (fail closed); passed when all passed; else poll again (at the earliest of
 * what the runners asked and the next timeout). The reason carries each failed test's own
 * report, cut to {@link MAX_REPORT_CHARS}.
 *
 * @example
 * judgeTests([{ kind: "lambda", name: "it", timeoutMinutes: 30, handle: "h", state: "failed", report: "2 of 9 failed" }], 60_000, [])
 * // { done: true, passed: false, reason: "test lambda it failed: 2 of 9 failed" }
 */
export function judgeTests(
  runs: TestRun[],
  elapsedMs: number,
  pollSeconds: number[],
): TestsVerdict {
  const failures: string[] = [];
  for (const r of runs) {
    if (r.state === "failed") {
      failures.push(`test ${r.kind} ${r.name} failed: ${r.report ?? "no report"}`);
    } else if (r.state === "running" && elapsedMs >= r.timeoutMinutes * 60_000) {
      failures.push(
        `test ${r.kind} ${r.name} did not answer within ${r.timeoutMinutes} minutes (timeoutMinutes)`,
      );
    }
  }
  if (failures.length)
    return { done: true, passed: false, reason: clip(failures.join("; "), MAX_REPORT_CHARS) };
  const running = runs.filter((r) => r.state === "running");
  if (running.length === 0) {
    return {
      done: true,
      passed: true,
      summary: clip(
        runs.map((r) => `${r.kind} ${r.name} passed${r.report ? `: ${r.report}` : ""}`).join("; "),
        MAX_REPORT_CHARS,
      ),
    };
  }
  const untilTimeout = Math.min(
    ...running.map((r) => Math.ceil((r.timeoutMinutes * 60_000 - elapsedMs) / 1000)),
  );
  const asked = pollSeconds.length ? Math.min(...pollSeconds) : MAX_POLL_SECONDS;
  return {
    done: false,
    pollSeconds: Math.max(1, Math.min(asked, untilTimeout, MAX_POLL_SECONDS)),
  };
}

/** A canary's success rate over a window, as read (CloudWatch Synthetics, or simulated). */
export interface CanaryObservation {
  name: string;
  /** Average SuccessPercent over the window; absent: no run reported in it. */
  successPercent?: number;
}

export interface CanaryVerdict {
  phase: "Healthy" | "Unhealthy" | "Inconclusive";
  reasons: string[];
}

/**
 * Judges a bake by its canaries: a success rate below the canary's threshold is unhealthy; a
 * canary with no run in the window makes the bake inconclusive (fail closed: a silent canary
 * proves nothing).
 *
 * @example
 * judgeCanaries([{ name: "c", minSuccessPercent: 99 }], [{ name: "c", successPercent: 90 }])
 * // { phase: "Unhealthy", reasons: ["canary c: 90% success (below 99%)"] }
 */
export function judgeCanaries(
  canaries: ResolvedCanary[],
  observed: CanaryObservation[],
): CanaryVerdict {
  const byName = new Map(observed.map((o) => [o.name, o]));
  const unhealthy: string[] = [];
  const silent: string[] = [];
  for (const c of canaries) {
    const o = byName.get(c.name);
    if (o?.successPercent === undefined) {
      silent.push(`canary ${c.name}: no run reported during the bake`);
    } else if (o.successPercent < c.minSuccessPercent) {
      unhealthy.push(
        `canary ${c.name}: ${round(o.successPercent)}% success (below ${c.minSuccessPercent}%)`,
      );
    }
  }
  if (unhealthy.length) return { phase: "Unhealthy", reasons: unhealthy };
  if (silent.length) return { phase: "Inconclusive", reasons: silent };
  return { phase: "Healthy", reasons: [] };
}

const round = (n: number) => Math.round(n * 100) / 100;

/**
 * The published contract of a Lambda test function (README, "Tests and canaries"): what
 * Breakwater invokes it with after a deploy step. `start` and `status` of one test carry the
 * same `testId` (its idempotency key); `stop` asks a test that timed out to stop.
 */
export interface TestFunctionRequest {
  action: "start" | "status" | "stop";
  testId: string;
  pipeline: string;
  /** `stage/region` or `stage/region/az`. */
  scope: string;
  stage: string;
  region: string;
  az?: string;
  /** The version the scope now serves (to `percent` of its traffic). */
  version: string;
  artifactDigest?: string;
  percent: number;
  /** The deploy step the test follows. */
  kind: "one-box" | "full";
}

/**
 * What a test function answers to `start` and `status`: still running (and when to ask again),
 * passed, or failed with its report. A quick test answers its result to `start` directly.
 */
export const testFunctionAnswer = z.discriminatedUnion("state", [
  z.object({ state: z.literal("running"), pollSeconds: z.number().int().min(1).max(3600) }),
  z.object({ state: z.literal("passed"), report: z.string().optional() }),
  z.object({ state: z.literal("failed"), report: z.string() }),
]);
export type TestFunctionAnswer = z.output<typeof testFunctionAnswer>;
