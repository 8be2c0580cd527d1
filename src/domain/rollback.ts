/**
 * "Which scopes roll back, and to which version?" answered in one module, one function for the
 * three cases: an unhealthy step (the stage machine's rollback of its scope), an alarm event
 * (fast rollback) and an engineer's `rollback-all`. The services read the scopes, runs and
 * histories, call {@link scopesToRollBack}, and start the rollbacks it names.
 */
import { alarmNameMatches, resolveAlarmNames } from "./blockers.ts";
import type { HistoryEntry, Run, ScopeState } from "./model.ts";
import type { Pipeline } from "./pipeline.ts";
import { type DeployStep, planStage } from "./planner.ts";
import { parseScopeId } from "./scope.ts";

/** The three ways a rollback is asked for, each with the data it is judged on. */
export type RollbackCase =
  | {
      kind: "unhealthy-step";
      /** The scope's state now. */
      scope: ScopeState;
      /** The version the run deploys. */
      version: string;
      /** An explicit target (a `rollback-all` decision's rollback execution). */
      toVersion?: string | undefined;
    }
  | {
      kind: "alarm";
      alarm: { name: string; region: string };
      /** Every scope, with its run when it has one (read only for deploying or baking scopes). */
      scopes: { scope: ScopeState; run?: Run | undefined }[];
    }
  | {
      kind: "rollback-all";
      /** Arrival order of the version whose run halted. */
      badSeq: number;
      /** Arrival order of a version (versions without a run are older than every run: 0). */
      seqOf: (version: string) => number;
      definition: Pipeline;
      /** Scopes for which {@link inRollbackAll} holds, each with its history. */
      scopes: { scope: ScopeState; history: HistoryEntry[] }[];
    };

/** An unhealthy step's scope and the version it returns to. */
export interface StepRollback {
  scope: ScopeState;
  toVersion: string;
}

/**
 * A scope an alarm judges, the run that halts and the step its rollback execution rolls back;
 * the rollback returns the scope to its previous version as its state says when it starts.
 */
export interface AlarmRollback {
  scope: ScopeState;
  run: Run;
  step: DeployStep;
}

/** A rollback-all's scope, the version it returns to and the step its rollback rolls back. */
export interface DecisionRollback {
  scope: ScopeState;
  toVersion: string;
  step: DeployStep;
}

/** One scope to roll back. */
export type RollbackTarget = StepRollback | AlarmRollback | DecisionRollback;

type CaseOf<K extends RollbackCase["kind"]> = Extract<RollbackCase, { kind: K }>;

/** Whether a rollback-all of the version at `badSeq` concerns the scope (so its history is read). */
export function inRollbackAll(
  scope: ScopeState,
  seqOf: (version: string) => number,
  badSeq: number,
): boolean {
  return seqOf(scope.version) >= badSeq && scope.status !== "rolling-back";
}

/** The last version a scope ran before any version at or after `badSeq` (its history says). */
export function lastGoodVersion(
  history: HistoryEntry[],
  seqOf: (version: string) => number,
  badSeq: number,
): string | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i] as HistoryEntry;
    if (seqOf(h.toVersion) < badSeq) return h.toVersion;
  }
  return undefined;
}

/** Whether the alarm judges the scope: a deploying or baking scope of its run's version. */
function watchedBy(alarm: { name: string; region: string }, scope: ScopeState, run?: Run) {
  if ((scope.status !== "deploying" && scope.status !== "baking") || !scope.runId) return false;
  if (!run || run.version !== scope.version) return false;
  const ref = parseScopeId(scope.scope);
  // Alarms live in the scope's region (the local mode has a single pseudo-region).
  if (alarm.region !== ref.region && alarm.region !== "local") return false;
  const templates = [
    ...(run.definition.alarms ?? []),
    ...(scope.percent < 100 ? (run.definition.oneBoxAlarms ?? []) : []),
  ];
  return resolveAlarmNames(templates, run.pipeline, ref).some((n) =>
    alarmNameMatches(n, alarm.name),
  );
}

/** The step an alarm's rollback execution rolls back: the scope as it is deployed now. */
function alarmStep(run: Run, scope: ScopeState): DeployStep {
  const ref = parseScopeId(scope.scope);
  const stage = run.definition.stages.find((s) => s.name === ref.stage);
  return {
    scope: scope.scope,
    region: ref.region,
    ...(ref.az ? { az: ref.az } : {}),
    kind: scope.percent < 100 ? "one-box" : "full",
    percent: scope.percent,
    bakeSeconds: (stage?.bake.minutes ?? 0) * 60,
  };
}

/**
 * The scopes to roll back and the version each returns to. An unhealthy step: its scope, to
 * the explicit target or else its previous version, and only if it took the run's version (a
 * deploy that failed before its write left nothing to undo). An alarm in ALARM: every
 * deploying or baking scope of its run's version that the alarm judges (app alarms, plus
 * one-box alarms while under 100%), in that scope alone (safety rule 3). A rollback-all: every
 * scope running the bad version or a newer one, not already rolling back, to the last version
 * its history shows before the bad one, skipping scopes with no such version or already on it.
 *
 * @example
 * scopesToRollBack({
 *   kind: "unhealthy-step",
 *   scope: { ...scope, version: "v7", previousVersion: "v6" },
 *   version: "v7",
 * });
 * // → [{ scope: {...}, toVersion: "v6" }]
 */
export function scopesToRollBack(input: CaseOf<"unhealthy-step">): StepRollback[];
export function scopesToRollBack(input: CaseOf<"alarm">): AlarmRollback[];
export function scopesToRollBack(input: CaseOf<"rollback-all">): DecisionRollback[];
export function scopesToRollBack(input: RollbackCase): RollbackTarget[] {
  switch (input.kind) {
    case "unhealthy-step": {
      const { scope } = input;
      const to =
        scope.version === input.version ? (input.toVersion ?? scope.previousVersion) : undefined;
      return to ? [{ scope, toVersion: to }] : [];
    }
    case "alarm":
      return input.scopes.flatMap(({ scope, run }) =>
        run && watchedBy(input.alarm, scope, run)
          ? [{ scope, run, step: alarmStep(run, scope) }]
          : [],
      );
    case "rollback-all":
      return input.scopes.flatMap(({ scope, history }) => {
        if (!inRollbackAll(scope, input.seqOf, input.badSeq)) return [];
        const target = lastGoodVersion(history, input.seqOf, input.badSeq);
        if (!target || target === scope.version) return [];
        const stageName = scope.scope.split("/")[0] as string;
        const stage = input.definition.stages.find((s) => s.name === stageName);
        const step = stage
          ? planStage(stage)
              .regions.flatMap((r) => r.phases.flat())
              .find((s) => s.scope === scope.scope && s.kind === "full")
          : undefined;
        return step ? [{ scope, toVersion: target, step }] : [];
      });
  }
}

/** One stage's part of a wave-by-wave `rollback-all`: its regions, all at once. */
export interface RollbackStageWave {
  stage: string;
  regions: {
    region: string;
    /** One after the other, as the stage deploys them; the scopes of one phase together. */
    phases: DecisionRollback[][];
  }[];
}

/**
 * Orders a `rollback-all`'s rollbacks as a deployment (safety rule 1: a rollback is a
 * deployment too): the newest stages first (the last in pipeline order, which took the bad
 * version last), one stage after another; in a stage every region at once; in a region the
 * planner's phases one after another, so AZs (and cells, when the planner has them) go one at
 * a time unless the stage deploys them in parallel. The one-box phase has no part of its own:
 * a scope rolls back whole. Targets whose stage or scope the plan does not know are dropped
 * ({@link scopesToRollBack} already drops them); empty phases, regions and stages too.
 *
 * @example
 * rollbackWaves(pipeline, targets)
 * // [{ stage: "prod-2", regions: [{ region: "us-east-1", phases: [[az1], [az2]] },
 * //   { region: "eu-west-1", phases: [[eu-west-1]] }] }, { stage: "prod-1", … }]
 */
export function rollbackWaves(
  definition: Pipeline,
  targets: readonly DecisionRollback[],
): RollbackStageWave[] {
  const byScope = new Map(targets.map((t) => [t.scope.scope, t]));
  const waves: RollbackStageWave[] = [];
  for (const stage of [...definition.stages].reverse()) {
    const regions = planStage(stage).regions.flatMap((plan) => {
      const phases = plan.phases
        .map((phase) =>
          phase.flatMap((step) => {
            const target = step.kind === "full" ? byScope.get(step.scope) : undefined;
            return target ? [target] : [];
          }),
        )
        .filter((phase) => phase.length > 0);
      return phases.length > 0 ? [{ region: plan.region, phases }] : [];
    });
    if (regions.length > 0) waves.push({ stage: stage.name, regions });
  }
  return waves;
}
