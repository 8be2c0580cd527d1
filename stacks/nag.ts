/**
 * cdk-nag suppressions (AWS Solutions and Serverless packs; the infra tests apply both and
 * require zero unsuppressed findings). Each one says why the finding does not apply or is
 * accepted, and IAM ones are narrowed (`appliesTo`) to the exact wildcard or managed policy.
 * What was cheap to fix for real is fixed in the stack instead (TLS-only topic and queues, SSE,
 * log retention, tracing, per-function roles without AWSLambdaBasicExecutionRole).
 */
import type { IRole, Role } from "aws-cdk-lib/aws-iam";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { Stack } from "aws-cdk-lib/core";
import { AwsCustomResource } from "aws-cdk-lib/custom-resources";
import { NagSuppressions } from "cdk-nag";
import type { IConstruct } from "constructs";
import type { Function as SstFunction } from "sst/constructs";

const RUNTIME = {
  reason:
    "nodejs22.x (Node.js 22 LTS) is the project's pinned runtime (sst.config.ts), the same Node as local mode; a runtime upgrade is its own reviewed change",
};
const BASIC_EXECUTION_ROLE =
  "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

export interface NagTargets {
  functions: SstFunction[];
  stateMachineRole: Role;
  deadLetterQueues: Queue[];
  /** The dead-letter queue notify writes undeliverable Slack messages to (not an SQS DLQ). */
  slackDeadLetters: Queue;
  /** Invoked synchronously (by the state machines, operators, the function URL): no DLQ applies. */
  syncFunctions: SstFunction[];
  /** Invoked asynchronously by EventBridge: failures go to their DeadLetterConfig queue. */
  asyncFunctions: SstFunction[];
  /** The deploy and rollback functions' roles (the deploy targets' grants, stacks/targets-iam.ts). */
  targetRoles: IRole[];
}

/**
 * The deploy targets' wildcard ARNs (TARGET_WILDCARDS in stacks/targets-iam.ts), as cdk-nag
 * renders them: each `*` only where the allow-list puts it.
 */
const TARGET_WILDCARD_FINDINGS = [
  // The version's artifact: `*` for {version}/{digest} in the key.
  String.raw`/^Resource::arn:<AWS::Partition>:s3:::[a-z0-9.-]+\/[^*?]*\*[^?]*$/`,
  // A stack's id.
  String.raw`/^Resource::arn:<AWS::Partition>:cloudformation:[a-z0-9-]+:[^:*?]+:stack\/[^*?/]+\/\*$/`,
  // An AppConfig environment's deployment numbers.
  String.raw`/^Resource::arn:<AWS::Partition>:appconfig:[a-z0-9-]+:[^:*?]+:application\/[^*?/]+\/environment\/[^*?/]+\/deployment\/\*$/`,
  // AppConfig deployment strategies' ids.
  String.raw`/^Resource::arn:<AWS::Partition>:appconfig:[a-z0-9-]+:[^:*?]+:deploymentstrategy\/\*$/`,
].map((regex) => ({ regex }));

/** Adds the stack's cdk-nag suppressions, each with its reason. */
export function suppressNagFindings(stack: Stack, t: NagTargets): void {
  for (const fn of t.functions) {
    NagSuppressions.addResourceSuppressions(fn.node.defaultChild as IConstruct, [
      { id: "AwsSolutions-L1", reason: RUNTIME.reason },
      { id: "Serverless-LambdaLatestVersion", reason: RUNTIME.reason },
    ]);
    if (fn.role) {
      NagSuppressions.addResourceSuppressions(
        fn.role,
        [
          {
            id: "AwsSolutions-IAM5",
            reason:
              "Resource * only for actions without resource-level permissions: X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords), for deploy/evaluate cloudwatch:DescribeAlarms and GetMetricData (alarm and metric names come from pipeline templates at run time), and for deploy/rollback the deploy targets' actions AWS cannot scope (ecs:RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions; appconfig:ListApplications, ListDeploymentStrategies, CreateDeploymentStrategy)",
            appliesTo: ["Resource::*"],
          },
        ],
        true,
      );
    }
  }
  for (const role of t.targetRoles) {
    NagSuppressions.addResourceSuppressions(
      role,
      [
        {
          id: "AwsSolutions-IAM5",
          reason:
            "Deploy targets: a * only where AWS names the resource at run time (the version's S3 object for {version}/{digest}, a stack's id, an AppConfig deployment number or strategy id): README, Least privilege",
          appliesTo: TARGET_WILDCARD_FINDINGS,
        },
      ],
      true,
    );
  }
  for (const fn of t.syncFunctions) {
    NagSuppressions.addResourceSuppressions(fn.node.defaultChild as IConstruct, [
      {
        id: "Serverless-LambdaDLQ",
        reason:
          "invoked synchronously (Step Functions tasks with Retry/Catch, the operators' override, the GitHub function URL): a dead-letter queue only receives failed asynchronous invocations, and the caller sees the error",
      },
    ]);
  }
  for (const fn of t.asyncFunctions) {
    const config = fn.node.tryFindChild("EventInvokeConfig");
    if (!config) continue;
    NagSuppressions.addResourceSuppressions(
      config,
      [
        {
          id: "Serverless-LambdaAsyncFailureDestination",
          reason:
            "failed asynchronous invocations go to the function's DeadLetterConfig queue (the same queue as its EventBridge rule's DLQ, alarmed to the notification topic)",
        },
      ],
      true,
    );
  }
  NagSuppressions.addResourceSuppressions(t.stateMachineRole, [
    {
      id: "AwsSolutions-IAM5",
      reason:
        "Resource * only for Step Functions log delivery (account-level CloudWatch Logs APIs) and X-Ray, which AWS supports only on *; lambda:InvokeFunction names the five task functions",
      appliesTo: ["Resource::*"],
    },
  ]);
  for (const queue of t.deadLetterQueues) {
    NagSuppressions.addResourceSuppressions(queue, [
      {
        id: "Serverless-SQSRedrivePolicy",
        reason:
          "this queue IS a dead-letter queue (failed events, invocations or Slack messages, kept 14 days and alarmed); nothing consumes it to redrive",
      },
    ]);
  }
  NagSuppressions.addResourceSuppressions(t.slackDeadLetters, [
    {
      id: "AwsSolutions-SQS3",
      reason:
        "a dead-letter store: the notify function sends undeliverable Slack messages here itself (so SQS does not know it as a DLQ); kept 14 days and alarmed",
    },
  ]);

  // CDK's and SST's own deploy-time custom-resource handlers (they write the pipeline
  // registrations and SST's metadata during CloudFormation deployments; no Breakwater code).
  const framework = [
    stack.node.tryFindChild("CustomResourceHandler"),
    stack.node.tryFindChild(`AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, "")}`),
  ].filter((c): c is IConstruct => c !== undefined);
  for (const handler of framework) {
    const reason =
      "CDK's/SST's deploy-time custom-resource handler, run only by CloudFormation during a deployment; its runtime, memory, tracing and role are set by the framework";
    NagSuppressions.addResourceSuppressions(
      handler,
      [
        { id: "AwsSolutions-IAM4", reason, appliesTo: [BASIC_EXECUTION_ROLE] },
        { id: "AwsSolutions-L1", reason },
        { id: "Serverless-LambdaLatestVersion", reason },
        { id: "Serverless-LambdaDLQ", reason },
        { id: "Serverless-LambdaTracing", reason },
        { id: "Serverless-LambdaDefaultMemorySize", reason },
      ],
      true,
    );
  }
}
