import { type BakePolicy, DEFAULT_CHECK_EVERY_MINUTES } from "../../domain/bake.ts";
import type { Run } from "../../domain/model.ts";
import type { StepKind } from "../../domain/planner.ts";
import { stageOf } from "./context.ts";

/**
 * The bake policy of a step: at least `minutes`; with `minRequests`, until served, at most
 * `maxMinutes`. A rolling step below 100% bakes `rolling.bakeMinutes`, judged by the alarms and
 * the detector alone: the stage's traffic minimum is the 100% step's (and the one-box's), so a
 * short intermediate bake is never extended to the stage's full one. The detector looks every `checkEveryMinutes` (only while it is on: alarms
 * already roll back at once through their events, so without the detector an interim look
 * would judge nothing new).
 */
export function bakePolicy(
  run: Pick<Run, "pipeline" | "definition">,
  stageName: string,
  kind: StepKind = "full",
): BakePolicy {
  const stage = stageOf(run, stageName);
  if (kind === "rolling" && stage.rolling) {
    const minutes = stage.rolling.bakeMinutes;
    return {
      minutes,
      maxMinutes: minutes,
      onInsufficientTraffic: "proceed",
      checkEveryMinutes:
        run.definition.anomalyDetection === false
          ? undefined
          : (stage.bake.checkEveryMinutes ?? DEFAULT_CHECK_EVERY_MINUTES),
    };
  }
  const minutes = stage.bake.minutes;
  return {
    minutes,
    minRequests: stage.bake.minRequests,
    maxMinutes: stage.bake.maxMinutes ?? minutes * 4,
    onInsufficientTraffic: stage.onInsufficientTraffic ?? "halt",
    checkEveryMinutes:
      run.definition.anomalyDetection === false
        ? undefined
        : (stage.bake.checkEveryMinutes ?? DEFAULT_CHECK_EVERY_MINUTES),
  };
}
