/**
 * StartTests and CheckTests: a stage's tests (issue 13, item 2) after each deploy step and
 * before its bake. The scope already serves the new version (its status is `baking` from the
 * deploy's end, so an alarm's fast rollback takes it as before); its bake starts only once every
 * test passed. A failed test, or one that does not answer within its `timeoutMinutes`, halts the
 * run and the scope is rolled back, with the test's own report (cut to 1,000 characters) in the
 * timeline (`tests-finished`) and, through the rollback's cause, in the scope's history.
 */
import {
  judgeTests,
  MAX_REPORT_CHARS,
  resolveTests,
  type TestRun,
  type TestState,
} from "../../domain/checks.ts";
import { InvalidInputError } from "../../domain/errors.ts";
import { clip } from "../../domain/pipeline.ts";
import type { DeployStep } from "../../domain/planner.ts";
import type { TestRequest, TestRunner } from "../../domain/ports.ts";
import { parseScopeId } from "../../domain/scope.ts";
import { targetRoleArn } from "../../domain/targets/index.ts";
import type { Deps } from "../deps.ts";
import {
  deploymentId,
  type RunSnapshot,
  type StageContext,
  snapshotOf,
  stageOf,
  supersededBy,
} from "./context.ts";
import { haltRun } from "./halt.ts";
import { publish, stepEvent } from "./step-events.ts";

/** What the state machine carries between StartTests and CheckTests (`$.tests`). */
export type TestsResult =
  | { done: false; failed: false; startedAt: string; pollSeconds: number; runs: TestRun[] }
  | { done: true; failed: false; startedAt: string; bakeStartedAt: string; runs: TestRun[] }
  | { done: true; failed: true; reason: string }
  | { done: true; failed: false; superseded: true; reason: string };

/** Whether the stage runs tests after its deploy steps (the deploy's end then starts no bake). */
export function stageHasTests(run: RunSnapshot, stage: string): boolean {
  return (stageOf(run, stage).tests ?? []).length > 0;
}

function runnerOf(deps: Deps): TestRunner {
  // Fail closed: a stage that names tests never bakes untested.
  if (!deps.tests) {
    throw new InvalidInputError("the stage has tests, but this control plane has no test runner");
  }
  return deps.tests;
}

function testRequest(
  run: RunSnapshot,
  ctx: StageContext,
  step: DeployStep,
  t: TestRun,
): TestRequest {
  const scope = parseScopeId(step.scope);
  const roleArn = targetRoleArn(run.definition, scope.stage);
  return {
    testId: `${deploymentId(ctx, step, step.kind)}|test|${t.kind}|${t.name}`,
    pipeline: run.definition,
    scope,
    version: ctx.version,
    kind: step.kind,
    percent: step.percent,
    test: { kind: t.kind, name: t.name, timeoutMinutes: t.timeoutMinutes },
    ...(roleArn ? { roleArn } : {}),
    ...(run.artifactDigest ? { artifactDigest: run.artifactDigest } : {}),
  };
}

/** The run with a final answer recorded; a report is cut to its bound, whatever the runner sent. */
const settle = (run: TestRun, s: TestState): TestRun =>
  s.state === "running"
    ? run
    : {
        ...run,
        state: s.state,
        ...(s.report !== undefined ? { report: clip(s.report, MAX_REPORT_CHARS - 40) } : {}),
      };

/**
 * Starts the step's tests. `startedAt` is when the deploy finished (the scope's `since`), so a
 * retried start records the same `tests-started` and counts the timeouts from the same instant.
 */
export async function startTests(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  startedAt: string,
): Promise<TestsResult> {
  const run = await snapshotOf(deps, ctx);
  const runner = runnerOf(deps);
  const tests = resolveTests(stageOf(run, ctx.stage), parseScopeId(step.scope));
  const runs: TestRun[] = [];
  const polls: number[] = [];
  for (const t of tests) {
    const pending: TestRun = { ...t, handle: "", state: "running" };
    const { handle, status } = await runner.start(testRequest(run, ctx, step, pending));
    if (status.state === "running") polls.push(status.pollSeconds);
    runs.push(settle({ ...pending, handle }, status));
  }
  const started = stepEvent(ctx, step, "tests-started", startedAt, {
    percent: step.percent,
    reason: tests.map((t) => `${t.kind} ${t.name}`).join(", ") || "no test applies to this scope",
  });
  await deps.store.appendEvents([started]);
  await publish(deps, [started]);
  return conclude(deps, ctx, step, startedAt, runs, polls);
}

/** Asks the runners about the tests still running, then judges them all. */
export async function checkTests(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  startedAt: string,
  runs: TestRun[],
): Promise<TestsResult> {
  const run = await snapshotOf(deps, ctx);
  const runner = runnerOf(deps);
  const polls: number[] = [];
  const next: TestRun[] = [];
  for (const r of runs) {
    if (r.state !== "running") {
      next.push(r);
      continue;
    }
    const status = await runner.status(testRequest(run, ctx, step, r), r.handle);
    if (status.state === "running") polls.push(status.pollSeconds);
    next.push(settle(r, status));
  }
  return conclude(deps, ctx, step, startedAt, next, polls);
}

/**
 * Judges the tests; when they are done, records the outcome: passed starts the bake
 * (`tests-finished` and `bake-started`), failed halts the run before its rollback starts.
 */
async function conclude(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  startedAt: string,
  runs: TestRun[],
  polls: number[],
): Promise<TestsResult> {
  const now = deps.clock.now();
  const verdict = judgeTests(runs, now.getTime() - new Date(startedAt).getTime(), polls);
  // A fast rollback may have taken the scope while the tests ran: it owns the scope now, and
  // tests still running against it are stopped (read on every poll, as CheckDeploy does).
  const superseded = supersededBy(await deps.store.getScope(ctx.pipeline, step.scope), ctx);
  if (superseded) {
    await stopRunning(deps, ctx, step, runs);
    return { done: true, failed: false, superseded: true, reason: superseded };
  }
  if (!verdict.done) {
    return { done: false, failed: false, startedAt, pollSeconds: verdict.pollSeconds, runs };
  }
  // A retry after the outcome was written: that outcome stands (written once, published again).
  const recorded = (await deps.store.timeline(ctx.runId)).find(
    (e) =>
      e.event === "tests-finished" &&
      e.scope === step.scope &&
      e.step === step.kind &&
      e.at >= startedAt,
  );
  if (recorded) {
    await publish(deps, [recorded]);
    return recorded.outcome === "passed"
      ? { done: true, failed: false, startedAt, bakeStartedAt: recorded.at, runs }
      : { done: true, failed: true, reason: recorded.reason ?? "tests failed" };
  }
  const at = now.toISOString();
  if (!verdict.passed) {
    await haltRun(deps, ctx, step.scope, "rollback", at, verdict.reason);
    const finished = stepEvent(ctx, step, "tests-finished", at, {
      outcome: "failed",
      reason: verdict.reason,
    });
    await deps.store.appendEvents([finished]);
    await publish(deps, [finished]);
    await stopRunning(deps, ctx, step, runs);
    return { done: true, failed: true, reason: verdict.reason };
  }
  const events = [
    stepEvent(ctx, step, "tests-finished", at, { outcome: "passed", reason: verdict.summary }),
    stepEvent(ctx, step, "bake-started", at, { percent: step.percent }),
  ];
  await deps.store.appendEvents(events);
  await publish(deps, events);
  return { done: true, failed: false, startedAt, bakeStartedAt: at, runs };
}

/** Tests still running when the step ended are stopped (best effort: the verdict stands). */
async function stopRunning(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  runs: TestRun[],
): Promise<void> {
  const run = await snapshotOf(deps, ctx);
  const runner = runnerOf(deps);
  for (const r of runs.filter((x) => x.state === "running")) {
    await runner.stop(testRequest(run, ctx, step, r), r.handle).catch(() => undefined);
  }
}
