/**
 * Fast rollback: an alarm of a scope that is deploying or baking goes to ALARM. Instead of
 * waiting for the end of the bake, the run halts at once and that scope alone is rolled back by
 * a rollback execution. The stage execution's branch for the scope finds the scope already
 * rolled back when it wakes, and ends; other in-flight steps finish and bake as usual.
 */
import { alarmNameMatches, resolveAlarmNames } from "../domain/blockers.ts";
import type { Run, ScopeState } from "../domain/model.ts";
import type { DeployStep } from "../domain/planner.ts";
import { parseScopeId } from "../domain/scope.ts";
import type { Deps } from "./deps.ts";
import { runBusEvent } from "./events.ts";
import { haltRun } from "./stage-steps.ts";

export interface AlarmChange {
  alarmName: string;
  region: string;
  state: "OK" | "ALARM" | "INSUFFICIENT_DATA";
  reason?: string;
}

export interface FastRollbackResult {
  rolledBack: { pipeline: string; scope: string; runId: string }[];
}

/** The scopes (deploying or baking) that `alarmName` judges. */
async function watchedScopes(
  deps: Deps,
  change: AlarmChange,
): Promise<{ run: Run; scope: ScopeState }[]> {
  const out: { run: Run; scope: ScopeState }[] = [];
  const runs = new Map<string, Run | undefined>();
  for (const pipeline of await deps.store.listPipelines()) {
    for (const scope of await deps.store.listScopes(pipeline.name)) {
      if ((scope.status !== "deploying" && scope.status !== "baking") || !scope.runId) continue;
      if (!runs.has(scope.runId)) runs.set(scope.runId, await deps.store.getRun(scope.runId));
      const run = runs.get(scope.runId);
      if (!run || run.version !== scope.version) continue;
      const ref = parseScopeId(scope.scope);
      // Alarms live in the scope's region (the local mode has a single pseudo-region).
      if (change.region !== ref.region && change.region !== "local") continue;
      const templates = [
        ...(run.definition.alarms ?? []),
        ...(scope.percent < 100 ? (run.definition.oneBoxAlarms ?? []) : []),
      ];
      if (
        resolveAlarmNames(templates, run.pipeline, ref).some((n) =>
          alarmNameMatches(n, change.alarmName),
        )
      ) {
        out.push({ run, scope });
      }
    }
  }
  return out;
}

/**
 * Whether the run is halted by this very alarm on this scope and the halt is not yet recorded
 * as announced: a retry (Lambda's asynchronous retry after a crash between the halt and its
 * publish, or EventBridge delivering the alarm event twice) announces it then, rather than never.
 */
async function haltedByThisAlarm(
  deps: Deps,
  runId: string,
  scope: string,
  details: string,
): Promise<boolean> {
  const run = await deps.store.getRun(runId);
  return (
    run?.status === "halted" &&
    run.haltReason === "rollback" &&
    run.haltedBy === scope &&
    run.haltDetail === details &&
    run.haltAnnouncedAt === undefined
  );
}

/**
 * Halts the run of every deploying or baking scope the alarm judges and starts that scope's
 * rollback execution (one per run and scope: its name is derived from them, so a retried or
 * repeated alarm event starts no second rollback).
 */
export async function onAlarmStateChange(
  deps: Deps,
  change: AlarmChange,
): Promise<FastRollbackResult> {
  if (change.state !== "ALARM") return { rolledBack: [] };
  const rolledBack: FastRollbackResult["rolledBack"] = [];
  for (const { run, scope } of await watchedScopes(deps, change)) {
    const ref = parseScopeId(scope.scope);
    const ctx = {
      runId: run.runId,
      pipeline: run.pipeline,
      version: run.version,
      stage: ref.stage,
    };
    const stage = run.definition.stages.find((s) => s.name === ref.stage);
    const step: DeployStep = {
      scope: scope.scope,
      region: ref.region,
      ...(ref.az ? { az: ref.az } : {}),
      kind: scope.percent < 100 ? "one-box" : "full",
      percent: scope.percent,
      bakeSeconds: (stage?.bake.minutes ?? 0) * 60,
    };
    const at = deps.clock.now().toISOString();
    const details = `${change.alarmName} in ALARM${change.reason ? `: ${change.reason}` : ""}`;
    const halted =
      (await haltRun(deps, ctx, scope.scope, "rollback", at, details)) ||
      (await haltedByThisAlarm(deps, run.runId, scope.scope, details));
    // Safety first: the halt (no deploy step starts from here on), then the rollback, then the
    // announcement, so a crash after the announcement cannot delay the rollback.
    await deps.workflows.startRollback({ ctx, step, why: { kind: "alarm", details } });
    if (halted) {
      await deps.events.publish([
        runBusEvent({
          at,
          runId: run.runId,
          pipeline: run.pipeline,
          version: run.version,
          event: "run-halted",
          stage: ref.stage,
          reason: `${scope.scope}: ${details}`,
        }),
      ]);
      // Recorded after the publish (a crash in between repeats it, never loses it); promotion
      // reads it and does not announce this halt a second time when the stage execution ends.
      await deps.store.updateRun(run.runId, {
        expect: { absent: ["haltAnnouncedAt"] },
        set: { haltAnnouncedAt: at },
      });
    }
    rolledBack.push({ pipeline: run.pipeline, scope: scope.scope, runId: run.runId });
  }
  return { rolledBack };
}
