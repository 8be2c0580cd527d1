/** The approval timer machine (statemachines/approval-timer.asl.json): one Wait, then success. */
import { type StateMachine, succeed, wait } from "./builders.ts";

/**
 * Started when a run begins to wait for a stage's approval; input `ApprovalTimerInput`
 * (`src/domain/ports.ts`). It invokes nothing: its SUCCEEDED status change reaches promote
 * through the stage status-change rule, and promote halts the run if that approval is still
 * undecided. A timer whose approval was decided runs out and is ignored. Waiting in Step
 * Functions costs nothing per second and polls nothing.
 *
 * @example render(approvalTimerMachine()) // the bytes of statemachines/approval-timer.asl.json
 */
export function approvalTimerMachine(): StateMachine {
  return {
    Comment:
      "Breakwater approval timer: waits until a stage's approval deadline, then ends. Its status change tells promote the approval ran out of time; promote halts the run only if that very approval is still undecided. The local mode runs this same file on its virtual clock.",
    StartAt: "WaitForDeadline",
    States: {
      WaitForDeadline: wait(
        "Until the approval's deadline (seconds from when it was asked for).",
        "$.waitSeconds",
        "Deadline",
      ),
      Deadline: succeed("The deadline passed: promote decides whether the approval timed out."),
    },
  };
}
