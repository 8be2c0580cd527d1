import { startRun } from "../src/app/runs.ts";
import { runRequestedSchema } from "../src/app/schemas.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { defineHandler } from "./lib/handler.ts";

/** Start run: target of the "Breakwater Run Requested" rule; a duplicate request starts nothing. */
export const createStartRunHandler = defineHandler(
  "start-run",
  runRequestedSchema,
  (deps, event) =>
    startRun(deps, {
      pipeline: event.detail.pipeline,
      version: event.detail.version,
      cause: event.detail.cause ?? "run requested",
    }),
  (r) => (r.started ? "RunsStarted" : "DuplicateRunRequests"),
);

export const handler = createStartRunHandler(awsDeps);
