import { ConcurrentUpdateError, NotFoundError } from "../../domain/errors.ts";
import type { HistoryEntry, Run, ScopeState, TimelineEvent } from "../../domain/model.ts";
import type { DeployStep } from "../../domain/planner.ts";
import type { DeploymentRequest } from "../../domain/ports.ts";
import { scopesToRollBack } from "../../domain/rollback.ts";
import { parseScopeId } from "../../domain/scope.ts";
import { effectiveTarget, targetUses } from "../../domain/targets/index.ts";
import type { Deps } from "../deps.ts";
import { releaseScopeLock } from "../scope-locks.ts";
import { deploymentId, loadRun, type StageContext } from "./context.ts";
import { inFlightDeployRequest } from "./deploy.ts";
import { haltRun } from "./halt.ts";
import { publish, stepEvent } from "./step-events.ts";

export type RollbackResult =
  | { done: false; pollSeconds: number; attempt: number }
  | { done: true; failed: false; attempt: number; toVersion: string }
  | { done: true; failed: true; attempt: number; reason: string };

async function rollbackRequest(
  deps: Deps,
  run: Run,
  ctx: StageContext,
  step: DeployStep,
  to: string,
  attempt: number,
): Promise<DeploymentRequest> {
  const scope = parseScopeId(step.scope);
  const digest = await digestOf(deps, run, scope.stage, to);
  return {
    deploymentId: `${deploymentId(ctx, step, "rollback")}|to-${to}|${attempt}`,
    pipeline: run.definition,
    scope,
    version: to,
    percent: 100,
    kind: "rollback" as const,
    ...(digest ? { artifactDigest: digest } : {}),
  };
}

/**
 * The artifact digest of the version a rollback returns to, when the stage's target names
 * `{digest}` (an image by digest): from that version's run request, written once (versions are
 * immutable). A version with no run request (one deployed before Breakwater) has none, and the
 * target then says which placeholder it could not fill.
 */
async function digestOf(
  deps: Deps,
  run: Run,
  stage: string,
  version: string,
): Promise<string | undefined> {
  if (version === run.version) return run.change?.artifactDigest;
  const target = effectiveTarget(run.definition, stage);
  if (!target || !targetUses(target, "digest")) return undefined;
  return (await deps.runRequests.get(run.pipeline, version))?.artifactDigest;
}

/** The outcome the timeline gives a deploy step its rollback cancelled. */
const CANCELLED = "cancelled";

/** The step of the deploy `req` (its kind and share), for the timeline. */
function stepOf(req: DeploymentRequest): DeployStep {
  return {
    scope: req.scope.id,
    region: req.scope.region,
    ...(req.scope.az ? { az: req.scope.az } : {}),
    kind: req.kind === "one-box" ? "one-box" : "full",
    percent: req.percent,
    bakeSeconds: 0,
  };
}

/**
 * The deploy step of this run still in flight on a `deploying` scope, unless it already reported
 * its end (a failed deploy is rolled back too, and has nothing left to cancel).
 */
async function deployToCancel(
  deps: Deps,
  run: Run,
  ctx: StageContext,
  current: ScopeState,
): Promise<DeploymentRequest | undefined> {
  if (current.status !== "deploying" || current.runId !== ctx.runId) return undefined;
  const req = inFlightDeployRequest(run, ctx, current.scope, current.percent);
  const finished = (await deps.store.timeline(ctx.runId)).some(
    (e) =>
      e.event === "deploy-finished" &&
      e.scope === current.scope &&
      e.step === req.kind &&
      e.at >= current.since,
  );
  return finished ? undefined : req;
}

/**
 * The cancel a rollback recorded when it took the scope out of `deploying` (same instant as the
 * scope's transition to `rolling-back`), so a retry of that rollback cancels it again.
 */
async function recordedCancel(
  deps: Deps,
  ctx: StageContext,
  current: ScopeState,
): Promise<TimelineEvent | undefined> {
  return (await deps.store.timeline(ctx.runId)).find(
    (e) =>
      e.event === "deploy-finished" &&
      e.outcome === CANCELLED &&
      e.scope === current.scope &&
      e.at === current.since,
  );
}

/** The bake verdict a rollback recorded when it ended the scope's bake (see `bakeToEnd`). */
async function recordedBakeEnd(
  deps: Deps,
  ctx: StageContext,
  current: ScopeState,
): Promise<TimelineEvent | undefined> {
  return (await deps.store.timeline(ctx.runId)).find(
    (e) =>
      e.event === "bake-finished" &&
      e.outcome === "Unhealthy" &&
      e.scope === current.scope &&
      e.at === current.since,
  );
}

/**
 * What the last known-good rule needs (safety rule 3): the scope's history and which versions'
 * runs rolled back (halted for a rollback, or ended by rollback-all). Read only for a rollback
 * that names no target; a version with no run (the seeded one) is good.
 */
async function knownVersions(
  deps: Deps,
  ctx: StageContext,
  scope: string,
): Promise<{ history: HistoryEntry[]; rolledBack: (version: string) => boolean }> {
  const [history, runs] = await Promise.all([
    deps.store.history(ctx.pipeline, scope),
    deps.store.listRuns(ctx.pipeline),
  ]);
  const bad = new Set(
    runs
      .filter(
        (r) =>
          r.rolledBack.length > 0 ||
          r.status === "rolled-back" ||
          (r.status === "halted" && r.haltReason === "rollback"),
      )
      .map((r) => r.version),
  );
  return { history, rolledBack: (v) => bad.has(v) };
}

/**
 * A bake this rollback ends before its verdict (a fast rollback on an alarm): its
 * `bake-finished`, Unhealthy with the alarm as the reason, goes in the rollback's transaction,
 * so the step's record is complete. None when the bake already has its verdict (the stage
 * machine's own rollback of an unhealthy step) or the scope is not baking.
 */
async function bakeToEnd(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  current: ScopeState,
  at: string,
  cause: string,
): Promise<TimelineEvent[]> {
  if (current.status !== "baking" || current.runId !== ctx.runId) return [];
  const kind = current.percent < 100 ? "one-box" : "full";
  const judged = (await deps.store.timeline(ctx.runId)).some(
    (e) =>
      e.event === "bake-finished" &&
      e.scope === current.scope &&
      e.step === kind &&
      e.at >= current.since,
  );
  if (judged) return [];
  const baked: DeployStep = { ...step, kind, percent: current.percent };
  return [
    stepEvent(ctx, baked, "bake-finished", at, {
      outcome: "Unhealthy",
      percent: current.percent,
      reason: cause,
    }),
  ];
}

/**
 * Rolls back one scope: halts the run first (from this moment no deploy step of the run, or of
 * a newer run of the pipeline, starts anywhere: the halt stops the line), then returns the scope
 * to its last known-good version (or a decision's explicit target).
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
  /** The in-flight deploy this rollback stops before it starts (none: nothing in flight). */
  let cancel: DeploymentRequest | undefined;
  if (
    current.status === "rolling-back" &&
    current.runId === ctx.runId &&
    (toVersion === undefined || current.version === toVersion)
  ) {
    target = current.version; // retry of a rollback already recorded
    // The first invocation may have died before its cancel reached the target: sent again
    // (cancelling a stopped or finished deploy changes nothing).
    const cancelled = await recordedCancel(deps, ctx, current);
    if (cancelled) {
      cancel = inFlightDeployRequest(run, ctx, current.scope, cancelled.percent ?? 100);
    }
    const bakeEnded = await recordedBakeEnd(deps, ctx, current);
    // Published again: the first invocation may have died between its write and its publish.
    await publish(deps, [
      ...(bakeEnded ? [bakeEnded] : []),
      ...(cancelled ? [cancelled] : []),
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
      ...(toVersion === undefined ? { known: await knownVersions(deps, ctx, step.scope) } : {}),
    })[0]?.toVersion;
    if (!previous) {
      // The scope never took the new version (its deploy failed before the write): nothing to undo.
      if (current.runId === ctx.runId) await releaseScopeLock(deps, run.definition, step.scope);
      return { done: true, failed: false, attempt, toVersion: current.version };
    }
    target = previous;
    // The deploy still in flight is recorded as cancelled in the same transaction as the
    // rollback's start; from then on its own step sees the scope rolling back and ends quietly.
    cancel = await deployToCancel(deps, run, ctx, current);
    const bakeEnded =
      toVersion === undefined ? await bakeToEnd(deps, ctx, step, current, at, cause) : [];
    const events = [
      ...bakeEnded,
      ...(cancel
        ? [
            stepEvent(ctx, stepOf(cancel), "deploy-finished", at, {
              outcome: CANCELLED,
              percent: cancel.percent,
              reason: `cancelled to roll back: ${cause}`,
            }),
          ]
        : []),
      stepEvent(ctx, step, "rollback-started", at, { toVersion: previous, reason: cause }),
    ];
    const result = await deps.store.transitionScope({
      pipeline: ctx.pipeline,
      scope: step.scope,
      at,
      actor: toVersion ? "breakwater/rollback-all" : "breakwater/rollback",
      cause: `run ${ctx.runId}: rolling back ${ctx.version} -> ${previous}: ${cause}${
        cancel ? `; cancels the in-flight ${cancel.kind} deploy of ${ctx.version}` : ""
      }`,
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
  // Before the rollback starts: the first deploy must not land after it (a retry sends it again).
  if (cancel) await deps.deployer.cancel(cancel);
  const { pollSeconds } = await deps.deployer.start(
    await rollbackRequest(deps, run, ctx, step, target, attempt),
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
    await rollbackRequest(deps, run, ctx, step, current.version, attempt),
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
