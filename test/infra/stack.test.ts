/**
 * Infra tier: synthesizes the SST app offline (no AWS account, no network) for stage "test"
 * (with a pipelines directory whose pipelines have deploy targets) and for stage "prod" (with
 * the repository's pipelines/), and checks the templates.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TABLE_KEYS } from "../../src/adapters/aws/dynamo-store.ts";
import { placeholdersIn, STAGE_ASL_PATH } from "../../src/app/asl.ts";
import {
  alarmStateChangePattern,
  approvedChangePattern,
  artifactPublishedPattern,
  notificationsPattern,
  stageStatusChangePattern,
} from "../../src/app/rules.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { parameterNames } from "../../src/ops/names.ts";
import { OFFLINE_ACCOUNT, PROJECT_ROOT, synthesize } from "../../stacks/offline-synth.ts";
import { FIXTURE_GRANTS, TARGET_FIXTURES } from "../fixtures/target-grants.ts";

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties?: Json;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}
interface Statement {
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: unknown;
  Sid?: string;
}

const REGION = "us-east-1";
const TASK_PLACEHOLDERS: Record<string, string> = {
  PlanFunctionArn: "plan",
  DeployFunctionArn: "deploy",
  EvaluateFunctionArn: "evaluate",
  RollbackFunctionArn: "rollback",
  RecordFunctionArn: "record",
};
const FUNCTION_NAMES = [
  "alarm-state-change",
  "artifact-published",
  "deploy",
  "evaluate",
  "github-webhook",
  "notify",
  "override",
  "plan",
  "promote",
  "record",
  "rollback",
  "start-run",
];

/**
 * The only wildcards allowed in an IAM Resource, each with its reason (also in README, "Least
 * privilege"). Everything else must name exact resources: a `*` or `?` anywhere in an ARN
 * (`function:*`, `role/*`, `arn:aws:lambda:*:...`) is a finding.
 */
const WILDCARD_RESOURCE_ALLOWED: {
  actions: string[];
  /** The exact wildcard resource, or the shape of ARNs with a `*` where AWS names the rest. */
  resource: string | RegExp;
  reason: string;
}[] = [
  {
    actions: ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"],
    resource: "*",
    reason:
      "no resource-level permissions for these actions; alarm and metric names come from pipeline templates at run time",
  },
  {
    actions: [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ],
    resource: "*",
    reason: "X-Ray's APIs have no resource-level permissions (tracing of functions and machines)",
  },
  {
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
    resource: "*",
    reason:
      "Step Functions log delivery is configured through account-level CloudWatch Logs APIs that AWS supports only on *",
  },
  // Deploy targets (stacks/targets-iam.ts, TARGET_WILDCARDS; README, "Least privilege").
  {
    actions: [
      "ecs:DescribeTaskDefinition",
      "ecs:ListTaskDefinitions",
      "ecs:RegisterTaskDefinition",
    ],
    resource: "*",
    reason: "ECS has no resource-level permissions for the task definition actions",
  },
  {
    actions: [
      "appconfig:CreateDeploymentStrategy",
      "appconfig:ListApplications",
      "appconfig:ListDeploymentStrategies",
    ],
    resource: "*",
    reason: "AppConfig has no resource-level permissions for these list and create actions",
  },
  {
    actions: ["s3:GetObject"],
    resource: /^arn:aws:s3:::[a-z0-9.-]+\/[^*?]*\*[^?]*$/,
    reason: "the version's artifact in S3: a * only for {version}/{digest} in the key",
  },
  {
    actions: [
      "cloudformation:CancelUpdateStack",
      "cloudformation:CreateChangeSet",
      "cloudformation:DeleteChangeSet",
      "cloudformation:DescribeChangeSet",
      "cloudformation:DescribeStackEvents",
      "cloudformation:DescribeStacks",
      "cloudformation:ExecuteChangeSet",
    ],
    resource: /^arn:aws:cloudformation:[a-z0-9-]+:\d{12}:stack\/[^*?/]+\/\*$/,
    reason: "a stack's ARN ends in the id CloudFormation assigns; the stack name is exact",
  },
  {
    actions: ["appconfig:GetDeployment", "appconfig:StopDeployment"],
    resource:
      /^arn:aws:appconfig:[a-z0-9-]+:\d{12}:application\/[^*?/]+\/environment\/[^*?/]+\/deployment\/\*$/,
    reason: "AppConfig numbers an environment's deployments as they start",
  },
  {
    actions: ["appconfig:GetDeploymentStrategy", "appconfig:StartDeployment"],
    resource: /^arn:aws:appconfig:[a-z0-9-]+:\d{12}:deploymentstrategy\/\*$/,
    reason: "the all-at-once strategy's id is AWS's or assigned when it is first created",
  },
];

const allowedFor = (e: (typeof WILDCARD_RESOURCE_ALLOWED)[number], resource: string) =>
  typeof e.resource === "string" ? e.resource === resource : e.resource.test(resource);

/**
 * The IAM problems of these statements: wildcard or Not* actions, and a `*` or `?` anywhere in a
 * Resource unless every action of the statement is allow-listed for exactly that resource.
 */
function iamProblems(statements: { where: string; statement: Statement }[]): string[] {
  const problems: string[] = [];
  for (const { where, statement } of statements) {
    const actions = list(statement.Action);
    if (statement.NotAction !== undefined) problems.push(`${where}: NotAction`);
    if (statement.NotResource !== undefined) problems.push(`${where}: NotResource`);
    for (const a of actions) {
      if (/[*?]/.test(a)) problems.push(`${where}: action ${a}`);
    }
    for (const resource of list(statement.Resource).map(str)) {
      if (!/[*?]/.test(resource)) continue;
      const notAllowed = actions.filter(
        (a) =>
          !WILDCARD_RESOURCE_ALLOWED.some((e) => allowedFor(e, resource) && e.actions.includes(a)),
      );
      if (notAllowed.length > 0) {
        problems.push(`${where}: Resource ${resource} for ${notAllowed.join(", ")}`);
      }
    }
  }
  return problems;
}

// ---- helpers --------------------------------------------------------------------------------

const resources = (t: Json) => Object.entries(t.Resources as Record<string, Resource>);
const ofType = (t: Json, type: string) => resources(t).filter(([, r]) => r.Type === type);
const one = (t: Json, type: string): [string, Resource] => {
  const found = ofType(t, type);
  expect(found, type).toHaveLength(1);
  return found[0] as [string, Resource];
};
const props = (r: Resource) => r.Properties ?? {};
/** The stage (`Stage`) or rollback (`Rollback`) state machine. */
const machineOf = (t: Json, which: "Stage" | "Rollback" | "ApprovalTimer"): [string, Resource] => {
  const found = ofType(t, "AWS::StepFunctions::StateMachine").filter(([id]) =>
    id.startsWith(`${which}StateMachine`),
  );
  expect(found, which).toHaveLength(1);
  return found[0] as [string, Resource];
};
const getAtt = (id: string) => ({ "Fn::GetAtt": [id, "Arn"] });

const PSEUDO: Record<string, string> = {
  "AWS::Partition": "aws",
  "AWS::Region": REGION,
  "AWS::AccountId": OFFLINE_ACCOUNT,
  "AWS::URLSuffix": "amazonaws.com",
};

/**
 * Renders a template value as a string: pseudo parameters become this synth's values, other
 * references become `<Ref Id>` / `<GetAtt Id.Attr>`, Fn::Join is joined.
 */
function str(value: unknown): string {
  if (typeof value === "string") return value;
  const v = value as Json;
  if (v && "Fn::Join" in v) {
    const [sep, parts] = v["Fn::Join"] as [string, unknown[]];
    return parts.map(str).join(sep);
  }
  if (v && "Ref" in v) return PSEUDO[v.Ref as string] ?? `<Ref ${v.Ref}>`;
  if (v && "Fn::GetAtt" in v) return `<GetAtt ${(v["Fn::GetAtt"] as string[]).join(".")}>`;
  return JSON.stringify(value);
}
const ref = (id: string) => `<Ref ${id}>`;
const arnOf = (id: string) => `<GetAtt ${id}.Arn>`;

const list = <T>(x: T | T[] | undefined): T[] =>
  x === undefined ? [] : Array.isArray(x) ? x : [x];

/** Every IAM statement of the template: policies, managed policies and roles' inline policies. */
function iamStatements(t: Json): { where: string; statement: Statement }[] {
  const out: { where: string; statement: Statement }[] = [];
  for (const [id, r] of resources(t)) {
    const docs: { where: string; doc: unknown }[] = [];
    if (r.Type === "AWS::IAM::Policy" || r.Type === "AWS::IAM::ManagedPolicy") {
      docs.push({ where: id, doc: props(r).PolicyDocument });
    }
    if (r.Type === "AWS::IAM::Role") {
      for (const p of list(
        props(r).Policies as { PolicyName: string; PolicyDocument: unknown }[],
      )) {
        docs.push({ where: `${id}/${p.PolicyName}`, doc: p.PolicyDocument });
      }
    }
    for (const { where, doc } of docs) {
      for (const statement of list((doc as { Statement: Statement | Statement[] }).Statement)) {
        out.push({ where, statement });
      }
    }
  }
  return out;
}

/** The statements of the role of the function with this handler. */
function functionStatements(t: Json, name: string): Statement[] {
  const [, fn] = lambdaByName(t, name);
  const roleId = ((props(fn).Role as { "Fn::GetAtt": string[] })["Fn::GetAtt"] as string[])[0];
  return ofType(t, "AWS::IAM::Policy")
    .filter(([, p]) =>
      list(props(p).Roles as unknown[]).some(
        (r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId }),
      ),
    )
    .flatMap(([, p]) => list((props(p).PolicyDocument as { Statement: Statement[] }).Statement));
}

/** The seven Breakwater functions (SST and CDK add their own custom-resource handlers). */
function breakwaterLambdas(t: Json): [string, Resource][] {
  return ofType(t, "AWS::Lambda::Function").filter(([, r]) =>
    String(props(r).Handler).startsWith("functions/"),
  );
}
function lambdaByName(t: Json, name: string): [string, Resource] {
  const found = breakwaterLambdas(t).find(
    ([, r]) => props(r).Handler === `functions/${name}.handler`,
  );
  if (!found) throw new Error(`no function for functions/${name}.ts`);
  return found;
}

function resourcesOf(statements: Statement[], action: string): string[] {
  return statements
    .filter((s) => s.Effect === "Allow" && list(s.Action).includes(action))
    .flatMap((s) => list(s.Resource).map(str))
    .sort();
}

// ---- fixtures -------------------------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), "breakwater-infra-test-"));
const repoPipeline = JSON.parse(
  readFileSync(join(PROJECT_ROOT, "pipelines", "orders-api.json"), "utf8"),
);

/** Pipelines with every kind of deploy target: a name, a full ARN (in .ts), an assumed role. */
function targetPipelines(): string {
  const dir = join(work, "pipelines");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "orders-api.json"),
    JSON.stringify({ ...repoPipeline, target: { lambda: "orders-deployer" } }, null, 2),
  );
  const index = pathToFileURL(join(PROJECT_ROOT, "src", "index.ts")).href;
  writeFileSync(
    join(dir, "payments.ts"),
    `import { definePipeline } from ${JSON.stringify(index)};
export default definePipeline({
  name: "payments",
  target: { lambda: "arn:aws:lambda:eu-west-1:210987654321:function:payments-deployer:live" },
  stages: [
    { name: "beta", regions: ["eu-west-1"], bake: { minutes: 5 } },
    { name: "prod-1", regions: ["eu-west-1"], oneBox: true, bake: { minutes: 30 } },
    { name: "prod-2", regions: ["eu-central-1"], oneBox: true, bake: { minutes: 30 } },
  ],
});
`,
  );
  writeFileSync(
    join(dir, "ledger.json"),
    JSON.stringify({
      name: "ledger",
      target: {
        lambda: "ledger-deployer",
        roleArn: "arn:aws:iam::210987654321:role/breakwater-deployer",
      },
      stages: [{ name: "prod", regions: ["us-west-2"], bake: { minutes: 10 } }],
    }),
  );
  // A stage with tests (issue 13): the deploy function runs them.
  writeFileSync(
    join(dir, "checked.json"),
    JSON.stringify({
      name: "checked",
      target: { type: "none" },
      stages: [
        {
          name: "beta",
          regions: ["us-east-1"],
          bake: { minutes: 10 },
          tests: [{ lambda: "checked-it-{region}" }, { codebuild: "checked-e2e" }],
          canaries: ["checked-home-{region}"],
        },
      ],
    }),
  );
  writeFileSync(join(dir, "README.md"), "not a pipeline\n");
  // One pipeline per target type (their grants: test/fixtures/target-grants.ts).
  for (const f of readdirSync(TARGET_FIXTURES)) {
    writeFileSync(join(dir, f), readFileSync(join(TARGET_FIXTURES, f)));
  }
  return dir;
}

const PRINCIPALS =
  "arn:aws:sts::123456789012:assumed-role/Operators/*,arn:aws:iam::123456789012:user/breakglass";
const OPERATORS = "arn:aws:iam::123456789012:role/breakwater-operators";
const CI_PRINCIPAL = "arn:aws:iam::210987654321:role/buildkite-ci";
let test: Json;
let prod: Json;
let pipelinesDir: string;
type Messages = Awaited<ReturnType<typeof synthesize>>["messages"];
let testMessages: Messages;
let testFiles: Record<string, Record<string, unknown>>;
/** The stack names of each synth's cloud assembly. */
let stackNames: { test: string[]; prod: string[] };
/**
 * cdk-nag's AWS Solutions and Serverless packs, applied to the "test" synth only: it has every
 * kind of resource prod has and more (deploy targets, the override permission, the installation
 * config); the packs add about 40% to a synth.
 */
const nagPacks = () => [
  // logIgnores: suppressed findings are kept as info messages, which shows the packs ran.
  new AwsSolutionsChecks({ reports: false, logIgnores: true }),
  new ServerlessChecks({ reports: false, logIgnores: true }),
];

beforeAll(async () => {
  pipelinesDir = targetPipelines();
  const config = join(work, "breakwater.config.json");
  writeFileSync(
    config,
    JSON.stringify({
      orgAlarms: ["org-sev1-open", { name: "org-freeze", region: "us-west-2" }],
      freezes: [
        { from: "2026-12-21T00:00:00Z", to: "2027-01-04T00:00:00Z", reason: "year-end freeze" },
      ],
      artifactPublishers: [{ principalArn: CI_PRINCIPAL, sources: ["ci.buildkite"] }],
    }),
  );
  process.env.BREAKWATER_CONFIG_FILE = config;
  process.env.BREAKWATER_OVERRIDE_ROLE_ARN = OPERATORS;
  process.env.BREAKWATER_OVERRIDE_PRINCIPALS = PRINCIPALS;
  process.env.BREAKWATER_WEBHOOK_CONCURRENCY = "7";
  try {
    const t = await synthesize({
      stage: "test",
      pipelinesDir,
      region: REGION,
      aspects: nagPacks(),
    });
    test = t.template;
    testMessages = t.messages;
    testFiles = t.targetAccountFiles;
    stackNames = { test: Object.keys(t.templates), prod: [] };
  } finally {
    delete process.env.BREAKWATER_CONFIG_FILE;
    delete process.env.BREAKWATER_OVERRIDE_ROLE_ARN;
    delete process.env.BREAKWATER_OVERRIDE_PRINCIPALS;
    delete process.env.BREAKWATER_WEBHOOK_CONCURRENCY;
  }
  const p = await synthesize({ stage: "prod", region: REGION });
  prod = p.template;
  stackNames.prod = Object.keys(p.templates);
  // Two synths with esbuild bundling: about 40 s on an idle machine, several times that when
  // the whole suite runs on two shared cores.
}, 900_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

// ---- tests ----------------------------------------------------------------------------------

describe("state table", () => {
  it("uses the store's key schema, on demand, with point-in-time recovery", () => {
    const [, table] = one(test, "AWS::DynamoDB::Table");
    const p = props(table);
    expect(p.KeySchema).toEqual([
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: "HASH" },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: "RANGE" },
    ]);
    expect(p.BillingMode).toBe("PAY_PER_REQUEST");
    expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(p.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: TABLE_KEYS.gsi1.name,
        KeySchema: [
          { AttributeName: TABLE_KEYS.gsi1.partitionKey, KeyType: "HASH" },
          { AttributeName: TABLE_KEYS.gsi1.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
    ]);
    expect(
      (p.AttributeDefinitions as { AttributeName: string; AttributeType: string }[]).sort((a, b) =>
        a.AttributeName.localeCompare(b.AttributeName),
      ),
    ).toEqual(
      ["gsi1pk", "gsi1sk", "pk", "sk"].map((AttributeName) => ({
        AttributeName,
        AttributeType: "S",
      })),
    );
    expect(p.DeletionProtectionEnabled).toBe(false);
    expect(table.DeletionPolicy).toBe("Delete");
  });

  it("is retained and deletion-protected on prod", () => {
    const [, table] = one(prod, "AWS::DynamoDB::Table");
    expect(props(table).DeletionProtectionEnabled).toBe(true);
    expect(props(table).PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: true,
    });
    expect(table.DeletionPolicy).toBe("Retain");
    expect(table.UpdateReplacePolicy).toBe("Retain");
  });

  it("prod retains every resource (the app's default removal policy)", () => {
    const notRetained = resources(prod)
      // SST's own binding parameters (/sst/<app>/<stage>/...) are added by an aspect after the
      // removal policy is applied; they only describe the functions and are rewritten by every
      // deploy.
      .filter(([, r]) => r.Type !== "AWS::SSM::Parameter")
      .filter(([, r]) => r.DeletionPolicy !== "Retain")
      .map(([id]) => id);
    expect(notRetained).toEqual([]);
  });
});

describe("functions", () => {
  it("are the twelve handlers on nodejs22.x arm64 with their variables", () => {
    const [tableId] = one(test, "AWS::DynamoDB::Table");
    const [busId] = one(test, "AWS::Events::EventBus");
    const [, machine] = machineOf(test, "Stage");
    const machineArn = `arn:aws:states:${REGION}:${OFFLINE_ACCOUNT}:stateMachine:${props(machine).StateMachineName}`;
    const [, rollback] = machineOf(test, "Rollback");
    const rollbackArn = `arn:aws:states:${REGION}:${OFFLINE_ACCOUNT}:stateMachine:${props(rollback).StateMachineName}`;
    const [, timer] = machineOf(test, "ApprovalTimer");
    const timerArn = `arn:aws:states:${REGION}:${OFFLINE_ACCOUNT}:stateMachine:${props(timer).StateMachineName}`;
    const lambdas = breakwaterLambdas(test);
    expect(lambdas.map(([, r]) => props(r).Handler).sort()).toEqual(
      FUNCTION_NAMES.map((n) => `functions/${n}.handler`),
    );
    for (const [id, r] of lambdas) {
      const p = props(r);
      expect(p.Runtime, id).toBe("nodejs22.x");
      expect(p.Architectures, id).toEqual(["arm64"]);
      expect(p.TracingConfig, id).toEqual({ Mode: "Active" });
      expect(p.Timeout, id).toBeLessThanOrEqual(120);
      const env = (p.Environment as { Variables: Json }).Variables;
      expect(env.TABLE_NAME, id).toEqual({ Ref: tableId });
      expect(env.EVENT_BUS_NAME, id).toEqual({ Ref: busId });
      expect(str(env.STATE_MACHINE_ARN), id).toBe(machineArn);
      expect(str(env.ROLLBACK_STATE_MACHINE_ARN), id).toBe(rollbackArn);
      expect(str(env.APPROVAL_TIMER_STATE_MACHINE_ARN), id).toBe(timerArn);
    }
  });

  it("run with roles of their own: no managed policies, logs only to their own log group", () => {
    for (const [id, r] of breakwaterLambdas(test)) {
      const roleId = (props(r).Role as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0] as string;
      const role = (test.Resources as Record<string, Resource>)[roleId] as Resource;
      expect(props(role).ManagedPolicyArns, id).toBeUndefined();
      const logGroup = (props(r).LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref;
      const inline = list(
        props(role).Policies as { PolicyDocument: { Statement: Statement[] } }[],
      ).flatMap((p) => p.PolicyDocument.Statement);
      expect(inline, id).toEqual([
        {
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: getAtt(logGroup),
        },
      ]);
    }
  });

  it("are bundled by SST (asset code, not the inline placeholder)", () => {
    for (const [id, r] of breakwaterLambdas(test)) {
      const code = props(r).Code as Json;
      expect(code.S3Key, id).toMatch(/\.zip$/);
      expect(code.ZipFile, id).toBeUndefined();
    }
  });
});

describe("stage state machine", () => {
  const definition = () => {
    const [id, machine] = machineOf(test, "Stage");
    return { id, p: props(machine) };
  };

  it("deploys the ASL file's bytes unchanged", () => {
    const { p } = definition();
    expect(typeof p.DefinitionString).toBe("string");
    expect(
      Buffer.from(p.DefinitionString as string, "utf8").equals(readFileSync(STAGE_ASL_PATH)),
    ).toBe(true);
    expect(p.Definition).toBeUndefined();
    expect(p.DefinitionS3Location).toBeUndefined();
  });

  it("substitutes every placeholder with its function's ARN", () => {
    const { p } = definition();
    const placeholders = placeholdersIn(readFileSync(STAGE_ASL_PATH, "utf8"));
    expect(placeholders.length).toBeGreaterThan(0);
    const subs = p.DefinitionSubstitutions as Json;
    expect(Object.keys(subs).sort()).toEqual(placeholders);
    for (const placeholder of placeholders) {
      const fn = TASK_PLACEHOLDERS[placeholder];
      expect(fn, `unexpected placeholder ${placeholder}`).toBeDefined();
      const [fnId] = lambdaByName(test, fn as string);
      expect(subs[placeholder], placeholder).toEqual(getAtt(fnId));
    }
  });

  it("logs everything with execution data and traces with X-Ray", () => {
    const { p } = definition();
    const [logsId] = ofType(test, "AWS::Logs::LogGroup").find(([, r]) =>
      String(props(r).LogGroupName).startsWith("/aws/vendedlogs/states/"),
    ) as [string, Resource];
    expect(p.LoggingConfiguration).toEqual({
      Level: "ALL",
      IncludeExecutionData: true,
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: getAtt(logsId) } }],
    });
    expect(p.TracingConfiguration).toEqual({ Enabled: true });
  });

  it("runs with a role that may invoke exactly the five task functions", () => {
    const { p } = definition();
    const roleId = (p.RoleArn as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0] as string;
    const role = (test.Resources as Record<string, Resource>)[roleId] as Resource;
    const statements = list(
      props(role).Policies as { PolicyDocument: { Statement: Statement[] } }[],
    ).flatMap((x) => x.PolicyDocument.Statement);
    const expected = Object.values(TASK_PLACEHOLDERS)
      .map((n) => arnOf(lambdaByName(test, n)[0]))
      .sort();
    expect(resourcesOf(statements, "lambda:InvokeFunction")).toEqual(expected);
    expect(JSON.stringify((props(role).AssumeRolePolicyDocument as Json).Statement)).toContain(
      "states.amazonaws.com",
    );
  });
});

describe("rollback state machine", () => {
  it("deploys rollback.asl.json's bytes unchanged, with its placeholders substituted", () => {
    const [, rollback] = machineOf(test, "Rollback");
    const p = props(rollback);
    const file = join(PROJECT_ROOT, "statemachines", "rollback.asl.json");
    expect(Buffer.from(p.DefinitionString as string, "utf8").equals(readFileSync(file))).toBe(true);
    const placeholders = placeholdersIn(readFileSync(file, "utf8"));
    expect(placeholders).toEqual(["RollbackFunctionArn"]);
    expect(p.DefinitionSubstitutions).toEqual({
      RollbackFunctionArn: getAtt(lambdaByName(test, "rollback")[0]),
    });
    expect(p.TracingConfiguration).toEqual({ Enabled: true });
    expect((p.LoggingConfiguration as Json).Level).toBe("ALL");
  });
});

function expectTarget(rule: Json, fn: string) {
  const targets = rule.Targets as Json[];
  expect(targets).toHaveLength(1);
  const target = targets[0] as Json;
  expect(target.Arn).toEqual(getAtt(lambdaByName(test, fn)[0]));
  const dlq = ((target.DeadLetterConfig as Json).Arn as { "Fn::GetAtt": string[] })[
    "Fn::GetAtt"
  ][0] as string;
  expect((test.Resources as Record<string, Resource>)[dlq]?.Type).toBe("AWS::SQS::Queue");
  const retry = target.RetryPolicy as {
    MaximumRetryAttempts: number;
    MaximumEventAgeInSeconds: number;
  };
  expect(retry.MaximumRetryAttempts).toBeGreaterThan(0);
  expect(retry.MaximumEventAgeInSeconds).toBeGreaterThan(0);
}
describe("event rules", () => {
  const rules = () => ofType(test, "AWS::Events::Rule").map(([, r]) => props(r));

  it("routes stage and approval timer status changes on the default bus to promote, with a DLQ and retries", () => {
    const [machineId] = machineOf(test, "Stage");
    const [timerId] = machineOf(test, "ApprovalTimer");
    const sentinel = "__STATE_MACHINE_ARN__";
    const timerSentinel = "__APPROVAL_TIMER_ARN__";
    const expected = JSON.parse(
      JSON.stringify(stageStatusChangePattern(sentinel, timerSentinel))
        .replace(JSON.stringify(sentinel), JSON.stringify(getAtt(machineId)))
        .replace(JSON.stringify(timerSentinel), JSON.stringify(getAtt(timerId))),
    );
    const rule = rules().find((r) => JSON.stringify(r.EventPattern) === JSON.stringify(expected));
    expect(rule, "no rule with the stage status change pattern").toBeDefined();
    expect((rule as Json).EventPattern).toEqual(expected);
    expect((rule as Json).EventBusName).toBeUndefined(); // the default bus
    expectTarget(rule as Json, "promote");
  });

  it("routes run requests on the Breakwater bus to start-run, with a DLQ and retries", () => {
    const [busId] = one(test, "AWS::Events::EventBus");
    const rule = rules().find(
      (r) => JSON.stringify(r.EventPattern) === JSON.stringify(approvedChangePattern),
    );
    expect(rule, "no rule with the run requested pattern").toBeDefined();
    expect((rule as Json).EventPattern).toEqual(approvedChangePattern);
    expect((rule as Json).EventBusName).toEqual({ Ref: busId });
    expectTarget(rule as Json, "start-run");
  });

  it("routes Artifact Published events from the installation's CI sources on the Breakwater bus to artifact-published, with a DLQ and retries", () => {
    const [busId] = one(test, "AWS::Events::EventBus");
    const rule = rules().find((r) =>
      JSON.stringify(r.EventPattern).includes(
        JSON.stringify(artifactPublishedPattern["detail-type"]),
      ),
    );
    expect(rule, "no rule with the Artifact Published pattern").toBeDefined();
    expect((rule as Json).EventPattern).toEqual({
      "detail-type": ["Artifact Published"],
      source: ["ci.buildkite"],
    });
    expect((rule as Json).EventBusName).toEqual({ Ref: busId });
    expectTarget(rule as Json, "artifact-published");
  });

  it("routes alarm state changes (to ALARM) on the default bus to fast rollback, with a DLQ", () => {
    const rule = rules().find(
      (r) =>
        JSON.stringify(r.EventPattern) === JSON.stringify(alarmStateChangePattern) &&
        !r.EventBusName,
    );
    expect(rule, "no rule with the alarm state change pattern").toBeDefined();
    expect((rule as Json).EventBusName).toBeUndefined();
    expectTarget(rule as Json, "alarm-state-change");
  });
});

describe("IAM", () => {
  for (const [stage, template] of [
    ["test", () => test],
    ["prod", () => prod],
  ] as const) {
    it(`${stage}: no wildcard actions, and no wildcard in any Resource outside the allow-list`, () => {
      const statements = iamStatements(template());
      expect(statements.length).toBeGreaterThan(10);
      expect(iamProblems(statements)).toEqual([]);
    });
  }

  it("the check finds a wildcard anywhere in an ARN, not only a bare *", () => {
    const at = (Resource: unknown, Action: string | string[] = "lambda:InvokeFunction") => ({
      where: "Fixture",
      statement: { Effect: "Allow", Action, Resource },
    });
    expect(
      iamProblems([
        at("arn:aws:lambda:us-east-1:123456789012:function:*"),
        at({ "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":lambda:*:*:function:x"]] }),
        at("arn:aws:iam::123456789012:role/*", "sts:AssumeRole"),
        at("arn:aws:iam::123456789012:role/deploy?r", "sts:AssumeRole"),
        at("*", ["cloudwatch:DescribeAlarms", "dynamodb:GetItem"]),
        at("arn:aws:cloudwatch:us-east-1:123456789012:alarm:*", "cloudwatch:DescribeAlarms"),
        at("arn:aws:dynamodb:us-east-1:123456789012:table/t", "dynamodb:*"),
        at("*", "cloudwatch:DescribeAlarms"),
      ]),
    ).toEqual([
      "Fixture: Resource arn:aws:lambda:us-east-1:123456789012:function:* for lambda:InvokeFunction",
      "Fixture: Resource arn:aws:lambda:*:*:function:x for lambda:InvokeFunction",
      "Fixture: Resource arn:aws:iam::123456789012:role/* for sts:AssumeRole",
      "Fixture: Resource arn:aws:iam::123456789012:role/deploy?r for sts:AssumeRole",
      "Fixture: Resource * for dynamodb:GetItem",
      "Fixture: Resource arn:aws:cloudwatch:us-east-1:123456789012:alarm:* for cloudwatch:DescribeAlarms",
      "Fixture: action dynamodb:*",
    ]);
    for (const e of WILDCARD_RESOURCE_ALLOWED)
      expect(e.reason.length, String(e.resource)).toBeGreaterThan(20);
  });

  it("fails the synth on a wildcard deploy target, naming the file and the field", async () => {
    const dir = join(work, "wildcard-pipelines");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "greedy.json"),
      JSON.stringify({
        name: "greedy",
        target: {
          lambda: "arn:aws:lambda:*:*:function:*",
          roleArn: "arn:aws:iam::123456789012:role/*",
        },
        stages: [{ name: "prod", regions: ["us-east-1"], bake: { minutes: 10 } }],
      }),
    );
    await expect(synthesize({ stage: "test", pipelinesDir: dir })).rejects.toThrow(
      /greedy\.json[\s\S]*target\.lambda: must not contain an IAM wildcard[\s\S]*target\.roleArn: must not contain an IAM wildcard/,
    );
  }, 60_000);

  it("scopes DynamoDB to the table and its index, PutEvents to the bus, StartExecution to the machine", () => {
    const [tableId] = one(test, "AWS::DynamoDB::Table");
    const [busId] = one(test, "AWS::Events::EventBus");
    const [, machine] = machineOf(test, "Stage");
    const tableArns = [arnOf(tableId), `${arnOf(tableId)}/index/gsi1`];
    for (const { statement } of iamStatements(test)) {
      for (const action of list(statement.Action)) {
        const rs = list(statement.Resource).map(str);
        if (action.startsWith("dynamodb:")) for (const r of rs) expect(tableArns).toContain(r);
        if (action === "events:PutEvents") expect(rs).toEqual([arnOf(busId)]);
        if (action === "states:StartExecution") {
          const [, rollback] = machineOf(test, "Rollback");
          const [, timer] = machineOf(test, "ApprovalTimer");
          expect([
            `arn:aws:states:${REGION}:${OFFLINE_ACCOUNT}:stateMachine:${props(machine).StateMachineName}`,
            `arn:aws:states:${REGION}:${OFFLINE_ACCOUNT}:stateMachine:${props(rollback).StateMachineName}`,
            `arn:aws:states:${REGION}:${OFFLINE_ACCOUNT}:stateMachine:${props(timer).StateMachineName}`,
          ]).toEqual(expect.arrayContaining(rs));
          expect(rs).toHaveLength(1);
        }
      }
    }
    const machineArn = (which: "Stage" | "Rollback" | "ApprovalTimer") =>
      `arn:aws:states:${REGION}:${OFFLINE_ACCOUNT}:stateMachine:${props(machineOf(test, which)[1]).StateMachineName}`;
    // Where a run is admitted into a stage: its execution, or its approval's timer.
    for (const fn of ["promote", "start-run"]) {
      expect(resourcesOf(functionStatements(test, fn), "states:StartExecution").sort(), fn).toEqual(
        [machineArn("Stage"), machineArn("ApprovalTimer")].sort(),
      );
    }
    // The decisions start what they decide (approve, retry: the stage; rollback-all: rollbacks;
    // a freed stage admits the next version), on exactly the three machines.
    expect(
      resourcesOf(functionStatements(test, "override"), "states:StartExecution").sort(),
    ).toEqual([machineArn("Stage"), machineArn("Rollback"), machineArn("ApprovalTimer")].sort());
    expect(
      resourcesOf(functionStatements(test, "alarm-state-change"), "states:StartExecution"),
    ).toEqual([
      `arn:aws:states:${REGION}:${OFFLINE_ACCOUNT}:stateMachine:${props(machineOf(test, "Rollback")[1]).StateMachineName}`,
    ]);
    for (const fn of ["plan", "deploy", "evaluate", "rollback", "record"]) {
      expect(resourcesOf(functionStatements(test, fn), "states:StartExecution"), fn).toEqual([]);
    }
  });

  it("lets deploy and rollback reach exactly the pipelines' deploy targets", () => {
    const ordersRegions = [
      ...new Set(
        parsePipeline(repoPipeline).stages.flatMap((s) =>
          s.regions.map((r) => (typeof r === "string" ? r : r.region)),
        ),
      ),
    ];
    const invoke = [
      ...ordersRegions.map(
        (r) => `arn:aws:lambda:${r}:${OFFLINE_ACCOUNT}:function:orders-deployer`,
      ),
      "arn:aws:lambda:eu-west-1:210987654321:function:payments-deployer:live",
    ].sort();
    const [assume, ...typed] = FIXTURE_GRANTS;
    const expected = [
      { actions: ["lambda:InvokeFunction"], resources: invoke },
      {
        actions: ["sts:AssumeRole"],
        resources: [
          "arn:aws:iam::210987654321:role/breakwater-deployer",
          ...(assume?.resources ?? []),
        ],
      },
      ...typed,
    ];
    for (const fn of ["deploy", "rollback"]) {
      // Every statement but the control plane's own (table, bus, alarms, tracing) is a target's.
      const targetStatements = functionStatements(test, fn)
        .filter((st) => !/^(dynamodb|events|cloudwatch|xray):/.test(list(st.Action)[0] ?? ""))
        .map((st) => ({
          actions: list(st.Action),
          // Sorted here: the template orders by the CDK token strings of the account.
          resources: list(st.Resource).map(str).sort(),
          ...(st.Condition ? { conditions: st.Condition } : {}),
        }));
      // The deploy function also runs the stages' tests: exactly their function and project.
      const tests = [
        {
          actions: ["lambda:InvokeFunction"],
          resources: [`arn:aws:lambda:us-east-1:${OFFLINE_ACCOUNT}:function:checked-it-us-east-1`],
        },
        {
          actions: ["codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"],
          resources: [`arn:aws:codebuild:us-east-1:${OFFLINE_ACCOUNT}:project/checked-e2e`],
        },
      ];
      expect(targetStatements, fn).toEqual(fn === "deploy" ? [...expected, ...tests] : expected);
    }
    // Evaluation reads a role target's alarms and metrics in its account: it assumes the same
    // roles, and invokes nothing.
    expect(resourcesOf(functionStatements(test, "evaluate"), "sts:AssumeRole")).toEqual(
      expected[1]?.resources,
    );
    expect(resourcesOf(functionStatements(test, "evaluate"), "lambda:InvokeFunction")).toEqual([]);
    for (const fn of [
      "plan",
      "record",
      "promote",
      "start-run",
      "alarm-state-change",
      "notify",
      "override",
      "github-webhook",
    ]) {
      const statements = functionStatements(test, fn);
      expect(resourcesOf(statements, "lambda:InvokeFunction"), fn).toEqual([]);
      expect(resourcesOf(statements, "sts:AssumeRole"), fn).toEqual([]);
    }
    // The repository's pipelines have no deploy target (yet): nothing to invoke on prod.
    const repoTargets = readdirSync(join(PROJECT_ROOT, "pipelines"))
      .filter((f) => f.endsWith(".json"))
      .some((f) => JSON.parse(readFileSync(join(PROJECT_ROOT, "pipelines", f), "utf8")).target);
    if (!repoTargets) {
      for (const fn of ["deploy", "rollback"]) {
        expect(resourcesOf(functionStatements(prod, fn), "lambda:InvokeFunction"), fn).toEqual([]);
      }
    }
  });

  it("gives cloudwatch:DescribeAlarms to deploy (blockers) and evaluate, GetMetricData to evaluate", () => {
    for (const fn of FUNCTION_NAMES) {
      expect(resourcesOf(functionStatements(test, fn), "cloudwatch:DescribeAlarms"), fn).toEqual(
        fn === "evaluate" || fn === "deploy" ? ["*"] : [],
      );
      expect(resourcesOf(functionStatements(test, fn), "cloudwatch:GetMetricData"), fn).toEqual(
        fn === "evaluate" ? ["*"] : [],
      );
    }
  });
});

describe("pipeline registration", () => {
  function registrations(t: Json) {
    return ofType(t, "Custom::BreakwaterPipeline").map(([id, r]) => {
      const create = JSON.parse(str(props(r).Create)) as Json;
      const update = JSON.parse(str(props(r).Update)) as Json;
      return { id, create, update };
    });
  }

  it("writes every validated pipeline definition to the table", () => {
    const [tableId] = one(test, "AWS::DynamoDB::Table");
    const found = registrations(test);
    const names = found.map((r) => {
      const params = r.create.parameters as { TableName: string; Item: Record<string, never> };
      expect(r.create.service).toBe("DynamoDB");
      expect(r.create.action).toBe("PutItem");
      expect(r.update).toEqual(r.create);
      expect(params.TableName).toBe(ref(tableId));
      const item = unmarshall(params.Item);
      expect(item.pk).toBe(`PIPELINE#${item.definition.name}`);
      expect(item.sk).toBe("DEF");
      return item.definition.name as string;
    });
    expect(names.sort()).toEqual([
      "checked",
      "flags",
      "infra",
      "ledger",
      "orders-api",
      "payments",
      "shop",
      "shop-web",
      "static",
    ]);
    const orders = found.find((r) => r.id.startsWith("Pipelineordersapi"));
    if (!orders) throw new Error("orders-api is not registered");
    const item = unmarshall((orders.create.parameters as { Item: Record<string, never> }).Item);
    expect(item.definition).toEqual(
      parsePipeline({ ...repoPipeline, target: { lambda: "orders-deployer" } }),
    );
  });

  it("registers the repository's pipelines on prod, with PutItem on the table only", () => {
    const files = readdirSync(join(PROJECT_ROOT, "pipelines")).filter((f) => f.endsWith(".json"));
    expect(registrations(prod).length).toBeGreaterThanOrEqual(files.length);
    const [tableId] = one(prod, "AWS::DynamoDB::Table");
    const policies = ofType(prod, "AWS::IAM::Policy").filter(([id]) => id.startsWith("Pipeline"));
    expect(policies.length).toBeGreaterThan(0);
    for (const [, p] of policies) {
      expect((props(p).PolicyDocument as Json).Statement).toEqual([
        { Action: "dynamodb:PutItem", Effect: "Allow", Resource: getAtt(tableId) },
      ]);
    }
  });

  it("fails the synth on an invalid pipeline file, naming the file and the field", async () => {
    const bad = join(work, "bad-pipelines");
    mkdirSync(bad, { recursive: true });
    writeFileSync(
      join(bad, "broken.json"),
      JSON.stringify({
        name: "broken",
        stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 0 } }],
      }),
    );
    await expect(synthesize({ stage: "test", pipelinesDir: bad })).rejects.toThrow(
      /broken\.json[\s\S]*stages\[0\]\.bake\.minutes/,
    );
  }, 60_000);
});

describe("notifications and the control plane's own alarms", () => {
  it("routes Breakwater's run, scope and override events on its bus to notify, with a DLQ", () => {
    const [busId] = one(test, "AWS::Events::EventBus");
    const rule = ofType(test, "AWS::Events::Rule")
      .map(([, r]) => props(r))
      .find((r) => JSON.stringify(r.EventPattern) === JSON.stringify(notificationsPattern));
    expect(rule, "no rule with the notifications pattern").toBeDefined();
    expect((rule as Json).EventBusName).toEqual({ Ref: busId });
    const target = ((rule as Json).Targets as Json[])[0] as Json;
    expect(target.Arn).toEqual(getAtt(lambdaByName(test, "notify")[0]));
    expect(target.DeadLetterConfig).toBeDefined();
  });

  it("lets notify publish to the topic and dead-letter Slack messages, nothing else", () => {
    const [topicId] = one(test, "AWS::SNS::Topic");
    const statements = functionStatements(test, "notify");
    expect(resourcesOf(statements, "sns:Publish")).toEqual([str({ Ref: topicId })]);
    // The Slack dead letters, and its own dead-letter queue for failed async invocations.
    expect(resourcesOf(statements, "sqs:SendMessage")).toHaveLength(2);
    expect(resourcesOf(statements, "dynamodb:PutItem")).toEqual([]);
    const [, fn] = lambdaByName(test, "notify");
    const env = (props(fn).Environment as { Variables: Json }).Variables;
    expect(env.NOTIFICATION_TOPIC_ARN).toEqual({ Ref: topicId });
    expect(env.SLACK_DEAD_LETTER_QUEUE_URL).toBeDefined();
  });

  it("alarms to the topic on every dead-letter queue, every function's errors, and failed executions", () => {
    const [topicId] = one(test, "AWS::SNS::Topic");
    const alarms = ofType(test, "AWS::CloudWatch::Alarm").map(([, r]) => props(r));
    for (const a of alarms) expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
    const queues = ofType(test, "AWS::SQS::Queue").map(([id]) => id);
    const queueAlarms = alarms.filter((a) => a.MetricName === "ApproximateNumberOfMessagesVisible");
    expect(queueAlarms).toHaveLength(queues.length);
    const errorAlarms = alarms.filter(
      (a) => a.MetricName === "Errors" && a.Namespace === "AWS/Lambda",
    );
    expect(errorAlarms).toHaveLength(FUNCTION_NAMES.length);
    const failed = alarms.filter((a) => a.Namespace === "AWS/States");
    expect(failed.map((a) => a.MetricName).sort()).toEqual([
      "ExecutionsFailed",
      "ExecutionsFailed",
      "ExecutionsTimedOut",
      "ExecutionsTimedOut",
    ]);
  });
});

describe("override function", () => {
  it("is called through its IAM-authenticated URL by the operators' role, and checks the principal allow-list", () => {
    const [fnId, fn] = lambdaByName(test, "override");
    const urls = ofType(test, "AWS::Lambda::Url")
      .map(([, r]) => props(r))
      .filter((u) => JSON.stringify(u.TargetFunctionArn) === JSON.stringify(getAtt(fnId)));
    expect(urls).toEqual([{ AuthType: "AWS_IAM", TargetFunctionArn: getAtt(fnId) }]);
    const permissions = ofType(test, "AWS::Lambda::Permission")
      .map(([, r]) => props(r))
      .filter((p) => JSON.stringify(p.FunctionName) === JSON.stringify(getAtt(fnId)));
    // The URL, and lambda:InvokeFunction only when invoked via the URL: no direct-invoke path.
    expect(
      permissions.map((p) => [
        p.Action,
        p.Principal,
        p.FunctionUrlAuthType,
        p.InvokedViaFunctionUrl,
      ]),
    ).toEqual([
      ["lambda:InvokeFunctionUrl", OPERATORS, "AWS_IAM", undefined],
      ["lambda:InvokeFunction", OPERATORS, undefined, true],
    ]);
    const env = (props(fn).Environment as { Variables: Json }).Variables;
    expect(env.OVERRIDE_ALLOWED_PRINCIPALS).toBe(PRINCIPALS);
    expect(env.OVERRIDE_ALLOWED_ACTORS).toBeUndefined();
    // Nothing else may invoke it through a resource policy; on prod (no role configured) nobody.
    const [prodFnId] = lambdaByName(prod, "override");
    expect(
      ofType(prod, "AWS::Lambda::Permission").filter(
        ([, r]) => JSON.stringify(props(r).FunctionName) === JSON.stringify(getAtt(prodFnId)),
      ),
    ).toEqual([]);
    const statements = functionStatements(test, "override");
    expect(resourcesOf(statements, "lambda:InvokeFunction")).toEqual([]);
  });

  it("refuses the former actor-name allow-list and malformed principal patterns at synth", async () => {
    process.env.BREAKWATER_OVERRIDE_ACTORS = "alice,bob";
    try {
      await expect(synthesize({ stage: "old", region: REGION })).rejects.toThrow(
        /BREAKWATER_OVERRIDE_ACTORS .* is gone: .* set BREAKWATER_OVERRIDE_PRINCIPALS/,
      );
    } finally {
      delete process.env.BREAKWATER_OVERRIDE_ACTORS;
    }
    process.env.BREAKWATER_OVERRIDE_PRINCIPALS = "alice";
    try {
      await expect(synthesize({ stage: "bad", region: REGION })).rejects.toThrow(
        /"alice" is not a principal ARN pattern/,
      );
    } finally {
      delete process.env.BREAKWATER_OVERRIDE_PRINCIPALS;
    }
  }, 120_000);
});

describe("GitHub webhook", () => {
  it("is a public function URL (the signature authenticates), with its secret's and API token's parameters", () => {
    const [fnId, fn] = lambdaByName(test, "github-webhook");
    const urls = ofType(test, "AWS::Lambda::Url")
      .map(([, r]) => props(r))
      .filter((u) => JSON.stringify(u.TargetFunctionArn) === JSON.stringify(getAtt(fnId)));
    expect(urls).toHaveLength(1);
    expect(urls[0]).toMatchObject({ AuthType: "NONE", TargetFunctionArn: getAtt(fnId) });
    const env = (props(fn).Environment as { Variables: Json }).Variables;
    expect(env.WEBHOOK_SECRET_PARAMETER).toBe("/breakwater/test/github-webhook-secret");
    expect(env.GITHUB_TOKEN_PARAMETER).toBe("/breakwater/test/github-token");
    const statements = functionStatements(test, "github-webhook");
    // Exactly these two parameters (least privilege): no wildcard, no path prefix.
    expect(resourcesOf(statements, "ssm:GetParameter").sort()).toEqual([
      `arn:aws:ssm:${REGION}:${OFFLINE_ACCOUNT}:parameter/breakwater/test/github-token`,
      `arn:aws:ssm:${REGION}:${OFFLINE_ACCOUNT}:parameter/breakwater/test/github-webhook-secret`,
    ]);
    expect(resourcesOf(statements, "states:StartExecution")).toEqual([]);
    // Writes only its own partitions: trigger records in their shards (TRIGGERS#<shard>), never
    // the legacy unsharded TRIGGERS partition (read only).
    const writes = statements.find((s) => list(s.Action).includes("dynamodb:PutItem"));
    expect(writes?.Condition).toEqual({
      "ForAllValues:StringLike": {
        "dynamodb:LeadingKeys": ["REVIEWS#*", "DELIVERY#*", "TRIGGERS#*", "RUNREQ#*"],
      },
    });
    expect((test.Outputs as Record<string, unknown>).GitHubWebhookUrl).toBeDefined();
    const [, table] = one(test, "AWS::DynamoDB::Table");
    expect(props(table).TimeToLiveSpecification).toEqual({
      AttributeName: "expiresAt",
      Enabled: true,
    });
  });
});

describe("Artifact Published function", () => {
  it("may read the installation, claim and complete event ids, record triggers and publish; nothing more", () => {
    const [tableId] = one(test, "AWS::DynamoDB::Table");
    const [busId] = one(test, "AWS::Events::EventBus");
    const statements = functionStatements(test, "artifact-published");
    const actions = statements
      .filter((s) => s.Effect === "Allow")
      .flatMap((s) => list(s.Action))
      .sort();
    // sqs:SendMessage: its own dead-letter queue for failed async invocations; X-Ray: tracing.
    expect(actions).toEqual([
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "events:PutEvents",
      "sqs:SendMessage",
      "xray:PutTelemetryRecords",
      "xray:PutTraceSegments",
    ]);
    for (const a of ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]) {
      expect(resourcesOf(statements, a), a).toEqual([arnOf(tableId)]);
    }
    const writes = statements.find((s) => list(s.Action).includes("dynamodb:PutItem"));
    expect(writes?.Condition).toEqual({
      "ForAllValues:StringLike": {
        "dynamodb:LeadingKeys": ["DELIVERY#*", "TRIGGERS#*", "RUNREQ#*"],
      },
    });
    expect(resourcesOf(statements, "events:PutEvents")).toEqual([arnOf(busId)]);
    const [, fn] = lambdaByName(test, "artifact-published");
    const dlq = (props(fn).DeadLetterConfig as { TargetArn: { "Fn::GetAtt": string[] } }).TargetArn[
      "Fn::GetAtt"
    ][0] as string;
    expect((test.Resources as Record<string, Resource>)[dlq]?.Type).toBe("AWS::SQS::Queue");
  });
});

describe("installation config", () => {
  it("writes breakwater.config.json (validated) into the table at deploy", () => {
    const found = ofType(test, "Custom::BreakwaterInstallation");
    expect(found).toHaveLength(1);
    const create = JSON.stringify(props((found[0] as [string, Resource])[1]).Create);
    expect(create).toContain("org-sev1-open");
    expect(create).toContain("INSTALLATION");
    // The organisation's freezes reach every deploy step's gate through this item.
    expect(create).toContain("year-end freeze");
    // Without a config file (the repository has none), nothing is written.
    expect(ofType(prod, "Custom::BreakwaterInstallation")).toHaveLength(0);
  });
});

describe("stacks", () => {
  // A resource that moves to another stack is deleted and created anew there: a deployed
  // stage would get an empty table and fail on the fixed names (docs/decisions.md, 2026-12-02).
  it("is one CloudFormation stack per stage, <stage>-breakwater-Breakwater, holding every resource", () => {
    expect(stackNames).toEqual({
      test: ["test-breakwater-Breakwater"],
      prod: ["prod-breakwater-Breakwater"],
    });
  });
});

describe("outputs", () => {
  it("names the table, the bus and the state machine", () => {
    const [tableId] = one(test, "AWS::DynamoDB::Table");
    const [busId] = one(test, "AWS::Events::EventBus");
    const [machineId] = machineOf(test, "Stage");
    const outputs = test.Outputs as Record<string, { Value: unknown }>;
    expect(outputs.TableName?.Value).toEqual({ Ref: tableId });
    expect(outputs.EventBusName?.Value).toEqual({ Ref: busId });
    expect(outputs.StateMachineArn?.Value).toEqual(getAtt(machineId));
  });
});

describe("CLI lookup parameters", () => {
  it("writes the table's name and the override function URL where `breakwater --aws` reads them", () => {
    const [tableId] = one(test, "AWS::DynamoDB::Table");
    const [urlId] = ofType(test, "AWS::Lambda::Url").find(
      ([, r]) => props(r).AuthType === "AWS_IAM",
    ) as [string, Resource];
    const byName = new Map(
      ofType(test, "AWS::SSM::Parameter").map(([, r]) => [props(r).Name, props(r)]),
    );
    const names = parameterNames("test");
    expect(byName.get(names.table)).toMatchObject({ Type: "String", Value: { Ref: tableId } });
    expect(byName.get(names.overrideUrl)).toMatchObject({
      Type: "String",
      Value: { "Fn::GetAtt": [urlId, "FunctionUrl"] },
    });
    expect(names).toEqual({
      table: "/breakwater/test/table-name",
      overrideUrl: "/breakwater/test/override-url",
    });
  });
});

// ---- issue 10, finding 3: the bus is not a proof of approval --------------------------------

const roleArnOf = (t: Json, name: string) => {
  const [, fn] = lambdaByName(t, name);
  return `<GetAtt ${((props(fn).Role as { "Fn::GetAtt": string[] })["Fn::GetAtt"] as string[])[0]}.Arn>`;
};
const busStatements = (t: Json): Statement[] =>
  ofType(t, "AWS::Events::EventBusPolicy").map(([, r]) => props(r).Statement as Statement);
const busDeny = (t: Json, sid: string): Statement => {
  const found = busStatements(t).find((s) => s.Sid === `cdk-${sid}`);
  if (!found) throw new Error(`no bus policy statement ${sid}`);
  return found;
};
const principalsIn = (s: Statement, op: string) =>
  list((s.Condition?.[op]?.["aws:PrincipalArn"] ?? []) as unknown[])
    .map(str)
    .sort();
const PUBLISHERS = [
  "alarm-state-change",
  "artifact-published",
  "deploy",
  "evaluate",
  "github-webhook",
  "override",
  "promote",
  "rollback",
  "start-run",
];

/** The alarm forwarders' roles: the stack's own (other regions) and the target account's. */
const TARGET_ACCOUNT_FORWARDER =
  "arn:aws:iam::444455556666:role/breakwater-test-alarms-ap-southeast-2";
const forwarderRoles = () => [arnOf(forwarderRoleId()), TARGET_ACCOUNT_FORWARDER];
const forwarderRoleId = () => {
  const found = ofType(test, "AWS::IAM::Role").filter(([id]) =>
    id.startsWith("AlarmForwarderRole"),
  );
  expect(found).toHaveLength(1);
  return (found[0] as [string, Resource])[0];
};

describe("alarm forwarders (alarms from every region and account)", () => {
  const customResources = (type: string) =>
    ofType(test, type).map(([id, r]) => ({
      id,
      create: JSON.parse(str(props(r).Create)) as Json,
      del: JSON.parse(str(props(r).Delete)) as Json,
    }));
  const pattern = (names: unknown[]) => ({
    source: ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    detail: { alarmName: names, state: { value: ["ALARM"] } },
  });

  it("puts a rule in every other region of the account that has the pipelines' alarms, for exactly those alarms", () => {
    const rules = customResources("Custom::BreakwaterAlarmForwarderRule");
    const byRegion = Object.fromEntries(rules.map((r) => [r.create.region, r.create]));
    // shop's prod AZs in eu-west-1, shop-web in us-west-2; us-east-1 is the control plane's own
    // region; static's alpha alarms are in another account (a template, below).
    expect(Object.keys(byRegion).sort()).toEqual(["eu-west-1", "us-west-2"]);
    for (const [region, names] of [
      [
        "eu-west-1",
        ["shop-euw1-az1-latency", "shop-euw1-az2-latency", "shop-prod-eu-west-1-errors"],
      ],
      ["us-west-2", ["shop-web-us-west-2-5xx"]],
    ] as const) {
      const call = byRegion[region] as Json;
      expect(call.service).toBe("EventBridge");
      expect(call.action).toBe("PutRule");
      const params = call.parameters as Json;
      expect(params.Name).toBe("breakwater-test-alarm-forwarder");
      expect(params.State).toBe("ENABLED");
      expect(JSON.parse(params.EventPattern as string)).toEqual(pattern([...names]));
    }
    for (const r of rules) {
      expect(r.del).toMatchObject({
        action: "DeleteRule",
        parameters: { Name: "breakwater-test-alarm-forwarder" },
      });
    }
  });

  it("targets the Breakwater bus with a role that may only put events on it", () => {
    const [busId] = one(test, "AWS::Events::EventBus");
    const roleId = forwarderRoleId();
    const targets = customResources("Custom::BreakwaterAlarmForwarderTarget");
    expect(targets.map((t) => t.create.region).sort()).toEqual(["eu-west-1", "us-west-2"]);
    for (const t of targets) {
      expect(t.create.action).toBe("PutTargets");
      expect((t.create.parameters as Json).Targets).toEqual([
        { Id: "breakwater-bus", Arn: arnOf(busId), RoleArn: arnOf(roleId) },
      ]);
      expect(t.del).toMatchObject({
        action: "RemoveTargets",
        parameters: { Ids: ["breakwater-bus"] },
      });
    }
    const role = (test.Resources as Record<string, Resource>)[roleId] as Resource;
    expect(JSON.stringify(props(role).AssumeRolePolicyDocument)).toContain("events.amazonaws.com");
    const inline = list(
      props(role).Policies as { PolicyDocument: { Statement: Statement[] } }[],
    ).flatMap((p) => p.PolicyDocument.Statement);
    expect(inline.map((st) => ({ ...st, Resource: str(st.Resource) }))).toEqual([
      { Effect: "Allow", Action: "events:PutEvents", Resource: arnOf(busId) },
    ]);
  });

  it("lets the custom resources touch only the forwarder rule of each region and pass only the forwarder role", () => {
    const statements = iamStatements(test)
      .map((x) => x.statement)
      .filter((st) =>
        list(st.Action).some((a) => a.startsWith("events:") && a !== "events:PutEvents"),
      );
    const resourcesFor = (action: string) => resourcesOf(statements, action);
    const rules = ["eu-west-1", "us-west-2"].map(
      (r) => `arn:aws:events:${r}:${OFFLINE_ACCOUNT}:rule/breakwater-test-alarm-forwarder`,
    );
    for (const action of [
      "events:PutRule",
      "events:DeleteRule",
      "events:PutTargets",
      "events:RemoveTargets",
    ]) {
      expect(resourcesFor(action), action).toEqual(rules);
    }
    const passRole = iamStatements(test)
      .map((x) => x.statement)
      .filter((st) => list(st.Action).includes("iam:PassRole"));
    expect(passRole.map((st) => list(st.Resource).map(str))).toContainEqual([
      arnOf(forwarderRoleId()),
    ]);
  });

  it("routes forwarded alarm state changes on the Breakwater bus to fast rollback, with a DLQ", () => {
    const [busId] = one(test, "AWS::Events::EventBus");
    const rule = ofType(test, "AWS::Events::Rule")
      .map(([, r]) => props(r))
      .find(
        (r) =>
          JSON.stringify(r.EventPattern) === JSON.stringify(alarmStateChangePattern) &&
          r.EventBusName,
      );
    expect(rule, "no forwarded-alarm rule on the bus").toBeDefined();
    expect((rule as Json).EventBusName).toEqual({ Ref: busId });
    expectTarget(rule as Json, "alarm-state-change");
    // prod's pipelines have no alarms outside its own region: no forwarders, no such rule.
    expect(ofType(prod, "Custom::BreakwaterAlarmForwarderRule")).toEqual([]);
    expect(
      ofType(prod, "AWS::Events::Rule").filter(
        ([, r]) =>
          props(r).EventBusName && JSON.stringify(props(r).EventPattern).includes("aws.cloudwatch"),
      ),
    ).toEqual([]);
  });

  it("admits the target account's forwarder role for alarm state changes only", () => {
    const [busId] = one(test, "AWS::Events::EventBus");
    const allows = busStatements(test).filter((st) => st.Effect === "Allow");
    expect(allows).toHaveLength(1);
    const allow = allows[0] as Statement;
    expect(str(allow.Resource)).toBe(arnOf(busId));
    expect(allow.Action).toBe("events:PutEvents");
    expect(JSON.stringify(allow.Principal)).toContain("444455556666");
    expect(allow.Condition).toEqual({
      StringEquals: { "aws:PrincipalArn": [TARGET_ACCOUNT_FORWARDER] },
      "ForAllValues:StringEquals": { "events:detail-type": ["CloudWatch Alarm State Change"] },
    });
    const only = busDeny(test, "DenyAlarmForwardersAnythingButAlarmStateChange");
    expect(only.Condition?.["ForAnyValue:StringNotEquals"]).toEqual({
      "events:detail-type": ["CloudWatch Alarm State Change"],
    });
    expect(principalsIn(only, "StringEquals")).toEqual(forwarderRoles().sort());
  });

  it("writes the target account's forwarder template and its target role's policy", () => {
    expect(Object.keys(testFiles).sort()).toEqual([
      "forwarders/444455556666-ap-southeast-2.template.json",
      "target-roles/210987654321-breakwater-deployer.policy.json",
      "target-roles/444455556666-breakwater-static.policy.json",
    ]);
    // ledger's custom function, invoked in its role's account.
    expect(testFiles["target-roles/210987654321-breakwater-deployer.policy.json"]).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: ["lambda:InvokeFunction"],
          Resource: ["arn:aws:lambda:us-west-2:210987654321:function:ledger-deployer"],
        },
        {
          Effect: "Allow",
          Action: ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"],
          Resource: ["*"],
        },
      ],
    });
    const template = testFiles["forwarders/444455556666-ap-southeast-2.template.json"] as Json;
    const res = template.Resources as Record<string, Resource>;
    const bus = `arn:aws:events:${REGION}:${OFFLINE_ACCOUNT}:event-bus/test-breakwater-events`;
    expect(props(res.ForwarderRule as Resource)).toMatchObject({
      EventPattern: pattern(["static-alpha-ap-southeast-2-4xx"]),
      Targets: [
        { Id: "breakwater-bus", Arn: bus, RoleArn: { "Fn::GetAtt": ["ForwarderRole", "Arn"] } },
      ],
    });
    expect(props(res.ForwarderRole as Resource).RoleName).toBe(
      "breakwater-test-alarms-ap-southeast-2",
    );
    expect(JSON.stringify(props(res.ForwarderRole as Resource).Policies)).toBe(
      JSON.stringify([
        {
          PolicyName: "put-events-on-the-breakwater-bus",
          PolicyDocument: {
            Version: "2012-10-17",
            Statement: [{ Effect: "Allow", Action: "events:PutEvents", Resource: bus }],
          },
        },
      ]),
    );
    expect(testFiles["target-roles/444455556666-breakwater-static.policy.json"]).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: [
            "codebuild:BatchGetBuilds",
            "codebuild:ListBuildsForProject",
            "codebuild:StartBuild",
            "codebuild:StopBuild",
          ],
          Resource: ["arn:aws:codebuild:ap-southeast-2:444455556666:project/static-alpha"],
        },
        {
          Effect: "Allow",
          Action: ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"],
          Resource: ["*"],
        },
      ],
    });
  });
});

describe("bus policy", () => {
  it("denies PutEvents to every principal but the producing functions, the CI principals and the alarm forwarders", () => {
    const [busId] = one(test, "AWS::Events::EventBus");
    for (const s of busStatements(test).filter((st) => st.Effect === "Deny")) {
      expect(s).toMatchObject({
        Effect: "Deny",
        Principal: { AWS: "*" },
        Action: "events:PutEvents",
      });
      expect(str(s.Resource)).toBe(arnOf(busId));
    }
    const deny = busDeny(test, "DenyPutEventsButProducers");
    expect(principalsIn(deny, "StringNotEquals")).toEqual(
      [...PUBLISHERS.map((f) => roleArnOf(test, f)), CI_PRINCIPAL, ...forwarderRoles()].sort(),
    );
    // Functions that never publish have no PutEvents, and are not exempt from the deny.
    for (const fn of ["plan", "record", "notify"]) {
      expect(resourcesOf(functionStatements(test, fn), "events:PutEvents"), fn).toEqual([]);
      expect(principalsIn(deny, "StringNotEquals")).not.toContain(roleArnOf(test, fn));
    }
    for (const fn of PUBLISHERS) {
      expect(resourcesOf(functionStatements(test, fn), "events:PutEvents"), fn).toEqual([
        arnOf(busId),
      ]);
    }
  });

  it('lets only the webhook, Artifact Published and override functions put "Approved Change Merged"', () => {
    const deny = busDeny(test, "DenyApprovedChangeMergedButTriggers");
    expect(deny.Condition?.["ForAnyValue:StringEquals"]).toEqual({
      "events:detail-type": ["Approved Change Merged"],
    });
    expect(principalsIn(deny, "StringNotEquals")).toEqual(
      ["github-webhook", "artifact-published", "override"].map((f) => roleArnOf(test, f)).sort(),
    );
  });

  it('lets only the installation\'s CI principals put "Artifact Published", and nothing else', () => {
    const deny = busDeny(test, "DenyArtifactPublishedButCi");
    expect(deny.Condition?.["ForAnyValue:StringEquals"]).toEqual({
      "events:detail-type": ["Artifact Published"],
    });
    expect(principalsIn(deny, "StringNotEquals")).toEqual([CI_PRINCIPAL]);
    const ciOnly = busDeny(test, "DenyCiAnythingButArtifactPublished");
    expect(ciOnly.Condition).toEqual({
      "ForAnyValue:StringNotEquals": { "events:detail-type": ["Artifact Published"] },
      StringEquals: { "aws:PrincipalArn": [CI_PRINCIPAL] },
    });
  });

  it('without CI principals (prod has no installation config), nobody may put "Artifact Published"', () => {
    const deny = busDeny(prod, "DenyArtifactPublishedButCi");
    expect(deny.Condition).toEqual({
      "ForAnyValue:StringEquals": { "events:detail-type": ["Artifact Published"] },
    });
    expect(principalsIn(busDeny(prod, "DenyPutEventsButProducers"), "StringNotEquals")).toEqual(
      PUBLISHERS.map((f) => roleArnOf(prod, f)).sort(),
    );
    expect(busStatements(prod).map((s) => s.Sid)).not.toContain(
      "cdk-DenyCiAnythingButArtifactPublished",
    );
  });
});

describe("table IAM", () => {
  const WRITES = [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
  ];
  const allowed = (statements: Statement[]) =>
    statements.filter((s) => s.Effect === "Allow").flatMap((s) => list(s.Action));
  const denies = (statements: Statement[], action: string) =>
    statements.filter((s) => s.Effect === "Deny" && list(s.Action).includes(action));
  const deniedKeys = (statements: Statement[], action: string) =>
    denies(statements, action).flatMap((s) =>
      list(s.Condition?.["ForAnyValue:StringLike"]?.["dynamodb:LeadingKeys"] as string[]),
    );

  for (const [stage, template] of [
    ["test", () => test],
    ["prod", () => prod],
  ] as const) {
    it(`${stage}: the webhook and Artifact Published functions cannot delete any item, and write only their own partitions`, () => {
      for (const fn of ["github-webhook", "artifact-published"]) {
        const statements = functionStatements(template(), fn);
        expect(allowed(statements), fn).not.toContain("dynamodb:DeleteItem");
        expect(allowed(statements), fn).not.toContain("dynamodb:BatchWriteItem");
        for (const s of statements.filter(
          (x) => x.Effect === "Allow" && list(x.Action).some((a) => WRITES.includes(a)),
        )) {
          const keys = s.Condition?.["ForAllValues:StringLike"]?.["dynamodb:LeadingKeys"];
          expect(keys, `${fn}: writes without a LeadingKeys condition`).toBeDefined();
          expect(list(keys as string[]), fn).not.toContain("AUDIT");
          expect(list(keys as string[]), fn).toContain("RUNREQ#*");
        }
      }
    });

    it(`${stage}: no function may overwrite or delete an audit entry but override's append; only triggers and override write run requests`, () => {
      for (const fn of FUNCTION_NAMES) {
        const statements = functionStatements(template(), fn);
        const writes = allowed(statements).filter((a) => WRITES.includes(a));
        if (writes.length === 0) continue;
        if (fn === "github-webhook" || fn === "artifact-published") continue; // allow-listed above
        if (fn === "override") {
          // Override appends (conditional put) and never deletes audit entries or run requests.
          expect(deniedKeys(statements, "dynamodb:DeleteItem").sort()).toEqual([
            "AUDIT",
            "RUNREQ#*",
          ]);
          continue;
        }
        for (const action of WRITES) {
          expect(deniedKeys(statements, action).sort(), `${fn} ${action}`).toEqual([
            "AUDIT",
            "RUNREQ#*",
          ]);
        }
      }
    });
  }
});

describe("throttles (finding 8)", () => {
  const reserved = (t: Json, name: string) =>
    props(lambdaByName(t, name)[1]).ReservedConcurrentExecutions;

  it("bounds the public webhook's concurrency (default 10, configurable)", () => {
    expect(reserved(prod, "github-webhook")).toBe(10);
    expect(reserved(test, "github-webhook")).toBe(7);
  });

  it("reserves concurrency for fast rollback, so a flood elsewhere cannot starve it", () => {
    for (const t of [test, prod]) {
      expect(reserved(t, "alarm-state-change")).toBe(5);
      expect(reserved(t, "rollback")).toBe(5);
    }
  });

  it.each([
    ["0", "BREAKWATER_WEBHOOK_CONCURRENCY"],
    ["ten", "BREAKWATER_WEBHOOK_CONCURRENCY"],
    ["1.5", "BREAKWATER_ROLLBACK_CONCURRENCY"],
  ])(
    "fails the synth on %j for %s, naming the setting",
    async (value, name) => {
      process.env[name] = value;
      try {
        await expect(synthesize({ stage: "test", pipelinesDir })).rejects.toThrow(
          new RegExp(`${name}.*must be a whole number from 1 to 1000`),
        );
      } finally {
        delete process.env[name];
      }
    },
    60_000,
  );
});

describe("encryption in transit and at rest (finding 10)", () => {
  const tlsDeny = (statements: Json[]) =>
    statements.filter(
      (st) =>
        st.Effect === "Deny" &&
        JSON.stringify(st.Condition) ===
          JSON.stringify({ Bool: { "aws:SecureTransport": "false" } }),
    );

  it("encrypts the topic with a rotated KMS key that CloudWatch alarms may use", () => {
    const [topicId, topic] = one(test, "AWS::SNS::Topic");
    const [keyId, key] = one(test, "AWS::KMS::Key");
    expect(props(topic).KmsMasterKeyId).toEqual(getAtt(keyId));
    expect(props(key).EnableKeyRotation).toBe(true);
    const statements = (props(key).KeyPolicy as { Statement: Json[] }).Statement;
    const cloudwatch = statements.find(
      (st) =>
        JSON.stringify(st.Principal) === JSON.stringify({ Service: "cloudwatch.amazonaws.com" }),
    );
    expect(cloudwatch?.Action).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
    // notify publishes: it may use exactly this key, and nothing else may.
    const notify = functionStatements(test, "notify");
    expect(resourcesOf(notify, "kms:GenerateDataKey")).toEqual([arnOf(keyId)]);
    expect(resourcesOf(notify, "kms:Decrypt")).toEqual([arnOf(keyId)]);
    for (const fn of FUNCTION_NAMES.filter((f) => f !== "notify")) {
      expect(resourcesOf(functionStatements(test, fn), "kms:GenerateDataKey"), fn).toEqual([]);
    }
    expect(topicId).toBeDefined();
  });

  it("denies the topic and every queue to requests without TLS; CloudWatch may publish", () => {
    const [topicId] = one(test, "AWS::SNS::Topic");
    const topicPolicies = ofType(test, "AWS::SNS::TopicPolicy").filter(([, r]) =>
      JSON.stringify(props(r).Topics).includes(topicId),
    );
    expect(topicPolicies).toHaveLength(1);
    const topicStatements = (
      props((topicPolicies[0] as [string, Resource])[1]).PolicyDocument as { Statement: Json[] }
    ).Statement;
    expect(tlsDeny(topicStatements)).toHaveLength(1);
    const alarms = topicStatements.find(
      (st) =>
        JSON.stringify(st.Principal) === JSON.stringify({ Service: "cloudwatch.amazonaws.com" }),
    );
    expect(alarms).toMatchObject({ Effect: "Allow", Action: "sns:Publish" });
    const queues = ofType(test, "AWS::SQS::Queue");
    expect(queues.length).toBeGreaterThanOrEqual(6);
    for (const [queueId, queue] of queues) {
      expect(props(queue).SqsManagedSseEnabled, queueId).toBe(true);
      const policies = ofType(test, "AWS::SQS::QueuePolicy").filter(([, r]) =>
        JSON.stringify(props(r).Queues).includes(`"${queueId}"`),
      );
      const statements = policies.flatMap(
        ([, r]) => (props(r).PolicyDocument as { Statement: Json[] }).Statement,
      );
      expect(tlsDeny(statements), queueId).toHaveLength(1);
    }
  });
});

describe("cdk-nag (AWS Solutions, Serverless)", () => {
  it("no unsuppressed errors or warnings", () => {
    const findings = testMessages
      .filter((m) => m.level === "error" || m.level === "warning")
      .filter((m) => /^(AwsSolutions|Serverless)-/.test(m.data))
      .map((m) => `${m.path}: ${m.data.split(":")[0]}`);
    expect(findings).toEqual([]);
    // The packs did run: the webhook's DLQ finding is there, suppressed with its reason.
    expect(
      testMessages.some(
        (m) =>
          m.level === "info" &&
          m.path.includes("GithubWebhookFunction") &&
          m.data.includes("Serverless-LambdaDLQ"),
      ),
    ).toBe(true);
  });

  it("every suppression has a reason and names the findings it covers", () => {
    const problems: string[] = [];
    for (const [id, r] of resources(test)) {
      const rules = ((r as { Metadata?: { cdk_nag?: { rules_to_suppress?: Json[] } } }).Metadata
        ?.cdk_nag?.rules_to_suppress ?? []) as {
        id: string;
        reason: string;
        applies_to?: unknown[];
      }[];
      for (const rule of rules) {
        if (!rule.reason || rule.reason.length < 20)
          problems.push(`${id}: ${rule.id} has no reason`);
        if (/^AwsSolutions-IAM[45]$/.test(rule.id) && !rule.applies_to?.length)
          problems.push(`${id}: ${rule.id} is not narrowed with appliesTo`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("store round trips", () => {
  it("only the deploy function may BatchGetItem, and only on the table (its step's reads in one batch)", () => {
    const [tableId] = one(test, "AWS::DynamoDB::Table");
    const statements = functionStatements(test, "deploy");
    expect(resourcesOf(statements, "dynamodb:BatchGetItem")).toEqual([arnOf(tableId)]);
    for (const name of ["plan", "evaluate", "record", "rollback", "promote", "override"]) {
      expect(resourcesOf(functionStatements(test, name), "dynamodb:BatchGetItem"), name).toEqual(
        [],
      );
    }
  });
});

describe("capabilities for pipelines applied without a redeploy", () => {
  it("records exactly the deploy role's target grants and the forwarded alarm locations", () => {
    const found = ofType(test, "Custom::BreakwaterCapabilities");
    expect(found).toHaveLength(1);
    const resource = (found[0] as (typeof found)[number])[1];
    const create = JSON.parse(str(props(resource).Create)) as Json;
    expect(str(props(resource).Update)).toBe(str(props(resource).Create));
    const item = unmarshall((create.parameters as { Item: Record<string, never> }).Item) as {
      pk: string;
      sk: string;
      capabilities: import("../../src/domain/pipeline-registry.ts").Capabilities;
    };
    expect([item.pk, item.sk]).toEqual(["CONFIG", "CAPABILITIES"]);
    const caps = item.capabilities;
    expect(caps.region).toBe(REGION);
    // Every action the deploy function may take on a target resource is recorded, on the same
    // resources, and nothing else: apply then admits exactly what the role can do.
    const deploy = functionStatements(test, "deploy");
    for (const g of caps.grants) {
      for (const a of g.actions) {
        expect(resourcesOf(deploy, a), a).toEqual(expect.arrayContaining(g.resources));
      }
    }
    const recorded = new Set(caps.grants.flatMap((g) => g.actions));
    expect(recorded.has("lambda:UpdateFunctionCode")).toBe(true);
    expect(caps.alarmLocations.length).toBeGreaterThan(0);
  });
});
