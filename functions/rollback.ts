import { rollbackInputSchema } from "../src/app/schemas.ts";
import { checkRollback, startRollback } from "../src/app/stage-steps/index.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { defineHandler } from "./lib/handler.ts";

/** Rollback task: halts the run and returns one scope to its previous version. */
export const createRollbackHandler = defineHandler(
  "rollback",
  rollbackInputSchema,
  async (deps, input): Promise<unknown> => {
    if (input.action === "status") return checkRollback(deps, input.ctx, input.step, input.attempt);
    const details = input.why?.details;
    const cause = `${input.why?.kind ?? "unhealthy"}${
      details ? `: ${Array.isArray(details) ? details.join("; ") : details}` : ""
    }`;
    return startRollback(
      deps,
      input.ctx,
      input.step,
      cause,
      input.attempt + 1,
      input.why?.toVersion,
    );
  },
  (r) => {
    const x = r as { done?: boolean; failed?: boolean };
    if (x.done !== true) return undefined;
    return x.failed ? "RollbacksFailed" : "RollbacksFinished";
  },
);

export const handler = createRollbackHandler(awsDeps);
