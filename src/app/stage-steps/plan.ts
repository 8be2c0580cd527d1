import { planStage, type StagePlan } from "../../domain/planner.ts";
import type { Deps } from "../deps.ts";
import { loadRun, type StageContext, stageOf } from "./context.ts";

/** Plan: expands the stage and marks it running in the run record. */
export async function planStageForRun(deps: Deps, ctx: StageContext): Promise<StagePlan> {
  const run = await loadRun(deps, ctx.runId);
  const plan = planStage(
    stageOf(ctx.definition ? { ...run, definition: ctx.definition } : run, ctx.stage),
  );
  const progress = run.stages[ctx.stage];
  if (progress?.status !== "running") {
    await deps.store.updateRun(ctx.runId, {
      set: {
        stages: { [ctx.stage]: { status: "running", startedAt: deps.clock.now().toISOString() } },
        updatedAt: deps.clock.now().toISOString(),
      },
    });
  }
  return plan;
}
