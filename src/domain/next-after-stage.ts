/**
 * "What does a stage's end mean for the run and the versions behind it?" answered in one place.
 * The promote service (`onStageExecutionStatus`) reads the run (and, for a run moving on, the
 * oldest older run halted awaiting a decision), calls {@link nextAfterStage}, and writes what it
 * says: the run's move by one compare-and-set, the stage slot (`src/app/lanes.ts`), the
 * announcements. After its own move it reads the run again and calls the rule once more (with
 * `afterMove`) to finish; a duplicate delivery or a retry after a crash is answered from the
 * record alone, so every outcome is safe to act on more than once.
 *
 * The versions behind: a run that fails keeps its stage, so the versions waiting for it keep
 * waiting until an engineer decides. A run that finishes its stage releases it: the newest waiting
 * version enters and the older waiting ones are superseded (safety rule 6, `lanes.admit`). While
 * an older version is halted awaiting a decision, a newer run stops at the stage boundary (line
 * stop) instead of entering the next stage.
 */
import { type ApprovalRequest, awaitsDecision, isFinal, type Run } from "./model.ts";
import { approvalOf } from "./pipeline.ts";
import { nextStage } from "./planner.ts";

/** A stage execution's status, as Step Functions reports it. */
export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

/** A stage execution's status change. */
export interface StageEnd {
  runId: string;
  stage: string;
  status: ExecutionStatus;
  error?: string | undefined;
  /** The execution's attempt of the stage (a `retry` decision starts attempt 2, …); 1 if unset. */
  attempt?: number | undefined;
}

/** Everything the rule needs, as plain data read beforehand. */
export interface NextAfterStageInput {
  end: StageEnd;
  /** The run as read now; undefined when no such run is stored. */
  run: Run | undefined;
  /**
   * The oldest run older than `run` that is halted awaiting a decision. Weighed only when the
   * run moves on from the stage it finished to a next stage (the caller may skip the read
   * otherwise).
   */
  olderHalt?: Run | undefined;
  /** Set when `run` was read again after this delivery's own move: whether the move won. */
  afterMove?: { won: boolean } | undefined;
}

/** What a finished move reports (see the `release` outcome). */
export type MoveReport =
  | { kind: "already-promoted" }
  | { kind: "run-succeeded" }
  | { kind: "next-stage"; stage: string }
  | { kind: "halted-at-boundary"; stage: string; behind: string }
  | { kind: "other"; status: Run["status"] };

/** The outcome of {@link nextAfterStage}: a closed union. */
export type NextAfterStage =
  /** Nothing to do (unknown run, still running, a stale attempt, a final run, already promoted). */
  | { kind: "ignore"; reason: string }
  /**
   * The stage did not succeed: the run halts (if it is still `running`, as a control-plane error:
   * no rollback ended it) and keeps its stage, which is marked failed; the versions behind keep
   * waiting. The halt is announced unless it already was.
   */
  | { kind: "halt"; reason: string; haltRunning: boolean; announce: boolean }
  /** The last stage succeeded: the run succeeds and releases the stage. */
  | { kind: "succeed"; stage: string }
  /** The run leaves `stage` and gets in line for `next`. */
  | { kind: "wait-for-next"; stage: string; next: string }
  /** An older version awaits a decision: the run stops before `next` behind it (line stop). */
  | { kind: "stop-at-boundary"; stage: string; next: string; behind: Run }
  /**
   * The run already entered `next` but its execution never started (a crash in between):
   * release `stage` and start `next`.
   */
  | { kind: "enter-next"; stage: string; next: string }
  /**
   * The run moved on from `stage` (this delivery's move, or an earlier one's): release `stage`,
   * get in line for `requeue` when waiting for it, announce the move again when `announceAgain`
   * (a retry after a crash between the move and its announcement), and report `report`.
   */
  | {
      kind: "release";
      stage: string;
      requeue?: string | undefined;
      announceAgain: boolean;
      report: MoveReport;
    };

/** What the rule can say about a run read again after this delivery's own move. */
export type FinishMove = Extract<NextAfterStage, { kind: "ignore" | "enter-next" | "release" }>;

const ignore = (reason: string) => ({ kind: "ignore", reason }) as const;

/**
 * What a stage execution's end means for the run and the versions behind it. A stage that did
 * not succeed halts the run, which keeps its stage until an engineer decides (never promote).
 * A stage that succeeded moves a run still in it on: to success after the last stage, to a stop
 * at the boundary when an older version is halted awaiting a decision, else into line for the
 * next stage. Any other state is finished from the record: a run that entered the next stage
 * without starting it starts it; a run that moved on releases the stage. An event for an earlier
 * attempt of the stage, or while the execution still runs, changes nothing.
 *
 * @example
 * nextAfterStage({
 *   end: { runId: "orders-api@v7", stage: "beta", status: "SUCCEEDED" },
 *   run: { ...run, status: "running", currentStage: "beta" }, // stages: beta, prod
 * });
 * // → { kind: "wait-for-next", stage: "beta", next: "prod" }
 */
export function nextAfterStage(
  input: NextAfterStageInput & { afterMove: { won: boolean } },
): FinishMove;
export function nextAfterStage(input: NextAfterStageInput): NextAfterStage;
export function nextAfterStage(input: NextAfterStageInput): NextAfterStage {
  const { end, run, afterMove } = input;
  if (!run) return ignore(`unknown run ${end.runId}`);
  if (end.status === "RUNNING") return ignore("execution still running");
  if (!afterMove && (end.attempt ?? 1) !== (run.attempts?.[end.stage] ?? 1)) {
    return ignore("an earlier attempt of the stage");
  }
  if (end.status !== "SUCCEEDED") {
    if (isFinal(run)) return ignore(`run is ${run.status}`);
    const reason =
      run.status === "halted"
        ? `stage ${end.stage} halted: ${run.haltedBy ?? "run"} ${run.haltReason === "rollback" ? "rolled back" : `(${run.haltReason})`}`
        : `stage ${end.stage} execution ${end.status}${end.error ? `: ${end.error}` : ""}`;
    return {
      kind: "halt",
      reason,
      haltRunning: run.status === "running",
      announce: !run.haltAnnouncedAt,
    };
  }
  const next = nextStage(run.definition, end.stage)?.name;
  if (!afterMove && run.status === "running" && run.currentStage === end.stage) {
    if (!next) return { kind: "succeed", stage: end.stage };
    if (input.olderHalt) {
      return { kind: "stop-at-boundary", stage: end.stage, next, behind: input.olderHalt };
    }
    return { kind: "wait-for-next", stage: end.stage, next };
  }
  if (next && run.status === "running" && run.currentStage === next && !run.stages[next]) {
    return { kind: "enter-next", stage: end.stage, next };
  }
  if (next && run.status === "awaiting-approval" && run.currentStage === next) {
    // Admitted to wait for the next stage's approval; a crash may have come before its
    // announcement or timer, which entering again finishes.
    return { kind: "enter-next", stage: end.stage, next };
  }
  if (run.currentStage !== end.stage || run.status === "running" || awaitsDecision(run)) {
    return ignore("already promoted");
  }
  const requeue = run.status === "waiting" && run.waitingFor ? run.waitingFor : undefined;
  const release = { kind: "release", stage: end.stage, ...(requeue ? { requeue } : {}) } as const;
  if (!afterMove?.won) {
    const movedOn =
      (run.status === "waiting" && run.waitingFor === next) ||
      (run.status === "succeeded" && !next) ||
      (run.status === "halted" &&
        run.haltReason === "older-version-halted" &&
        run.nextStage === next);
    return { ...release, announceAgain: movedOn, report: { kind: "already-promoted" } };
  }
  return { ...release, announceAgain: false, report: reportOf(run) };
}

/** What this delivery's won move reports, from the run as it is now. */
function reportOf(run: Run): MoveReport {
  if (run.status === "succeeded") return { kind: "run-succeeded" };
  if (run.status === "waiting" && run.waitingFor) {
    return { kind: "next-stage", stage: run.waitingFor };
  }
  if (run.status === "halted" && run.haltReason === "older-version-halted") {
    return { kind: "halted-at-boundary", stage: run.nextStage ?? "?", behind: run.haltedBy ?? "?" };
  }
  return { kind: "other", status: run.status };
}

// ---- a stage's manual approval (issue 13 item 4) ----------------------------------------------

/** What admission into a stage means for the run admitted (see `lanes.finishAdmission`). */
export type Admission =
  /** The stage has no approval, or it was already given: the run enters and its execution starts. */
  | { kind: "enter" }
  /** The stage asks for approval: the run holds the stage, `awaiting-approval`, until the deadline. */
  | { kind: "await-approval"; approval: ApprovalRequest };

/**
 * What admission into `stage` means for `run`: enter it, or wait for an operator's approval
 * first (the stage's `approval`), until `now` plus its timeout.
 *
 * @example
 * onAdmission({ run, stage: "prod-1", now: new Date("2026-12-02T09:00:00Z") }); // prod-1: approval: { timeoutMinutes: 60 }
 * // → { kind: "await-approval", approval: { stage: "prod-1", requestedAt: "2026-12-02T09:00:00.000Z", deadline: "2026-12-02T10:00:00.000Z" } }
 */
export function onAdmission(input: { run: Run; stage: string; now: Date }): Admission {
  const { run, stage, now } = input;
  const def = run.definition.stages.find((s) => s.name === stage);
  const approval = def ? approvalOf(def) : undefined;
  if (!approval || run.approvals?.[stage]) return { kind: "enter" };
  return {
    kind: "await-approval",
    approval: {
      stage,
      requestedAt: now.toISOString(),
      deadline: new Date(now.getTime() + approval.timeoutMinutes * 60_000).toISOString(),
    },
  };
}

/** Whether `run` waits on an approval of `stage` (awaiting it, or halted because it timed out). */
export function waitsOnApproval(run: Run, stage?: string): boolean {
  const waiting =
    run.status === "awaiting-approval" ||
    (run.status === "halted" && run.haltReason === "approval-timeout");
  return (
    waiting && run.approval !== undefined && (stage === undefined || run.approval.stage === stage)
  );
}

/**
 * Safety rule 6 for a stage's approval: a version that holds `stage` only to wait on its approval
 * has not started it, so a newer version waiting for the stage supersedes it (it contains it),
 * as it supersedes the older waiting ones. A holder that started the stage keeps it.
 *
 * @example
 * supersedesApprovalHolder({ holder: { ...v2, status: "awaiting-approval" }, stage: "prod-1", newestWaiterSeq: 3 }); // true
 */
export function supersedesApprovalHolder(input: {
  holder: Run;
  stage: string;
  newestWaiterSeq: number | undefined;
}): boolean {
  const { holder, stage, newestWaiterSeq } = input;
  return (
    newestWaiterSeq !== undefined &&
    newestWaiterSeq > holder.seq &&
    holder.currentStage === stage &&
    waitsOnApproval(holder, stage)
  );
}

/** The outcome of an approval's timer (see {@link approvalTimerFired}). */
export type ApprovalTimeout =
  | { kind: "ignore"; reason: string }
  /** Nobody decided in time: the run halts (`approval-timeout`); it does not stop the line. */
  | { kind: "halt"; detail: string };

/**
 * What an approval timer that ran out means: the run halts when it still awaits that very
 * approval (the same stage, asked for at the same instant); a timer left from an approval
 * already decided, superseded or asked for again is ignored.
 *
 * @example
 * approvalTimerFired({ run, timer: { stage: "prod-1", requestedAt: run.approval.requestedAt } });
 * // → { kind: "halt", detail: "nobody approved prod-1 within 60 minutes (asked at …)" }
 */
export function approvalTimerFired(input: {
  run: Run | undefined;
  timer: { stage: string; requestedAt: string };
}): ApprovalTimeout {
  const { run, timer } = input;
  if (!run) return { kind: "ignore", reason: "unknown run" };
  if (run.status !== "awaiting-approval") return { kind: "ignore", reason: `run is ${run.status}` };
  const a = run.approval;
  if (!a || a.stage !== timer.stage || a.requestedAt !== timer.requestedAt) {
    return { kind: "ignore", reason: "a timer of an earlier approval" };
  }
  const minutes = Math.round((Date.parse(a.deadline) - Date.parse(a.requestedAt)) / 60_000);
  return {
    kind: "halt",
    detail: `nobody approved or rejected ${a.stage} within ${minutes} minutes (asked at ${a.requestedAt})`,
  };
}

/**
 * Whether an operator's `approve` or `reject` applies to `run` now: a problem sentence, or
 * undefined when it does. Repeating a decision that took effect is accepted (it changes nothing).
 * A run halted because its approval timed out may still be approved or rejected.
 *
 * @example
 * approvalDecisionProblem({ ...run, status: "running" }, "approve");
 * // → "v7 is running: approve decides a run awaiting approval"
 */
export function approvalDecisionProblem(
  run: Run,
  action: "approve" | "reject",
): string | undefined {
  if (waitsOnApproval(run)) return undefined;
  const stage = run.decision?.action === action ? run.decision : undefined;
  if (stage && (action === "reject" ? run.status === "cancelled" : !isFinal(run))) return undefined;
  const state = run.status === "halted" ? `halted (${run.haltReason ?? "unknown"})` : run.status;
  return `${run.version} is ${state}: ${action} decides a run awaiting approval`;
}
