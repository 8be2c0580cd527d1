import { type BakePolicy, DEFAULT_CHECK_EVERY_MINUTES } from "../../domain/bake.ts";
import type { Run } from "../../domain/model.ts";
import { stageOf } from "./context.ts";

/**
 * The bake policy of a step: at least `minutes`; with `minRequests`, until served, at most
 * `maxMinutes`; the detector looks every `checkEveryMinutes` (only while it is on: alarms
 * already roll back at once through their events, so without the detector an interim look
 * would judge nothing new).
 */
export function bakePolicy(
  run: Pick<Run, "pipeline" | "definition">,
  stageName: string,
): BakePolicy {
  const stage = stageOf(run, stageName);
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
