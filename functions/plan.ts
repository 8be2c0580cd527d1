import { planInputSchema } from "../src/app/schemas.ts";
import { planStageForRun } from "../src/app/stage-steps/index.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { defineHandler } from "./lib/handler.ts";

/** Plan task: expands the stage into regions, phases and deploy steps. */
export const createPlanHandler = defineHandler("plan", planInputSchema, (deps, input) =>
  planStageForRun(deps, input.ctx),
);

export const handler = createPlanHandler(awsDeps);
