/**
 * The stage (wave) machine (statemachines/stage.asl.json): plan, then regions × phases × steps,
 * each step deployed, baked, judged and recorded or rolled back alone; then the stage's end.
 */
import {
  and,
  choice,
  END,
  fail,
  map,
  pass,
  placeholder,
  rule,
  type State,
  type StateMachine,
  succeed,
  task,
  wait,
} from "./builders.ts";
import { rollbackLoop } from "./rollback-loop.ts";
import { ENTER_TESTS, testStates } from "./tests.ts";

const DEPLOY = placeholder("DeployFunctionArn");
const EVALUATE = placeholder("EvaluateFunctionArn");
const PLAN = placeholder("PlanFunctionArn");
const RECORD = placeholder("RecordFunctionArn");

/** Keeps why a scope is rolled back under `$.why`, then enters the rollback loop. */
function rollbackCause(comment: string, kind: string, detailsPath: string): State {
  return pass({
    comment,
    parameters: { kind, "details.$": detailsPath },
    resultPath: "$.why",
    next: "InitRollback",
  });
}

/** One deploy step: blockers, deploy, bake, judge, then record or roll back this scope alone. */
function stepStates(): Record<string, State> {
  return {
    StartDeploy: task(DEPLOY, {
      comment:
        "Check the blockers (alarms, organisation alarms, time windows, manual blocks), then start the deploy step (one-box share or full). The scope write is conditional on the run still running, so no step starts after a halt.",
      parameters: { action: "start", "ctx.$": "$.ctx", "step.$": "$.step" },
      resultPath: "$.deploy",
      catchTo: "StepErrorCause",
      next: "DeployStarted?",
    }),
    "DeployStarted?": choice(
      "Blocked: wait and check again. A halted run starts no new step: skip it and end this branch.",
      [
        and(
          [
            rule("$.deploy.started", "BooleanEquals", false),
            rule("$.deploy.blocked", "BooleanEquals", true),
          ],
          "WaitWhileBlocked",
        ),
        rule("$.deploy.started", "BooleanEquals", false, "StepSkipped"),
      ],
      "WaitForDeploy",
    ),
    WaitWhileBlocked: wait(
      "A blocker holds: wait until it is known to end (a time window opening) or the recheck interval, then check again. Blocked and unblocked are recorded once each, not on every check.",
      "$.deploy.recheckSeconds",
      "StartDeploy",
    ),
    StepSkipped: succeed(
      "The run halted before this step could start; the scope keeps its version.",
    ),
    WaitForDeploy: wait(
      "Let the deploy target work; Lambdas never sleep, Wait states do.",
      "$.deploy.pollSeconds",
      "CheckDeploy",
    ),
    CheckDeploy: task(DEPLOY, {
      comment:
        "Ask the deploy target whether the step finished; when it has, the scope starts baking.",
      parameters: {
        action: "status",
        "ctx.$": "$.ctx",
        "step.$": "$.step",
        "deployStartedAt.$": "$.deploy.deployStartedAt",
        "scope.$": "$.deploy.scope",
      },
      resultPath: "$.deploy",
      catchTo: "StepErrorCause",
      next: "DeployDone?",
    }),
    "DeployDone?": choice(
      "Poll again while in progress; a failed deploy is rolled back like an unhealthy scope; a scope an alarm already rolled back ends the branch; a stage with tests runs them before the bake.",
      [
        rule("$.deploy.done", "BooleanEquals", false, "WaitForDeploy"),
        rule("$.deploy.failed", "BooleanEquals", true, "DeployFailedCause"),
        rule("$.deploy.superseded", "IsPresent", true, "StepSuperseded"),
        ENTER_TESTS,
      ],
      "Bake",
    ),
    ...testStates({
      bake: "Bake",
      superseded: "StepSuperseded",
      failedCause: "TestsFailedCause",
      stepError: "StepErrorCause",
    }),
    Bake: wait(
      "Bake: the scope serves the new version until the detector's first look (every bake.checkEveryMinutes while it is on; else the whole bake.minutes).",
      "$.deploy.lookSeconds",
      "Evaluate",
    ),
    Evaluate: task(EVALUATE, {
      comment:
        "Judge the scope from its alarms and the built-in anomaly detector over the bake window so far: before bake.minutes only Unhealthy (rolled back at once) or Look (bake on); at the end Healthy, Unhealthy, Inconclusive, or Extend (bake.minRequests not yet served). Data, not errors.",
      parameters: {
        "ctx.$": "$.ctx",
        "step.$": "$.step",
        "bakeStartedAt.$": "$.deploy.bakeStartedAt",
        "deployStartedAt.$": "$.deploy.deployStartedAt",
        "scope.$": "$.deploy.scope",
      },
      resultPath: "$.health",
      catchTo: "StepErrorCause",
      next: "Healthy?",
    }),
    "Healthy?": choice(
      "An interim look that found nothing bakes on; healthy scopes are recorded; Extend bakes longer; Inconclusive halts without a rollback; a scope already rolled back by an alarm ends the branch; Unhealthy is rolled back, in this scope only.",
      [
        rule("$.health.phase", "StringEquals", "Look", "KeepBaking"),
        rule("$.health.phase", "StringEquals", "Healthy", "RecordStep"),
        rule("$.health.phase", "StringEquals", "Extend", "ExtendBake"),
        rule("$.health.phase", "StringEquals", "Inconclusive", "RecordInconclusive"),
        rule("$.health.phase", "StringEquals", "Superseded", "StepSuperseded"),
      ],
      "UnhealthyCause",
    ),
    KeepBaking: wait(
      "An interim look found no regression: bake on until the next look (bake.checkEveryMinutes later, or the bake's end).",
      "$.health.waitSeconds",
      "Evaluate",
    ),
    ExtendBake: wait(
      "The scope has not yet served bake.minRequests: bake for as long as the observed rate says it needs (bounded by bake.maxMinutes), then judge again.",
      "$.health.extendSeconds",
      "Evaluate",
    ),
    RecordStep: task(RECORD, {
      comment:
        "Record the baked step and its Healthy verdict in one transaction: the scope is stable on the new version. A verdict a crashed Evaluate had recorded otherwise stands: the step errors and the scope is rolled back.",
      parameters: {
        action: "step",
        "ctx.$": "$.ctx",
        "step.$": "$.step",
        "scope.$": "$.deploy.scope",
        "healthy.$": "$.health",
      },
      resultPath: "$.record",
      catchTo: "StepErrorCause",
      next: END,
    }),
    RecordInconclusive: task(RECORD, {
      comment:
        "The bake was inconclusive (too little traffic, or alarms without data): the run is halted, not rolled back; the scope keeps the new version until an engineer decides.",
      parameters: {
        action: "step",
        "ctx.$": "$.ctx",
        "step.$": "$.step",
        "reasons.$": "$.health.reasons",
        "scope.$": "$.deploy.scope",
      },
      resultPath: "$.record",
      next: END,
    }),
    StepSuperseded: succeed(
      "An alarm event rolled this scope back while it was deploying or baking (fast rollback); nothing left to do here.",
    ),
    UnhealthyCause: rollbackCause(
      "Keep why the scope is rolled back: its alarms.",
      "unhealthy",
      "$.health.reasons",
    ),
    TestsFailedCause: rollbackCause(
      "Keep why the scope is rolled back: its tests failed or did not answer in time (their reports).",
      "tests-failed",
      "$.tests.reason",
    ),
    DeployFailedCause: rollbackCause(
      "Keep why the scope is rolled back: the deploy target reported failure.",
      "deploy-failed",
      "$.deploy.reason",
    ),
    StepErrorCause: rollbackCause(
      "Keep why the scope is rolled back: the step errored after its retries.",
      "step-error",
      "$.error.Cause",
    ),
    ...rollbackLoop({
      startComment:
        "Halt the run (no further deploy step starts anywhere), then return this scope alone to the version it ran before.",
      // Inside the Map a Fail would abort every sibling step; the stage fails at its end instead.
      rollbackFailed: pass({
        comment:
          "The rollback could not complete: the scope stays rolling-back (visible in status and history) and the stage fails at its end, with the run halted.",
        result: { outcome: "rollback-failed" },
        resultPath: "$.outcome",
        next: END,
      }),
    }),
  };
}

/**
 * Started once per stage of a run; input `{ run, pipeline, version, stage, … }` (kept as `$.ctx`).
 *
 * @example render(stageMachine()) // the bytes of statemachines/stage.asl.json
 */
export function stageMachine(): StateMachine {
  return {
    Comment:
      "Breakwater stage (wave): plan, then per region (regionsInParallel at a time) and per AZ (one at a time unless azsInParallel): blockers, one-box, bake (the detector looks every bake.checkEveryMinutes), evaluate, full deploy, bake, evaluate, record; an unhealthy scope is rolled back alone and the run halts. Function ARNs are placeholders filled by DefinitionSubstitutions; the local mode runs this same file.",
    StartAt: "Init",
    States: {
      Init: pass({
        comment: "Keep the execution input (run, pipeline, version, stage) under $.ctx.",
        parameters: { "ctx.$": "$" },
        next: "Plan",
      }),
      Plan: task(PLAN, {
        comment:
          "Expand the stage into regions and ordered phases of deploy steps (one-box first), and mark the stage running.",
        parameters: { "ctx.$": "$.ctx" },
        resultPath: "$.plan",
        next: "Regions",
      }),
      Regions: map({
        comment:
          "Regions of the stage, regionsInParallel at a time (MaxConcurrencyPath from the plan).",
        itemsPath: "$.plan.regions",
        maxConcurrency: { path: "$.plan.regionsInParallel" },
        itemSelector: { "ctx.$": "$.ctx", "region.$": "$$.Map.Item.Value" },
        itemProcessor: {
          StartAt: "Phases",
          States: {
            Phases: map({
              comment:
                "Phases of one region, strictly one after the other: one-box, then each AZ (or all AZs together when azsInParallel).",
              itemsPath: "$.region.phases",
              maxConcurrency: 1,
              itemSelector: { "ctx.$": "$.ctx", "phase.$": "$$.Map.Item.Value" },
              itemProcessor: {
                StartAt: "Steps",
                States: {
                  Steps: map({
                    comment:
                      "Deploy steps of one phase, all at once (one step unless AZs go in parallel).",
                    itemsPath: "$.phase",
                    maxConcurrency: 0,
                    itemSelector: { "ctx.$": "$.ctx", "step.$": "$$.Map.Item.Value" },
                    itemProcessor: { StartAt: "StartDeploy", States: stepStates() },
                    next: END,
                  }),
                },
              },
              next: END,
            }),
          },
        },
        next: "FinishStage",
      }),
      FinishStage: task(RECORD, {
        comment: "Record the stage's end; report whether the run halted during it.",
        parameters: { action: "finish-stage", "ctx.$": "$.ctx" },
        resultPath: "$.finish",
        next: "StageOutcome?",
      }),
      "StageOutcome?": choice(
        "A halted run fails the stage execution, so promotion stops here.",
        [rule("$.finish.halted", "BooleanEquals", true, "StageHalted")],
        "StageSucceeded",
      ),
      StageHalted: fail(
        "A scope rolled back during this stage: the run halts and waits for an engineer.",
        "RunHalted",
        { causePath: "$.finish.reason" },
      ),
      StageSucceeded: succeed(
        "Every scope of the stage baked healthy; the status-change event promotes the version to the next stage.",
      ),
    },
  };
}
