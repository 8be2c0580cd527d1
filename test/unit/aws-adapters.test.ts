import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CloudWatchAlarmSource } from "../../src/adapters/aws/cloudwatch-alarms.ts";
import { EventBridgePublisher } from "../../src/adapters/aws/event-bus.ts";
import {
  approvalTimerExecutionName,
  executionName,
  rollbackExecutionName,
  SfnWorkflowStarter,
} from "../../src/adapters/aws/step-functions.ts";
import { TargetDeployer } from "../../src/adapters/aws/targets/index.ts";
import { LambdaFunctionDriver } from "../../src/adapters/aws/targets/lambda-function.ts";
import { resolveAlarmName, resolveAlarmNames } from "../../src/domain/blockers.ts";
import { InvalidInputError, TransientError } from "../../src/domain/errors.ts";
import { type Pipeline, parsePipeline } from "../../src/domain/pipeline.ts";
import type {
  AlarmSource,
  DeploymentRequest,
  RollbackExecutionInput,
} from "../../src/domain/ports.ts";
import { parseScopeId } from "../../src/domain/scope.ts";

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

function pipeline(extra: Record<string, unknown> = {}): Pipeline {
  return parsePipeline({
    name: "orders-api",
    stages: [
      {
        name: "prod-1",
        regions: ["us-west-2", { region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }],
        bake: { minutes: 60 },
      },
    ],
    ...extra,
  });
}

describe("resolveAlarmName(s): the pipeline's alarm templates for one scope", () => {
  it.each([
    [
      "{pipeline}-{stage}-{region}-faults",
      "prod-1/eu-north-1/eun1-az1",
      "orders-api-prod-1-eu-north-1-faults",
    ],
    [
      "{stage}/{region}/{az} latency",
      "prod-1/eu-north-1/eun1-az2",
      "prod-1/eu-north-1/eun1-az2 latency",
    ],
    ["{scope} errors", "prod-1/us-west-2", "prod-1/us-west-2 errors"],
    ["org-wide-sev2", "prod-1/us-west-2", "org-wide-sev2"],
    ["{region}-{region}", "prod-1/us-west-2", "us-west-2-us-west-2"],
    ["{az} only", "prod-1/us-west-2", undefined],
  ])("resolveAlarmName(%j) for %s is %j", (template, scope, expected) => {
    expect(resolveAlarmName(template, "orders-api", parseScopeId(scope))).toBe(expected);
  });

  it("resolves every template, in order, skipping {az} templates for a region scope", () => {
    const templates = ["{pipeline}-{stage}-{region}-faults", "{az}-latency", "{scope} health"];
    expect(
      resolveAlarmNames(templates, "orders-api", parseScopeId("prod-1/eu-north-1/eun1-az1")),
    ).toEqual([
      "orders-api-prod-1-eu-north-1-faults",
      "eun1-az1-latency",
      "prod-1/eu-north-1/eun1-az1 health",
    ]);
    expect(resolveAlarmNames(templates, "orders-api", parseScopeId("prod-1/us-west-2"))).toEqual([
      "orders-api-prod-1-us-west-2-faults",
      "prod-1/us-west-2 health",
    ]);
  });

  it("names a resolved alarm once when several templates resolve to it", () => {
    expect(
      resolveAlarmNames(
        ["{stage}-faults", "prod-1-faults"],
        "orders-api",
        parseScopeId("prod-1/us-west-2"),
      ),
    ).toEqual(["prod-1-faults"]);
  });

  it.each([
    ["no alarms configured", undefined],
    ["no templates", []],
    ["only {az} templates on a region scope", ["{az}-latency"]],
  ])("%s: no names", (_, templates) => {
    expect(resolveAlarmNames(templates, "orders-api", parseScopeId("prod-1/us-west-2"))).toEqual(
      [],
    );
  });
});

describe("CloudWatchAlarmSource", () => {
  const cw = mockClient(CloudWatchClient);
  const regions: string[] = [];
  // Used through the port, as the application services use it.
  const source: AlarmSource = new CloudWatchAlarmSource((region) => {
    regions.push(region);
    return new CloudWatchClient({ region, credentials });
  });
  beforeEach(() => {
    cw.reset();
    regions.length = 0;
  });
  const at = new Date("2024-05-01T11:00:00Z");

  const requestedNames = () =>
    cw.commandCalls(DescribeAlarmsCommand).flatMap((c) => c.args[0].input.AlarmNames ?? []);

  it("asks the given region for the named alarms, metric and composite, and answers in order", async () => {
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        { AlarmName: "orders-api-prod-1-eu-north-1-faults", StateValue: "OK" },
        {
          AlarmName: "eun1-az1-latency",
          StateValue: "ALARM",
          StateReason: "Threshold Crossed: 3 datapoints > 2000",
        },
      ],
      CompositeAlarms: [{ AlarmName: "prod-1/eu-north-1/eun1-az1 health", StateValue: "OK" }],
    });
    const names = [
      "orders-api-prod-1-eu-north-1-faults",
      "eun1-az1-latency",
      "prod-1/eu-north-1/eun1-az1 health",
    ];
    const result = await source.describe(names, "eu-north-1", at);
    expect(regions).toEqual(["eu-north-1"]);
    const input = cw.commandCalls(DescribeAlarmsCommand)[0]?.args[0].input;
    expect(input?.AlarmTypes).toEqual(["MetricAlarm", "CompositeAlarm"]);
    expect(input?.AlarmNames).toEqual(names);
    expect(result).toEqual([
      { name: "orders-api-prod-1-eu-north-1-faults", state: "OK" },
      {
        name: "eun1-az1-latency",
        state: "ALARM",
        reason: "Threshold Crossed: 3 datapoints > 2000",
      },
      { name: "prod-1/eu-north-1/eun1-az1 health", state: "OK" },
    ]);
  });

  it("answers in the order asked, whatever order CloudWatch returns", async () => {
    cw.on(DescribeAlarmsCommand).resolves({
      CompositeAlarms: [{ AlarmName: "b", StateValue: "ALARM" }],
      MetricAlarms: [
        { AlarmName: "c", StateValue: "OK" },
        { AlarmName: "a", StateValue: "INSUFFICIENT_DATA" },
      ],
    });
    const result = await source.describe(["a", "b", "c"], "us-west-2", at);
    expect(result.map((a) => a.name)).toEqual(["a", "b", "c"]);
  });

  it("follows NextToken through every page", async () => {
    cw.on(DescribeAlarmsCommand)
      .resolvesOnce({ MetricAlarms: [{ AlarmName: "a-1", StateValue: "OK" }], NextToken: "t1" })
      .resolvesOnce({
        CompositeAlarms: [{ AlarmName: "a-2", StateValue: "ALARM" }],
        NextToken: "t2",
      })
      .resolvesOnce({ MetricAlarms: [{ AlarmName: "a-3", StateValue: "INSUFFICIENT_DATA" }] });
    const result = await source.describe(["a-1", "a-2", "a-3"], "us-west-2", at);
    const calls = cw.commandCalls(DescribeAlarmsCommand);
    expect(calls.map((c) => c.args[0].input.NextToken)).toEqual([undefined, "t1", "t2"]);
    expect(result).toEqual([
      { name: "a-1", state: "OK" },
      { name: "a-2", state: "ALARM" },
      { name: "a-3", state: "INSUFFICIENT_DATA" },
    ]);
  });

  it("asks for at most 100 names per request (the DescribeAlarms limit)", async () => {
    cw.on(DescribeAlarmsCommand).callsFake((input: { AlarmNames: string[] }) => ({
      MetricAlarms: input.AlarmNames.map((n) => ({ AlarmName: n, StateValue: "OK" })),
    }));
    const names = Array.from({ length: 150 }, (_, i) => `alarm-${i}-us-west-2`);
    const result = await source.describe(names, "us-west-2", at);
    const sizes = cw
      .commandCalls(DescribeAlarmsCommand)
      .map((c) => c.args[0].input.AlarmNames?.length);
    expect(sizes).toEqual([100, 50]);
    expect(requestedNames()).toEqual(names);
    expect(result).toHaveLength(150);
    expect(result.every((a) => a.state === "OK")).toBe(true);
  });

  it("reports a named alarm that does not exist as ALARM (a typo must not pass as healthy)", async () => {
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: "us-west-2-faults", StateValue: "OK" }],
    });
    const result = await source.describe(
      ["us-west-2-faults", "us-west-2-latencyy"],
      "us-west-2",
      at,
    );
    expect(result).toEqual([
      { name: "us-west-2-faults", state: "OK" },
      { name: "us-west-2-latencyy", state: "ALARM", reason: "alarm does not exist in CloudWatch" },
    ]);
  });

  it("asks once for a name given twice", async () => {
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: "prod-1-faults", StateValue: "OK" }],
    });
    const result = await source.describe(["prod-1-faults", "prod-1-faults"], "us-west-2", at);
    expect(requestedNames()).toEqual(["prod-1-faults"]);
    expect(result).toEqual([{ name: "prod-1-faults", state: "OK" }]);
  });

  it("no names: [] without calling CloudWatch", async () => {
    expect(await source.describe([], "us-west-2", at)).toEqual([]);
    expect(cw.calls()).toHaveLength(0);
    expect(regions).toEqual([]);
  });

  it("the pipeline's templates, resolved for a region scope, skip {az} alarms", async () => {
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: "us-west-2-faults", StateValue: "OK" }],
    });
    const p = pipeline({ alarms: ["{region}-faults", "{az}-latency"] });
    const names = resolveAlarmNames(p.alarms, p.name, parseScopeId("prod-1/us-west-2"));
    const result = await source.describe(names, "us-west-2", at);
    expect(requestedNames()).toEqual(["us-west-2-faults"]);
    expect(result).toEqual([{ name: "us-west-2-faults", state: "OK" }]);
  });
});

describe("SfnWorkflowStarter", () => {
  const sfn = mockClient(SFNClient);
  const arn = "arn:aws:states:us-east-1:123456789012:stateMachine:breakwater-stage";
  const rollbackArn = "arn:aws:states:us-east-1:123456789012:stateMachine:breakwater-rollback";
  const timerArn = "arn:aws:states:us-east-1:123456789012:stateMachine:breakwater-approval-timer";
  const starter = new SfnWorkflowStarter(
    new SFNClient({ region: "us-east-1", credentials }),
    arn,
    rollbackArn,
    timerArn,
  );
  beforeEach(() => sfn.reset());

  const input = {
    runId: "orders-api@v2",
    pipeline: "orders-api",
    version: "v2",
    stage: "prod-1",
  };
  const long = {
    runId: `orders-api@${"sha256:".padEnd(80, "f")}`,
    pipeline: "orders-api",
    version: "sha256:".padEnd(80, "f"),
    stage: "prod-1",
  };

  it.each([
    ["simple", input],
    ["characters Step Functions refuses", { ...input, version: "1.4.2+build.7@sha256:abc" }],
    ["long version", long],
    ["long stage", { ...input, stage: "a".repeat(40), version: "b".repeat(60) }],
  ])("execution name (%s) is deterministic, <= 80 chars of [A-Za-z0-9_-]", (_, i) => {
    const name = executionName(i);
    expect(name).toBe(executionName({ ...i }));
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it("runs that read alike never share an execution name", () => {
    const a = executionName({
      runId: "orders@api-v2",
      pipeline: "orders",
      version: "api-v2",
      stage: "beta",
    });
    const b = executionName({
      runId: "orders-api@v2",
      pipeline: "orders-api",
      version: "v2",
      stage: "beta",
    });
    const c = executionName({ runId: "p@1.2", pipeline: "p", version: "1.2", stage: "s" });
    const d = executionName({ runId: "p@1_2", pipeline: "p", version: "1_2", stage: "s" });
    expect(a).not.toBe(b);
    expect(c).not.toBe(d);
  });

  it("long names stay distinct per stage and per version", () => {
    const names = new Set([
      executionName(long),
      executionName({ ...long, stage: "prod-2" }),
      executionName({ ...long, version: `${long.version}0`, runId: `${long.runId}0` }),
    ]);
    expect(names.size).toBe(3);
  });

  it("starts the execution with the stage input as JSON under the derived name", async () => {
    sfn.on(StartExecutionCommand).resolves({
      executionArn: `${arn.replace("stateMachine", "execution")}:orders-api-v2-prod-1`,
      startDate: new Date(),
    });
    const out = await starter.startStage(input);
    expect(out).toEqual({
      executionId: `${arn.replace("stateMachine", "execution")}:orders-api-v2-prod-1`,
    });
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const sent = calls[0]?.args[0].input;
    expect(sent?.stateMachineArn).toBe(arn);
    expect(sent?.name).toBe(executionName(input));
    expect(sent?.name).toMatch(/^orders-api-v2-prod-1-[0-9a-f]{12}$/);
    expect(JSON.parse(sent?.input ?? "null")).toEqual(input);
  });

  it("starts an approval timer on the timer machine, one name per approval asked for", async () => {
    sfn.on(StartExecutionCommand).resolves({
      executionArn: `${timerArn.replace("stateMachine", "execution")}:t`,
      startDate: new Date(),
    });
    const timer = {
      approvalTimer: true as const,
      ...input,
      requestedAt: "2026-12-02T09:00:00.000Z",
      waitSeconds: 3600,
    };
    await starter.startApprovalTimer(timer);
    await starter.startApprovalTimer({ ...timer, requestedAt: "2026-12-02T10:00:00.000Z" });
    const calls = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.stateMachineArn)).toEqual([timerArn, timerArn]);
    expect(JSON.parse(calls[0]?.input ?? "null")).toEqual(timer);
    expect(calls[0]?.name).toBe(approvalTimerExecutionName(timer));
    expect(calls[0]?.name).not.toBe(calls[1]?.name);
    expect(calls[0]?.name).not.toBe(executionName(input));
    expect(calls[0]?.name?.length).toBeLessThanOrEqual(80);
  });

  it("treats ExecutionAlreadyExists (a duplicate start) as success", async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: "Execution Already Exists", $metadata: {} }));
    await expect(starter.startStage(input)).resolves.toEqual({
      executionId: executionName(input),
    });
  });

  it("propagates other errors", async () => {
    sfn.on(StartExecutionCommand).rejects(new Error("throttled"));
    await expect(starter.startStage(input)).rejects.toThrow("throttled");
  });

  const rollback = (scope: string): RollbackExecutionInput => {
    const ref = parseScopeId(scope);
    return {
      ctx: input,
      step: {
        scope,
        region: ref.region,
        ...(ref.az ? { az: ref.az } : {}),
        kind: "full",
        percent: 100,
        bakeSeconds: 3600,
      },
      why: { kind: "alarm", details: "orders-api-faults in ALARM" },
    };
  };

  it("starts a rollback on the rollback state machine, named per (run, scope), with its input as JSON", async () => {
    sfn.on(StartExecutionCommand).callsFake((i: { stateMachineArn: string; name: string }) => ({
      executionArn: `${i.stateMachineArn.replace("stateMachine", "execution")}:${i.name}`,
      startDate: new Date(),
    }));
    const rb = rollback("prod-1/eu-north-1/eun1-az1");
    const out = await starter.startRollback(rb);
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const sent = calls[0]?.args[0].input;
    expect(sent?.stateMachineArn).toBe(rollbackArn);
    expect(sent?.name).toBe(rollbackExecutionName(rb));
    expect(sent?.name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(JSON.parse(sent?.input ?? "null")).toEqual(rb);
    expect(out).toEqual({
      executionId: `${rollbackArn.replace("stateMachine", "execution")}:${sent?.name}`,
    });
  });

  it("rollback names: deterministic, distinct per scope, never a stage execution's name", () => {
    const a = rollback("prod-1/eu-north-1/eun1-az1");
    const b = rollback("prod-1/eu-north-1/eun1-az2");
    expect(rollbackExecutionName(a)).toBe(rollbackExecutionName(structuredClone(a)));
    expect(rollbackExecutionName(a)).not.toBe(rollbackExecutionName(b));
    // The reason does not take part: a second alarm on the same scope is the same rollback.
    expect(rollbackExecutionName({ ...a, why: { kind: "alarm", details: "another alarm" } })).toBe(
      rollbackExecutionName(a),
    );
    expect(rollbackExecutionName(a)).not.toBe(executionName(input));
    expect(rollbackExecutionName({ ...a, ctx: long })).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });

  it("a duplicate rollback start (ExecutionAlreadyExists) is success", async () => {
    sfn
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: "Execution Already Exists", $metadata: {} }));
    const rb = rollback("prod-1/us-west-2");
    await expect(starter.startRollback(rb)).resolves.toEqual({
      executionId: rollbackExecutionName(rb),
    });
  });
});

describe("EventBridgePublisher", () => {
  const eb = mockClient(EventBridgeClient);
  const publisher = new EventBridgePublisher(
    new EventBridgeClient({ region: "us-east-1", credentials }),
    "breakwater-bus",
  );
  beforeEach(() => eb.reset());

  const events = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      source: "breakwater",
      detailType: "Breakwater Scope Event",
      detail: { i, scope: "prod-1/us-west-2" },
    }));

  it.each([
    [0, []],
    [1, [1]],
    [10, [10]],
    [11, [10, 1]],
    [25, [10, 10, 5]],
  ])("publishes %i events in batches of at most 10: %j", async (n, batches) => {
    eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
    await publisher.publish(events(n));
    const calls = eb.commandCalls(PutEventsCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual(batches);
    const entries = calls.flatMap((c) => c.args[0].input.Entries ?? []);
    expect(entries.map((e) => JSON.parse(e.Detail ?? "null").i)).toEqual(
      Array.from({ length: n }, (_, i) => i),
    );
    for (const e of entries) {
      expect(e).toMatchObject({
        EventBusName: "breakwater-bus",
        Source: "breakwater",
        DetailType: "Breakwater Scope Event",
      });
    }
  });

  it("rejected entries are a TransientError naming the error codes", async () => {
    eb.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ EventId: "1" }, { ErrorCode: "ThrottlingException", ErrorMessage: "slow down" }],
    });
    const error = await publisher.publish(events(2)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).name).toBe("TransientError");
    expect((error as Error).message).toContain("ThrottlingException");
    expect((error as Error).message).toContain("1 events");
  });
});

describe("lambda-function target (TargetDeployer)", () => {
  const lambda = mockClient(LambdaClient);
  const sts = mockClient(STSClient);
  beforeEach(() => {
    lambda.reset();
    sts.reset();
  });
  afterEach(() => {
    lambda.reset();
    sts.reset();
  });

  const roleArn = "arn:aws:iam::210987654321:role/orders-deployer";
  const request = (
    target: Record<string, unknown> | undefined,
    scope = "prod-1/eu-north-1/eun1-az1",
  ): DeploymentRequest => ({
    deploymentId: `orders-api@v2|${scope}|full`,
    pipeline: pipeline(target ? { target } : {}),
    scope: parseScopeId(scope),
    version: "v2",
    percent: 100,
    kind: "full",
  });
  const answer = (value: unknown) => ({
    StatusCode: 200,
    Payload: new TextEncoder().encode(JSON.stringify(value)) as never,
  });
  const deployer = () =>
    new TargetDeployer({
      sts: new STSClient({ region: "us-east-1", credentials }),
      account: async () => "123456789012",
      drivers: { "lambda-function": new LambdaFunctionDriver() },
    });
  const sentPayload = (i = 0) =>
    JSON.parse(
      new TextDecoder().decode(
        lambda.commandCalls(InvokeCommand)[i]?.args[0].input.Payload as Uint8Array,
      ),
    );

  it("invokes the target function with the documented payload", async () => {
    lambda.on(InvokeCommand).resolves(answer({ pollSeconds: 30 }));
    const d = deployer();
    await expect(d.start(request({ lambda: "orders-deployer" }))).resolves.toEqual({
      pollSeconds: 30,
    });
    const call = lambda.commandCalls(InvokeCommand)[0];
    expect(call?.args[0].input.FunctionName).toBe("orders-deployer");
    expect(sentPayload()).toEqual({
      action: "start",
      deploymentId: "orders-api@v2|prod-1/eu-north-1/eun1-az1|full",
      pipeline: "orders-api",
      scope: "prod-1/eu-north-1/eun1-az1",
      stage: "prod-1",
      region: "eu-north-1",
      az: "eun1-az1",
      version: "v2",
      percent: 100,
      kind: "full",
    });
    // The target function is invoked in the scope's region.
    const client = call?.thisValue as LambdaClient;
    expect(await client.config.region()).toBe("eu-north-1");
    expect(sts.calls()).toHaveLength(0);
  });

  it("a region scope has no az in the payload", async () => {
    lambda.on(InvokeCommand).resolves(answer({ state: "succeeded" }));
    await deployer().status(request({ lambda: "orders-deployer" }, "prod-1/us-west-2"));
    const payload = sentPayload();
    expect(payload.action).toBe("status");
    expect(payload.region).toBe("us-west-2");
    expect("az" in payload).toBe(false);
  });

  it.each([
    [{ state: "in-progress", pollSeconds: 20 }],
    [{ state: "succeeded" }],
    [{ state: "failed", reason: "health check failed on 3 hosts" }],
  ])("status answers %j", async (status) => {
    lambda.on(InvokeCommand).resolves(answer(status));
    await expect(deployer().status(request({ lambda: "orders-deployer" }))).resolves.toEqual(
      status,
    );
  });

  it("with target.roleArn, assumes the role via STS and invokes with those credentials", async () => {
    const expiration = new Date("2030-01-01T00:00:00Z");
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: "ASIAASSUMED",
        SecretAccessKey: "assumed-secret",
        SessionToken: "assumed-token",
        Expiration: expiration,
      },
    });
    lambda.on(InvokeCommand).resolves(answer({ pollSeconds: 5 }));
    await deployer().start(request({ lambda: "orders-deployer", roleArn }));
    const assume = sts.commandCalls(AssumeRoleCommand);
    expect(assume).toHaveLength(1);
    expect(assume[0]?.args[0].input).toMatchObject({
      RoleArn: roleArn,
      RoleSessionName: "breakwater-orders-api",
    });
    const client = lambda.commandCalls(InvokeCommand)[0]?.thisValue as LambdaClient;
    const used = await client.config.credentials();
    expect(used).toMatchObject({
      accessKeyId: "ASIAASSUMED",
      secretAccessKey: "assumed-secret",
      sessionToken: "assumed-token",
    });
  });

  it("a role that yields no credentials is a TransientError", async () => {
    sts.on(AssumeRoleCommand).resolves({});
    const error = await deployer()
      .start(request({ lambda: "orders-deployer", roleArn }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(lambda.calls()).toHaveLength(0);
  });

  it("a FunctionError from the target is a TransientError (the state machine retries it)", async () => {
    lambda.on(InvokeCommand).resolves({
      ...answer({ errorType: "Error", errorMessage: "boom" }),
      FunctionError: "Unhandled",
    });
    const error = await deployer()
      .start(request({ lambda: "orders-deployer" }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).name).toBe("TransientError");
    expect((error as Error).message).toContain("boom");
  });

  it.each([
    ["start", { poll: 30 }],
    ["start", { pollSeconds: -1 }],
    ["start", null],
    ["status", { state: "done" }],
    ["status", { state: "failed" }],
    ["status", { state: "in-progress", pollSeconds: 0 }],
  ] as const)("a malformed %s answer %j is an InvalidInputError", async (action, value) => {
    lambda.on(InvokeCommand).resolves(answer(value));
    const d = deployer();
    const req = request({ lambda: "orders-deployer" });
    const error = await (action === "start" ? d.start(req) : d.status(req)).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).name).toBe("InvalidInputError");
    expect((error as Error).message).toContain(`deploy target answered ${action}`);
  });

  it("a pipeline without a deploy target is an InvalidInputError", async () => {
    const error = await deployer()
      .start(request(undefined))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toContain(
      "pipeline orders-api has no deploy target for stage prod-1",
    );
    expect(lambda.calls()).toHaveLength(0);
  });
});

describe("CloudWatchAlarmSource name prefixes", () => {
  it("reads every alarm under a prefix ending in *, and reports a prefix with no alarm as ALARM", async () => {
    const cw = mockClient(CloudWatchClient);
    cw.on(DescribeAlarmsCommand, { AlarmNamePrefix: "orders-prod-1-" }).resolves({
      MetricAlarms: [
        { AlarmName: "orders-prod-1-latency", StateValue: "OK" },
        {
          AlarmName: "orders-prod-1-faults",
          StateValue: "ALARM",
          StateReason: "threshold crossed",
        },
      ],
    });
    cw.on(DescribeAlarmsCommand, { AlarmNamePrefix: "nothing-" }).resolves({ MetricAlarms: [] });
    const source = new CloudWatchAlarmSource(() => new CloudWatchClient({ region: "eu-west-1" }));
    const out = await source.describe(["orders-prod-1-*", "nothing-*"], "eu-west-1");
    expect(out).toEqual([
      { name: "orders-prod-1-latency", state: "OK" },
      { name: "orders-prod-1-faults", state: "ALARM", reason: "threshold crossed" },
      { name: "nothing-*", state: "ALARM", reason: "no alarm in CloudWatch has this prefix" },
    ]);
    expect(
      cw.commandCalls(DescribeAlarmsCommand).map((c) => c.args[0].input.AlarmNamePrefix),
    ).toEqual(["orders-prod-1-", "nothing-"]);
    cw.restore();
  });
});
