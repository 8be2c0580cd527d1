import type { LineStop } from "../../domain/line.ts";
import type { RunUpdate } from "../../domain/ports.ts";
import type { Deps } from "../deps.ts";
import { stopLineBehind } from "../lanes.ts";
import { loadRun, type StageContext } from "./context.ts";

type HaltReason = "rollback" | "deploy-failed" | "inconclusive";

/** The run's arrival number: carried in the execution input, else read (older executions). */
export async function seqOf(deps: Deps, ctx: StageContext): Promise<number> {
  return ctx.seq ?? (await loadRun(deps, ctx.runId)).seq;
}

/**
 * Halts the run because of `scope` (idempotent): from this write on, no deploy step of the run
 * starts anywhere (every deploy write is conditional on the run still running). A rollback's
 * halt also stops the pipeline's line in the same transaction (safety rule 3): from then on no
 * deploy step of this version or of any newer version starts either, until an engineer decides.
 * True when this call halted the run (the caller announces it).
 */
export async function haltRun(
  deps: Deps,
  ctx: StageContext,
  scope: string,
  reason: HaltReason,
  at: string,
  detail?: string,
): Promise<boolean> {
  const stop: LineStop | undefined =
    reason === "rollback"
      ? { seq: await seqOf(deps, ctx), version: ctx.version, scope, at }
      : undefined;
  const line: Pick<RunUpdate, "line"> = stop ? { line: { pipeline: ctx.pipeline, stop } } : {};
  const set: RunUpdate["set"] = {
    status: "halted",
    haltReason: reason,
    haltedAt: at,
    haltedBy: scope,
    updatedAt: at,
    ...(detail ? { haltDetail: detail } : {}),
  };
  let halted = await deps.store.updateRun(ctx.runId, {
    expect: { status: ["running"] },
    set,
    ...line,
  });
  let stopped = halted && stop !== undefined;
  if (!halted && stop) {
    // Halted before this rollback. Behind an older version, with this step in flight: the
    // rollback makes the halt the run's own (it awaits a decision on itself now).
    halted = await deps.store.updateRun(ctx.runId, {
      expect: { status: ["halted"], haltReason: ["older-version-halted"] },
      set,
      remove: ["nextStage", "haltAnnouncedAt", ...(detail ? [] : ["haltDetail" as const])],
      ...line,
    });
    // By its own failed deploy or inconclusive bake: the rollback that follows stops the line.
    // A run a decision already ended (rollback-all's own rollbacks) stops nothing.
    stopped =
      halted ||
      (await deps.store.updateRun(ctx.runId, {
        expect: {
          status: ["halted"],
          haltReason: ["rollback", "deploy-failed", "inconclusive", "control-plane-error"],
        },
        set: { updatedAt: at },
        ...line,
      }));
  }
  if (halted || stopped) {
    const run = await deps.store.getRun(ctx.runId);
    if (run) await stopLineBehind(deps, run, { atOnce: stopped });
  }
  return halted;
}
