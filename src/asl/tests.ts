/**
 * The states of a stage's tests (issue 13, item 2), between a deploy step's end and its bake:
 * StartTests → TestsDone? → WaitForTests → CheckTests → TestsDone? …, then TestsPassed (the
 * bake starts from the tests' end) or TestsFailedCause (the scope is rolled back). Only a step
 * whose stage has tests enters them (`$.deploy.tests`); the others go from CheckDeploy to Bake
 * as before. Kept apart from the step's other states so the bake loop can change on its own.
 */
import { choice, pass, placeholder, rule, type State, task, wait } from "./builders.ts";

const DEPLOY = placeholder("DeployFunctionArn");

/** Where a finished deploy goes when its stage has tests (a rule of `DeployDone?`). */
export const ENTER_TESTS = rule("$.deploy.tests", "IsPresent", true, "StartTests");

/**
 * The test states; they read `$.ctx`, `$.step`, `$.deploy` and write `$.tests`, and go on to
 * `bake` (the Bake state), `superseded` and `failedCause` (its rollback cause).
 */
export function testStates(next: {
  bake: string;
  superseded: string;
  failedCause: string;
  stepError: string;
}): Record<string, State> {
  return {
    StartTests: task(DEPLOY, {
      comment:
        "Start the stage's tests against the scope, which now serves the new version (Lambda functions or CodeBuild projects, each with the scope and version). The scope bakes only after they pass.",
      parameters: {
        action: "start-tests",
        "ctx.$": "$.ctx",
        "step.$": "$.step",
        "startedAt.$": "$.deploy.bakeStartedAt",
      },
      resultPath: "$.tests",
      catchTo: next.stepError,
      next: "TestsDone?",
    }),
    "TestsDone?": choice(
      "Poll again while a test runs; a failed test, or one that did not answer within its timeoutMinutes, rolls the scope back; a scope an alarm already rolled back ends the branch.",
      [
        rule("$.tests.done", "BooleanEquals", false, "WaitForTests"),
        rule("$.tests.failed", "BooleanEquals", true, next.failedCause),
        rule("$.tests.superseded", "IsPresent", true, next.superseded),
      ],
      "TestsPassed",
    ),
    WaitForTests: wait(
      "Let the tests run; never past the earliest test's timeout.",
      "$.tests.pollSeconds",
      "CheckTests",
    ),
    CheckTests: task(DEPLOY, {
      comment: "Ask each running test for its result; judge them all.",
      parameters: {
        action: "check-tests",
        "ctx.$": "$.ctx",
        "step.$": "$.step",
        "startedAt.$": "$.tests.startedAt",
        "runs.$": "$.tests.runs",
      },
      resultPath: "$.tests",
      catchTo: next.stepError,
      next: "TestsDone?",
    }),
    TestsPassed: pass({
      comment: "Every test passed: the bake starts now, from the tests' end.",
      parameters: {
        done: true,
        failed: false,
        "deployStartedAt.$": "$.deploy.deployStartedAt",
        "bakeStartedAt.$": "$.tests.bakeStartedAt",
        "bakeSeconds.$": "$.deploy.bakeSeconds",
        // The bake starts afresh here, so its first look is as far off as from the deploy's end.
        "lookSeconds.$": "$.deploy.lookSeconds",
        "scope.$": "$.deploy.scope",
      },
      resultPath: "$.deploy",
      next: next.bake,
    }),
  };
}
