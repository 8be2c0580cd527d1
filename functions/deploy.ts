import { deployInputSchema } from "../src/app/schemas.ts";
import { checkDeploy, startDeploy } from "../src/app/stage-steps/index.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { defineHandler } from "./lib/handler.ts";

/** Deploy task: `start` begins a step (unless the run halted), `status` polls it. */
export const createDeployHandler = defineHandler(
  "deploy",
  deployInputSchema,
  async (deps, input): Promise<unknown> =>
    input.action === "start"
      ? startDeploy(deps, input.ctx, input.step)
      : checkDeploy(deps, input.ctx, input.step, input.deployStartedAt, input.scope),
  (r) => {
    const x = r as { started?: boolean; blocked?: boolean; done?: boolean; failed?: boolean };
    if (x.started === true) return "DeployStepsStarted";
    if (x.blocked === true) return "DeployStepsBlocked";
    if (x.done === true && x.failed === true) return "DeploysFailed";
    return undefined;
  },
);

export const handler = createDeployHandler(awsDeps);
