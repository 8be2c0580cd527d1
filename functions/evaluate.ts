import { evaluateInputSchema } from "../src/app/schemas.ts";
import { evaluateStep } from "../src/app/stage-steps/index.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { defineHandler } from "./lib/handler.ts";

/** Evaluate task: the scope's health verdict after its bake, as data. */
export const createEvaluateHandler = defineHandler(
  "evaluate",
  evaluateInputSchema,
  (deps, input) =>
    evaluateStep(
      deps,
      input.ctx,
      input.step,
      input.bakeStartedAt,
      input.deployStartedAt,
      input.scope,
    ),
  (r) => `BakeVerdict${r.phase}`,
);

export const handler = createEvaluateHandler(awsDeps);
