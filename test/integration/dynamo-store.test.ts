/**
 * The single-table store against the real DynamoDB Local: conditional writes never lose an
 * update, every scope change lands in history in the same transaction, runs are created once.
 */
import { describe, expect, it } from "vitest";
import { DynamoDeliveryStore, DynamoTriggerLog } from "../../src/adapters/aws/dynamo-triggers.ts";
import type { Run, ScopeState, TimelineEvent } from "../../src/domain/model.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { dynamoClient, freshStore } from "../support/dynamo.ts";

const pipeline = parsePipeline({
  name: "orders-api",
  stages: [{ name: "prod-1", regions: ["eu-north-1"], bake: { minutes: 60 } }],
});

const seed = (over: Partial<ScopeState> = {}): Omit<ScopeState, "rev"> => ({
  pipeline: "orders-api",
  scope: "prod-1/eu-north-1",
  version: "v1",
  percent: 100,
  status: "stable",
  since: "2026-01-05T09:00:00.000Z",
  cause: "initial version v1",
  ...over,
});

const run = (over: Partial<Run> = {}): Run => ({
  runId: "orders-api@v2",
  pipeline: "orders-api",
  version: "v2",
  seq: 1,
  status: "running",
  definition: pipeline,
  createdAt: "2026-01-05T09:00:00.000Z",
  updatedAt: "2026-01-05T09:00:00.000Z",
  currentStage: "prod-1",
  stages: {},
  rolledBack: [],
  cause: "test",
  ...over,
});

const deployStarted = (at: string): TimelineEvent => ({
  at,
  runId: "orders-api@v2",
  pipeline: "orders-api",
  version: "v2",
  stage: "prod-1",
  scope: "prod-1/eu-north-1",
  step: "full",
  event: "deploy-started",
  percent: 100,
});

describe("DynamoStateStore on DynamoDB Local", () => {
  it("stores and reads back pipeline definitions", async () => {
    const { store } = await freshStore();
    await store.putPipeline(pipeline);
    expect(await store.getPipeline("orders-api")).toEqual(pipeline);
    expect(await store.getPipeline("missing")).toBeUndefined();
  });

  it("writes optional fields left undefined, whatever other stores share the client", async () => {
    // The webhook and the local control plane build several stores on one DynamoDB client.
    const { store, table } = await freshStore();
    new DynamoDeliveryStore(dynamoClient(), table);
    new DynamoTriggerLog(dynamoClient(), table);
    const sparse = parsePipeline({
      name: "sparse",
      stages: [{ name: "beta", regions: ["us-east-1"], oneBox: undefined, bake: { minutes: 10 } }],
    } as never);
    await store.putPipeline(sparse);
    expect((await store.getPipeline("sparse"))?.stages[0]?.bake.minutes).toBe(10);
  });

  it("seeds a scope once, with a history record", async () => {
    const { store } = await freshStore();
    expect(await store.seedScope(seed(), "seed")).toBe(true);
    expect(await store.seedScope(seed({ version: "v9" }), "seed")).toBe(false);
    expect(await store.getScope("orders-api", "prod-1/eu-north-1")).toMatchObject({
      version: "v1",
      rev: 1,
    });
    const history = await store.history("orders-api", "prod-1/eu-north-1");
    expect(history).toEqual([
      expect.objectContaining({
        toVersion: "v1",
        status: "stable",
        actor: "seed",
        cause: "initial version v1",
      }),
    ]);
  });

  it("writes the scope, its history and its timeline event in one conditional transaction", async () => {
    const { store } = await freshStore();
    await store.createRun(run());
    await store.seedScope(seed(), "seed");
    const at = "2026-01-05T10:00:00.000Z";
    const result = await store.transitionScope({
      pipeline: "orders-api",
      scope: "prod-1/eu-north-1",
      at,
      actor: "breakwater/deploy",
      cause: "run orders-api@v2: full deploy",
      expect: { status: ["stable"], version: "v1" },
      requireRunning: "orders-api@v2",
      set: {
        version: "v2",
        previousVersion: "v1",
        percent: 100,
        status: "deploying",
        runId: "orders-api@v2",
      },
      events: [deployStarted(at)],
    });
    expect(result).toEqual({ ok: true });
    expect(await store.getScope("orders-api", "prod-1/eu-north-1")).toMatchObject({
      version: "v2",
      previousVersion: "v1",
      status: "deploying",
      since: at,
      rev: 2,
    });
    const history = await store.history("orders-api", "prod-1/eu-north-1");
    expect(history.at(-1)).toMatchObject({
      fromVersion: "v1",
      toVersion: "v2",
      fromStatus: "stable",
      status: "deploying",
      actor: "breakwater/deploy",
    });
    expect(await store.timeline("orders-api@v2")).toEqual([deployStarted(at)]);
  });

  it("refuses a transition whose expectation no longer holds, and writes nothing", async () => {
    const { store } = await freshStore();
    await store.seedScope(seed(), "seed");
    const result = await store.transitionScope({
      pipeline: "orders-api",
      scope: "prod-1/eu-north-1",
      at: "2026-01-05T10:00:00.000Z",
      actor: "breakwater/deploy",
      cause: "stale writer",
      expect: { status: ["stable"], version: "v0" },
      set: { version: "v2", percent: 100, status: "deploying" },
      events: [deployStarted("2026-01-05T10:00:00.000Z")],
    });
    expect(result).toMatchObject({
      ok: false,
      reason: "scope-changed",
      current: { version: "v1" },
    });
    expect(await store.history("orders-api", "prod-1/eu-north-1")).toHaveLength(1);
    expect(await store.timeline("orders-api@v2")).toEqual([]);
  });

  it("refuses a deploy write once the run is no longer running (safety rule 3)", async () => {
    const { store } = await freshStore();
    await store.createRun(run({ status: "halted" }));
    await store.seedScope(seed(), "seed");
    const result = await store.transitionScope({
      pipeline: "orders-api",
      scope: "prod-1/eu-north-1",
      at: "2026-01-05T10:00:00.000Z",
      actor: "breakwater/deploy",
      cause: "late step",
      expect: { status: ["stable"] },
      requireRunning: "orders-api@v2",
      set: { version: "v2", percent: 100, status: "deploying" },
    });
    expect(result).toEqual({ ok: false, reason: "run-not-running" });
    expect(await store.getScope("orders-api", "prod-1/eu-north-1")).toMatchObject({
      version: "v1",
      rev: 1,
    });
  });

  it("lets exactly one of many concurrent writers win; the others see the change", async () => {
    const { store } = await freshStore();
    await store.seedScope(seed(), "seed");
    const writers = Array.from({ length: 12 }, (_, i) =>
      store.transitionScope({
        pipeline: "orders-api",
        scope: "prod-1/eu-north-1",
        at: `2026-01-05T10:00:${String(i).padStart(2, "0")}.000Z`,
        actor: `writer-${i}`,
        cause: `writer ${i}`,
        expect: { status: ["stable"], version: "v1" },
        set: { version: `v${i + 2}`, previousVersion: "v1", percent: 100, status: "deploying" },
      }),
    );
    const results = await Promise.all(writers);
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    const state = await store.getScope("orders-api", "prod-1/eu-north-1");
    expect(state?.rev).toBe(2);
    const history = await store.history("orders-api", "prod-1/eu-north-1");
    // The seed and the one winning write: no lost update, no phantom history.
    expect(history).toHaveLength(2);
    expect(history[1]?.toVersion).toBe(state?.version);
  });

  it("creates a run once; a duplicate request is refused", async () => {
    const { store } = await freshStore();
    expect(await store.createRun(run())).toBe(true);
    expect(await store.createRun(run({ cause: "duplicate" }))).toBe(false);
    expect((await store.getRun("orders-api@v2"))?.cause).toBe("test");
  });

  it("updates runs conditionally: one promotion wins, rolled-back scopes are listed once", async () => {
    const { store } = await freshStore();
    await store.createRun(run({ currentStage: "alpha" }));
    const promotions = await Promise.all(
      [1, 2, 3].map(() =>
        store.updateRun("orders-api@v2", {
          expect: { status: ["running"], currentStage: "alpha" },
          set: { currentStage: "beta" },
        }),
      ),
    );
    expect(promotions.filter(Boolean)).toHaveLength(1);
    await store.updateRun("orders-api@v2", { set: {}, addRolledBack: "prod-1/eu-north-1" });
    await store.updateRun("orders-api@v2", { set: {}, addRolledBack: "prod-1/eu-north-1" });
    await store.updateRun("orders-api@v2", {
      set: { stages: { alpha: { status: "succeeded", startedAt: "a", finishedAt: "b" } } },
    });
    await store.updateRun("orders-api@v2", {
      set: { stages: { beta: { status: "running", startedAt: "c" } } },
    });
    const stored = await store.getRun("orders-api@v2");
    expect(stored?.rolledBack).toEqual(["prod-1/eu-north-1"]);
    expect(stored?.currentStage).toBe("beta");
    expect(Object.keys(stored?.stages ?? {}).sort()).toEqual(["alpha", "beta"]);
  });

  it("orders a timeline causally when events share a timestamp", async () => {
    const { store } = await freshStore();
    const at = "2026-01-05T10:00:00.000Z";
    const base = deployStarted(at);
    await store.appendEvents([
      { ...base, scope: "prod-1/eu-north-1/b", event: "deploy-started" },
      { ...base, scope: "prod-1/eu-north-1/a", event: "bake-finished", outcome: "Healthy" },
      { ...base, scope: "prod-1/eu-north-1/b", event: "bake-started" },
      { ...base, scope: "prod-1/eu-north-1/b", event: "deploy-finished" },
    ]);
    // Appending the same events again (a retried handler) adds nothing.
    await store.appendEvents([{ ...base, scope: "prod-1/eu-north-1/b", event: "deploy-started" }]);
    const events = (await store.timeline("orders-api@v2")).map(
      (e) => `${e.scope.slice(-1)} ${e.event}`,
    );
    expect(events).toEqual([
      "a bake-finished",
      "b deploy-finished",
      "b bake-started",
      "b deploy-started",
    ]);
  });

  it("appends the new events of a batch that repeats some recorded ones (a retried handler)", async () => {
    const { store } = await freshStore();
    const base = deployStarted("2026-01-05T10:00:00.000Z");
    const started = { ...base, event: "deploy-started" } as const;
    const finished = { ...base, at: "2026-01-05T10:01:00.000Z", event: "deploy-finished" } as const;
    const baking = { ...base, at: "2026-01-05T10:02:00.000Z", event: "bake-started" } as const;
    await store.appendEvents([started]);
    // The whole transaction is cancelled by the duplicate; the new events must still land.
    await store.appendEvents([started, finished, baking]);
    await store.appendEvents([started, finished, baking]);
    expect((await store.timeline("orders-api@v2")).map((e) => e.event)).toEqual([
      "deploy-started",
      "deploy-finished",
      "bake-started",
    ]);
  });
});
