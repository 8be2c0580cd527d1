/**
 * The twelve functions, each with a role of its own and exactly the statements it needs (least
 * privilege: issue 10, finding 3), its log group, reserved concurrency and dead-letter queue.
 */
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import type { EventBus } from "aws-cdk-lib/aws-events";
import {
  Effect,
  PolicyDocument,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from "aws-cdk-lib/aws-iam";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { RemovalPolicy, type Stack } from "aws-cdk-lib/core";
import { Function as SstFunction } from "sst/constructs";
import { RUN_REQUEST_PREFIX } from "../../src/adapters/aws/dynamo-run-requests.ts";
import { TABLE_KEYS } from "../../src/adapters/aws/dynamo-store.ts";
import { deployTargetGrants } from "../targets-iam.ts";
import { stageTestGrants } from "../tests-iam.ts";
import type { DeadLetterQueues } from "./notify.ts";
import type { StackSettings } from "./settings.ts";

/** The functions and the ASL placeholder each one fills (if it is a Task of the stage machine). */
export const FUNCTIONS = {
  plan: {
    placeholder: "PlanFunctionArn",
    description: "Stage task: plan the stage's deploy steps",
  },
  deploy: { placeholder: "DeployFunctionArn", description: "Stage task: deploy one step, poll it" },
  evaluate: {
    placeholder: "EvaluateFunctionArn",
    description: "Stage task: alarm verdict after bake",
  },
  rollback: { placeholder: "RollbackFunctionArn", description: "Stage task: roll back one scope" },
  record: { placeholder: "RecordFunctionArn", description: "Stage task: record a baked step" },
  promote: {
    placeholder: undefined,
    description: "Stage execution ended: promote or halt the run",
  },
  "start-run": {
    placeholder: undefined,
    description: "Run requested: create the run, start stage 1",
  },
  "alarm-state-change": {
    placeholder: undefined,
    description: "Alarm in ALARM: fast rollback of the scope it judges",
  },
  notify: {
    placeholder: undefined,
    description: "Breakwater event a human should know about: SNS and Slack",
  },
  override: {
    placeholder: undefined,
    description: "Engineer's audited lever: block, unblock, bypass",
  },
  "github-webhook": {
    placeholder: undefined,
    description: "GitHub webhook (function URL): approvals and merges start runs",
  },
  "artifact-published": {
    placeholder: undefined,
    description: "Artifact Published event (other CI systems): approved artifacts start runs",
  },
} as const;
export type FunctionName = keyof typeof FUNCTIONS;
export type ControlPlaneFunctions = Record<FunctionName, SstFunction>;

export interface FunctionsOptions {
  isProd: boolean;
  /** `functions/<name>.ts` as SST wants the handler path: from the working directory. */
  handlerPath: (name: FunctionName) => string;
  settings: StackSettings;
  table: Table;
  bus: EventBus;
  /** The ARNs the machines will have (state-machines.ts computes them from their names). */
  stateMachines: { stageArn: string; rollbackArn: string; approvalTimerArn: string };
  deadLetters: DeadLetterQueues;
  notify: { topicArn: string; permissions: PolicyStatement[] };
}

export interface Functions {
  functions: ControlPlaneFunctions;
  /** The functions whose role may put events on the bus (the bus policy lets only them). */
  publishers: FunctionName[];
  /** The functions invoked asynchronously by EventBridge, with a dead-letter queue each. */
  asyncFunctions: FunctionName[];
}

/** Creates every function with its role, log group, variables and limits. */
export function controlPlaneFunctions(stack: Stack, o: FunctionsOptions): Functions {
  const { table, bus, settings } = o;
  // Every handler builds all its adapters at cold start (functions/lib/aws-deps.ts), so every
  // function gets all three variables. The task functions are invoked BY the state machine, so
  // its ARN cannot be a reference to it (a dependency cycle): the machine has a fixed name and
  // its ARN is computed from the name, partition, region and account.
  const environment = {
    TABLE_NAME: table.tableName,
    STATE_MACHINE_ARN: o.stateMachines.stageArn,
    ROLLBACK_STATE_MACHINE_ARN: o.stateMachines.rollbackArn,
    APPROVAL_TIMER_STATE_MACHINE_ARN: o.stateMachines.approvalTimerArn,
    EVENT_BUS_NAME: bus.eventBusName,
    NODE_OPTIONS: "--enable-source-maps",
  };

  const tableAccess = new PolicyStatement({
    actions: [
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:Query",
    ],
    resources: [table.tableArn, `${table.tableArn}/index/${TABLE_KEYS.gsi1.name}`],
  });
  // Partition keys (dynamodb:LeadingKeys) that only some roles may write (issue 10, finding 3):
  // the override audit log (only override appends to it) and the run requests (only the trigger
  // functions and override write them). IAM cannot say "insert only", so override's audit
  // entries are also written with attribute_not_exists (DynamoStateStore.appendAudit).
  const tableWrites = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
  ];
  const AUDIT_KEYS = ["AUDIT"];
  const RUN_REQUEST_KEYS = [`${RUN_REQUEST_PREFIX}*`];
  const denyWritesTo = (keys: string[]) =>
    new PolicyStatement({
      effect: Effect.DENY,
      actions: tableWrites,
      resources: [table.tableArn],
      conditions: { "ForAnyValue:StringLike": { "dynamodb:LeadingKeys": keys } },
    });
  /** Writes (never deletes) restricted to the partitions a trigger function owns. */
  const triggerWrites = (keys: string[]) =>
    new PolicyStatement({
      actions: ["dynamodb:PutItem", "dynamodb:UpdateItem"],
      resources: [table.tableArn],
      conditions: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": keys } },
    });
  const publishEvents = new PolicyStatement({
    actions: ["events:PutEvents"],
    resources: [bus.eventBusArn],
  });
  // Exactly what each configured target's driver calls, on the resources its names resolve to
  // in each stage's scopes (stacks/targets-iam.ts; issue 12, item 4).
  const reachDeployTargets = deployTargetGrants(
    settings.pipelines.map((p) => p.pipeline),
    { partition: stack.partition, account: stack.account },
  ).map(
    (g) =>
      new PolicyStatement({
        actions: g.actions,
        resources: g.resources,
        ...(g.conditions ? { conditions: g.conditions } : {}),
      }),
  );
  // The stages' tests run from the deploy function: exactly their functions and projects in
  // each stage's scopes (stacks/tests-iam.ts; issue 13, item 2).
  const runStageTests = stageTestGrants(
    settings.pipelines.map((p) => p.pipeline),
    { partition: stack.partition, account: stack.account },
  ).map((g) => new PolicyStatement({ actions: g.actions, resources: g.resources }));
  // A target with roleArn keeps its alarms and metrics in its own account: evaluate reads them
  // through that role too (issue 12, item 7); deploy has it among its target grants.
  const assumeTargetRoles = reachDeployTargets.filter(
    (st) => st.toStatementJson().Action === "sts:AssumeRole",
  );
  const readAlarms = new PolicyStatement({
    actions: ["cloudwatch:DescribeAlarms"],
    // AWS supports only "*" as the resource of cloudwatch:DescribeAlarms (no resource-level
    // permissions for it), and the alarm names come from pipeline templates at run time.
    resources: ["*"],
  });
  const startStages = new PolicyStatement({
    actions: ["states:StartExecution"],
    resources: [o.stateMachines.stageArn],
  });
  const startRollbacks = new PolicyStatement({
    actions: ["states:StartExecution"],
    resources: [o.stateMachines.rollbackArn],
  });
  // A stage's approval starts its timer wherever a run is admitted into a stage (start-run,
  // promote, and override's decisions that free a stage).
  const startApprovalTimers = new PolicyStatement({
    actions: ["states:StartExecution"],
    resources: [o.stateMachines.approvalTimerArn],
  });
  const readMetrics = new PolicyStatement({
    actions: ["cloudwatch:GetMetricData"],
    // AWS supports only "*" as the resource of cloudwatch:GetMetricData; the metrics read are
    // those the pipeline's `metrics` section names, and the stages' canaries (SuccessPercent).
    resources: ["*"],
  });

  // Every role with the shared table access may not touch the audit log or the run requests.
  const guarded = [tableAccess, denyWritesTo([...AUDIT_KEYS, ...RUN_REQUEST_KEYS])];
  const permissions: Record<FunctionName, PolicyStatement[]> = {
    plan: guarded,
    // The deploy step checks the blockers (alarms) before it starts; it reads the scope, the
    // installation and the blocks' index in one BatchGetItem (its own IAM action).
    deploy: [
      ...guarded,
      new PolicyStatement({ actions: ["dynamodb:BatchGetItem"], resources: [table.tableArn] }),
      publishEvents,
      readAlarms,
      ...reachDeployTargets,
      ...runStageTests,
    ],
    evaluate: [...guarded, publishEvents, readAlarms, readMetrics, ...assumeTargetRoles],
    rollback: [...guarded, publishEvents, ...reachDeployTargets],
    record: guarded,
    promote: [...guarded, publishEvents, startStages, startApprovalTimers],
    // Reads run requests (GetItem), never writes them; records refusals in the trigger log.
    "start-run": [...guarded, publishEvents, startStages, startApprovalTimers],
    "alarm-state-change": [...guarded, publishEvents, startRollbacks],
    notify: o.notify.permissions,
    // Appends audit entries and writes manual starts' run requests; deletes neither.
    override: [
      tableAccess,
      new PolicyStatement({
        effect: Effect.DENY,
        actions: ["dynamodb:DeleteItem", "dynamodb:BatchWriteItem"],
        resources: [table.tableArn],
        conditions: {
          "ForAnyValue:StringLike": {
            "dynamodb:LeadingKeys": [...AUDIT_KEYS, ...RUN_REQUEST_KEYS],
          },
        },
      }),
      publishEvents,
      // Decisions start what they decide: approve and retry a stage execution, rollback-all the
      // rollbacks, and a stage they free admits the next version (its stage or its approval).
      startStages,
      startRollbacks,
      startApprovalTimers,
    ],
    // Reads reviews and the installation; writes reviews, delivery claims (a failed delivery's
    // claim is released by an update, not a delete), trigger records and run requests. No
    // DeleteItem at all: the internet-facing function cannot erase anything.
    "github-webhook": [
      new PolicyStatement({
        actions: ["dynamodb:GetItem", "dynamodb:Query"],
        resources: [table.tableArn],
      }),
      triggerWrites(["REVIEWS#*", "DELIVERY#*", "TRIGGERS#*", ...RUN_REQUEST_KEYS]),
      publishEvents,
      new PolicyStatement({
        actions: ["ssm:GetParameter"],
        resources: [
          stack.formatArn({
            service: "ssm",
            resource: "parameter",
            resourceName: settings.webhookSecretParameter.replace(/^\//, ""),
          }),
          // The API token: who of the reviewers has write access (issue 10, finding 1).
          stack.formatArn({
            service: "ssm",
            resource: "parameter",
            resourceName: settings.githubTokenParameter.replace(/^\//, ""),
          }),
        ],
      }),
    ],
    // Reads the installation (approval requirements, CI publishers) and run requests; claims
    // the event id, writes the trigger record and the run request, gives the claim back (an
    // update) when publishing failed; publishes. No DeleteItem.
    "artifact-published": [
      new PolicyStatement({ actions: ["dynamodb:GetItem"], resources: [table.tableArn] }),
      triggerWrites(["DELIVERY#*", "TRIGGERS#*", ...RUN_REQUEST_KEYS]),
      publishEvents,
    ],
  };
  const dlqs = o.deadLetters;
  const asyncDeadLetters: Partial<Record<FunctionName, Queue>> = {
    promote: dlqs.promote,
    "start-run": dlqs.startRun,
    "alarm-state-change": dlqs.alarmStateChange,
    notify: dlqs.notify,
    "artifact-published": dlqs.artifactPublished,
  };
  const extraEnvironment: Partial<Record<FunctionName, Record<string, string>>> = {
    "github-webhook": {
      WEBHOOK_SECRET_PARAMETER: settings.webhookSecretParameter,
      GITHUB_TOKEN_PARAMETER: settings.githubTokenParameter,
    },
    ...(settings.allowedPrincipals.length
      ? { override: { OVERRIDE_ALLOWED_PRINCIPALS: settings.allowedPrincipals.join(",") } }
      : {}),
    notify: {
      NOTIFICATION_TOPIC_ARN: o.notify.topicArn,
      SLACK_DEAD_LETTER_QUEUE_URL: dlqs.slack.queueUrl,
      ...(settings.slackParameter ? { SLACK_WEBHOOK_PARAMETER: settings.slackParameter } : {}),
    },
  };

  const reserved: Partial<Record<FunctionName, number>> = {
    "github-webhook": settings.webhookConcurrency,
    "alarm-state-change": settings.rollbackConcurrency,
    rollback: settings.rollbackConcurrency,
  };

  const functions = {} as ControlPlaneFunctions;
  for (const [name, spec] of Object.entries(FUNCTIONS) as [
    FunctionName,
    (typeof FUNCTIONS)[FunctionName],
  ][]) {
    const id = pascal(name);
    const dlq = asyncDeadLetters[name];
    const logGroup = new LogGroup(stack, `${id}Logs`, {
      retention: o.isProd ? RetentionDays.THREE_MONTHS : RetentionDays.TWO_WEEKS,
      removalPolicy: o.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    functions[name] = new SstFunction(stack, `${id}Function`, {
      handler: `${o.handlerPath(name)}.handler`,
      description: spec.description,
      environment: { ...environment, ...extraEnvironment[name] },
      permissions: permissions[name],
      logGroup,
      role: functionRole(stack, `${id}Role`, logGroup),
      ...(reserved[name] !== undefined ? { reservedConcurrentExecutions: reserved[name] } : {}),
      ...(dlq ? { deadLetterQueue: dlq, retryAttempts: 2 } : {}),
    });
  }
  const names = Object.keys(functions) as FunctionName[];
  return {
    functions,
    publishers: names.filter((name) => permissions[name].includes(publishEvents)),
    asyncFunctions: names.filter((name) => asyncDeadLetters[name] !== undefined),
  };
}

/** The role ARN of an SST function (every function here is given a role of its own). */
export function roleArnOf(fn: SstFunction): string {
  return (fn.role as NonNullable<SstFunction["role"]>).roleArn;
}

/**
 * A function's role: its own log group and nothing else, instead of the AWS managed
 * AWSLambdaBasicExecutionRole (logs:CreateLogGroup, CreateLogStream, PutLogEvents on every log
 * group of the account). The log group's ARN ends in `:*`: its streams, which Lambda names.
 */
function functionRole(stack: Stack, id: string, logGroup: LogGroup): Role {
  return new Role(stack, id, {
    assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
    inlinePolicies: {
      logs: new PolicyDocument({
        statements: [
          new PolicyStatement({
            actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
            resources: [logGroup.logGroupArn],
          }),
        ],
      }),
    },
  });
}

/** `alarm-state-change` → `AlarmStateChange`: construct ids from function names. */
export function pascal(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, _dash, c: string) => c.toUpperCase());
}
