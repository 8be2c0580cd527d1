/**
 * EventBridge rules of the control plane, as data: the stack deploys these patterns and the
 * local event bus routes with the same ones.
 */
import { DetailType, SFN_SOURCE, SFN_STATUS_CHANGE, SOURCE } from "./events.ts";

export type EventPattern = { [key: string]: string[] | EventPattern };

/**
 * A stage execution ended: promote the version or halt the run. With the approval timer's ARN:
 * an approval timer ended too (promote halts the run if that approval is still undecided).
 */
export const stageStatusChangePattern = (
  stateMachineArn: string,
  approvalTimerArn?: string,
): EventPattern => ({
  source: [SFN_SOURCE],
  "detail-type": [SFN_STATUS_CHANGE],
  detail: {
    stateMachineArn: approvalTimerArn ? [stateMachineArn, approvalTimerArn] : [stateMachineArn],
    status: ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
  },
});

/** An approved change merged: start its run. */
export const approvedChangePattern: EventPattern = {
  source: [SOURCE],
  "detail-type": [DetailType.ApprovedChangeMerged],
};

/**
 * Another CI system published an approved artifact (any source): the artifact trigger decides
 * whether it starts a run. The name is `ARTIFACT_PUBLISHED` in src/triggers/artifact.ts.
 */
export const artifactPublishedPattern: EventPattern = {
  "detail-type": ["Artifact Published"],
};

/**
 * The stack's rule for "Artifact Published": only the sources the installation's CI publishers
 * name, when every publisher names its sources (a publisher without `sources` allows any; the
 * artifact trigger checks again at run time, and the bus policy checks the principals).
 */
export function artifactPublishedPatternFor(
  publishers: readonly { sources?: string[] | undefined }[],
): EventPattern {
  if (publishers.length === 0 || publishers.some((p) => p.sources === undefined)) {
    return artifactPublishedPattern;
  }
  const sources = [...new Set(publishers.flatMap((p) => p.sources ?? []))].sort();
  return { ...artifactPublishedPattern, source: sources };
}

/** An alarm went to ALARM: roll back the scope it judges if that scope is deploying or baking. */
export const alarmStateChangePattern: EventPattern = {
  source: ["aws.cloudwatch"],
  "detail-type": ["CloudWatch Alarm State Change"],
  detail: { state: { value: ["ALARM"] } },
};

/** Breakwater's own run, scope and override events: notify the humans who need to know. */
export const notificationsPattern: EventPattern = {
  source: [SOURCE],
  "detail-type": [DetailType.RunEvent, DetailType.ScopeEvent, DetailType.OverrideEvent],
};

/** Matches an event against the subset of EventBridge patterns Breakwater uses (exact values, nested). */
export function matchesPattern(pattern: EventPattern, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const value = event[key];
    if (Array.isArray(expected)) return expected.includes(value as string);
    return (
      value !== null &&
      typeof value === "object" &&
      matchesPattern(expected, value as Record<string, unknown>)
    );
  });
}
