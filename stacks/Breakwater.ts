/**
 * The Breakwater control plane on AWS: the state table, the event bus, the functions, the
 * stage state machine (the same ASL file the local mode runs), the EventBridge rules (the same
 * pattern objects the local bus routes with) and the registration of `pipelines/*` in the table.
 */
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { marshall } from "@aws-sdk/util-dynamodb";
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { AttributeType, BillingMode, ProjectionType, Table } from "aws-cdk-lib/aws-dynamodb";
import { type EventPattern as CdkEventPattern, EventBus, Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import {
  AnyPrincipal,
  ArnPrincipal,
  Effect,
  PolicyDocument,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { FunctionUrlAuthType } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Topic } from "aws-cdk-lib/aws-sns";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { StringParameter } from "aws-cdk-lib/aws-ssm";
import { CfnStateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { ArnFormat, Duration, RemovalPolicy, type Stack } from "aws-cdk-lib/core";
import {
  AwsCustomResource,
  AwsCustomResourcePolicy,
  PhysicalResourceId,
} from "aws-cdk-lib/custom-resources";
import { Function as SstFunction, type StackContext } from "sst/constructs";
import { useProject } from "sst/project.js";
import { RUN_REQUEST_PREFIX } from "../src/adapters/aws/dynamo-run-requests.ts";
import { installationItem, pipelineItem, TABLE_KEYS } from "../src/adapters/aws/dynamo-store.ts";
import { placeholdersIn } from "../src/app/asl.ts";
import {
  alarmStateChangePattern,
  approvedChangePattern,
  artifactPublishedPatternFor,
  type EventPattern,
  notificationsPattern,
  stageStatusChangePattern,
} from "../src/app/rules.ts";
import { parsePrincipalPatterns } from "../src/domain/override.ts";
import { parameterNames } from "../src/ops/names.ts";
import { suppressNagFindings } from "./nag.ts";
import {
  deployTargetAccess,
  loadInstallation,
  loadPipelines,
  PIPELINES_DIR_CONTEXT,
  PIPELINES_DIR_ENV,
} from "./pipelines.ts";

const PROD_STAGE = "prod";
/** The SSM parameter with the Slack incoming-webhook URL (optional): CDK context or environment. */
const SLACK_PARAMETER_CONTEXT = "breakwater:slackWebhookParameter";
const SLACK_PARAMETER_ENV = "BREAKWATER_SLACK_WEBHOOK_PARAMETER";
/** The operators' role, allowed to call the override function URL (optional): CDK context or environment. */
const OVERRIDE_ROLE_CONTEXT = "breakwater:overrideRoleArn";
/** The SSM SecureString parameter with the GitHub webhook secret (default /breakwater/<stage>/github-webhook-secret). */
const WEBHOOK_SECRET_CONTEXT = "breakwater:githubWebhookSecretParameter";
const WEBHOOK_SECRET_ENV = "BREAKWATER_GITHUB_WEBHOOK_SECRET_PARAMETER";
/**
 * The SSM SecureString parameter with the GitHub API token the webhook asks who may approve with
 * (default /breakwater/<stage>/github-token).
 */
const GITHUB_TOKEN_CONTEXT = "breakwater:githubTokenParameter";
const GITHUB_TOKEN_ENV = "BREAKWATER_GITHUB_TOKEN_PARAMETER";
const OVERRIDE_ROLE_ENV = "BREAKWATER_OVERRIDE_ROLE_ARN";
/** Optional allow-list of override callers: principal ARN patterns (`*` wildcards), comma-separated. */
const OVERRIDE_PRINCIPALS_CONTEXT = "breakwater:overridePrincipals";
const OVERRIDE_PRINCIPALS_ENV = "BREAKWATER_OVERRIDE_PRINCIPALS";
/** The former allow-list of typed actor names: refused, so a stale setting cannot pass silently. */
const OVERRIDE_ACTORS_CONTEXT = "breakwater:overrideActors";
const OVERRIDE_ACTORS_ENV = "BREAKWATER_OVERRIDE_ACTORS";
/**
 * Reserved concurrency (safety: the fast-rollback path is never starved). The public webhook is
 * capped so a flood of unsigned requests is throttled at the webhook (429) instead of using up
 * the account's concurrency; alarm-state-change and rollback keep concurrency of their own.
 */
const WEBHOOK_CONCURRENCY = {
  context: "breakwater:webhookConcurrency",
  env: "BREAKWATER_WEBHOOK_CONCURRENCY",
  fallback: 10,
};
const ROLLBACK_CONCURRENCY = {
  context: "breakwater:rollbackConcurrency",
  env: "BREAKWATER_ROLLBACK_CONCURRENCY",
  fallback: 5,
};

/** The functions and the ASL placeholder each one fills (if it is a Task of the stage machine). */
const FUNCTIONS = {
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
type FunctionName = keyof typeof FUNCTIONS;

export async function Breakwater({ stack, app }: StackContext) {
  const isProd = app.stage === PROD_STAGE;
  // Paths from the project root, not from this module: `sst deploy` bundles sst.config.ts and
  // this file into one module at the root, which changes import.meta.url.
  const root = useProject().paths.root;
  const fromCwd = (...parts: string[]) => relative(process.cwd(), join(root, ...parts));

  const pipelinesDir =
    (app.node.tryGetContext(PIPELINES_DIR_CONTEXT) as string | undefined) ??
    process.env[PIPELINES_DIR_ENV] ??
    join(root, "pipelines");
  // Throws PipelineDirectoryError (every file's problems, with field paths): the synth fails.
  const pipelines = await loadPipelines(pipelinesDir);
  // Read before the functions: its artifactPublishers shape the bus policy and a rule.
  const installation = await loadInstallation(root);
  const artifactPublishers = installation?.artifactPublishers ?? [];
  const concurrencySetting = (setting: typeof WEBHOOK_CONCURRENCY) =>
    reservedConcurrency(
      setting,
      app.node.tryGetContext(setting.context) as unknown,
      process.env[setting.env],
    );
  const webhookConcurrency = concurrencySetting(WEBHOOK_CONCURRENCY);
  const rollbackConcurrency = concurrencySetting(ROLLBACK_CONCURRENCY);

  // ---- State ---------------------------------------------------------------------------------
  const table = new Table(stack, "State", {
    partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
    sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: isProd,
    // Claimed webhook deliveries and trigger records expire (the only items with this attribute).
    timeToLiveAttribute: "expiresAt",
    removalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  table.addGlobalSecondaryIndex({
    indexName: TABLE_KEYS.gsi1.name,
    partitionKey: { name: TABLE_KEYS.gsi1.partitionKey, type: AttributeType.STRING },
    sortKey: { name: TABLE_KEYS.gsi1.sortKey, type: AttributeType.STRING },
    projectionType: ProjectionType.ALL,
  });

  const bus = new EventBus(stack, "Bus", { eventBusName: app.logicalPrefixedName("events") });

  // ---- Functions -----------------------------------------------------------------------------
  // Every handler builds all its adapters at cold start (functions/lib/aws-deps.ts), so every
  // function gets all three variables. The task functions are invoked BY the state machine, so
  // its ARN cannot be a reference to it (a dependency cycle): the machine has a fixed name and
  // its ARN is computed from the name, partition, region and account.
  const stateMachineName = app.logicalPrefixedName("stage");
  const stateMachineArn = stack.formatArn({
    service: "states",
    resource: "stateMachine",
    resourceName: stateMachineName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  const rollbackStateMachineName = app.logicalPrefixedName("rollback");
  const rollbackStateMachineArn = stack.formatArn({
    service: "states",
    resource: "stateMachine",
    resourceName: rollbackStateMachineName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  const environment = {
    TABLE_NAME: table.tableName,
    STATE_MACHINE_ARN: stateMachineArn,
    ROLLBACK_STATE_MACHINE_ARN: rollbackStateMachineArn,
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
  const targets = deployTargetAccess(
    pipelines.map((p) => p.pipeline),
    { partition: stack.partition, account: stack.account },
  );
  const reachDeployTargets = [
    ...(targets.invokeArns.length > 0
      ? [new PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: targets.invokeArns })]
      : []),
    ...(targets.assumeRoleArns.length > 0
      ? [new PolicyStatement({ actions: ["sts:AssumeRole"], resources: targets.assumeRoleArns })]
      : []),
  ];
  const readAlarms = new PolicyStatement({
    actions: ["cloudwatch:DescribeAlarms"],
    // AWS supports only "*" as the resource of cloudwatch:DescribeAlarms (no resource-level
    // permissions for it), and the alarm names come from pipeline templates at run time.
    resources: ["*"],
  });
  const startStages = new PolicyStatement({
    actions: ["states:StartExecution"],
    resources: [stateMachineArn],
  });
  const startRollbacks = new PolicyStatement({
    actions: ["states:StartExecution"],
    resources: [rollbackStateMachineArn],
  });
  const readMetrics = new PolicyStatement({
    actions: ["cloudwatch:GetMetricData"],
    // AWS supports only "*" as the resource of cloudwatch:GetMetricData; the metrics read are
    // those the pipeline's `metrics` section names.
    resources: ["*"],
  });

  // Rule DLQs; promote and start-run also send their failed async invocations there, so a lost
  // promotion or run request is in one place whether delivery or the handler failed.
  const deadLetters = (id: string) =>
    new Queue(stack, id, {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
  const promoteDlq = deadLetters("PromoteDeadLetters");
  const startRunDlq = deadLetters("StartRunDeadLetters");
  const alarmDlq = deadLetters("AlarmStateChangeDeadLetters");
  const notifyDlq = deadLetters("NotifyDeadLetters");
  const artifactDlq = deadLetters("ArtifactPublishedDeadLetters");
  // Slack messages that could not be delivered after their retries: kept, and alarmed below.
  const slackDeadLetters = deadLetters("SlackDeadLetters");

  // ---- Notifications -------------------------------------------------------------------------
  // SSE with a key of our own (the AWS-managed SNS key cannot be shared with CloudWatch, whose
  // alarm actions publish here): CloudWatch may use it through the key policy, notify through
  // its role. TLS-only: enforceSSL denies every request with aws:SecureTransport false.
  const topicKey = new Key(stack, "NotificationsKey", {
    description: `Breakwater ${app.stage}: encrypts the notification topic`,
    enableKeyRotation: true,
    removalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  const cloudwatchService = new ServicePrincipal("cloudwatch.amazonaws.com");
  topicKey.addToResourcePolicy(
    new PolicyStatement({
      sid: "CloudWatchAlarmsPublishToTheTopic",
      principals: [cloudwatchService],
      actions: ["kms:Decrypt", "kms:GenerateDataKey"],
      // In a key policy "*" is this key.
      resources: ["*"],
    }),
  );
  const topic = new Topic(stack, "Notifications", {
    displayName: `Breakwater ${app.stage} notifications`,
    masterKey: topicKey,
    enforceSSL: true,
  });
  // A topic policy replaces SNS's default one, which is what lets this account's alarms publish.
  topic.addToResourcePolicy(
    new PolicyStatement({
      sid: "CloudWatchAlarmsOfThisAccount",
      principals: [cloudwatchService],
      actions: ["sns:Publish"],
      resources: [topic.topicArn],
      conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
    }),
  );
  const slackParameter =
    (app.node.tryGetContext(SLACK_PARAMETER_CONTEXT) as string | undefined) ??
    process.env[SLACK_PARAMETER_ENV];
  const notifyPermissions = [
    new PolicyStatement({ actions: ["sns:Publish"], resources: [topic.topicArn] }),
    // Publishing to an encrypted topic (not Topic.grantPublish: it grants kms:GenerateDataKey*).
    new PolicyStatement({
      actions: ["kms:GenerateDataKey", "kms:Decrypt"],
      resources: [topicKey.keyArn],
    }),
    new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [slackDeadLetters.queueArn] }),
    ...(slackParameter
      ? [
          new PolicyStatement({
            actions: ["ssm:GetParameter"],
            resources: [
              stack.formatArn({
                service: "ssm",
                resource: "parameter",
                resourceName: slackParameter.replace(/^\//, ""),
              }),
            ],
          }),
        ]
      : []),
  ];

  const webhookSecretParameter =
    (app.node.tryGetContext(WEBHOOK_SECRET_CONTEXT) as string | undefined) ??
    process.env[WEBHOOK_SECRET_ENV] ??
    `/breakwater/${app.stage}/github-webhook-secret`;
  const githubTokenParameter =
    (app.node.tryGetContext(GITHUB_TOKEN_CONTEXT) as string | undefined) ??
    process.env[GITHUB_TOKEN_ENV] ??
    `/breakwater/${app.stage}/github-token`;
  // Every role with the shared table access may not touch the audit log or the run requests.
  const guarded = [tableAccess, denyWritesTo([...AUDIT_KEYS, ...RUN_REQUEST_KEYS])];
  const permissions: Record<FunctionName, PolicyStatement[]> = {
    plan: guarded,
    // The deploy step checks the blockers (alarms) before it starts.
    deploy: [...guarded, publishEvents, readAlarms, ...reachDeployTargets],
    evaluate: [...guarded, publishEvents, readAlarms, readMetrics],
    rollback: [...guarded, publishEvents, ...reachDeployTargets],
    record: guarded,
    promote: [...guarded, publishEvents, startStages],
    // Reads run requests (GetItem), never writes them; records refusals in the trigger log.
    "start-run": [...guarded, publishEvents, startStages],
    "alarm-state-change": [...guarded, publishEvents, startRollbacks],
    notify: notifyPermissions,
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
    ],
    // Reads reviews and the installation; writes reviews, delivery claims (a failed delivery's
    // claim is released by an update, not a delete), trigger records and run requests. No
    // DeleteItem at all: the internet-facing function cannot erase anything.
    "github-webhook": [
      new PolicyStatement({
        actions: ["dynamodb:GetItem", "dynamodb:Query"],
        resources: [table.tableArn],
      }),
      triggerWrites(["REVIEWS#*", "DELIVERY#*", "TRIGGERS", ...RUN_REQUEST_KEYS]),
      publishEvents,
      new PolicyStatement({
        actions: ["ssm:GetParameter"],
        resources: [
          stack.formatArn({
            service: "ssm",
            resource: "parameter",
            resourceName: webhookSecretParameter.replace(/^\//, ""),
          }),
          // The API token: who of the reviewers has write access (issue 10, finding 1).
          stack.formatArn({
            service: "ssm",
            resource: "parameter",
            resourceName: githubTokenParameter.replace(/^\//, ""),
          }),
        ],
      }),
    ],
    // Reads the installation (approval requirements, CI publishers) and run requests; claims
    // the event id, writes the trigger record and the run request, gives the claim back (an
    // update) when publishing failed; publishes. No DeleteItem.
    "artifact-published": [
      new PolicyStatement({ actions: ["dynamodb:GetItem"], resources: [table.tableArn] }),
      triggerWrites(["DELIVERY#*", "TRIGGERS", ...RUN_REQUEST_KEYS]),
      publishEvents,
    ],
  };
  const asyncDeadLetters: Partial<Record<FunctionName, Queue>> = {
    promote: promoteDlq,
    "start-run": startRunDlq,
    "alarm-state-change": alarmDlq,
    notify: notifyDlq,
    "artifact-published": artifactDlq,
  };
  const overrideRoleArn =
    (app.node.tryGetContext(OVERRIDE_ROLE_CONTEXT) as string | undefined) ??
    process.env[OVERRIDE_ROLE_ENV];
  if (app.node.tryGetContext(OVERRIDE_ACTORS_CONTEXT) ?? process.env[OVERRIDE_ACTORS_ENV]) {
    throw new Error(
      `${OVERRIDE_ACTORS_ENV} (${OVERRIDE_ACTORS_CONTEXT}) is gone: overrides are allowed by authenticated principal now, not by a typed name; set ${OVERRIDE_PRINCIPALS_ENV} to principal ARN patterns, e.g. arn:aws:sts::123456789012:assumed-role/Operators/*`,
    );
  }
  const overridePrincipals =
    (app.node.tryGetContext(OVERRIDE_PRINCIPALS_CONTEXT) as string | undefined) ??
    process.env[OVERRIDE_PRINCIPALS_ENV];
  // Checked here so a malformed pattern fails the deploy, not every override afterwards.
  const allowedPrincipals = overridePrincipals ? parsePrincipalPatterns(overridePrincipals) : [];
  const extraEnvironment: Partial<Record<FunctionName, Record<string, string>>> = {
    "github-webhook": {
      WEBHOOK_SECRET_PARAMETER: webhookSecretParameter,
      GITHUB_TOKEN_PARAMETER: githubTokenParameter,
    },
    ...(allowedPrincipals.length
      ? { override: { OVERRIDE_ALLOWED_PRINCIPALS: allowedPrincipals.join(",") } }
      : {}),
    notify: {
      NOTIFICATION_TOPIC_ARN: topic.topicArn,
      SLACK_DEAD_LETTER_QUEUE_URL: slackDeadLetters.queueUrl,
      ...(slackParameter ? { SLACK_WEBHOOK_PARAMETER: slackParameter } : {}),
    },
  };

  const reserved: Partial<Record<FunctionName, number>> = {
    "github-webhook": webhookConcurrency,
    "alarm-state-change": rollbackConcurrency,
    rollback: rollbackConcurrency,
  };

  const functions = {} as Record<FunctionName, SstFunction>;
  for (const [name, spec] of Object.entries(FUNCTIONS) as [
    FunctionName,
    (typeof FUNCTIONS)[FunctionName],
  ][]) {
    const id = pascal(name);
    const dlq = asyncDeadLetters[name];
    const logGroup = new LogGroup(stack, `${id}Logs`, {
      retention: isProd ? RetentionDays.THREE_MONTHS : RetentionDays.TWO_WEEKS,
      removalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    functions[name] = new SstFunction(stack, `${id}Function`, {
      handler: `${fromCwd("functions", name)}.handler`,
      description: spec.description,
      environment: { ...environment, ...extraEnvironment[name] },
      permissions: permissions[name],
      logGroup,
      role: functionRole(stack, `${id}Role`, logGroup),
      ...(reserved[name] !== undefined ? { reservedConcurrentExecutions: reserved[name] } : {}),
      ...(dlq ? { deadLetterQueue: dlq, retryAttempts: 2 } : {}),
    });
  }

  // Who may pull the lever: callers of its function URL, authenticated by IAM (SigV4), so the
  // function learns who they are (requestContext.authorizer.iam) and audits that principal. The
  // configured operators' role gets lambda:InvokeFunctionUrl (auth type AWS_IAM) and
  // lambda:InvokeFunction only via the URL (lambda:InvokedViaFunctionUrl; AWS wants both for
  // function URLs created since October 2025); no plain lambda:InvokeFunction path. Without a
  // role, only principals whose own IAM policy allows it. A direct invoke, which names no caller,
  // is refused by the function itself.
  const overrideUrl = functions.override.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
  if (overrideRoleArn) functions.override.grantInvokeUrl(new ArnPrincipal(overrideRoleArn));

  // The webhook is public; GitHub's HMAC signature (X-Hub-Signature-256) authenticates it, and
  // is verified before anything is read or recorded.
  const webhookUrl = functions["github-webhook"].addFunctionUrl({
    authType: FunctionUrlAuthType.NONE,
  });

  // ---- Bus policy: who may put which events (issue 10, finding 3) ----------------------------
  // The bus carries requests; it is not proof of approval. Explicit denies (they win over any
  // identity policy in the account): only the producing functions and the installation's CI
  // principals may put events at all; only the webhook, Artifact Published and override
  // functions may put "Approved Change Merged" (start-run also checks its run request); only the
  // CI principals may put "Artifact Published" — with none named, nobody may (fail closed) —
  // and they may put nothing else.
  const producers = (Object.keys(functions) as FunctionName[])
    .filter((name) => permissions[name].includes(publishEvents))
    .map((name) => (functions[name].role as NonNullable<SstFunction["role"]>).roleArn);
  const ciPrincipals = [...new Set(artifactPublishers.map((p) => p.principalArn))];
  const runRequesters = (["github-webhook", "artifact-published", "override"] as const).map(
    (name) => (functions[name].role as NonNullable<SstFunction["role"]>).roleArn,
  );
  const denyPut = (sid: string, conditions: Record<string, Record<string, unknown>>) =>
    bus.addToResourcePolicy(
      new PolicyStatement({
        sid,
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ["events:PutEvents"],
        resources: [bus.eventBusArn],
        conditions,
      }),
    );
  denyPut("DenyPutEventsButProducers", {
    StringNotEquals: { "aws:PrincipalArn": [...producers, ...ciPrincipals] },
  });
  denyPut("DenyApprovedChangeMergedButTriggers", {
    "ForAnyValue:StringEquals": { "events:detail-type": ["Approved Change Merged"] },
    StringNotEquals: { "aws:PrincipalArn": runRequesters },
  });
  denyPut("DenyArtifactPublishedButCi", {
    "ForAnyValue:StringEquals": { "events:detail-type": ["Artifact Published"] },
    ...(ciPrincipals.length > 0 ? { StringNotEquals: { "aws:PrincipalArn": ciPrincipals } } : {}),
  });
  if (ciPrincipals.length > 0) {
    denyPut("DenyCiAnythingButArtifactPublished", {
      "ForAnyValue:StringNotEquals": { "events:detail-type": ["Artifact Published"] },
      StringEquals: { "aws:PrincipalArn": ciPrincipals },
    });
  }

  // ---- Stage state machine -------------------------------------------------------------------
  // The ASL file's bytes, unchanged; CloudFormation fills its ${...} placeholders.
  const definition = readFileSync(join(root, "statemachines", "stage.asl.json"), "utf8");
  const byPlaceholder = new Map<string, SstFunction>();
  for (const [name, spec] of Object.entries(FUNCTIONS) as [
    FunctionName,
    (typeof FUNCTIONS)[FunctionName],
  ][]) {
    if (spec.placeholder) byPlaceholder.set(spec.placeholder, functions[name]);
  }
  const definitionSubstitutions: Record<string, string> = {};
  for (const placeholder of placeholdersIn(definition)) {
    const fn = byPlaceholder.get(placeholder);
    if (!fn) throw new Error(`statemachines/stage.asl.json: no value for \${${placeholder}}`);
    definitionSubstitutions[placeholder] = fn.functionArn;
  }
  const taskFunctions = [...byPlaceholder.values()];

  const executionLogs = new LogGroup(stack, "StageExecutionLogs", {
    // The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy small when many
    // state machines log (AWS recommendation for vended logs).
    logGroupName: `/aws/vendedlogs/states/${stateMachineName}`,
    retention: isProd ? RetentionDays.SIX_MONTHS : RetentionDays.TWO_WEEKS,
    removalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });

  // Inline policies are part of the role resource, so the role can already deliver logs and
  // invoke the tasks when CreateStateMachine validates it.
  const stateMachineRole = new Role(stack, "StageStateMachineRole", {
    assumedBy: new ServicePrincipal("states.amazonaws.com"),
    inlinePolicies: {
      tasks: new PolicyDocument({
        statements: [
          new PolicyStatement({
            actions: ["lambda:InvokeFunction"],
            resources: taskFunctions.map((f) => f.functionArn),
          }),
        ],
      }),
      observability: new PolicyDocument({
        statements: [
          new PolicyStatement({
            // Log delivery for Step Functions is configured through these account-level APIs,
            // which AWS only supports on "*".
            actions: [
              "logs:CreateLogDelivery",
              "logs:GetLogDelivery",
              "logs:UpdateLogDelivery",
              "logs:DeleteLogDelivery",
              "logs:ListLogDeliveries",
              "logs:PutResourcePolicy",
              "logs:DescribeResourcePolicies",
              "logs:DescribeLogGroups",
            ],
            resources: ["*"],
          }),
          new PolicyStatement({
            // X-Ray APIs have no resource-level permissions.
            actions: [
              "xray:PutTraceSegments",
              "xray:PutTelemetryRecords",
              "xray:GetSamplingRules",
              "xray:GetSamplingTargets",
            ],
            resources: ["*"],
          }),
        ],
      }),
    },
  });

  const stateMachine = new CfnStateMachine(stack, "StageStateMachine", {
    stateMachineName,
    stateMachineType: "STANDARD",
    roleArn: stateMachineRole.roleArn,
    definitionString: definition,
    definitionSubstitutions,
    loggingConfiguration: {
      level: "ALL",
      includeExecutionData: true,
      destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: executionLogs.logGroupArn } }],
    },
    tracingConfiguration: { enabled: true },
  });

  // The rollback state machine (fast rollback on an alarm event): same role, same logging.
  const rollbackDefinition = readFileSync(join(root, "statemachines", "rollback.asl.json"), "utf8");
  const rollbackSubstitutions: Record<string, string> = {};
  for (const placeholder of placeholdersIn(rollbackDefinition)) {
    const fn = byPlaceholder.get(placeholder);
    if (!fn) throw new Error(`statemachines/rollback.asl.json: no value for \${${placeholder}}`);
    rollbackSubstitutions[placeholder] = fn.functionArn;
  }
  const rollbackLogs = new LogGroup(stack, "RollbackExecutionLogs", {
    logGroupName: `/aws/vendedlogs/states/${rollbackStateMachineName}`,
    retention: isProd ? RetentionDays.SIX_MONTHS : RetentionDays.TWO_WEEKS,
    removalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  const rollbackStateMachine = new CfnStateMachine(stack, "RollbackStateMachine", {
    stateMachineName: rollbackStateMachineName,
    stateMachineType: "STANDARD",
    roleArn: stateMachineRole.roleArn,
    definitionString: rollbackDefinition,
    definitionSubstitutions: rollbackSubstitutions,
    loggingConfiguration: {
      level: "ALL",
      includeExecutionData: true,
      destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: rollbackLogs.logGroupArn } }],
    },
    tracingConfiguration: { enabled: true },
  });

  // ---- Rules ---------------------------------------------------------------------------------
  const retry = { retryAttempts: 8, maxEventAge: Duration.hours(2) };
  // Step Functions status changes are only published on the account's default bus.
  new Rule(stack, "StageStatusChangeRule", {
    description: "A stage execution ended: promote the version or halt the run",
    eventPattern: cdkPattern(stageStatusChangePattern(stateMachine.attrArn)),
    targets: [new LambdaFunction(functions.promote, { deadLetterQueue: promoteDlq, ...retry })],
  });
  new Rule(stack, "ApprovedChangeRule", {
    description: "An approved change asks for a run",
    eventBus: bus,
    eventPattern: cdkPattern(approvedChangePattern),
    targets: [
      new LambdaFunction(functions["start-run"], { deadLetterQueue: startRunDlq, ...retry }),
    ],
  });

  new Rule(stack, "ArtifactPublishedRule", {
    description: "Another CI system published an artifact: start its run if it is approved",
    eventBus: bus,
    eventPattern: cdkPattern(artifactPublishedPatternFor(artifactPublishers)),
    targets: [
      new LambdaFunction(functions["artifact-published"], {
        deadLetterQueue: artifactDlq,
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
      new LambdaFunction(functions["alarm-state-change"], { deadLetterQueue: alarmDlq, ...retry }),
    ],
  });

  new Rule(stack, "NotificationsRule", {
    description: "Breakwater run, scope and override events: notify SNS and Slack",
    eventBus: bus,
    eventPattern: cdkPattern(notificationsPattern),
    targets: [new LambdaFunction(functions.notify, { deadLetterQueue: notifyDlq, ...retry })],
  });

  // ---- Alarms on the control plane's own failures, to the notification topic ----------------
  const toTopic = new SnsAction(topic);
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
  const queues: [string, Queue][] = [
    ["Promote", promoteDlq],
    ["StartRun", startRunDlq],
    ["AlarmStateChange", alarmDlq],
    ["Notify", notifyDlq],
    ["ArtifactPublished", artifactDlq],
    ["Slack", slackDeadLetters],
  ];
  for (const [name, queue] of queues) {
    alarm(
      `${name}DeadLettersAlarm`,
      queue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      `Breakwater: messages in the ${name} dead-letter queue (an event or notification was not handled)`,
    );
  }
  for (const [name, fn] of Object.entries(functions)) {
    alarm(
      `${pascal(name)}ErrorsAlarm`,
      fn.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
      `Breakwater: the ${name} function failed`,
    );
  }
  for (const [name, arn] of [
    ["Stage", stateMachine.attrArn],
    ["Rollback", rollbackStateMachine.attrArn],
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

  // ---- Installation config -------------------------------------------------------------------
  // Both are written into the table at deploy with the store's own item layout.
  const writeItem = (id: string, resourceType: string, item: Record<string, unknown>) => {
    const put = {
      service: "DynamoDB",
      action: "PutItem",
      parameters: {
        TableName: table.tableName,
        Item: marshall(item, { removeUndefinedValues: true }),
      },
      physicalResourceId: PhysicalResourceId.of(`${item.pk}#${item.sk}`),
    };
    return new AwsCustomResource(stack, id, {
      resourceType,
      onCreate: put,
      onUpdate: put,
      // No onDelete: runs keep their own copy of the definition, and a removed file should not
      // silently erase what the control plane knows while runs may still refer to it.
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ["dynamodb:PutItem"],
          resources: [table.tableArn],
        }),
      ]),
      installLatestAwsSdk: false,
    });
  };
  if (installation) {
    writeItem(
      "InstallationConfig",
      "Custom::BreakwaterInstallation",
      installationItem(installation),
    );
  }

  // ---- Pipeline registration -----------------------------------------------------------------
  for (const { file, pipeline } of pipelines) {
    writeItem(
      `Pipeline-${pipeline.name}`,
      "Custom::BreakwaterPipeline",
      pipelineItem(pipeline),
    ).node.addMetadata("breakwater:source", file);
  }

  // The CLI's --aws finds the stage here (the names are generated; a fixed table name would
  // replace the table of an existing stage). Readers need ssm:GetParameters on /breakwater/<stage>/*.
  const names = parameterNames(app.stage);
  new StringParameter(stack, "TableNameParameter", {
    parameterName: names.table,
    stringValue: table.tableName,
    description: "Breakwater: the state table (breakwater status/history --aws)",
  });
  new StringParameter(stack, "OverrideUrlParameter", {
    parameterName: names.overrideUrl,
    stringValue: overrideUrl.url,
    description:
      "Breakwater: the override function URL, auth type AWS_IAM (breakwater override --aws)",
  });

  stack.addOutputs({
    TableName: table.tableName,
    EventBusName: bus.eventBusName,
    StateMachineArn: stateMachine.attrArn,
    RollbackStateMachineArn: rollbackStateMachine.attrArn,
    NotificationTopicArn: topic.topicArn,
    OverrideFunctionName: functions.override.functionName,
    OverrideUrl: overrideUrl.url,
    GitHubWebhookUrl: webhookUrl.url,
    SlackDeadLetterQueueUrl: slackDeadLetters.queueUrl,
  });

  suppressNagFindings(stack, {
    functions: Object.values(functions),
    stateMachineRole,
    deadLetterQueues: queues.map(([, q]) => q),
    slackDeadLetters,
    syncFunctions: [...taskFunctions, functions.override, functions["github-webhook"]],
    asyncFunctions: Object.keys(asyncDeadLetters).map((n) => functions[n as FunctionName]),
  });

  return { table, bus, stateMachine, rollbackStateMachine, functions, pipelines };
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

/**
 * A reserved-concurrency setting from CDK context or the environment: a whole number from 1 to
 * 1000 (0 would stop the function; AWS keeps 100 of the account's quota unreserved, see README).
 */
function reservedConcurrency(
  setting: { context: string; env: string; fallback: number },
  fromContext: unknown,
  fromEnv: string | undefined,
): number {
  const raw = fromContext ?? fromEnv;
  if (raw === undefined) return setting.fallback;
  const n = typeof raw === "number" ? raw : Number(String(raw).trim());
  if (!Number.isInteger(n) || n < 1 || n > 1000 || String(raw).trim() === "") {
    throw new Error(
      `${setting.env} (or context ${setting.context}): must be a whole number from 1 to 1000 (reserved concurrency), got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, _dash, c: string) => c.toUpperCase());
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
