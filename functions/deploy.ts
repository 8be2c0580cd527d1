import { deployInputSchema } from "../src/app/schemas.ts";
import { checkDeploy, checkTests, startDeploy, startTests } from "../src/app/stage-steps/index.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { defineHandler } from "./lib/handler.ts";

/**
 * Deploy task: `start` begins a step (unless the run halted), `status` polls it; `start-tests`
 * and `check-tests` run the stage's tests after it (the deploy role holds their grants).
 */
export const createDeployHandler = defineHandler(
  "deploy",
  deployInputSchema,
  async (deps, input): Promise<unknown> => {
    switch (input.action) {
      case "start":
        return startDeploy(deps, input.ctx, input.step);
      case "status":
        return checkDeploy(deps, input.ctx, input.step, input.deployStartedAt, input.scope);
      case "start-tests":
        return startTests(deps, input.ctx, input.step, input.startedAt);
      case "check-tests":
        return checkTests(deps, input.ctx, input.step, input.startedAt, input.runs);
    }
  },
  (r) => {
    const x = r as {
      started?: boolean;
      blocked?: boolean;
      done?: boolean;
      failed?: boolean;
      runs?: unknown;
    };
    if (x.runs !== undefined || (x.failed === true && !("deployStartedAt" in x))) {
      return x.done === true ? (x.failed ? "TestsFailed" : "TestsFinished") : undefined;
    }
    if (x.started === true) return "DeployStepsStarted";
    if (x.blocked === true) return "DeployStepsBlocked";
    if (x.done === true && x.failed === true) return "DeploysFailed";
    return undefined;
  },
);

export const handler = createDeployHandler(awsDeps);
