/**
 * Fast rollback: an alarm of a scope that is deploying or baking goes to ALARM. Instead of
 * waiting for the end of the bake, the run halts at once (stopping the line: no newer version
 * starts a step either) and that scope alone is rolled back by a rollback execution — or, for a
 * regional alarm (no `{az}`/`{cell}` in its template), every scope of its region on the version. The stage execution's branch for the scope finds the scope already
 * rolled back when it wakes, and ends; other in-flight steps finish and bake as usual.
 */
import type { Run, ScopeState } from "../domain/model.ts";
import { type AlarmRollback, scopesToRollBack } from "../domain/rollback.ts";
import { parseScopeId } from "../domain/scope.ts";
import type { Deps } from "./deps.ts";
import { runBusEvent } from "./events.ts";
import { haltRun } from "./stage-steps/index.ts";

export interface AlarmChange {
  alarmName: string;
  region: string;
  state: "OK" | "ALARM" | "INSUFFICIENT_DATA";
  reason?: string;
}

export interface FastRollbackResult {
  rolledBack: { pipeline: string; scope: string; runId: string }[];
}

/** The scopes (deploying or baking) that `alarmName` judges, by the rollback rule. */
async function watchedScopes(deps: Deps, change: AlarmChange): Promise<AlarmRollback[]> {
  const scopes: { scope: ScopeState; run?: Run | undefined }[] = [];
  const runs = new Map<string, Run | undefined>();
  for (const pipeline of await deps.store.listPipelines()) {
    for (const scope of await deps.store.listScopes(pipeline.name)) {
      // Only a deploying or baking scope's run is read: the rule ignores the others anyway.
      if ((scope.status !== "deploying" && scope.status !== "baking") || !scope.runId) {
        scopes.push({ scope });
        continue;
      }
      if (!runs.has(scope.runId)) runs.set(scope.runId, await deps.store.getRun(scope.runId));
      scopes.push({ scope, run: runs.get(scope.runId) });
    }
  }
  return scopesToRollBack({
    kind: "alarm",
    alarm: { name: change.alarmName, region: change.region },
    scopes,
  });
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
  for (const { scope, run, step } of await watchedScopes(deps, change)) {
    const ref = parseScopeId(scope.scope);
    const ctx = {
      runId: run.runId,
      pipeline: run.pipeline,
      version: run.version,
      stage: ref.stage,
      // The halt stops the line at this arrival (safety rule 3) without reading the run again.
      seq: run.seq,
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
