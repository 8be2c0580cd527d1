/**
 * "Which scopes roll back, and to which version?" answered in one module, one function for the
 * three cases: an unhealthy step (the stage machine's rollback of its scope), an alarm event
 * (fast rollback) and an engineer's `rollback-all`. The services read the scopes, runs and
 * histories, call {@link scopesToRollBack}, and start the rollbacks it names.
 */
import { alarmNameMatches, resolveAlarmName } from "./blockers.ts";
import type { HistoryEntry, Run, ScopeState } from "./model.ts";
import type { Pipeline } from "./pipeline.ts";
import { type DeployStep, planStage, stepKindAt } from "./planner.ts";
import { parseScopeId, placementOf } from "./scope.ts";

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
      /**
       * The scope's history and which versions' runs rolled back: the target is then the last
       * known-good version (see {@link lastKnownGood}); absent, the scope's previous version.
       */
      known?: { history: HistoryEntry[]; rolledBack: (version: string) => boolean };
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
 * the rollback returns the scope to its last known-good version as its state and history say
 * when it starts.
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

/** Whether a scope of `stage` at `percent` is on its one-box step (one-box alarms judge it). */
function isOneBox(run: Run, stage: string, percent: number): boolean {
  const own = run.definition.stages.find((s) => s.name === stage);
  return stepKindAt(own, percent) === "one-box";
}

/**
 * The last known-good version of a scope: the newest version its history shows before
 * `version` whose run did not roll back (safety rule 3: a rollback never returns a scope to a
 * version that is itself halted for a rollback elsewhere). Undefined when there is none.
 *
 * @example
 * lastKnownGood(history, "v3", (v) => v === "v2"); // history v1 → v2 → v3
 * // → "v1"
 */
export function lastKnownGood(
  history: HistoryEntry[],
  version: string,
  rolledBack: (version: string) => boolean,
): string | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const v = (history[i] as HistoryEntry).toVersion;
    if (v !== version && !rolledBack(v)) return v;
  }
  return undefined;
}

/** Placeholders that make an alarm template name one AZ's (or cell's, or scope's) alarm. */
const LOCAL_PLACEHOLDERS = ["{az}", "{cell}", "{scope}"];

/** Whether an alarm template judges a whole region: it names no AZ, cell or scope. */
export function isRegionalTemplate(template: string): boolean {
  return !LOCAL_PLACEHOLDERS.some((p) => template.includes(p));
}

/**
 * How the alarm judges the scope: not at all (undefined), the scope alone, or its whole region
 * (a matching app alarm template without `{az}`/`{cell}`; one-box alarms judge their one-box
 * step alone). Only a deploying or baking scope of its run's version is watched.
 */
function watchedBy(
  alarm: { name: string; region: string },
  scope: ScopeState,
  run?: Run,
): "scope" | "region" | undefined {
  if ((scope.status !== "deploying" && scope.status !== "baking") || !scope.runId) return;
  if (!run || run.version !== scope.version) return;
  const ref = parseScopeId(scope.scope);
  // Alarms live in the scope's region (the local mode has a single pseudo-region).
  if (alarm.region !== ref.region && alarm.region !== "local") return;
  const matches = (t: string) => {
    const name = resolveAlarmName(t, run.pipeline, ref);
    return name !== undefined && alarmNameMatches(name, alarm.name);
  };
  const app = (run.definition.alarms ?? []).filter(matches);
  if (app.some(isRegionalTemplate)) return "region";
  // A one-box alarm watches the one-box's share of traffic, which lives in this scope alone.
  const oneBox = isOneBox(run, ref.stage, scope.percent)
    ? (run.definition.oneBoxAlarms ?? []).filter(matches)
    : [];
  return app.length > 0 || oneBox.length > 0 ? "scope" : undefined;
}

/**
 * The alarm case: every watched scope, and for a regional verdict every other scope of that
 * region on the run's version (stable ones included: they run the version the region judges).
 */
function alarmTargets(input: CaseOf<"alarm">): AlarmRollback[] {
  const out = new Map<string, AlarmRollback>();
  const add = (scope: ScopeState, run: Run) => {
    if (!out.has(scope.scope)) out.set(scope.scope, { scope, run, step: alarmStep(run, scope) });
  };
  for (const { scope, run } of input.scopes) {
    const verdict = run && watchedBy(input.alarm, scope, run);
    if (!run || !verdict) continue;
    add(scope, run);
    if (verdict !== "region") continue;
    const { region } = parseScopeId(scope.scope);
    for (const other of input.scopes) {
      const s = other.scope;
      if (s.runId !== run.runId || s.version !== run.version) continue;
      if (s.status !== "deploying" && s.status !== "baking" && s.status !== "stable") continue;
      if (parseScopeId(s.scope).region === region) add(s, run);
    }
  }
  return [...out.values()];
}

/** The step an alarm's rollback execution rolls back: the scope as it is deployed now. */
function alarmStep(run: Run, scope: ScopeState): DeployStep {
  const ref = parseScopeId(scope.scope);
  const stage = run.definition.stages.find((s) => s.name === ref.stage);
  return {
    scope: scope.scope,
    region: ref.region,
    ...placementOf(ref),
    kind: stepKindAt(stage, scope.percent),
    percent: scope.percent,
    bakeSeconds: (stage?.bake.minutes ?? 0) * 60,
  };
}

/**
 * The scopes to roll back and the version each returns to. An unhealthy step: its scope, to
 * the explicit target or else its last known-good version (the newest earlier version whose
 * run did not roll back; without a history, its previous version), and only if it took the
 * run's version (a deploy that failed before its write left nothing to undo). An alarm in
 * ALARM: every deploying or baking scope of its run's version that the alarm judges (app
 * alarms, plus one-box alarms while under 100%), in that scope alone, or, for a template
 * without `{az}`/`{cell}` (a regional alarm), every scope of that region on the run's
 * version (safety rule 3). A rollback-all: every
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
      if (scope.version !== input.version) return [];
      const known = input.known;
      const to =
        input.toVersion ??
        (known && lastKnownGood(known.history, input.version, known.rolledBack)) ??
        scope.previousVersion;
      return to ? [{ scope, toVersion: to }] : [];
    }
    case "alarm":
      return alarmTargets(input);
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
