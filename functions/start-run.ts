import { startRun } from "../src/app/runs.ts";
import { approvedChangeSchema } from "../src/app/schemas.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { defineHandler } from "./lib/handler.ts";

/** Start run: target of the "Approved Change Merged" rule; a duplicate request starts nothing. */
export const createStartRunHandler = defineHandler(
  "start-run",
  approvedChangeSchema,
  (deps, event) =>
    startRun(deps, {
      pipeline: event.detail.pipeline,
      version: event.detail.version,
      cause: event.detail.cause ?? "approved change merged",
      ...(event.detail.change ? { change: event.detail.change } : {}),
    }),
  (r) => (r.started ? "RunsStarted" : "DuplicateRunRequests"),
);

export const handler = createStartRunHandler(awsDeps);
