import type { BakePolicy } from "../../domain/bake.ts";
import type { Run } from "../../domain/model.ts";
import { stageOf } from "./context.ts";

/** The bake policy of a step: at least `minutes`; with `minRequests`, until served, at most `maxMinutes`. */
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
  };
}
