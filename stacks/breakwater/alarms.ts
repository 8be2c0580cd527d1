/**
 * Alarms on the control plane's own failures, to the notification topic: every dead-letter
 * queue, every function's errors, and failed or timed-out executions.
 */
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { Topic } from "aws-cdk-lib/aws-sns";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { CfnStateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { Duration, type Stack } from "aws-cdk-lib/core";
import { type ControlPlaneFunctions, pascal } from "./functions.ts";

/** Creates the alarms, each with the topic as its action. */
export function controlPlaneAlarms(
  stack: Stack,
  o: {
    topic: Topic;
    /** Each dead-letter queue with the name its alarm is called by. */
    queues: [string, Queue][];
    functions: ControlPlaneFunctions;
    stateMachine: CfnStateMachine;
    rollbackStateMachine: CfnStateMachine;
  },
): void {
  const toTopic = new SnsAction(o.topic);
  const alarm = (id: string, metric: Metric, description: string) => {
    const a = new Alarm(stack, id, {
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    a.addAlarmAction(toTopic);
    return a;
  };
  for (const [name, queue] of o.queues) {
    alarm(
      `${name}DeadLettersAlarm`,
      queue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      `Breakwater: messages in the ${name} dead-letter queue (an event or notification was not handled)`,
    );
  }
  for (const [name, fn] of Object.entries(o.functions)) {
    alarm(
      `${pascal(name)}ErrorsAlarm`,
      fn.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
      `Breakwater: the ${name} function failed`,
    );
  }
  for (const [name, arn] of [
    ["Stage", o.stateMachine.attrArn],
    ["Rollback", o.rollbackStateMachine.attrArn],
  ] as const) {
    for (const metricName of ["ExecutionsFailed", "ExecutionsTimedOut"]) {
      alarm(
        `${name}${metricName}Alarm`,
        new Metric({
          namespace: "AWS/States",
          metricName,
          dimensionsMap: { StateMachineArn: arn },
          period: Duration.minutes(5),
          statistic: "Sum",
        }),
        `Breakwater: ${name.toLowerCase()} executions ${metricName === "ExecutionsFailed" ? "failed" : "timed out"} (a halted run fails its stage execution too: read the notification)`,
      );
    }
  }
}
