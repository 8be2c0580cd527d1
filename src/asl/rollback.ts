/**
 * The rollback machine (statemachines/rollback.asl.json): the rollback loop for one scope (fast
 * rollback on an alarm), or a wave-by-wave `rollback-all` walking its stages, regions and
 * phases around the same loop.
 */
import {
  choice,
  END,
  fail,
  map,
  pass,
  rule,
  type State,
  type StateMachine,
  succeed,
} from "./builders.ts";
import { rollbackLoop } from "./rollback-loop.ts";

/**
 * One scope of a wave: `{ ctx, step, toVersion }` plus the decision's `details`, shaped into
 * the loop's `{ ctx, step, why }`, then the loop; a failed rollback ends this scope's branch
 * (the scope stays rolling-back, visible in status and history) without stopping its siblings.
 */
function waveScopeStates(): Record<string, State> {
  return {
    WaveScope: pass({
      comment: "Shape this scope's rollback: its run and step, and the decision as its why.",
      parameters: {
        "ctx.$": "$.item.ctx",
        "step.$": "$.item.step",
        why: { kind: "decision", "details.$": "$.details", "toVersion.$": "$.item.toVersion" },
      },
      next: "WaveInitRollback",
    }),
    ...rollbackLoop({
      prefix: "Wave",
      startComment:
        "Return this scope to the last version before the bad one (rollback-all, wave by wave).",
      // Inside the Maps a Fail would abort every sibling rollback mid-flight.
      rollbackFailed: pass({
        comment:
          "The rollback could not complete: the scope stays rolling-back (visible in status and history); the other scopes go on.",
        result: { outcome: "rollback-failed" },
        resultPath: "$.outcome",
        next: END,
      }),
    }),
  };
}

/** Stages newest first, one at a time → regions all at once → phases one at a time → scopes. */
function wavesState(): State {
  const details = { "details.$": "$.details" };
  return map({
    comment:
      "rollback-all wave by wave (safety rule 1: a rollback is a deployment): the newest stage first, one stage at a time.",
    itemsPath: "$.stages",
    maxConcurrency: 1,
    itemSelector: { ...details, "stage.$": "$$.Map.Item.Value" },
    itemProcessor: {
      StartAt: "WaveRegions",
      States: {
        WaveRegions: map({
          comment: "Every region of the stage at once.",
          itemsPath: "$.stage.regions",
          maxConcurrency: 0,
          itemSelector: { ...details, "region.$": "$$.Map.Item.Value" },
          itemProcessor: {
            StartAt: "WavePhases",
            States: {
              WavePhases: map({
                comment:
                  "The region's phases one after the other, as the stage deploys them: one AZ (or cell) at a time unless it deploys them in parallel.",
                itemsPath: "$.region.phases",
                maxConcurrency: 1,
                itemSelector: { ...details, "phase.$": "$$.Map.Item.Value" },
                itemProcessor: {
                  StartAt: "WaveScopes",
                  States: {
                    WaveScopes: map({
                      comment: "The scopes of one phase together.",
                      itemsPath: "$.phase",
                      maxConcurrency: 0,
                      itemSelector: { ...details, "item.$": "$$.Map.Item.Value" },
                      itemProcessor: { StartAt: "WaveScope", States: waveScopeStates() },
                      next: END,
                    }),
                  },
                },
                next: END,
              }),
            },
          },
          next: END,
        }),
      },
    },
    next: "WavesDone",
  });
}

/**
 * Started by the alarm-state-change function for a scope whose alarm went to ALARM while it was
 * deploying or baking (input `{ ctx, step, why }`), and by a wave-by-wave `rollback-all`
 * (input `{ rollbackAll, details, stages }`).
 *
 * @example render(rollbackMachine()) // the bytes of statemachines/rollback.asl.json
 */
export function rollbackMachine(): StateMachine {
  return {
    Comment:
      "Breakwater rollback: started by the alarm-state-change function when an alarm of a scope that is deploying or baking goes to ALARM (rolls back that scope alone, at once, instead of waiting for the end of its bake; the run is already halted), or by an engineer's rollback-all, wave by wave. Function ARNs are placeholders filled by DefinitionSubstitutions; the local mode runs this same file.",
    StartAt: "Waves?",
    States: {
      "Waves?": choice(
        "A rollback-all names its stages; a fast rollback is one scope.",
        [rule("$.stages", "IsPresent", true, "Waves")],
        "InitRollback",
      ),
      Waves: wavesState(),
      WavesDone: succeed(
        "Every scope of the rollback-all is back on its last good version, or stays rolling-back where its rollback failed.",
      ),
      ...rollbackLoop({
        startComment:
          "Halt the run (idempotent) and return this scope alone to the version it ran before.",
        rollbackFailed: fail(
          "The rollback could not complete after three attempts: the scope stays rolling-back (visible in status and history); the control plane's alarms on failed executions page the owners.",
          "RollbackFailed",
          { cause: "the deploy target could not put the previous version back" },
        ),
      }),
    },
  };
}
