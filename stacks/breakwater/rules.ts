/**
 * The EventBridge rules: the same pattern objects (src/app/rules.ts) the local bus routes with,
 * each to its function with retries and a dead-letter queue.
 */

import { type EventPattern as CdkEventPattern, type EventBus, Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import type { CfnStateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { Duration, type Stack } from "aws-cdk-lib/core";
import {
  alarmStateChangePattern,
  approvedChangePattern,
  artifactPublishedPatternFor,
  type EventPattern,
  notificationsPattern,
  stageStatusChangePattern,
} from "../../src/app/rules.ts";
import type { ArtifactPublisher } from "../../src/domain/installation.ts";
import type { ControlPlaneFunctions } from "./functions.ts";
import type { DeadLetterQueues } from "./notify.ts";

/** Creates the five rules. */
export function eventRules(
  stack: Stack,
  o: {
    bus: EventBus;
    stateMachine: CfnStateMachine;
    approvalTimerStateMachine: CfnStateMachine;
    functions: ControlPlaneFunctions;
    deadLetters: DeadLetterQueues;
    artifactPublishers: ArtifactPublisher[];
  },
): void {
  const { bus, functions, deadLetters: dlq } = o;
  const retry = { retryAttempts: 8, maxEventAge: Duration.hours(2) };
  // Step Functions status changes are only published on the account's default bus.
  new Rule(stack, "StageStatusChangeRule", {
    description:
      "A stage execution ended: promote the version or halt the run; an approval timer ran out: halt its run if undecided",
    eventPattern: cdkPattern(
      stageStatusChangePattern(o.stateMachine.attrArn, o.approvalTimerStateMachine.attrArn),
    ),
    targets: [new LambdaFunction(functions.promote, { deadLetterQueue: dlq.promote, ...retry })],
  });
  new Rule(stack, "ApprovedChangeRule", {
    description: "An approved change asks for a run",
    eventBus: bus,
    eventPattern: cdkPattern(approvedChangePattern),
    targets: [
      new LambdaFunction(functions["start-run"], { deadLetterQueue: dlq.startRun, ...retry }),
    ],
  });

  new Rule(stack, "ArtifactPublishedRule", {
    description: "Another CI system published an artifact: start its run if it is approved",
    eventBus: bus,
    eventPattern: cdkPattern(artifactPublishedPatternFor(o.artifactPublishers)),
    targets: [
      new LambdaFunction(functions["artifact-published"], {
        deadLetterQueue: dlq.artifactPublished,
        ...retry,
      }),
    ],
  });

  // CloudWatch alarm state changes are published on the default bus of the alarm's region; this
  // rule sees the stack's region (alarms elsewhere need a cross-region rule, see README).
  new Rule(stack, "AlarmStateChangeRule", {
    description: "An alarm went to ALARM: fast rollback of the scope it judges",
    eventPattern: cdkPattern(alarmStateChangePattern),
    targets: [
      new LambdaFunction(functions["alarm-state-change"], {
        deadLetterQueue: dlq.alarmStateChange,
        ...retry,
      }),
    ],
  });

  new Rule(stack, "NotificationsRule", {
    description: "Breakwater run, scope and override events: notify SNS and Slack",
    eventBus: bus,
    eventPattern: cdkPattern(notificationsPattern),
    targets: [new LambdaFunction(functions.notify, { deadLetterQueue: dlq.notify, ...retry })],
  });
}

/**
 * CDK's EventPattern spells top-level keys in camelCase ("detail-type" → detailType) and renders
 * them back; the rendered pattern is the object from src/app/rules.ts, key for key.
 */
function cdkPattern(pattern: EventPattern): CdkEventPattern {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pattern)) {
    out[key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())] = value;
  }
  return out as CdkEventPattern;
}
