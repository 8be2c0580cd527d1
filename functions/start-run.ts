import middy from "@middy/core";
import { startRequestedRun } from "../src/app/runs.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import {
  type DepsProvider,
  functionMetrics,
  type LambdaHandler,
  logger,
  observe,
} from "./lib/handler.ts";

/**
 * Start run: target of the "Approved Change Merged" rule. The event is only a pointer: the run
 * starts from the run request a trigger function or an operator wrote (the bus is not proof of
 * approval). An event that is not backed by one starts nothing; it is recorded in the trigger
 * log, logged and counted (`RunRequestsRefused`), and not thrown: retrying cannot back it. A
 * duplicate request starts nothing.
 */
export function createStartRunHandler(provide: DepsProvider): LambdaHandler {
  const { metrics, count } = functionMetrics();
  return middy(async (event: unknown) => {
    const result = await startRequestedRun(await provide(), event);
    if ("refused" in result) {
      logger.warn("run request refused: not backed by a stored run request", {
        reason: result.reason,
      });
      count("RunRequestsRefused");
    } else count(result.started ? "RunsStarted" : "DuplicateRunRequests");
    return result;
  }).use(observe(metrics)) as unknown as LambdaHandler;
}

export const handler = createStartRunHandler(awsDeps);
