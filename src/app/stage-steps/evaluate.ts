import { type AnomalyVerdict, detectAnomalies, rulesForLook } from "../../domain/anomaly/index.ts";
import {
  type BakeVerdict,
  bakeLooks,
  isBakeVerdict,
  isInterimLook,
  judgeBake,
  judgeLook,
} from "../../domain/bake.ts";
import { resolveAlarmNames } from "../../domain/blockers.ts";
import type { ScopeState, TimelineEvent } from "../../domain/model.ts";
import type { DeployStep } from "../../domain/planner.ts";
import { parseScopeId } from "../../domain/scope.ts";
import { targetRoleArn } from "../../domain/targets/index.ts";
import type { Deps } from "../deps.ts";
import { bakePolicy } from "./bake-policy.ts";
import { canaryVerdict } from "./canaries.ts";
import { type StageContext, snapshotOf, stageOf, supersededBy } from "./context.ts";
import { haltRun } from "./halt.ts";
import { publish, stepEvent } from "./step-events.ts";

export type EvaluateResult =
  | { phase: BakeVerdict; reasons: string[] /** When the verdict was reached. */; at?: string }
  | { phase: "Extend"; reasons: string[]; extendSeconds: number }
  /** An interim look found nothing wrong: bake on, and look again after `waitSeconds`. */
  | { phase: "Look"; reasons: string[]; waitSeconds: number }
  | { phase: "Superseded"; reasons: string[] };

/**
 * Judges the scope at a look of its bake: its alarms (app alarms, plus one-box alarms for a
 * one-box step), the built-in anomaly detector on its metrics (thresholds corrected for the
 * bake's planned looks) and the stage's canaries. An interim look (before `bake.minutes`, every
 * `bake.checkEveryMinutes`) judges the detector only and only rolls back: Unhealthy is acted on
 * at once, anything else bakes on (`Look`) and writes nothing. The final look judges as below.
 * With `bake.minRequests`, a
 * bake that has not yet seen enough traffic is extended (one Wait per extension, sized from
 * the observed rate), up to `bake.maxMinutes`; then the verdict is Inconclusive.
 *
 * With the scope as the deploy's end wrote it (`basis`), a Healthy verdict costs no store call:
 * the record step writes it with the scope's transition to stable, conditional on that basis
 * and on the run still running, and reads only when either fails (a fast rollback took the
 * scope, or the run halted: then it looks for a verdict a crashed attempt recorded). Any other
 * verdict reads the scope and the timeline first, as without a basis.
 */
export async function evaluateStep(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  bakeStartedAt: string,
  deployStartedAt: string,
  basis?: ScopeState,
): Promise<EvaluateResult> {
  const run = await snapshotOf(deps, ctx);
  let current = basis;
  if (!basis) {
    const early = await settled(deps, ctx, step, bakeStartedAt);
    if ("phase" in early) return early;
    current = early.current;
  }
  const pipeline = run.definition;
  const scope = parseScopeId(step.scope);
  const now = deps.clock.now();
  const bakeStart = new Date(bakeStartedAt);
  const policy = bakePolicy(run, ctx.stage, step.kind);
  const elapsedMs = now.getTime() - bakeStart.getTime();

  const names = resolveAlarmNames(
    [...(pipeline.alarms ?? []), ...(step.kind === "one-box" ? (pipeline.oneBoxAlarms ?? []) : [])],
    pipeline.name,
    scope,
  );
  // In the scope's own region and account (its target's role, if any).
  const account = { roleArn: targetRoleArn(pipeline, scope.stage) };
  // An interim look judges the detector only: alarms roll back through their own events.
  const interim = isInterimLook(policy, elapsedMs);
  const observed =
    names.length && !interim ? await deps.alarms.describe(names, scope.region, now, account) : [];

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
    const previous = current?.previousVersion;
    // After a rolling step the scope before this step served mostly the candidate itself: the
    // baseline is then the previous version's own traffic in that window, not the whole scope's.
    const rolled = stageOf(run, ctx.stage).rolling !== undefined && step.kind !== "one-box";
    const baseline =
      (await deps.metrics.minutes({
        pipeline,
        scope,
        select: rolled && previous ? { version: previous } : "all",
        from: new Date(deployStart.getTime() - lookback),
        to: deployStart,
      })) ?? [];
    // During a one-box or rolling step the rest of the scope still runs the previous version:
    // the best reference, since it shares the same minutes (time-of-day effects, dependencies).
    const control =
      (step.kind === "one-box" || step.kind === "rolling") && previous
        ? await deps.metrics.minutes({
            pipeline,
            scope,
            select: { version: previous },
            from: bakeStart,
            to: now,
          })
        : undefined;
    anomaly = detectAnomalies(
      {
        candidate,
        baseline,
        ...(control ? { control } : {}),
        candidateShare: step.percent / 100,
      },
      rulesForLook({
        planned: bakeLooks(policy).planned,
        fraction: elapsedMs / (policy.minutes * 60_000),
      }),
    );
  }

  // The stage's canaries over the bake (the mixed fleet during a one-box step).
  const canaries = interim
    ? undefined // an interim look judges the detector only
    : await canaryVerdict(deps, pipeline, scope, bakeStart, now);

  // Read above, decide here (the bake rule), write below.
  const input = {
    canaries,
    alarms: observed,
    alarmMissingData: pipeline.alarmMissingData,
    anomaly,
    policy,
    candidate,
    elapsedMs,
  };
  if (interim) {
    const look = judgeLook(input);
    if (look.kind === "continue") return { phase: "Look", reasons: [], waitSeconds: look.seconds };
    return conclude(deps, ctx, step, bakeStartedAt, basis, now, look.verdict, look.reasons);
  }
  const decision = judgeBake(input);
  if (decision.kind === "extend") {
    // Every wait says why, and until when: the extension goes on the run's timeline (and the
    // bus), where status, the live views and the timeline find it. Idempotent on a retry (the
    // event's key holds the time).
    const until = new Date(now.getTime() + decision.seconds * 1000).toISOString();
    const extended = stepEvent(ctx, step, "bake-extended", now.toISOString(), {
      reason: decision.why,
      until,
    });
    await deps.store.appendEvents([extended]);
    await publish(deps, [extended]);
    return { phase: "Extend", reasons: [decision.why], extendSeconds: decision.seconds };
  }
  return conclude(deps, ctx, step, bakeStartedAt, basis, now, decision.verdict, decision.reasons);
}

/** Writes a verdict: halts the run unless Healthy, records the bake's end, publishes it. */
async function conclude(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  bakeStartedAt: string,
  basis: ScopeState | undefined,
  now: Date,
  phase: BakeVerdict,
  reasons: string[],
): Promise<EvaluateResult> {
  // Healthy with a basis: recorded by the record step, in the scope's transition to stable.
  if (phase === "Healthy" && basis) return { phase, reasons, at: now.toISOString() };
  if (basis) {
    // A verdict that halts the run: first what a read without a basis would have found.
    const early = await settled(deps, ctx, step, bakeStartedAt);
    if ("phase" in early) return early;
  }
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

/**
 * What ends the evaluation before any judging: a fast rollback took the scope, or a crashed
 * attempt already recorded this bake's verdict (that verdict stands: judging again would write
 * a second bake-finished, its key holds the time, and could even disagree).
 */
async function settled(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  bakeStartedAt: string,
): Promise<EvaluateResult | { current: ScopeState | undefined }> {
  const current = await deps.store.getScope(ctx.pipeline, step.scope);
  const superseded = supersededBy(current, ctx);
  if (superseded) return { phase: "Superseded", reasons: [superseded] };
  const recorded = await recordedVerdict(deps, ctx, step, bakeStartedAt);
  if (recorded && isBakeVerdict(recorded.outcome)) {
    await publish(deps, [recorded]); // the crash may have come before the publish
    return { phase: recorded.outcome, reasons: recorded.reason ? recorded.reason.split("; ") : [] };
  }
  return { current };
}

/** The bake verdict already recorded for this step's bake, if any. */
export async function recordedVerdict(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  bakeStartedAt: string,
): Promise<TimelineEvent | undefined> {
  return (await deps.store.timeline(ctx.runId)).find(
    (e) =>
      e.event === "bake-finished" &&
      e.scope === step.scope &&
      e.step === step.kind &&
      e.at >= bakeStartedAt,
  );
}
