import { ConcurrentUpdateError, NotFoundError } from "../../domain/errors.ts";
import type { Run } from "../../domain/model.ts";
import type { DeployStep } from "../../domain/planner.ts";
import { scopesToRollBack } from "../../domain/rollback.ts";
import { parseScopeId } from "../../domain/scope.ts";
import type { Deps } from "../deps.ts";
import { releaseScopeLock } from "../scope-locks.ts";
import { deploymentId, loadRun, type StageContext } from "./context.ts";
import { haltRun } from "./halt.ts";
import { publish, stepEvent } from "./step-events.ts";

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
