import type { Deps } from "../deps.ts";
import { stopLineBehind } from "../lanes.ts";
import type { StageContext } from "./context.ts";

/**
 * Halts the run because of `scope` (idempotent): from this write on, no deploy step of the run
 * starts anywhere (every deploy write is conditional on the run still running).
 */
export async function haltRun(
  deps: Deps,
  ctx: StageContext,
  scope: string,
  reason: "rollback" | "deploy-failed" | "inconclusive",
  at: string,
  detail?: string,
): Promise<boolean> {
  const halted = await deps.store.updateRun(ctx.runId, {
    expect: { status: ["running"] },
    set: {
      status: "halted",
      haltReason: reason,
      haltedAt: at,
      haltedBy: scope,
      updatedAt: at,
      ...(detail ? { haltDetail: detail } : {}),
    },
  });
  if (halted) {
    const run = await deps.store.getRun(ctx.runId);
    if (run) await stopLineBehind(deps, run);
  }
  return halted;
}
