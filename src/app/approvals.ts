/**
 * A stage's manual approval (issue 13 item 4). A run admitted into a stage with `approval` holds
 * the stage as `awaiting-approval` (lanes.ts); an operator's `approve` or `reject` decides it
 * through the override function (the same audited path as every decision, run-decisions.ts),
 * and the approval's timer (statemachines/approval-timer.asl.json) halts the run at the
 * deadline when nobody decided. Which run, and what each outcome means, is decided by the pure
 * rules in src/domain/next-after-stage.ts.
 */

import type { Run, RunDecision } from "../domain/model.ts";
import { approvalTimerFired, waitsOnApproval } from "../domain/next-after-stage.ts";
import type { Deps } from "./deps.ts";
import {
  announce,
  approvalTimerInput,
  leaveStage,
  recordApprovalEvent,
  resumeLine,
  startStageExecution,
} from "./lanes.ts";

export interface ApprovalOutcome {
  changed: boolean;
  effect: string;
}

const ids = (run: Run) => ({ runId: run.runId, pipeline: run.pipeline, version: run.version });

/** Stops the approval's timer where that is possible (locally; in AWS it runs out, ignored). */
async function stopTimer(deps: Deps, run: Run): Promise<void> {
  if (run.approval && deps.workflows.stopApprovalTimer) {
    await deps.workflows.stopApprovalTimer(approvalTimerInput(run, run.approval));
  }
}

/**
 * `approve`: the run starts the stage it waits on. The approval (who, as authenticated, when,
 * why) is kept on the run per stage, in the same conditional write that starts it, and in its
 * timeline. A repeat changes nothing.
 */
export async function approve(
  deps: Deps,
  run: Run,
  decision: RunDecision,
): Promise<ApprovalOutcome> {
  if (!waitsOnApproval(run) || !run.approval) {
    return { changed: false, effect: `unchanged (${run.version} is ${run.status})` };
  }
  const stage = run.approval.stage;
  const ok = await deps.store.updateRun(run.runId, {
    expect: { status: [run.status], currentStage: stage },
    set: {
      status: "running",
      decision,
      approvals: { ...(run.approvals ?? {}), [stage]: decision },
      updatedAt: decision.at,
    },
    remove: ["haltReason", "haltedAt", "haltedBy", "haltDetail", "haltAnnouncedAt"],
  });
  if (!ok) return { changed: false, effect: "unchanged (the run changed meanwhile)" };
  const by = `by ${decision.actor} (${decision.principal ?? "unauthenticated"}): ${decision.reason}`;
  await recordApprovalEvent(deps, run, stage, "approved", decision.at, by);
  await announce(deps, { ...ids(run), event: "approved", stage, reason: by });
  await announce(deps, { ...ids(run), event: "stage-started", stage });
  await stopTimer(deps, run);
  await startStageExecution(deps, { ...run, status: "running", currentStage: stage }, stage);
  return { changed: true, effect: `approved ${run.version} into ${stage}; the stage starts` };
}

/**
 * `reject`: the run ends (`cancelled`, its decision `reject`) before the stage it waited on;
 * the stage is free for the next version, and runs stopped behind it resume.
 */
export async function reject(
  deps: Deps,
  run: Run,
  decision: RunDecision,
): Promise<ApprovalOutcome> {
  if (!waitsOnApproval(run) || !run.approval) {
    return { changed: false, effect: `unchanged (${run.version} is ${run.status})` };
  }
  const stage = run.approval.stage;
  const ok = await deps.store.updateRun(run.runId, {
    expect: { status: [run.status], currentStage: stage },
    set: { status: "cancelled", decision, finishedAt: decision.at, updatedAt: decision.at },
  });
  if (!ok) return { changed: false, effect: "unchanged (the run changed meanwhile)" };
  const by = `by ${decision.actor} (${decision.principal ?? "unauthenticated"}): ${decision.reason}`;
  await recordApprovalEvent(deps, run, stage, "rejected", decision.at, by);
  await announce(deps, { ...ids(run), event: "rejected", stage, reason: by });
  await stopTimer(deps, run);
  await leaveStage(deps, { ...run, status: "cancelled" }, stage);
  const resumed = await resumeLine(deps, run.pipeline);
  return {
    changed: true,
    effect: `rejected ${run.version} before ${stage}; the run ends${resumed.length ? `; resumed ${resumed.join(", ")}` : ""}`,
  };
}

export type ApprovalTimerResult =
  | { action: "approval-timed-out"; stage: string }
  | { action: "ignored"; reason: string };

/**
 * The approval timer ran out (promote, on its SUCCEEDED status change): the run halts
 * (`approval-timeout`) if it still awaits that very approval. The halt is recorded on the run,
 * in its timeline and announced. The run keeps the stage (nothing else enters before a decision
 * or a newer version), but it does not stop the line: the version is not known to be bad.
 */
export async function onApprovalTimer(
  deps: Deps,
  timer: { runId: string; stage: string; requestedAt: string; status: string },
): Promise<ApprovalTimerResult> {
  if (timer.status !== "SUCCEEDED") {
    // Stopped (its approval decided) or failed: only a timer that ran out says anything.
    return { action: "ignored", reason: `approval timer ${timer.status}` };
  }
  const run = await deps.store.getRun(timer.runId);
  const outcome = approvalTimerFired({ run, timer });
  if (outcome.kind === "ignore" || !run) {
    return { action: "ignored", reason: outcome.kind === "ignore" ? outcome.reason : "unknown" };
  }
  const at = deps.clock.now().toISOString();
  const halted = await deps.store.updateRun(run.runId, {
    expect: { status: ["awaiting-approval"], currentStage: timer.stage },
    set: {
      status: "halted",
      haltReason: "approval-timeout",
      haltedAt: at,
      haltedBy: timer.stage,
      haltDetail: outcome.detail,
      updatedAt: at,
    },
  });
  if (!halted) return { action: "ignored", reason: "the run changed meanwhile" };
  await recordApprovalEvent(deps, run, timer.stage, "approval-timed-out", at, outcome.detail);
  await announce(deps, {
    ...ids(run),
    event: "run-halted",
    stage: timer.stage,
    reason: outcome.detail,
  });
  return { action: "approval-timed-out", stage: timer.stage };
}
