/**
 * The timeline event of one step of a run. Its own module so the gate and the stage steps
 * share it without importing each other (that import cycle is gone).
 */
import type { TimelineEvent, TimelineEventName } from "../../domain/model.ts";
import type { DeployStep } from "../../domain/planner.ts";
import type { StageExecutionInput } from "../../domain/ports.ts";

/** A timeline event of one step of a run. */
export function stepEvent(
  ctx: StageExecutionInput,
  step: DeployStep,
  name: TimelineEventName,
  at: string,
  extra: Partial<TimelineEvent> = {},
): TimelineEvent {
  return {
    at,
    runId: ctx.runId,
    pipeline: ctx.pipeline,
    version: ctx.version,
    stage: ctx.stage,
    scope: step.scope,
    step: step.kind,
    event: name,
    ...extra,
  };
}
