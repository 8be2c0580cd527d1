import { onAlarmStateChange } from "../src/app/fast-rollback.ts";
import { alarmStateChangeSchema } from "../src/app/schemas.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { defineHandler } from "./lib/handler.ts";

/**
 * Fast rollback: target of the "CloudWatch Alarm State Change" rule. An alarm of a scope that
 * is deploying or baking goes to ALARM: the run halts and that scope is rolled back at once.
 */
export const createAlarmStateChangeHandler = defineHandler(
  "alarm-state-change",
  alarmStateChangeSchema,
  (deps, event) =>
    onAlarmStateChange(deps, {
      alarmName: event.detail.alarmName,
      region: event.region,
      state: event.detail.state.value,
      ...(event.detail.state.reason ? { reason: event.detail.state.reason } : {}),
    }),
  (r) => (r.rolledBack.length > 0 ? "FastRollbacks" : undefined),
);

export const handler = createAlarmStateChangeHandler(awsDeps);
