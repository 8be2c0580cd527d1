/**
 * The timeline event of one step of a run, and its publication on the bus. Its own module so
 * the gate and the stage steps share it without importing each other (that import cycle is gone).
 */
import type { TimelineEvent, TimelineEventName } from "../../domain/model.ts";
import type { DeployStep } from "../../domain/planner.ts";
import type { StageExecutionInput } from "../../domain/ports.ts";
import type { Deps } from "../deps.ts";
import { scopeEventBusEvent } from "../events.ts";

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
    // A scope has several rolling steps: their share tells their events apart.
    ...(step.kind === "rolling" ? { percent: step.percent } : {}),
    ...extra,
  };
}

/** Publishes timeline events on the bus (none: no call). */
export async function publish(deps: Deps, events: TimelineEvent[]): Promise<void> {
  if (events.length > 0) await deps.events.publish(events.map(scopeEventBusEvent));
}
