import type { Deps } from "../deps.ts";
import { loadRun, type StageContext } from "./context.ts";

export interface FinishStageResult {
  halted: boolean;
  reason?: string;
}

/** The last state of a stage: the stage fails when the run halted during it. */
export async function finishStage(deps: Deps, ctx: StageContext): Promise<FinishStageResult> {
  const run = await loadRun(deps, ctx.runId);
  const at = deps.clock.now().toISOString();
  const started = run.stages[ctx.stage]?.startedAt ?? at;
  const halted = run.status !== "running";
  await deps.store.updateRun(ctx.runId, {
    set: {
      stages: {
        [ctx.stage]: {
          status: halted ? "failed" : "succeeded",
          startedAt: started,
          finishedAt: at,
        },
      },
      updatedAt: at,
    },
  });
  if (!halted) return { halted: false };
  return {
    halted: true,
    reason: run.haltedBy
      ? `run halted: ${run.haltedBy} rolled back (${run.haltReason})`
      : `run is ${run.status}`,
  };
}
