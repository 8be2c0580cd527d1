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
    const halted = await haltRun(deps, ctx, scope.scope, "rollback", at, details);
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
    }
    await deps.workflows.startRollback({ ctx, step, why: { kind: "alarm", details } });
    rolledBack.push({ pipeline: run.pipeline, scope: scope.scope, runId: run.runId });
  }
  return { rolledBack };
}
