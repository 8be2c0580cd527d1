/**
 * Application services behind the stage state machine's Task states. Each is idempotent: a
 * retried invocation (Lambda retry, ASL Retry, crash mid-step) finds the scope already in the
 * target state and carries on instead of double-applying the step.
 */

import { type AnomalyVerdict, detectAnomalies } from "../../domain/anomaly/index.ts";
import { type BakePolicy, type BakeVerdict, isBakeVerdict, judgeBake } from "../../domain/bake.ts";
import { resolveAlarmNames } from "../../domain/blockers.ts";
import { ConcurrentUpdateError, NotFoundError } from "../../domain/errors.ts";
import type { Run, ScopeState, TimelineEvent } from "../../domain/model.ts";
import { type DeployStep, planStage, type StagePlan } from "../../domain/planner.ts";
import type { DeploymentRequest, StageExecutionInput } from "../../domain/ports.ts";
import { scopesToRollBack } from "../../domain/rollback.ts";
import { parseScopeId } from "../../domain/scope.ts";
import type { Deps } from "../deps.ts";
import { scopeEventBusEvent } from "../events.ts";
import { stopLineBehind } from "../lanes.ts";
import { releaseScopeLock } from "../scope-locks.ts";
import { checkGate } from "./gate.ts";
import { stepEvent } from "./step-events.ts";

export type StageContext = StageExecutionInput;

async function loadRun(deps: Deps, runId: string): Promise<Run> {
  const run = await deps.store.getRun(runId);
  if (!run) throw new NotFoundError(`run ${runId} does not exist`);
  return run;
}

function stageOf(run: Run, name: string) {
  const stage = run.definition.stages.find((s) => s.name === name);
  if (!stage) throw new NotFoundError(`pipeline ${run.pipeline} has no stage ${name}`);
  return stage;
}

async function publish(deps: Deps, events: TimelineEvent[]): Promise<void> {
  if (events.length > 0) await deps.events.publish(events.map(scopeEventBusEvent));
}

/** One id per deployment: a retried stage (attempt 2, 3, …) deploys afresh. */
function deploymentId(ctx: StageContext, step: DeployStep, kind: string): string {
  return `${ctx.runId}|${step.scope}|${kind}${ctx.attempt ? `|attempt-${ctx.attempt}` : ""}`;
}

function deploymentRequest(run: Run, ctx: StageContext, step: DeployStep): DeploymentRequest {
  return {
    deploymentId: deploymentId(ctx, step, step.kind),
    pipeline: run.definition,
    scope: parseScopeId(step.scope),
    version: ctx.version,
    percent: step.percent,
    kind: step.kind,
  };
}

/**
 * Halts the run because of `scope` (idempotent): from this write on, no deploy step of the run
 * starts anywhere (every deploy write is conditional on the run still running).
 */
export async function haltRun(
  deps: Deps,
  ctx: StageContext,
  scope: string,
  reason: "rollback" | "deploy-failed" | "inconclusive",
  at: string,
  detail?: string,
): Promise<boolean> {
  const halted = await deps.store.updateRun(ctx.runId, {
    expect: { status: ["running"] },
    set: {
      status: "halted",
      haltReason: reason,
      haltedAt: at,
      haltedBy: scope,
      updatedAt: at,
      ...(detail ? { haltDetail: detail } : {}),
    },
  });
  if (halted) {
    const run = await deps.store.getRun(ctx.runId);
    if (run) await stopLineBehind(deps, run);
  }
  return halted;
}

/** Plan: expands the stage and marks it running in the run record. */
export async function planStageForRun(deps: Deps, ctx: StageContext): Promise<StagePlan> {
  const run = await loadRun(deps, ctx.runId);
  const plan = planStage(stageOf(run, ctx.stage));
  const progress = run.stages[ctx.stage];
  if (progress?.status !== "running") {
    await deps.store.updateRun(ctx.runId, {
      set: {
        stages: { [ctx.stage]: { status: "running", startedAt: deps.clock.now().toISOString() } },
        updatedAt: deps.clock.now().toISOString(),
      },
    });
  }
  return plan;
}

export type StartDeployResult =
  | {
      started: true;
      blocked: false;
      deploymentId: string;
      pollSeconds: number;
      deployStartedAt: string;
    }
  | { started: false; blocked: true; reason: string; recheckSeconds: number }
  | { started: false; blocked: false; reason: string };

/**
 * Starts one deploy step, unless the run has halted: the scope write is conditional on the run
 * still running (safety rule 3), in the same transaction.
 */
export async function startDeploy(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
): Promise<StartDeployResult> {
  const run = await loadRun(deps, ctx.runId);
  if (run.status !== "running") {
    return { started: false, blocked: false, reason: `run is ${run.status}` };
  }
  const current = await deps.store.getScope(ctx.pipeline, step.scope);
  if (!current) throw new NotFoundError(`scope ${step.scope} has no state`);
  if (
    current.runId === ctx.runId &&
    current.version === ctx.version &&
    current.status === "stable" &&
    current.percent >= step.percent
  ) {
    // A retried stage: this scope already took the version in an earlier attempt.
    return { started: false, blocked: false, reason: `scope already on ${ctx.version}` };
  }
  const request = deploymentRequest(run, ctx, step);
  const alreadyStarted =
    current.runId === ctx.runId &&
    current.version === ctx.version &&
    current.status === "deploying" &&
    current.percent === step.percent;
  let deployStartedAt = current.since;
  if (!alreadyStarted) {
    // Safety rule 4: no deploy step starts while a blocker holds.
    const gate = await checkGate(deps, run, ctx, step, current);
    if (gate.blocked) {
      return {
        started: false,
        blocked: true,
        reason: gate.reason,
        recheckSeconds: gate.recheckSeconds,
      };
    }
    const at = deps.clock.now().toISOString();
    deployStartedAt = at;
    const previousVersion =
      current.version === ctx.version ? current.previousVersion : current.version;
    const result = await deps.store.transitionScope({
      pipeline: ctx.pipeline,
      scope: step.scope,
      at,
      actor: "breakwater/deploy",
      cause: `run ${ctx.runId}: ${step.kind} deploy of ${ctx.version} (${step.percent}%)${gate.bypassed ? `; ${gate.bypassed}` : ""}`,
      // The gate may have cleared the scope's blocked marker (a new rev): the store compares
      // with what it reads now, so only the version and status are expected here.
      expect: { status: ["stable", "rolled-back"], version: current.version },
      requireRunning: ctx.runId,
      set: {
        version: ctx.version,
        previousVersion: previousVersion ?? null,
        percent: step.percent,
        status: "deploying",
        runId: ctx.runId,
        blocked: null,
      },
      events: [
        stepEvent(ctx, step, "deploy-started", at, {
          percent: step.percent,
          ...(previousVersion || gate.bypassed
            ? {
                reason: [previousVersion ? `from ${previousVersion}` : "", gate.bypassed ?? ""]
                  .filter(Boolean)
                  .join("; "),
              }
            : {}),
        }),
      ],
    });
    if (!result.ok) {
      await releaseScopeLock(deps, run.definition, step.scope);
      if (result.reason === "run-not-running") {
        return { started: false, blocked: false, reason: "run halted" };
      }
      throw new ConcurrentUpdateError(
        `scope ${step.scope} changed while starting a deploy (now ${result.current?.status} ${result.current?.version})`,
      );
    }
    await publish(deps, [stepEvent(ctx, step, "deploy-started", at, { percent: step.percent })]);
  } else {
    // A retry: the first invocation may have died between its write and its publish, so the
    // event is published again — at least once, never lost (README, "Crash survival").
    await publish(deps, [
      stepEvent(ctx, step, "deploy-started", current.since, { percent: step.percent }),
    ]);
  }
  const { pollSeconds } = await deps.deployer.start(request);
  return {
    started: true,
    blocked: false,
    deploymentId: request.deploymentId,
    pollSeconds,
    deployStartedAt,
  };
}

export type CheckDeployResult = { deployStartedAt: string } & (
  | { done: false; failed: false; pollSeconds: number }
  | { done: true; failed: false; bakeStartedAt: string; bakeSeconds: number }
  | { done: true; failed: true; reason: string }
  | { done: true; failed: false; superseded: true; reason: string }
);

/** The scope left this step's hands (an alarm event rolled it back): the branch ends quietly. */
function supersededBy(current: ScopeState | undefined, ctx: StageContext): string | undefined {
  if (!current) return "scope has no state";
  if (
    current.runId === ctx.runId &&
    (current.status === "rolling-back" || current.status === "rolled-back")
  ) {
    return `scope ${current.status} (fast rollback on an alarm)`;
  }
  return undefined;
}

/** Polls a started deploy step; when it completes, the scope starts baking. */
export async function checkDeploy(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  deployStartedAt: string,
): Promise<CheckDeployResult> {
  const run = await loadRun(deps, ctx.runId);
  const superseded = supersededBy(await deps.store.getScope(ctx.pipeline, step.scope), ctx);
  if (superseded)
    return { deployStartedAt, done: true, failed: false, superseded: true, reason: superseded };
  const status = await deps.deployer.status(deploymentRequest(run, ctx, step));
  if (status.state === "in-progress") {
    return { deployStartedAt, done: false, failed: false, pollSeconds: status.pollSeconds };
  }
  const at = deps.clock.now().toISOString();
  if (status.state === "failed") {
    await haltRun(deps, ctx, step.scope, "deploy-failed", at);
    const finished = stepEvent(ctx, step, "deploy-finished", at, {
      outcome: "failed",
      reason: status.reason,
    });
    await deps.store.appendEvents([finished]);
    await publish(deps, [finished]);
    return { deployStartedAt, done: true, failed: true, reason: status.reason };
  }
  const events = [
    stepEvent(ctx, step, "deploy-finished", at, { outcome: "succeeded", percent: step.percent }),
    stepEvent(ctx, step, "bake-started", at, { percent: step.percent }),
  ];
  const result = await deps.store.transitionScope({
    pipeline: ctx.pipeline,
    scope: step.scope,
    at,
    actor: "breakwater/deploy",
    cause: `run ${ctx.runId}: ${step.kind} deploy of ${ctx.version} finished; baking`,
    expect: { status: ["deploying"], version: ctx.version, runId: ctx.runId },
    set: { version: ctx.version, percent: step.percent, status: "baking" },
    events,
  });
  if (!result.ok) {
    const current = result.current;
    if (
      current?.status === "baking" &&
      current.version === ctx.version &&
      current.runId === ctx.runId
    ) {
      // A retry after the transition landed: the bake started at the recorded time. Its events
      // are published again (the first invocation may have died before publishing them).
      await publish(
        deps,
        events.map((e) => ({ ...e, at: current.since })),
      );
      return {
        deployStartedAt,
        done: true,
        failed: false,
        bakeStartedAt: current.since,
        bakeSeconds: step.bakeSeconds,
      };
    }
    throw new ConcurrentUpdateError(
      `scope ${step.scope} changed during its deploy (now ${current?.status} ${current?.version})`,
    );
  }
  await publish(deps, events);
  return {
    deployStartedAt,
    done: true,
    failed: false,
    bakeStartedAt: at,
    bakeSeconds: step.bakeSeconds,
  };
}

export type EvaluateResult =
  | { phase: BakeVerdict; reasons: string[] }
  | { phase: "Extend"; reasons: string[]; extendSeconds: number }
  | { phase: "Superseded"; reasons: string[] };

/** The bake policy of a step: at least `minutes`; with `minRequests`, until served, at most `maxMinutes`. */
export function bakePolicy(run: Run, stageName: string): BakePolicy {
  const stage = stageOf(run, stageName);
  const minutes = stage.bake.minutes;
  return {
    minutes,
    minRequests: stage.bake.minRequests,
    maxMinutes: stage.bake.maxMinutes ?? minutes * 4,
    onInsufficientTraffic: stage.onInsufficientTraffic ?? "halt",
  };
}

/**
 * Judges the scope at the end of its bake: its alarms (app alarms, plus one-box alarms for a
 * one-box step) and the built-in anomaly detector on its metrics. With `bake.minRequests`, a
 * bake that has not yet seen enough traffic is extended (one Wait per extension, sized from
 * the observed rate), up to `bake.maxMinutes`; then the verdict is Inconclusive.
 */
export async function evaluateStep(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  bakeStartedAt: string,
  deployStartedAt: string,
): Promise<EvaluateResult> {
  const run = await loadRun(deps, ctx.runId);
  const current = await deps.store.getScope(ctx.pipeline, step.scope);
  const superseded = supersededBy(current, ctx);
  if (superseded) return { phase: "Superseded", reasons: [superseded] };
  // A retry after a crash that had recorded the verdict: that verdict stands. Judging again
  // would write a second bake-finished (its key holds the time) and could even disagree.
  const recorded = (await deps.store.timeline(ctx.runId)).find(
    (e) =>
      e.event === "bake-finished" &&
      e.scope === step.scope &&
      e.step === step.kind &&
      e.at >= bakeStartedAt,
  );
  if (recorded && isBakeVerdict(recorded.outcome)) {
    await publish(deps, [recorded]); // the crash may have come before the publish
    return { phase: recorded.outcome, reasons: recorded.reason ? recorded.reason.split("; ") : [] };
  }
  const pipeline = run.definition;
  const scope = parseScopeId(step.scope);
  const now = deps.clock.now();
  const bakeStart = new Date(bakeStartedAt);

  const names = resolveAlarmNames(
    [...(pipeline.alarms ?? []), ...(step.kind === "one-box" ? (pipeline.oneBoxAlarms ?? []) : [])],
    pipeline.name,
    scope,
  );
  const observed = names.length ? await deps.alarms.describe(names, scope.region, now) : [];

  const candidate = await deps.metrics.minutes({
    pipeline,
    scope,
    select: { version: ctx.version },
    from: bakeStart,
    to: now,
  });
  let anomaly: AnomalyVerdict | undefined;
  if (pipeline.anomalyDetection !== false && candidate) {
    const deployStart = new Date(deployStartedAt);
    const lookback = Math.max(now.getTime() - bakeStart.getTime(), 10 * 60_000);
    const baseline =
      (await deps.metrics.minutes({
        pipeline,
        scope,
        select: "all",
        from: new Date(deployStart.getTime() - lookback),
        to: deployStart,
      })) ?? [];
    // During a one-box step the rest of the scope still runs the previous version: the best
    // reference, since it shares the same minutes (time-of-day effects, dependency trouble).
    const previous = current?.previousVersion;
    const control =
      step.kind === "one-box" && previous
        ? await deps.metrics.minutes({
            pipeline,
            scope,
            select: { version: previous },
            from: bakeStart,
            to: now,
          })
        : undefined;
    anomaly = detectAnomalies({
      candidate,
      baseline,
      ...(control ? { control } : {}),
      candidateShare: step.percent / 100,
    });
  }

  // Read above, decide here (the bake rule), write below.
  const decision = judgeBake({
    alarms: observed,
    alarmMissingData: pipeline.alarmMissingData,
    anomaly,
    policy: bakePolicy(run, ctx.stage),
    candidate,
    elapsedMs: now.getTime() - bakeStart.getTime(),
  });
  if (decision.kind === "extend") {
    return { phase: "Extend", reasons: [decision.why], extendSeconds: decision.seconds };
  }
  const { verdict: phase, reasons } = decision;
  if (phase !== "Healthy") {
    // Halt at the verdict, before any rollback starts: no other branch starts a step after it.
    await haltRun(
      deps,
      ctx,
      step.scope,
      phase === "Unhealthy" ? "rollback" : "inconclusive",
      now.toISOString(),
      reasons.join("; "),
    );
  }
  const finished = stepEvent(ctx, step, "bake-finished", now.toISOString(), {
    outcome: phase,
    ...(reasons.length ? { reason: reasons.join("; ") } : {}),
  });
  await deps.store.appendEvents([finished]);
  await publish(deps, [finished]);
  return { phase, reasons };
}

/** Records a healthy, baked step: the scope is stable on the new version. */
export async function recordStep(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  inconclusive?: string[],
): Promise<{ recorded: true }> {
  const at = deps.clock.now().toISOString();
  const result = await deps.store.transitionScope({
    pipeline: ctx.pipeline,
    scope: step.scope,
    at,
    actor: "breakwater/record",
    cause: inconclusive
      ? `run ${ctx.runId}: ${step.kind} step of ${ctx.version} bake inconclusive (${inconclusive.join("; ")}); run halted, version kept until an engineer decides`
      : `run ${ctx.runId}: ${step.kind} step of ${ctx.version} baked healthy`,
    expect: { status: ["baking"], version: ctx.version, runId: ctx.runId },
    set: { version: ctx.version, percent: step.percent, status: "stable" },
  });
  if (!result.ok) {
    const current = result.current;
    const done =
      current?.status === "stable" &&
      current.version === ctx.version &&
      current.runId === ctx.runId;
    if (!done) {
      throw new ConcurrentUpdateError(
        `scope ${step.scope} changed during its bake (now ${current?.status} ${current?.version})`,
      );
    }
  }
  await releaseScopeLock(deps, (await loadRun(deps, ctx.runId)).definition, step.scope);
  return { recorded: true };
}

export type RollbackResult =
  | { done: false; pollSeconds: number; attempt: number }
  | { done: true; failed: false; attempt: number; toVersion: string }
  | { done: true; failed: true; attempt: number; reason: string };

function rollbackRequest(
  run: Run,
  ctx: StageContext,
  step: DeployStep,
  to: string,
  attempt: number,
) {
  return {
    deploymentId: `${deploymentId(ctx, step, "rollback")}|to-${to}|${attempt}`,
    pipeline: run.definition,
    scope: parseScopeId(step.scope),
    version: to,
    percent: 100,
    kind: "rollback" as const,
  };
}

/**
 * Rolls back one scope: halts the run first (from this moment no deploy step of the run starts
 * anywhere), then returns the scope to the version it ran before.
 */
export async function startRollback(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  cause: string,
  attempt: number,
  /** An explicit target (a `rollback-all` decision); default: the scope's previous version. */
  toVersion?: string,
): Promise<RollbackResult> {
  const at = deps.clock.now().toISOString();
  await haltRun(deps, ctx, step.scope, "rollback", at);
  await deps.store.updateRun(ctx.runId, { set: { updatedAt: at }, addRolledBack: step.scope });
  const run = await loadRun(deps, ctx.runId);
  const current = await deps.store.getScope(ctx.pipeline, step.scope);
  if (!current) throw new NotFoundError(`scope ${step.scope} has no state`);
  let target: string;
  // A decision's rollback (`toVersion`) is done when the scope reached that version; an alarm's
  // when the scope is rolled back by this run.
  const reached =
    current.status === "rolled-back" &&
    current.runId === ctx.runId &&
    (toVersion === undefined || current.version === toVersion);
  if (reached) {
    await releaseScopeLock(deps, run.definition, step.scope);
    return { done: true, failed: false, attempt, toVersion: current.version };
  }
  if (
    current.status === "rolling-back" &&
    current.runId === ctx.runId &&
    (toVersion === undefined || current.version === toVersion)
  ) {
    target = current.version; // retry of a rollback already recorded
    // Published again: the first invocation may have died between its write and its publish.
    await publish(deps, [
      stepEvent(ctx, step, "rollback-started", current.since, {
        toVersion: current.version,
        reason: cause,
      }),
    ]);
  } else {
    const previous = scopesToRollBack({
      kind: "unhealthy-step",
      scope: current,
      version: ctx.version,
      toVersion,
    })[0]?.toVersion;
    if (!previous) {
      // The scope never took the new version (its deploy failed before the write): nothing to undo.
      if (current.runId === ctx.runId) await releaseScopeLock(deps, run.definition, step.scope);
      return { done: true, failed: false, attempt, toVersion: current.version };
    }
    target = previous;
    const events = [
      stepEvent(ctx, step, "rollback-started", at, { toVersion: previous, reason: cause }),
    ];
    const result = await deps.store.transitionScope({
      pipeline: ctx.pipeline,
      scope: step.scope,
      at,
      actor: toVersion ? "breakwater/rollback-all" : "breakwater/rollback",
      cause: `run ${ctx.runId}: rolling back ${ctx.version} -> ${previous}: ${cause}`,
      expect: {
        status: toVersion
          ? ["deploying", "baking", "stable", "rolled-back"]
          : ["deploying", "baking", "stable"],
        version: ctx.version,
      },
      set: {
        version: previous,
        previousVersion: ctx.version,
        percent: 100,
        status: "rolling-back",
        runId: ctx.runId,
      },
      events,
    });
    if (!result.ok) {
      throw new ConcurrentUpdateError(
        `scope ${step.scope} changed while starting its rollback (now ${result.current?.status} ${result.current?.version})`,
      );
    }
    await publish(deps, events);
  }
  const { pollSeconds } = await deps.deployer.start(
    rollbackRequest(run, ctx, step, target, attempt),
  );
  return { done: false, pollSeconds, attempt };
}

/** Polls a rollback; when it completes the scope is `rolled-back` on the old version. */
export async function checkRollback(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  attempt: number,
): Promise<RollbackResult> {
  const run = await loadRun(deps, ctx.runId);
  const current = await deps.store.getScope(ctx.pipeline, step.scope);
  if (!current) throw new NotFoundError(`scope ${step.scope} has no state`);
  if (current.status === "rolled-back" && current.runId === ctx.runId) {
    // A retry after the transition landed: the first invocation may have died before releasing
    // the scope's lock or publishing; both are safe to repeat (at least once).
    await releaseScopeLock(deps, run.definition, step.scope);
    await publish(deps, [
      stepEvent(ctx, step, "rollback-finished", current.since, { toVersion: current.version }),
    ]);
    return { done: true, failed: false, attempt, toVersion: current.version };
  }
  const status = await deps.deployer.status(
    rollbackRequest(run, ctx, step, current.version, attempt),
  );
  if (status.state === "in-progress")
    return { done: false, pollSeconds: status.pollSeconds, attempt };
  if (status.state === "failed")
    return { done: true, failed: true, attempt, reason: status.reason };
  const at = deps.clock.now().toISOString();
  const events = [stepEvent(ctx, step, "rollback-finished", at, { toVersion: current.version })];
  const result = await deps.store.transitionScope({
    pipeline: ctx.pipeline,
    scope: step.scope,
    at,
    actor: "breakwater/rollback",
    cause: `run ${ctx.runId}: rolled back to ${current.version}`,
    expect: { status: ["rolling-back"], version: current.version, runId: ctx.runId },
    set: { version: current.version, percent: 100, status: "rolled-back" },
    events,
  });
  if (!result.ok) {
    throw new ConcurrentUpdateError(`scope ${step.scope} changed during its rollback`);
  }
  await releaseScopeLock(deps, run.definition, step.scope);
  await publish(deps, events);
  return { done: true, failed: false, attempt, toVersion: current.version };
}

export interface FinishStageResult {
  halted: boolean;
  reason?: string;
}

/** The last state of a stage: the stage fails when the run halted during it. */
export async function finishStage(deps: Deps, ctx: StageContext): Promise<FinishStageResult> {
  const run = await loadRun(deps, ctx.runId);
  const at = deps.clock.now().toISOString();
  const started = run.stages[ctx.stage]?.startedAt ?? at;
  const halted = run.status !== "running";
  await deps.store.updateRun(ctx.runId, {
    set: {
      stages: {
        [ctx.stage]: {
          status: halted ? "failed" : "succeeded",
          startedAt: started,
          finishedAt: at,
        },
      },
      updatedAt: at,
    },
  });
  if (!halted) return { halted: false };
  return {
    halted: true,
    reason: run.haltedBy
      ? `run halted: ${run.haltedBy} rolled back (${run.haltReason})`
      : `run is ${run.status}`,
  };
}
