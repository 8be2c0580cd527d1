/**
 * Fast rollback: the alarm-state-change handler fed AWS's published "CloudWatch Alarm State
 * Change" sample events. An alarm that judges a deploying or baking scope of a run goes to
 * ALARM: the run halts at once and that scope alone is rolled back by a rollback execution.
 * Real store (DynamoDB Local); the workflow starter is a fake that records what it was asked.
 */

import { readdirSync, readFileSync } from "node:fs";
import { beforeEach, describe, expect, it } from "vitest";
import { createAlarmStateChangeHandler } from "../../functions/alarm-state-change.ts";
import type { DepsProvider, LambdaHandler } from "../../functions/lib/handler.ts";
import type { DynamoStateStore } from "../../src/adapters/aws/dynamo-store.ts";
import { rollbackExecutionName } from "../../src/adapters/aws/step-functions.ts";
import type { Deps } from "../../src/app/deps.ts";
import { InMemoryRunRequestStore } from "../../src/app/run-requests.ts";
import { InvalidInputError } from "../../src/domain/errors.ts";
import type { Run } from "../../src/domain/model.ts";
import { type Pipeline, parsePipeline } from "../../src/domain/pipeline.ts";
import type { BusEvent, RollbackExecutionInput } from "../../src/domain/ports.ts";
import { lambdaContext } from "../../src/local/step-functions.ts";
import { InMemoryTriggerLog } from "../../src/triggers/in-memory.ts";
import { freshStore } from "../support/dynamo.ts";

const fixturesDir = new URL("../fixtures/aws-events/", import.meta.url);
type AlarmEvent = {
  "detail-type": string;
  source: string;
  region: string;
  time: string;
  detail: Record<string, unknown> & {
    alarmName: string;
    state: Record<string, unknown> & { value: string; reason?: string };
  };
} & Record<string, unknown>;

const FIXTURES = ["single-metric", "metric-math", "anomaly-detection"] as const;
const fixture = (name: (typeof FIXTURES)[number]): AlarmEvent =>
  JSON.parse(
    readFileSync(new URL(`cloudwatch-alarm-state-change-${name}.json`, fixturesDir), "utf8"),
  );

/** AWS's sample event, about one of Breakwater's alarms (name and state changed as given). */
function alarmEvent(
  alarmName: string,
  value: "ALARM" | "OK" | "INSUFFICIENT_DATA" = "ALARM",
  name: (typeof FIXTURES)[number] = "single-metric",
): AlarmEvent {
  const event = fixture(name);
  event.detail.alarmName = alarmName;
  event.detail.state.value = value;
  return event;
}

const context = lambdaContext(
  "breakwater-alarm-state-change",
  "00000000-0000-4000-8000-000000000000",
);

const NOW = new Date("2024-05-01T12:00:00.000Z");
const RUN_ID = "orders-api@v2";

// The samples' region is us-east-1; so is the wave's first region. "ServerCpuTooHigh" (the
// single-metric sample's alarm, as published) is one of the pipeline's alarms, by literal name.
const definition: Pipeline = parsePipeline({
  name: "orders-api",
  alarms: ["ServerCpuTooHigh", "{pipeline}-{region}-{az}-latency"],
  oneBoxAlarms: ["{pipeline}-{region}-one-box-faults"],
  stages: [
    {
      name: "prod-1",
      regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }, "eu-west-1"],
      regionsInParallel: 2,
      oneBox: true,
      bake: { minutes: 60 },
    },
  ],
});
const AZ1 = "prod-1/us-east-1/use1-az1";
const AZ2 = "prod-1/us-east-1/use1-az2";
const EU = "prod-1/eu-west-1";

interface Harness {
  store: DynamoStateStore;
  rollbacks: RollbackExecutionInput[];
  published: BusEvent[];
  handler: LambdaHandler;
}

async function harness(): Promise<Harness> {
  const { store } = await freshStore();
  const rollbacks: RollbackExecutionInput[] = [];
  const published: BusEvent[] = [];
  const unused = (what: string) => () => {
    throw new Error(`fast rollback must not call ${what}`);
  };
  const deps: Deps = {
    store,
    clock: { now: () => NOW },
    deployer: {
      start: unused("deployer.start"),
      status: unused("deployer.status"),
      cancel: unused("deployer.cancel"),
    },
    alarms: { describe: unused("alarms.describe") },
    metrics: { minutes: unused("metrics.minutes") },
    workflows: {
      startStage: unused("workflows.startStage"),
      startApprovalTimer: unused("workflows.startApprovalTimer"),
      startRollback: async (input) => {
        rollbacks.push(structuredClone(input));
        return { executionId: rollbackExecutionName(input) };
      },
      startRollbackWaves: unused("workflows.startRollbackWaves"),
    },
    events: {
      publish: async (events) => {
        published.push(...events);
      },
    },
    runRequests: new InMemoryRunRequestStore(),
    triggers: new InMemoryTriggerLog(),
  };
  await store.putPipeline(definition);
  for (const scope of [AZ1, AZ2, EU]) {
    await store.seedScope(
      {
        pipeline: "orders-api",
        scope,
        version: "v1",
        percent: 100,
        status: "stable",
        since: NOW.toISOString(),
        cause: "initial version v1",
      },
      "seed",
    );
  }
  const run: Run = {
    runId: RUN_ID,
    seq: 1,
    pipeline: "orders-api",
    version: "v2",
    status: "running",
    definition,
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    currentStage: "prod-1",
    stages: { "prod-1": { status: "running", startedAt: NOW.toISOString() } },
    rolledBack: [],
    cause: "test",
  };
  expect(await store.createRun(run)).toBe(true);
  return {
    store,
    rollbacks,
    published,
    handler: createAlarmStateChangeHandler(() => deps),
  };
}

/** Moves a scope of the run to v2 (deploying, then baking unless told otherwise), as the deploy step does. */
async function deploy(
  store: DynamoStateStore,
  scope: string,
  { percent = 100, status = "baking" }: { percent?: number; status?: "deploying" | "baking" } = {},
): Promise<void> {
  const at = NOW.toISOString();
  const base = { pipeline: "orders-api", scope, at, actor: "breakwater/deploy" };
  const deploying = await store.transitionScope({
    ...base,
    cause: `run ${RUN_ID}: deploy of v2 (${percent}%)`,
    expect: { status: ["stable"] },
    set: { version: "v2", previousVersion: "v1", percent, status: "deploying", runId: RUN_ID },
  });
  expect(deploying.ok).toBe(true);
  if (status === "deploying") return;
  const baking = await store.transitionScope({
    ...base,
    cause: `run ${RUN_ID}: deploy of v2 finished; baking`,
    expect: { status: ["deploying"], version: "v2", runId: RUN_ID },
    set: { version: "v2", percent, status: "baking" },
  });
  expect(baking.ok).toBe(true);
}

async function expectNothingHappened(h: Harness, scopes: Record<string, string>) {
  expect(h.rollbacks).toEqual([]);
  expect(h.published).toEqual([]);
  const run = await h.store.getRun(RUN_ID);
  expect(run?.status).toBe("running");
  expect(run?.haltReason).toBeUndefined();
  for (const [scope, status] of Object.entries(scopes)) {
    expect((await h.store.getScope("orders-api", scope))?.status).toBe(status);
  }
}

describe("alarm-state-change handler (CloudWatch Alarm State Change)", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });

  it("the AWS fixtures are present and are alarm state changes", () => {
    const names = readdirSync(fixturesDir).filter((n) =>
      n.startsWith("cloudwatch-alarm-state-change-"),
    );
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const name of FIXTURES) {
      const event = fixture(name);
      expect(event["detail-type"]).toBe("CloudWatch Alarm State Change");
      expect(event.source).toBe("aws.cloudwatch");
    }
  });

  it("an event forwarded from another region and account (issue 12, item 7) rolls back that region's scope", async () => {
    await deploy(h.store, AZ1);
    await deploy(h.store, EU);
    // A forwarder rule delivers the event to the Breakwater bus as CloudWatch published it in
    // eu-west-1 of the target account: its region and account are the source's.
    const event = {
      ...fixture("single-metric"),
      region: "eu-west-1",
      account: "210987654321",
      resources: ["arn:aws:cloudwatch:eu-west-1:210987654321:alarm:ServerCpuTooHigh"],
    };
    const result = await h.handler(event, context);
    expect(result).toEqual({ rolledBack: [{ pipeline: "orders-api", scope: EU, runId: RUN_ID }] });
    expect(h.rollbacks.map((r) => r.step.scope)).toEqual([EU]);
    expect((await h.store.getRun(RUN_ID))?.haltedBy).toBe(EU);
  });

  it("an ALARM of an alarm judging a baking scope halts the run and starts exactly one rollback, of that scope", async () => {
    await deploy(h.store, AZ1);
    await deploy(h.store, EU);
    // The sample event exactly as AWS publishes it.
    const event = fixture("single-metric");
    expect(event.detail.alarmName).toBe("ServerCpuTooHigh");
    expect(event.detail.state.value).toBe("ALARM");

    const result = await h.handler(event, context);
    expect(result).toEqual({
      rolledBack: [{ pipeline: "orders-api", scope: AZ1, runId: RUN_ID }],
    });
    const details = `ServerCpuTooHigh in ALARM: ${event.detail.state.reason}`;
    // eu-west-1 also uses ServerCpuTooHigh, but the alarm that changed is us-east-1's.
    expect(h.rollbacks).toEqual([
      {
        // With the run's arrival: the rollback's halt stops the line there (safety rule 3).
        ctx: {
          runId: RUN_ID,
          pipeline: "orders-api",
          version: "v2",
          stage: "prod-1",
          seq: (await h.store.getRun(RUN_ID))?.seq,
        },
        step: {
          scope: AZ1,
          region: "us-east-1",
          az: "use1-az1",
          kind: "full",
          percent: 100,
          bakeSeconds: 3600,
        },
        why: { kind: "alarm", details },
      },
    ]);
    const run = await h.store.getRun(RUN_ID);
    expect(run).toMatchObject({
      status: "halted",
      haltReason: "rollback",
      haltedBy: AZ1,
      haltedAt: NOW.toISOString(),
      haltDetail: details,
    });
    const halted = h.published.filter((e) => e.detail.event === "run-halted");
    expect(halted).toHaveLength(1);
    expect(halted[0]?.detail).toMatchObject({
      runId: RUN_ID,
      stage: "prod-1",
      reason: `${AZ1}: ${details}`,
    });
    // The handler starts the rollback; the rollback execution moves the scope. Nothing else moved.
    expect((await h.store.getScope("orders-api", AZ1))?.status).toBe("baking");
    expect((await h.store.getScope("orders-api", EU))?.status).toBe("baking");
    expect((await h.store.getScope("orders-api", AZ2))?.status).toBe("stable");
  });

  it("a duplicate delivery asks for the same rollback execution (one per run and scope) and announces the halt once", async () => {
    await deploy(h.store, AZ1);
    const event = fixture("single-metric");
    await h.handler(event, context);
    await h.handler(structuredClone(event), context);
    const names = new Set(h.rollbacks.map(rollbackExecutionName));
    expect(names.size).toBe(1);
    expect(h.rollbacks.every((r) => r.step.scope === AZ1)).toBe(true);
    expect(h.published.filter((e) => e.detail.event === "run-halted")).toHaveLength(1);
  });

  it("a scope still deploying is rolled back too", async () => {
    await deploy(h.store, AZ1, { status: "deploying" });
    await h.handler(fixture("single-metric"), context);
    expect(h.rollbacks.map((r) => r.step.scope)).toEqual([AZ1]);
    expect((await h.store.getRun(RUN_ID))?.status).toBe("halted");
  });

  it("a zonal alarm ({az} template) rolls back its AZ only", async () => {
    await deploy(h.store, AZ1);
    await deploy(h.store, AZ2);
    await h.handler(alarmEvent("orders-api-us-east-1-use1-az2-latency"), context);
    expect(h.rollbacks.map((r) => r.step.scope)).toEqual([AZ2]);
    expect((await h.store.getRun(RUN_ID))?.haltedBy).toBe(AZ2);
  });

  it("a one-box alarm judges a scope during its one-box step, as a one-box rollback", async () => {
    await deploy(h.store, AZ1, { percent: 10 });
    await h.handler(
      alarmEvent("orders-api-us-east-1-one-box-faults", "ALARM", "anomaly-detection"),
      context,
    );
    expect(h.rollbacks).toHaveLength(1);
    expect(h.rollbacks[0]?.step).toEqual({
      scope: AZ1,
      region: "us-east-1",
      az: "use1-az1",
      kind: "one-box",
      percent: 10,
      bakeSeconds: 3600,
    });
    expect(h.rollbacks[0]?.why.details).toMatch(/^orders-api-us-east-1-one-box-faults in ALARM: /);
  });

  it("a one-box alarm does not judge a scope at 100%", async () => {
    await deploy(h.store, AZ1);
    const result = await h.handler(alarmEvent("orders-api-us-east-1-one-box-faults"), context);
    expect(result).toEqual({ rolledBack: [] });
    await expectNothingHappened(h, { [AZ1]: "baking" });
  });

  it.each(["OK", "INSUFFICIENT_DATA"] as const)("%s changes nothing", async (value) => {
    await deploy(h.store, AZ1);
    const result = await h.handler(alarmEvent("ServerCpuTooHigh", value, "metric-math"), context);
    expect(result).toEqual({ rolledBack: [] });
    await expectNothingHappened(h, { [AZ1]: "baking" });
  });

  it.each(FIXTURES.filter((f) => f !== "single-metric"))(
    "an ALARM of an alarm no scope uses (the %s sample as published) changes nothing",
    async (name) => {
      await deploy(h.store, AZ1);
      await deploy(h.store, EU);
      const result = await h.handler(fixture(name), context);
      expect(result).toEqual({ rolledBack: [] });
      await expectNothingHappened(h, { [AZ1]: "baking", [EU]: "baking" });
    },
  );

  it("an ALARM of an alarm judging only stable scopes changes nothing", async () => {
    // Every us-east-1 scope is stable (not deploying, not baking): nothing to roll back.
    await deploy(h.store, EU);
    const result = await h.handler(fixture("single-metric"), context);
    expect(result).toEqual({ rolledBack: [] });
    await expectNothingHappened(h, { [AZ1]: "stable", [AZ2]: "stable", [EU]: "baking" });
  });

  it("an ALARM in another region than the scope's changes nothing", async () => {
    await deploy(h.store, AZ1);
    const event = fixture("single-metric");
    event.region = "eu-west-1";
    // eu-west-1's scope is stable; us-east-1's scope is baking but the alarm is not its.
    const result = await h.handler(event, context);
    expect(result).toEqual({ rolledBack: [] });
    await expectNothingHappened(h, { [AZ1]: "baking", [EU]: "stable" });
  });

  type Malformed = [label: string, mutate: (e: AlarmEvent) => unknown, field: string];
  const malformed: Malformed[] = [
    ["wrong detail-type", (e) => ({ ...e, "detail-type": "Object Created" }), "detail-type"],
    ["wrong source", (e) => ({ ...e, source: "aws.states" }), "source"],
    ["missing region", (e) => ({ ...e, region: undefined }), "region"],
    ["missing detail", (e) => ({ ...e, detail: undefined }), "detail"],
    [
      "missing alarmName",
      (e) => ({ ...e, detail: { ...e.detail, alarmName: undefined } }),
      "detail.alarmName",
    ],
    [
      "empty alarmName",
      (e) => ({ ...e, detail: { ...e.detail, alarmName: "" } }),
      "detail.alarmName",
    ],
    ["missing state", (e) => ({ ...e, detail: { ...e.detail, state: undefined } }), "detail.state"],
    [
      "unknown state value",
      (e) => ({ ...e, detail: { ...e.detail, state: { ...e.detail.state, value: "FIRING" } } }),
      "detail.state.value",
    ],
  ];

  it.each(malformed)(
    "%s → InvalidInputError naming %s, nothing touched",
    async (_, mutate, field) => {
      const neverBuilt: DepsProvider = () => {
        throw new Error("dependencies must not be built for malformed input");
      };
      const handler = createAlarmStateChangeHandler(neverBuilt);
      const error = await handler(mutate(fixture("single-metric")), context).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as Error).name).toBe("InvalidInputError");
      expect((error as Error).message).toMatch(/^invalid alarm-state-change input: /);
      expect((error as Error).message).toContain(`${field}:`);
      expect((error as InvalidInputError).problems.map((p) => p.path)).toContain(field);
    },
  );

  it("rolls back every in-flight scope an alarm judges (a regional alarm, AZs in parallel)", async () => {
    await deploy(h.store, AZ1);
    await deploy(h.store, AZ2);
    await h.handler(fixture("single-metric"), context);
    expect(h.rollbacks.map((r) => r.step.scope).sort()).toEqual([AZ1, AZ2]);
    const run = await h.store.getRun(RUN_ID);
    // The first scope halted the run; the second is rolled back all the same.
    expect(run?.status).toBe("halted");
    expect([AZ1, AZ2]).toContain(run?.haltedBy);
    expect(h.published.filter((e) => e.detail.event === "run-halted")).toHaveLength(1);
  });
});
