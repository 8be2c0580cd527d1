import { readdirSync, readFileSync } from "node:fs";
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { createDeployHandler } from "../../functions/deploy.ts";
import { createEvaluateHandler } from "../../functions/evaluate.ts";
import type { DepsProvider } from "../../functions/lib/handler.ts";
import { createPlanHandler } from "../../functions/plan.ts";
import { createPromoteHandler } from "../../functions/promote.ts";
import { createRecordHandler } from "../../functions/record.ts";
import { createRollbackHandler } from "../../functions/rollback.ts";
import type { DynamoStateStore } from "../../src/adapters/aws/dynamo-store.ts";
import { SfnWorkflowStarter } from "../../src/adapters/aws/step-functions.ts";
import type { Deps } from "../../src/app/deps.ts";
import { InMemoryRunRequestStore } from "../../src/app/run-requests.ts";
import { InvalidInputError } from "../../src/domain/errors.ts";
import type { Run } from "../../src/domain/model.ts";
import { type Pipeline, parsePipeline } from "../../src/domain/pipeline.ts";
import type { BusEvent, StageExecutionInput } from "../../src/domain/ports.ts";
import { lambdaContext } from "../../src/local/step-functions.ts";
import { InMemoryTriggerLog } from "../../src/triggers/in-memory.ts";
import { freshStore } from "../support/dynamo.ts";

// AWS's published sample events live beside the repository: <repo>/../shared/fixtures/aws-events.
// AWS-published sample events (copied from the design folder so a fresh clone has them).
const fixturesDir = new URL("../fixtures/aws-events/", import.meta.url);
type SfnEvent = {
  "detail-type": string;
  source: string;
  detail: Record<string, unknown> & { status: string; input: string | null };
} & Record<string, unknown>;
const fixture = (status: string): SfnEvent =>
  JSON.parse(
    readFileSync(
      new URL(
        `step-functions-execution-status-change-${status.toLowerCase().replace("_", "-")}.json`,
        fixturesDir,
      ),
      "utf8",
    ),
  );

const context = lambdaContext("breakwater-test", "00000000-0000-4000-8000-000000000000");

const NOW = new Date("2024-05-01T12:00:00.000Z");

const definition: Pipeline = parsePipeline({
  name: "orders-api",
  stages: [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 15 } },
    { name: "prod-1", regions: ["eu-north-1"], oneBox: true, bake: { minutes: 60 } },
  ],
});

interface Harness {
  deps: Deps;
  store: DynamoStateStore;
  /** Executions Step Functions actually created (their inputs), in order. */
  started: StageExecutionInput[];
  /** Every StartExecution request, duplicates included. */
  startRequests: () => number;
  published: BusEvent[];
  provide: DepsProvider;
}

// Step Functions behind the real adapter: a second StartExecution with a name already used is
// refused with ExecutionAlreadyExists, as the service does; only the first one creates anything.
const sfn = mockClient(SFNClient);
const STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:breakwater-stage";
const ROLLBACK_STATE_MACHINE =
  "arn:aws:states:us-east-1:123456789012:stateMachine:breakwater-rollback";

async function harness(): Promise<Harness> {
  const { store } = await freshStore();
  const started: StageExecutionInput[] = [];
  const names = new Set<string>();
  sfn.reset();
  sfn.on(StartExecutionCommand).callsFake(async (input: { name: string; input: string }) => {
    if (names.has(input.name)) {
      throw new ExecutionAlreadyExists({ message: "Execution Already Exists", $metadata: {} });
    }
    names.add(input.name);
    started.push(JSON.parse(input.input));
    return { executionArn: `${STATE_MACHINE}:${input.name}`, startDate: NOW };
  });
  const published: BusEvent[] = [];
  const unused = (what: string) => () => {
    throw new Error(`promotion must not call ${what}`);
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
    workflows: new SfnWorkflowStarter(
      new SFNClient({
        region: "us-east-1",
        credentials: { accessKeyId: "t", secretAccessKey: "t" },
      }),
      STATE_MACHINE,
      ROLLBACK_STATE_MACHINE,
      "arn:aws:states:us-east-1:123456789012:stateMachine:breakwater-approval-timer",
    ),
    events: {
      publish: async (events) => {
        published.push(...events);
      },
    },
    runRequests: new InMemoryRunRequestStore(),
    triggers: new InMemoryTriggerLog(),
  };
  await store.putPipeline(definition);
  return {
    deps,
    store,
    started,
    startRequests: () => sfn.commandCalls(StartExecutionCommand).length,
    published,
    provide: () => deps,
  };
}

async function createRun(store: DynamoStateStore, currentStage: string): Promise<Run> {
  const run: Run = {
    runId: "orders-api@v2",
    seq: 1,
    pipeline: "orders-api",
    version: "v2",
    status: "running",
    definition,
    createdAt: NOW.toISOString(),
    updatedAt: NOW.toISOString(),
    currentStage,
    stages: { [currentStage]: { status: "running", startedAt: NOW.toISOString() } },
    rolledBack: [],
    cause: "test",
  };
  expect(await store.createRun(run)).toBe(true);
  return run;
}

/** A real AWS sample event, pointed at one of Breakwater's stage executions. */
function stageEvent(status: string, stage: string, extra: Record<string, unknown> = {}): SfnEvent {
  const event = fixture(status);
  event.detail.input = JSON.stringify({
    runId: "orders-api@v2",
    pipeline: "orders-api",
    version: "v2",
    stage,
  });
  Object.assign(event.detail, extra);
  return event;
}

async function invalidInput(promise: Promise<unknown>): Promise<InvalidInputError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidInputError);
  expect((error as Error).name).toBe("InvalidInputError");
  return error as InvalidInputError;
}

describe("promote handler (Step Functions Execution Status Change)", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });

  it("the AWS fixtures are present", () => {
    const names = readdirSync(fixturesDir).filter((n) =>
      n.startsWith("step-functions-execution-status-change-"),
    );
    expect(names.length).toBeGreaterThanOrEqual(5);
  });

  it.each(["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "RUNNING"])(
    "the AWS sample %s event as published (input {}) is not a stage input: InvalidInputError naming the fields",
    async (status) => {
      const event = fixture(status);
      expect(event.detail.status).toBe(status);
      expect(event.detail.input).toBe("{}");
      const handler = createPromoteHandler(h.provide);
      const error = await invalidInput(handler(event, context));
      for (const field of ["runId", "pipeline", "version", "stage"]) {
        expect(error.message).toContain(`detail.input.${field}:`);
        expect(error.problems.map((p) => p.path)).toContain(`detail.input.${field}`);
      }
      expect(h.started).toEqual([]);
      expect(h.published).toEqual([]);
    },
  );

  it("SUCCEEDED of a non-last stage starts the next stage exactly once, even when delivered twice", async () => {
    await createRun(h.store, "alpha");
    const handler = createPromoteHandler(h.provide);
    const event = stageEvent("SUCCEEDED", "alpha");
    await expect(handler(event, context)).resolves.toEqual({
      action: "started-next-stage",
      stage: "beta",
    });
    // The duplicate may ask Step Functions again (crash recovery) but must not create a second
    // execution, and must never start any other stage.
    const again = await handler(structuredClone(event), context);
    expect([
      { action: "started-next-stage", stage: "beta" },
      { action: "ignored", reason: "already promoted" },
    ]).toContainEqual(again);
    // The run's immutable snapshot rides in the input (no step re-reads the run for it), with
    // its arrival number (the deploy step's line check, safety rule 3).
    const stored = await h.store.getRun("orders-api@v2");
    expect(h.started).toEqual([
      {
        runId: "orders-api@v2",
        pipeline: "orders-api",
        version: "v2",
        stage: "beta",
        seq: stored?.seq,
        // As its JSON text (src/domain/execution-input.ts): one value to every state's copy.
        definition: expect.any(String),
      },
    ]);
    expect(JSON.parse(h.started[0]?.definition as unknown as string)).toEqual(stored?.definition);
    const names = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names).size).toBe(1);
    expect(names[0]).toMatch(/^orders-api-v2-beta-[0-9a-f]{12}$/);
    const run = await h.store.getRun("orders-api@v2");
    expect(run?.status).toBe("running");
    expect(run?.currentStage).toBe("beta");
    expect(
      h.published.filter((e) => e.detail.event === "stage-started").map((e) => e.detail.stage),
    ).toEqual(["beta"]);
  });

  it("a duplicate delivered after the next stage began is ignored without asking Step Functions", async () => {
    await createRun(h.store, "alpha");
    const handler = createPromoteHandler(h.provide);
    const event = stageEvent("SUCCEEDED", "alpha");
    await handler(event, context);
    // The next stage's Plan task marks it running.
    await h.store.updateRun("orders-api@v2", {
      set: { stages: { beta: { status: "running", startedAt: NOW.toISOString() } } },
    });
    const before = h.startRequests();
    await expect(handler(structuredClone(event), context)).resolves.toEqual({
      action: "ignored",
      reason: "already promoted",
    });
    expect(h.startRequests()).toBe(before);
    expect(h.started.map((s) => s.stage)).toEqual(["beta"]);
  });

  it("two concurrent deliveries of the same SUCCEEDED start the next stage once", async () => {
    await createRun(h.store, "beta");
    const handler = createPromoteHandler(h.provide);
    const results = await Promise.all([
      handler(stageEvent("SUCCEEDED", "beta"), context),
      handler(stageEvent("SUCCEEDED", "beta"), context),
    ]);
    expect(h.started.map((s) => s.stage)).toEqual(["prod-1"]);
    expect(results).toContainEqual({ action: "started-next-stage", stage: "prod-1" });
    expect((await h.store.getRun("orders-api@v2"))?.currentStage).toBe("prod-1");
  });

  it("SUCCEEDED of the last stage marks the run succeeded and starts nothing", async () => {
    await createRun(h.store, "prod-1");
    const handler = createPromoteHandler(h.provide);
    await expect(handler(stageEvent("SUCCEEDED", "prod-1"), context)).resolves.toEqual({
      action: "run-succeeded",
    });
    const run = await h.store.getRun("orders-api@v2");
    expect(run?.status).toBe("succeeded");
    expect(run?.finishedAt).toBe(NOW.toISOString());
    expect(h.started).toEqual([]);
    expect(h.published.map((e) => e.detail.event)).toContain("run-succeeded");
    // A duplicate delivery changes nothing.
    await expect(handler(stageEvent("SUCCEEDED", "prod-1"), context)).resolves.toMatchObject({
      action: "ignored",
    });
    expect(h.started).toEqual([]);
  });

  it.each(["FAILED", "TIMED_OUT", "ABORTED"])(
    "%s halts the run, fails the stage and never promotes",
    async (status) => {
      await createRun(h.store, "beta");
      const handler = createPromoteHandler(h.provide);
      const result = await handler(
        stageEvent(status, "beta", { error: "States.TaskFailed", cause: "boom" }),
        context,
      );
      expect(result).toMatchObject({ action: "run-halted" });
      const run = await h.store.getRun("orders-api@v2");
      expect(run?.status).toBe("halted");
      expect(run?.haltReason).toBe("control-plane-error");
      expect(run?.stages.beta?.status).toBe("failed");
      expect(run?.currentStage).toBe("beta");
      expect(h.started).toEqual([]);
      expect(h.published.map((e) => e.detail.event)).toContain("run-halted");
      // A late SUCCEEDED for the halted run does not promote it.
      await expect(handler(stageEvent("SUCCEEDED", "beta"), context)).resolves.toMatchObject({
        action: "ignored",
      });
      expect(h.started).toEqual([]);
    },
  );

  it("FAILED after a rollback keeps the rollback as the halt reason", async () => {
    await createRun(h.store, "prod-1");
    await h.store.updateRun("orders-api@v2", {
      set: { status: "halted", haltReason: "rollback", haltedBy: "prod-1/eu-north-1" },
    });
    const handler = createPromoteHandler(h.provide);
    const result = await handler(stageEvent("FAILED", "prod-1", { error: "RunHalted" }), context);
    expect(result).toEqual({
      action: "run-halted",
      reason: "stage prod-1 halted: prod-1/eu-north-1 rolled back",
    });
    const run = await h.store.getRun("orders-api@v2");
    expect(run?.haltReason).toBe("rollback");
    expect(run?.haltedBy).toBe("prod-1/eu-north-1");
  });

  it("RUNNING is ignored", async () => {
    await createRun(h.store, "alpha");
    const handler = createPromoteHandler(h.provide);
    await expect(handler(stageEvent("RUNNING", "alpha"), context)).resolves.toMatchObject({
      action: "ignored",
    });
    expect((await h.store.getRun("orders-api@v2"))?.status).toBe("running");
    expect(h.started).toEqual([]);
  });

  type Malformed = [label: string, mutate: (e: SfnEvent) => unknown, field: string];
  const withInput = (input: unknown) => (e: SfnEvent) => {
    e.detail.input = typeof input === "string" ? input : JSON.stringify(input);
    return e;
  };
  const malformed: Malformed[] = [
    ["missing detail", (e) => ({ ...e, detail: undefined }), "detail"],
    ["unknown status", (e) => ({ ...e, detail: { ...e.detail, status: "DONE" } }), "detail.status"],
    ["wrong detail-type", (e) => ({ ...e, "detail-type": "Object Created" }), "detail-type"],
    ["wrong source", (e) => ({ ...e, source: "aws.s3" }), "source"],
    [
      "missing executionArn",
      (e) => ({ ...e, detail: { ...e.detail, executionArn: undefined } }),
      "detail.executionArn",
    ],
    ["input that is not JSON", withInput("{runId:"), "detail.input"],
    [
      "input without stage",
      withInput({ runId: "r", pipeline: "p", version: "v" }),
      "detail.input.stage",
    ],
    [
      "input with an empty runId",
      withInput({ runId: "", pipeline: "p", version: "v", stage: "s" }),
      "detail.input.runId",
    ],
  ];

  it.each(malformed)("%s → InvalidInputError naming %s", async (_, mutate, field) => {
    const handler = createPromoteHandler(h.provide);
    const error = await invalidInput(handler(mutate(stageEvent("SUCCEEDED", "alpha")), context));
    expect(error.message).toContain(`${field}:`);
    expect(h.started).toEqual([]);
  });

  it("an unknown run is ignored, not an error", async () => {
    const handler = createPromoteHandler(h.provide);
    await expect(handler(stageEvent("SUCCEEDED", "alpha"), context)).resolves.toEqual({
      action: "ignored",
      reason: "unknown run orders-api@v2",
    });
  });
});

describe("task handlers reject malformed input before touching anything", () => {
  const neverBuilt: DepsProvider = () => {
    throw new Error("dependencies must not be built for malformed input");
  };
  const ctx = { runId: "orders-api@v2", pipeline: "orders-api", version: "v2", stage: "prod-1" };
  const step = {
    scope: "prod-1/eu-north-1",
    region: "eu-north-1",
    kind: "full",
    percent: 100,
    bakeSeconds: 3600,
  };
  const at = "2024-05-01T12:00:00.000Z";

  type Row = [handler: string, input: unknown, field: string];
  const rows: Row[] = [
    ["deploy", { action: "deploy", ctx, step }, "action"],
    ["deploy", { action: "start", step }, "ctx"],
    ["deploy", { action: "start", ctx: { ...ctx, runId: "" }, step }, "ctx.runId"],
    ["deploy", { action: "start", ctx: { ...ctx, stage: undefined }, step }, "ctx.stage"],
    ["deploy", { action: "start", ctx }, "step"],
    ["deploy", { action: "start", ctx, step: { ...step, percent: 0 } }, "step.percent"],
    ["deploy", { action: "status", ctx, step: { ...step, percent: 101 } }, "step.percent"],
    ["deploy", { action: "start", ctx, step: { ...step, kind: "canary" } }, "step.kind"],
    ["deploy", { action: "start", ctx, step: { ...step, bakeSeconds: -1 } }, "step.bakeSeconds"],
    ["deploy", { action: "start", ctx, step: { ...step, scope: undefined } }, "step.scope"],
    ["record", { action: "step", ctx }, "step"],
    ["record", { action: "step", ctx, step: { ...step, region: 7 } }, "step.region"],
    ["record", { action: "finish-stage", ctx: { ...ctx, version: 2 } }, "ctx.version"],
    ["record", { action: "finish", ctx }, "action"],
    ["record", { ctx }, "action"],
    ["rollback", { action: "start", ctx, step }, "attempt"],
    ["rollback", { action: "start", ctx, step, attempt: -1 }, "attempt"],
    ["rollback", { action: "start", ctx, step, attempt: 0.5 }, "attempt"],
    ["rollback", { action: "undo", ctx, step, attempt: 0 }, "action"],
    ["rollback", { action: "start", ctx, step, attempt: 0, why: { kind: "bored" } }, "why.kind"],
    [
      "rollback",
      { action: "status", ctx: { ...ctx, pipeline: null }, step, attempt: 1 },
      "ctx.pipeline",
    ],
    ["plan", {}, "ctx"],
    ["plan", { ctx: { ...ctx, runId: 1 } }, "ctx.runId"],
    ["evaluate", { ctx, step, bakeStartedAt: "yesterday", deployStartedAt: at }, "bakeStartedAt"],
    ["evaluate", { ctx, step, bakeStartedAt: at }, "deployStartedAt"],
    ["evaluate", { ctx, step, bakeStartedAt: at, deployStartedAt: "noon" }, "deployStartedAt"],
    ["deploy", { action: "status", ctx, step }, "deployStartedAt"],
    ["deploy", { action: "status", ctx, step, deployStartedAt: 12 }, "deployStartedAt"],
    ["record", { action: "step", ctx, step, reasons: "slow" }, "reasons"],
    ["record", { action: "step", ctx, step, reasons: [1] }, "reasons[0]"],
    [
      "rollback",
      { action: "start", ctx, step, attempt: 0, why: { kind: "alarm", details: 7 } },
      "why.details",
    ],
  ];

  const factories = {
    deploy: createDeployHandler,
    record: createRecordHandler,
    rollback: createRollbackHandler,
    plan: createPlanHandler,
    evaluate: createEvaluateHandler,
  } as const;

  it.each(rows)("%s %j → InvalidInputError naming %s", async (name, input, field) => {
    const handler = factories[name as keyof typeof factories](neverBuilt);
    const error = await invalidInput(handler(input, context));
    expect(error.message).toMatch(new RegExp(`^invalid ${name} input: `));
    expect(error.message).toContain(`${field}:`);
    expect(error.problems.map((p) => p.path)).toContain(field);
  });

  it.each([
    ["deploy", { action: "start", ctx, step, extra: 1 }, "extra"],
    ["record", { action: "finish-stage", ctx, step }, "step"],
    ["deploy", { action: "start", ctx: { ...ctx, execution: "x" }, step }, "execution"],
  ])("%s: unknown field %j is rejected naming %s", async (name, input, field) => {
    const handler = factories[name as keyof typeof factories](neverBuilt);
    const error = await invalidInput(handler(input, context));
    expect(error.message).toContain(`"${field}"`);
  });

  it.each([null, "start", 42])("%j as the whole input → InvalidInputError", async (input) => {
    for (const create of [createDeployHandler, createRecordHandler, createRollbackHandler]) {
      await invalidInput(create(neverBuilt)(input, context));
    }
  });
});
