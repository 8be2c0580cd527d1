/** Breakwater's own EventBridge events: names and shapes shared by publishers and rules. */
import type { TimelineEvent } from "../domain/model.ts";
import type { BusEvent } from "../domain/ports.ts";

export const SOURCE = "breakwater";

export const DetailType = {
  /**
   * An approved change merged (GitHub webhook, an "Artifact Published" event, the local CLI):
   * the rule on it starts the version's run.
   */
  ApprovedChangeMerged: "Approved Change Merged",
  /** A scope step changed: deploy/bake/rollback started or finished. */
  ScopeEvent: "Breakwater Scope Event",
  /** A run changed status: started, stage finished, halted, succeeded. */
  RunEvent: "Breakwater Run Event",
  /** An engineer used the override function (action, actor, reason, effect). */
  OverrideEvent: "Breakwater Override Event",
} as const;

export const SFN_SOURCE = "aws.states";
export const SFN_STATUS_CHANGE = "Step Functions Execution Status Change";

export function scopeEventBusEvent(e: TimelineEvent): BusEvent {
  return { source: SOURCE, detailType: DetailType.ScopeEvent, detail: { ...e } };
}

export type RunEventName =
  | "run-started"
  | "run-duplicate"
  | "stage-started"
  | "stage-finished"
  | "run-halted"
  | "run-succeeded"
  | "run-failed"
  | "run-superseded"
  | "run-resumed"
  | "run-rolled-back"
  | "run-cancelled"
  | "approval-requested"
  | "approved"
  | "rejected"
  | "decision";

export interface RunEventDetail {
  at: string;
  runId: string;
  pipeline: string;
  version: string;
  event: RunEventName;
  stage?: string;
  reason?: string;
}

export function runBusEvent(detail: RunEventDetail): BusEvent {
  return { source: SOURCE, detailType: DetailType.RunEvent, detail: { ...detail } };
}
