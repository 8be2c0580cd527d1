/**
 * The one TypeScript source of the committed state machine definitions in `statemachines/`.
 * `npm run asl` writes them; test/unit/asl-generate.test.ts fails when a committed file differs.
 * The stack and the local mode keep reading the committed JSON (src/app/asl.ts), so the deployed
 * and the local definitions stay one file.
 */
import { approvalTimerMachine } from "./approval-timer.ts";
import { render } from "./builders.ts";
import { rollbackMachine } from "./rollback.ts";
import { stageMachine } from "./stage.ts";

/** Each committed definition, by its path from the project root, with its generated text. */
export function generatedAslFiles(): { path: string; text: string }[] {
  return [
    { path: "statemachines/stage.asl.json", text: render(stageMachine()) },
    { path: "statemachines/rollback.asl.json", text: render(rollbackMachine()) },
    { path: "statemachines/approval-timer.asl.json", text: render(approvalTimerMachine()) },
  ];
}

export { TASK_RETRY } from "./builders.ts";
export { ROLLBACK_ATTEMPTS, rollbackLoop } from "./rollback-loop.ts";
export { approvalTimerMachine, rollbackMachine, stageMachine };
