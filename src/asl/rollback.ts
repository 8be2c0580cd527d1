/** The fast-rollback machine (statemachines/rollback.asl.json): the rollback loop alone. */
import { fail, type StateMachine } from "./builders.ts";
import { rollbackLoop } from "./rollback-loop.ts";

/**
 * Started by the alarm-state-change function for a scope whose alarm went to ALARM while it was
 * deploying or baking; input `{ ctx, step, why }`.
 *
 * @example render(rollbackMachine()) // the bytes of statemachines/rollback.asl.json
 */
export function rollbackMachine(): StateMachine {
  return {
    Comment:
      "Breakwater fast rollback: started by the alarm-state-change function when an alarm of a scope that is deploying or baking goes to ALARM. Rolls back that scope alone, at once, instead of waiting for the end of its bake; the run is already halted. Function ARNs are placeholders filled by DefinitionSubstitutions; the local mode runs this same file.",
    StartAt: "InitRollback",
    States: rollbackLoop({
      startComment:
        "Halt the run (idempotent) and return this scope alone to the version it ran before.",
      rollbackFailed: fail(
        "The rollback could not complete after three attempts: the scope stays rolling-back (visible in status and history); the control plane's alarms on failed executions page the owners.",
        "RollbackFailed",
        { cause: "the deploy target could not put the previous version back" },
      ),
    }),
  };
}
