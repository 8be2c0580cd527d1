import { recordInputSchema } from "../src/app/schemas.ts";
import { finishStage, recordStep } from "../src/app/stage-steps/index.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { defineHandler } from "./lib/handler.ts";

/** Record task: a baked step becomes stable; at the end of a stage, reports whether the run halted. */
export const createRecordHandler = defineHandler(
  "record",
  recordInputSchema,
  async (deps, input): Promise<unknown> =>
    input.action === "step"
      ? recordStep(deps, input.ctx, input.step, input.reasons, {
          ...(input.scope ? { basis: input.scope } : {}),
          ...(input.healthy ? { healthy: input.healthy } : {}),
        })
      : finishStage(deps, input.ctx),
);

export const handler = createRecordHandler(awsDeps);
