import { BreakwaterError, ConcurrentUpdateError } from "../../domain/errors.ts";
import type { ScopeState } from "../../domain/model.ts";
import type { DeployStep } from "../../domain/planner.ts";
import type { ScopeTransition } from "../../domain/ports.ts";
import type { Deps } from "../deps.ts";
import { releaseScopeLock } from "../scope-locks.ts";
import { type StageContext, snapshotOf, supersededBy } from "./context.ts";
import { recordedVerdict } from "./evaluate.ts";
import { publish, stepEvent } from "./step-events.ts";

/**
 * A crashed attempt of this step's Evaluate recorded a verdict other than Healthy (and halted
 * the run); a retry judged Healthy. The recorded verdict stands: the state machine catches this
 * and rolls the scope back.
 */
export class RecordedVerdictError extends BreakwaterError {
  override name = "RecordedVerdictError";
}

export type RecordResult = { recorded: true } | { recorded: false; superseded: string };

/**
 * Records a baked step: the scope is stable on the new version. A Healthy verdict Evaluate left
 * to this step (`healthy`) is written in the same transaction as the scope's transition,
 * conditional on the scope as the deploy's end wrote it (`basis`) and on the run still running
 * (then one round trip); a halted run is checked for a verdict a crashed Evaluate recorded first.
 */
export async function recordStep(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  inconclusive?: string[],
  carried: { basis?: ScopeState; healthy?: { at: string; reasons: string[] } } = {},
): Promise<RecordResult> {
  const at = deps.clock.now().toISOString();
  const healthy = carried.healthy;
  const verdict = healthy
    ? [
        stepEvent(ctx, step, "bake-finished", healthy.at, {
          outcome: "Healthy" as const,
          ...(healthy.reasons.length ? { reason: healthy.reasons.join("; ") } : {}),
        }),
      ]
    : [];
  const transition: ScopeTransition = {
    pipeline: ctx.pipeline,
    scope: step.scope,
    at,
    actor: "breakwater/record",
    cause: inconclusive
      ? `run ${ctx.runId}: ${step.kind} step of ${ctx.version} bake inconclusive (${inconclusive.join("; ")}); run halted, version kept until an engineer decides`
      : `run ${ctx.runId}: ${step.kind} step of ${ctx.version} baked healthy`,
    expect: { status: ["baking"], version: ctx.version, runId: ctx.runId },
    ...(carried.basis ? { basis: carried.basis } : {}),
    set: { version: ctx.version, percent: step.percent, status: "stable" },
    ...(verdict.length ? { events: verdict } : {}),
  };
  let result = await deps.store.transitionScope(
    verdict.length ? { ...transition, requireRunning: ctx.runId } : transition,
  );
  if (!result.ok && result.reason === "run-not-running") {
    // The run halted during the bake (this scope's crashed Evaluate, or another scope): a
    // verdict recorded for this bake stands; none recorded, the healthy step is recorded.
    const bakeStartedAt = carried.basis?.since ?? healthy?.at ?? at;
    const recorded = await recordedVerdict(deps, ctx, step, bakeStartedAt);
    if (recorded && recorded.outcome !== "Healthy") {
      throw new RecordedVerdictError(
        `scope ${step.scope}: bake verdict ${recorded.outcome} already recorded (${recorded.reason ?? "no reason"})`,
      );
    }
    result = await deps.store.transitionScope(
      recorded ? { ...transition, events: [] } : transition,
    );
  }
  if (!result.ok) {
    const current = result.current;
    const superseded = supersededBy(current, ctx);
    if (superseded && carried.basis) return { recorded: false, superseded };
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
  await releaseScopeLock(deps, (await snapshotOf(deps, ctx)).definition, step.scope);
  // At least once: a retry after the transition landed publishes the verdict again.
  await publish(deps, verdict);
  return { recorded: true };
}
