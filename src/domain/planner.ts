/**
 * The planner expands a stage into ordered, concurrency-aware deploy steps. It is pure: the
 * state machine's Plan task returns its result and the Map states walk it.
 */
import { oneBoxPercent, type Pipeline, type Stage } from "./pipeline.ts";
import { regionOf, scopeId } from "./scope.ts";

export type StepKind = "one-box" | "full";

export interface DeployStep {
  scope: string;
  region: string;
  az?: string;
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
 * region's first scope, then full steps per AZ (one at a time unless `azsInParallel`) or for
 * the whole region.
 *
 * @example
 * planStage({ name: "prod-1", regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }], oneBox: true, bake: { minutes: 60 } })
 * // regions[0].phases: [[one-box eun1-az1 10%], [full eun1-az1], [full eun1-az2]]
 */
export function planStage(stage: Stage): StagePlan {
  const bakeSeconds = stage.bake.minutes * 60;
  const percent = oneBoxPercent(stage);
  const regions = stage.regions.map((entry): RegionPlan => {
    const { region, azs } = regionOf(entry);
    const targets = azs.length > 0 ? azs.map((az) => ({ az })) : [{ az: undefined }];
    const step = (az: string | undefined, kind: StepKind, pct: number): DeployStep => ({
      scope: scopeId(stage.name, region, az),
      region,
      ...(az ? { az } : {}),
      kind,
      percent: pct,
      bakeSeconds,
    });
    const phases: DeployStep[][] = [];
    const first = targets[0];
    if (percent !== undefined && first) phases.push([step(first.az, "one-box", percent)]);
    const full = targets.map((t) => step(t.az, "full", 100));
    if (stage.azsInParallel) phases.push(full);
    else for (const s of full) phases.push([s]);
    return { region, phases };
  });
  return { stage: stage.name, regionsInParallel: stage.regionsInParallel ?? 1, regions };
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
