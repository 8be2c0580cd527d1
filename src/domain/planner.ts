/**
 * The planner expands a stage into ordered, concurrency-aware deploy steps. It is pure: the
 * state machine's Plan task returns its result and the Map states walk it.
 */
import { groupBatches, type Placement, regionLayout } from "./cells.ts";
import { oneBoxPercent, type Pipeline, type Stage } from "./pipeline.ts";
import { scopeId } from "./scope.ts";

/**
 * `one-box`: a share of the region's first scope; `rolling`: a traffic step of a full step
 * below 100% (`stages[].rolling`); `full`: the scope at 100%.
 */
export type StepKind = "one-box" | "rolling" | "full";

export interface DeployStep {
  scope: string;
  region: string;
  az?: string;
  cell?: string;
  kind: StepKind;
  /** Share of the scope's traffic the new version serves after this step. */
  percent: number;
  /** Minimum bake after this step, in seconds. */
  bakeSeconds: number;
}

export interface RegionPlan {
  region: string;
  /** Phases run one after the other; the steps inside one phase run at the same time. */
  phases: DeployStep[][];
}

export interface StagePlan {
  stage: string;
  /** How many regions deploy at the same time (the Map's MaxConcurrency). */
  regionsInParallel: number;
  regions: RegionPlan[];
}

/**
 * Expands one stage into its deploy plan: per region, the one-box step (if configured) in the
 * region's first scope (its first AZ's first cell), then full steps AZ by AZ (all AZs at once
 * with `azsInParallel`) and, inside an AZ or a region with cells, `cellsInParallel` cells at a
 * time (safety rule 1).
 * With `rolling`, each full step (or batch of cells) is its traffic steps (each baking
 * `rolling.bakeMinutes`), then the 100% step with the stage's bake.
 *
 * @example
 * planStage({ name: "prod-1", regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }], oneBox: true, bake: { minutes: 60 } })
 * // regions[0].phases: [[one-box eun1-az1 10%], [full eun1-az1], [full eun1-az2]]
 * planStage({ name: "prod-1", regions: [{ region: "eu-north-1", cells: ["c1", "c2", "c3"] }], cellsInParallel: 2, bake: { minutes: 60 } })
 * // regions[0].phases: [[full c1, full c2], [full c3]]
 */
export function planStage(stage: Stage): StagePlan {
  const bakeSeconds = stage.bake.minutes * 60;
  const percent = oneBoxPercent(stage);
  const regions = stage.regions.map((entry): RegionPlan => {
    const { region, groups } = regionLayout(entry);
    const step = ({ az, cell }: Placement, kind: StepKind, pct: number): DeployStep => ({
      scope: scopeId(stage.name, region, az, cell),
      region,
      ...(az ? { az } : {}),
      ...(cell ? { cell } : {}),
      kind,
      percent: pct,
      bakeSeconds,
    });
    const batches = groups.map((g) =>
      groupBatches(g, stage.cellsInParallel).map((b) => b.map((p) => step(p, "full", 100))),
    );
    const phases: DeployStep[][] = [];
    const first = batches[0]?.[0]?.[0];
    if (percent !== undefined && first) {
      phases.push([{ ...first, kind: "one-box", percent }]);
    }
    // Each full batch in its traffic steps (rolling): the batch takes every share, one after
    // another, before the next batch starts; without rolling, the one share is 100%.
    const shares = fullStepShares(stage);
    const expand = (batch: DeployStep[]): DeployStep[][] =>
      shares.map((pct) =>
        batch.map((s) =>
          pct < 100
            ? {
                ...s,
                kind: "rolling" as const,
                percent: pct,
                bakeSeconds: rollingBakeSeconds(stage),
              }
            : s,
        ),
      );
    if (stage.azsInParallel) {
      // All AZs at once: the k-th batch of every AZ together, each share together.
      const rounds = Math.max(...batches.map((b) => b.length));
      for (let k = 0; k < rounds; k++) phases.push(...expand(batches.flatMap((b) => b[k] ?? [])));
    } else {
      for (const group of batches) for (const batch of group) phases.push(...expand(batch));
    }
    return { region, phases };
  });
  return { stage: stage.name, regionsInParallel: stage.regionsInParallel ?? 1, regions };
}

/** The shares a full step goes through: the stage's rolling percents, else 100% at once. */
function fullStepShares(stage: Stage): number[] {
  return stage.rolling?.percents ?? [100];
}

function rollingBakeSeconds(stage: Stage): number {
  return (stage.rolling?.bakeMinutes ?? 0) * 60;
}

/**
 * The kind of the step that moved a scope of `stage` to `percent`: the one-box share, a
 * rolling share, or 100%. Unambiguous because rolling shares must be above the one-box's (the
 * pipeline schema checks). A rollback cancelling a deploy in flight knows only the share.
 *
 * @example
 * stepKindAt({ ...stage, oneBox: true, rolling: { percents: [25, 100], bakeMinutes: 5 } }, 25) // "rolling"
 */
export function stepKindAt(stage: Stage | undefined, percent: number): StepKind {
  if (percent >= 100) return "full";
  if (stage?.rolling?.percents.includes(percent) && oneBoxPercent(stage) !== percent) {
    return "rolling";
  }
  return "one-box";
}

export function stageIndex(pipeline: Pipeline, stage: string): number {
  const i = pipeline.stages.findIndex((s) => s.name === stage);
  if (i < 0) throw new Error(`pipeline "${pipeline.name}" has no stage "${stage}"`);
  return i;
}

/** The stage after `stage`, or undefined when `stage` is the last one. */
export function nextStage(pipeline: Pipeline, stage: string): Stage | undefined {
  return pipeline.stages[stageIndex(pipeline, stage) + 1];
}
