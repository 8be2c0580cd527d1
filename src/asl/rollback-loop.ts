/**
 * The rollback loop both machines run: the stage machine for an unhealthy (or failed, or erroring)
 * step, the fast-rollback machine for a scope whose alarm fired. Written once so the two cannot
 * drift: count attempts from zero, start the rollback (which halts the run first, safety rule 3),
 * poll until done, retry a failed rollback up to {@link ROLLBACK_ATTEMPTS} attempts.
 */
import {
  and,
  choice,
  pass,
  placeholder,
  rule,
  type State,
  succeed,
  task,
  wait,
} from "./builders.ts";

/** A failed rollback is started again until this many attempts have been made. */
export const ROLLBACK_ATTEMPTS = 3;

export interface RollbackLoopOptions {
  /** The StartRollback task's comment (the two machines say what "halt" means for them). */
  startComment: string;
  /**
   * The state for a rollback that could not complete, named `RollbackFailed`: the stage machine
   * records it and lets the stage fail at its end; the fast-rollback machine fails its execution.
   */
  rollbackFailed: State;
  /**
   * Put before every state's name (state names are unique in a whole machine, nested Maps
   * included: the rollback machine runs a second copy of the loop inside its waves).
   */
  prefix?: string;
}

/**
 * The states InitRollback, StartRollback, RollbackDone?, WaitForRollback, CheckRollback,
 * RollbackFailed and RolledBack, in that order. They read `$.ctx`, `$.step` and `$.why` and write
 * `$.rollback` (and `$.error` when a task's retries are spent). Enter at `InitRollback` (with
 * a `prefix`, every name has it: `WaveInitRollback`).
 *
 * @example
 * { ...causes, ...rollbackLoop({ startComment: "Halt, then roll back.", rollbackFailed: fail(…) }) }
 */
export function rollbackLoop(options: RollbackLoopOptions): Record<string, State> {
  const rollbackFn = placeholder("RollbackFunctionArn");
  const p = options.prefix ?? "";
  const states: Record<string, State> = {
    InitRollback: pass({
      comment: "Count rollback attempts from zero.",
      result: { attempt: 0 },
      resultPath: "$.rollback",
      next: `${p}StartRollback`,
    }),
    StartRollback: task(rollbackFn, {
      comment: options.startComment,
      parameters: {
        action: "start",
        "ctx.$": "$.ctx",
        "step.$": "$.step",
        "why.$": "$.why",
        "attempt.$": "$.rollback.attempt",
      },
      resultPath: "$.rollback",
      catchTo: `${p}RollbackFailed`,
      next: `${p}RollbackDone?`,
    }),
    "RollbackDone?": choice(
      "Poll while the rollback runs; retry a failed rollback up to three attempts.",
      [
        rule("$.rollback.done", "BooleanEquals", false, `${p}WaitForRollback`),
        and(
          [
            rule("$.rollback.failed", "BooleanEquals", true),
            rule("$.rollback.attempt", "NumericLessThan", ROLLBACK_ATTEMPTS),
          ],
          `${p}StartRollback`,
        ),
        rule("$.rollback.failed", "BooleanEquals", true, `${p}RollbackFailed`),
      ],
      `${p}RolledBack`,
    ),
    WaitForRollback: wait(
      "Let the deploy target put the old version back.",
      "$.rollback.pollSeconds",
      `${p}CheckRollback`,
    ),
    CheckRollback: task(rollbackFn, {
      comment:
        "Ask the deploy target whether the rollback finished; when it has, the scope is rolled-back.",
      parameters: {
        action: "status",
        "ctx.$": "$.ctx",
        "step.$": "$.step",
        "attempt.$": "$.rollback.attempt",
      },
      resultPath: "$.rollback",
      catchTo: `${p}RollbackFailed`,
      next: `${p}RollbackDone?`,
    }),
    RollbackFailed: options.rollbackFailed,
    RolledBack: succeed(
      "This scope is back on its previous version; the run stays halted until an engineer decides.",
    ),
  };
  return Object.fromEntries(Object.entries(states).map(([name, state]) => [`${p}${name}`, state]));
}
