/**
 * One contract for every `StateStore` implementation (DynamoDB, memory): conditional writes
 * never lose an update, every scope change lands in history in the same transaction, runs are
 * created once, retries are idempotent, and reads come back in the documented order. Run by
 * test/integration/dynamo-store.test.ts (DynamoDB Local) and test/unit/memory-store.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { ManualBlock } from "../../src/domain/blockers.ts";
import type { Run, ScopeState, TimelineEvent } from "../../src/domain/model.ts";
import type { Bypass } from "../../src/domain/override.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import type { PipelineRecord } from "../../src/domain/pipeline-registry.ts";
import type {
  AuditEntry,
  OverrideWrite,
  ScopeTransition,
  StateStore,
} from "../../src/domain/ports.ts";

export const pipeline = parsePipeline({
  name: "orders-api",
  stages: [{ name: "prod-1", regions: ["eu-north-1"], bake: { minutes: 60 } }],
});

export const seed = (over: Partial<ScopeState> = {}): Omit<ScopeState, "rev"> => ({
  pipeline: "orders-api",
  scope: "prod-1/eu-north-1",
  version: "v1",
  percent: 100,
  status: "stable",
  since: "2026-01-05T09:00:00.000Z",
  cause: "initial version v1",
  ...over,
});

export const run = (over: Partial<Run> = {}): Run => ({
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

export const deployStarted = (at: string): TimelineEvent => ({
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

const bypassOf = (version: string, pipelineName = "orders-api"): Bypass => ({
  pipeline: pipelineName,
  version,
  kinds: ["manual"],
  expiresAt: "2026-01-06T00:00:00.000Z",
  actor: "ana",
  reason: "hotfix",
  createdAt: "2026-01-05T10:00:00.000Z",
});

/** Defines the contract's tests for one implementation; `makeStore` gives an empty store. */
export function describeStoreContract(name: string, makeStore: () => Promise<StateStore>): void {
  describe(`${name}: the StateStore contract`, () => {
    it("stores and reads back pipeline definitions", async () => {
      const store = await makeStore();
      await store.putPipeline(pipeline);
      expect(await store.getPipeline("orders-api")).toEqual(pipeline);
      expect(await store.getPipeline("missing")).toBeUndefined();
    });

    it("seeds a scope once, with a history record", async () => {
      const store = await makeStore();
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

    it("seeds many scopes at once, each only where it has no state, each with its history", async () => {
      const store = await makeStore();
      // More than one transaction's worth, and one scope already holding a version.
      const scopes = Array.from({ length: 120 }, (_, i) => `prod-1/r${i}`);
      expect(await store.seedScope(seed({ scope: "prod-1/r7", version: "v0" }), "earlier")).toBe(
        true,
      );
      const seeded = await store.seedScopes(
        scopes.map((scope) => seed({ scope })),
        "seed",
      );
      expect(seeded).toEqual(scopes.filter((s) => s !== "prod-1/r7"));
      const states = await store.listScopes("orders-api");
      expect(states).toHaveLength(120);
      expect(states.find((s) => s.scope === "prod-1/r7")).toMatchObject({ version: "v0", rev: 1 });
      expect(states.filter((s) => s.version === "v1")).toHaveLength(119);
      const history = await store.history("orders-api");
      expect(history).toHaveLength(120);
      expect(history.filter((h) => h.actor === "seed")).toHaveLength(119);
      // A second seeding finds every scope present and changes nothing.
      expect(
        await store.seedScopes([seed({ scope: "prod-1/r0", version: "v9" })], "again"),
      ).toEqual([]);
      expect(await store.getScope("orders-api", "prod-1/r0")).toMatchObject({ version: "v1" });
      expect(await store.seedScopes([], "none")).toEqual([]);
    });

    it("writes the scope, its history and its timeline event in one conditional transaction", async () => {
      const store = await makeStore();
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
      // The result carries the scope as written: the basis of its next transition.
      expect(result).toEqual({
        ok: true,
        state: await store.getScope("orders-api", "prod-1/eu-north-1"),
      });
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
      const store = await makeStore();
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
      const store = await makeStore();
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

    it("a rollback's halt stops the line in the same write; a deploy of that version or a newer one is refused, an older one's is not (safety rule 3)", async () => {
      const store = await makeStore();
      await store.createRun(run({ runId: "orders-api@v2", version: "v2", seq: 2 }));
      await store.createRun(run({ runId: "orders-api@v3", version: "v3", seq: 3 }));
      await store.seedScope(seed(), "seed");
      expect(await store.getLine("orders-api")).toEqual({
        pipeline: "orders-api",
        stops: {},
        rev: 0,
      });
      const stop = {
        seq: 2,
        version: "v2",
        scope: "prod-1/eu-north-1",
        at: "2026-01-05T10:00:00.000Z",
      };
      // The run's condition fails: nothing written, the line included.
      expect(
        await store.updateRun("orders-api@v2", {
          expect: { status: ["waiting"] },
          set: { status: "halted" },
          line: { pipeline: "orders-api", stop },
        }),
      ).toBe(false);
      expect((await store.getLine("orders-api")).stoppedAt).toBeUndefined();
      expect(
        await store.updateRun("orders-api@v2", {
          expect: { status: ["running"] },
          set: { status: "halted", haltReason: "rollback" },
          line: { pipeline: "orders-api", stop },
        }),
      ).toBe(true);
      expect(await store.getLine("orders-api")).toMatchObject({
        stoppedAt: 2,
        stops: { "orders-api@v2": stop },
        rev: 1,
      });
      const deploy = (seq: number, runId: string) =>
        store.transitionScope({
          pipeline: "orders-api",
          scope: "prod-1/eu-north-1",
          at: "2026-01-05T10:01:00.000Z",
          actor: "breakwater/deploy",
          cause: "a step",
          expect: { status: ["stable"] },
          requireRunning: runId,
          lineOpenFor: seq,
          set: { version: "vX", percent: 100, status: "stable", runId },
        });
      expect(await deploy(3, "orders-api@v3")).toEqual({ ok: false, reason: "line-stopped" });
      expect(await store.getScope("orders-api", "prod-1/eu-north-1")).toMatchObject({ rev: 1 });
      // An older version (arrival 1) still deploys: it does not contain the bad change.
      await store.createRun(run({ runId: "orders-api@v1b", version: "v1b", seq: 1 }));
      expect(await deploy(1, "orders-api@v1b")).toMatchObject({ ok: true });
      // A second stop (newer) keeps the lowest arrival; clearing one leaves the other.
      await store.updateRun("orders-api@v3", {
        set: { updatedAt: "2026-01-05T10:02:00.000Z" },
        line: { pipeline: "orders-api", stop: { ...stop, seq: 3, version: "v3" } },
      });
      expect((await store.getLine("orders-api")).stoppedAt).toBe(2);
      await store.updateRun("orders-api@v2", {
        set: { status: "running" },
        line: { pipeline: "orders-api", clear: true },
      });
      expect(await store.getLine("orders-api")).toMatchObject({
        stoppedAt: 3,
        stops: { "orders-api@v3": { seq: 3 } },
      });
      await store.updateRun("orders-api@v3", {
        set: { status: "cancelled" },
        line: { pipeline: "orders-api", clear: true },
      });
      const open = await store.getLine("orders-api");
      expect(open.stops).toEqual({});
      expect(open.stoppedAt).toBeUndefined();
    });

    it("two rollbacks stopping the line at once both land (compare-and-set on the line)", async () => {
      const store = await makeStore();
      const runs = ["v2", "v3", "v4", "v5"].map((v, i) =>
        run({ runId: `orders-api@${v}`, version: v, seq: i + 2 }),
      );
      for (const r of runs) await store.createRun(r);
      await Promise.all(
        runs.map((r) =>
          store.updateRun(r.runId, {
            expect: { status: ["running"] },
            set: { status: "halted", haltReason: "rollback" },
            line: {
              pipeline: "orders-api",
              stop: { seq: r.seq, version: r.version, scope: "prod-1/eu-north-1", at: r.createdAt },
            },
          }),
        ),
      );
      const line = await store.getLine("orders-api");
      expect(Object.keys(line.stops).sort()).toEqual(runs.map((r) => r.runId).sort());
      expect(line.stoppedAt).toBe(2);
      expect(line.rev).toBe(4);
    });

    it("expects a halt reason when asked", async () => {
      const store = await makeStore();
      await store.createRun(run({ status: "halted", haltReason: "older-version-halted" }));
      const update = (reasons: Run["haltReason"][]) =>
        store.updateRun("orders-api@v2", {
          expect: { status: ["halted"], haltReason: reasons as NonNullable<Run["haltReason"]>[] },
          set: { haltReason: "rollback" },
        });
      expect(await update(["rollback"])).toBe(false);
      expect(await update(["older-version-halted"])).toBe(true);
      expect((await store.getRun("orders-api@v2"))?.haltReason).toBe("rollback");
    });

    it("decides with a stale basis exactly as without one: reads, checks the expectation, writes", async () => {
      const store = await makeStore();
      await store.createRun(run());
      await store.seedScope(seed(), "seed");
      const basis = (await store.getScope("orders-api", "prod-1/eu-north-1")) as ScopeState;
      const step = (cause: string, over: Partial<ScopeTransition> = {}) =>
        store.transitionScope({
          pipeline: "orders-api",
          scope: "prod-1/eu-north-1",
          at: "2026-01-05T10:00:00.000Z",
          actor: "breakwater/gate",
          cause,
          expect: { status: ["stable"], version: "v1" },
          set: { version: "v1", percent: 100, status: "stable" },
          ...over,
        });
      // Another writer moves the scope on: the basis (rev 1) is stale from here.
      const moved = await step("blocked marker set");
      expect(moved).toMatchObject({ ok: true, state: { rev: 2 } });
      // Still expected on the fresh state: the write goes through, on rev 2.
      const fresh = await step("deploy", {
        basis,
        requireRunning: "orders-api@v2",
        set: { version: "v2", previousVersion: "v1", percent: 100, status: "deploying" },
      });
      expect(fresh).toEqual({
        ok: true,
        state: await store.getScope("orders-api", "prod-1/eu-north-1"),
      });
      expect(fresh.ok && fresh.state.rev).toBe(3);
      // No longer expected (the scope is deploying now): refused with the current state.
      const refused = await step("stale writer", { basis });
      expect(refused).toMatchObject({
        ok: false,
        reason: "scope-changed",
        current: { status: "deploying", rev: 3 },
      });
      expect(
        (await store.history("orders-api", "prod-1/eu-north-1")).map((h) => [h.rev, h.status]),
      ).toEqual([
        [1, "stable"],
        [2, "stable"],
        [3, "deploying"],
      ]);
      // A current basis: its result is the next basis, and the chain goes on.
      const baking = await step("baking", {
        basis: fresh.ok ? fresh.state : undefined,
        expect: { status: ["deploying"], version: "v2", runId: undefined },
        set: { version: "v2", percent: 100, status: "baking" },
      });
      expect(baking).toMatchObject({ ok: true, state: { status: "baking", rev: 4 } });
    });

    it("refuses a write with a current basis once the run is no longer running", async () => {
      const store = await makeStore();
      await store.createRun(run({ status: "halted" }));
      await store.seedScope(seed(), "seed");
      const basis = (await store.getScope("orders-api", "prod-1/eu-north-1")) as ScopeState;
      const result = await store.transitionScope({
        pipeline: "orders-api",
        scope: "prod-1/eu-north-1",
        at: "2026-01-05T10:00:00.000Z",
        actor: "breakwater/deploy",
        cause: "late step",
        expect: { status: ["stable"] },
        requireRunning: "orders-api@v2",
        basis,
        set: { version: "v2", percent: 100, status: "deploying" },
      });
      expect(result).toEqual({ ok: false, reason: "run-not-running" });
      expect(await store.history("orders-api", "prod-1/eu-north-1")).toHaveLength(1);
    });

    it("reads a run, a scope and the installation in one request; absent items are absent", async () => {
      const store = await makeStore();
      expect(
        await store.readMany({
          run: "orders-api@v2",
          scope: { pipeline: "orders-api", scope: "prod-1/eu-north-1" },
          installation: true,
        }),
      ).toEqual({ installation: {} });
      await store.createRun(run());
      await store.seedScope(seed(), "seed");
      await store.putInstallation({ orgAlarms: ["org-wide-errors"] });
      expect(
        await store.readMany({
          run: "orders-api@v2",
          scope: { pipeline: "orders-api", scope: "prod-1/eu-north-1" },
          installation: true,
        }),
      ).toEqual({
        run: await store.getRun("orders-api@v2"),
        scope: await store.getScope("orders-api", "prod-1/eu-north-1"),
        installation: await store.getInstallation(),
      });
      expect(
        await store.readMany({ scope: { pipeline: "orders-api", scope: "prod-1/eu-north-1" } }),
      ).toEqual({ scope: await store.getScope("orders-api", "prod-1/eu-north-1") });
    });

    it("reads the manual blocks with the scope, as they are after every kind of block write", async () => {
      const store = await makeStore();
      const blocks = async () => (await store.readMany({ blocks: true })).blocks;
      expect(await blocks()).toEqual([]);
      const block: ManualBlock = {
        level: "pipeline",
        target: "orders-api",
        createdAt: "2026-01-05T09:00:00.000Z",
        actor: "ana",
        reason: "incident",
      };
      const audit = (id: string): AuditEntry => ({
        at: "2026-01-05T09:00:00.000Z",
        id,
        actor: "ana",
        action: "block",
        reason: "incident",
        target: "pipeline orders-api",
        effect: "blocked",
      });
      const write = { kind: "block", level: "pipeline", target: "orders-api" } as const;
      expect(await store.commitOverride([{ ...write, set: block }], audit("a1"))).toBe(true);
      const [stored] = (await blocks()) ?? [];
      expect(stored).toMatchObject(block);
      expect(await blocks()).toEqual(await store.listBlocks());
      expect(await store.commitOverride([{ ...write, was: stored, set: null }], audit("a2"))).toBe(
        true,
      );
      expect(await blocks()).toEqual([]);
      // A seeded block (the local mode's --block) is seen too.
      await store.putBlock({ ...block, level: "org", target: "" });
      expect(await blocks()).toEqual(await store.listBlocks());
      expect(await blocks()).toHaveLength(1);
    });

    it("lets exactly one of many concurrent writers win; the others see the change", async () => {
      const store = await makeStore();
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
      const store = await makeStore();
      expect(await store.createRun(run())).toBe(true);
      expect(await store.createRun(run({ cause: "duplicate" }))).toBe(false);
      expect((await store.getRun("orders-api@v2"))?.cause).toBe("test");
    });

    it("updates runs conditionally: one promotion wins, rolled-back scopes are listed once", async () => {
      const store = await makeStore();
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

    it("answers a conditional run update with the run as stored after it, or nothing when it lost", async () => {
      const store = await makeStore();
      await store.createRun(run({ currentStage: "alpha" }));
      // Written by someone else in between: the answer holds it too (the item, not a merge).
      await store.updateRun("orders-api@v2", {
        set: { stages: { alpha: { status: "succeeded", startedAt: "a", finishedAt: "b" } } },
      });
      const answers = await Promise.all(
        [1, 2].map((i) =>
          store.updateRunReturning("orders-api@v2", {
            expect: { status: ["running"], currentStage: "alpha" },
            set: { status: "waiting", waitingFor: `beta-${i}`, updatedAt: "c" },
          }),
        ),
      );
      const won = answers.filter((a) => a !== undefined);
      expect(won).toHaveLength(1);
      const stored = await store.getRun("orders-api@v2");
      expect(won[0]).toEqual(stored);
      expect(stored).toMatchObject({
        status: "waiting",
        currentStage: "alpha",
        stages: { alpha: { status: "succeeded" } },
      });
      // The answer is a copy: changing it changes nothing stored.
      (won[0] as { status: string }).status = "running";
      expect((await store.getRun("orders-api@v2"))?.status).toBe("waiting");
      expect(
        await store.updateRunReturning("missing@v1", {
          expect: { status: ["running"] },
          set: { updatedAt: "d" },
        }),
      ).toBeUndefined();
    });

    it("orders a timeline causally when events share a timestamp", async () => {
      const store = await makeStore();
      const at = "2026-01-05T10:00:00.000Z";
      const base = deployStarted(at);
      await store.appendEvents([
        { ...base, scope: "prod-1/eu-north-1/b", event: "deploy-started" },
        { ...base, scope: "prod-1/eu-north-1/a", event: "bake-finished", outcome: "Healthy" },
        { ...base, scope: "prod-1/eu-north-1/b", event: "bake-started" },
        { ...base, scope: "prod-1/eu-north-1/b", event: "deploy-finished" },
      ]);
      // Appending the same events again (a retried handler) adds nothing.
      await store.appendEvents([
        { ...base, scope: "prod-1/eu-north-1/b", event: "deploy-started" },
      ]);
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
      const store = await makeStore();
      const base = deployStarted("2026-01-05T10:00:00.000Z");
      const started = { ...base, event: "deploy-started" } as const;
      const finished = {
        ...base,
        at: "2026-01-05T10:01:00.000Z",
        event: "deploy-finished",
      } as const;
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
    // Configuration.

    it("lists pipelines by name and gives the default installation when none is set", async () => {
      const store = await makeStore();
      expect(await store.getInstallation()).toEqual({});
      await store.putPipeline({ ...pipeline, name: "zeta" });
      await store.putPipeline(pipeline);
      expect((await store.listPipelines()).map((p) => p.name)).toEqual(["orders-api", "zeta"]);
      await store.putInstallation({ orgAlarms: ["org-wide-errors"] });
      expect(await store.getInstallation()).toEqual({ orgAlarms: ["org-wide-errors"] });
    });

    it("applies a pipeline definition with its revision and audit entry in one transaction, conditional on the record read", async () => {
      const store = await makeStore();
      const record = (revision: number, bake: number) => ({
        name: "orders-api",
        definition: { ...pipeline, stages: [{ ...pipeline.stages[0], bake: { minutes: bake } }] },
        source: "apply" as const,
        revision,
        digest: `sha256:${String(revision).repeat(64).slice(0, 64)}`,
        appliedAt: "2026-01-05T10:00:00.000Z",
        appliedBy: "arn:aws:sts::123456789012:assumed-role/Operators/ana",
        actor: "ana",
        reason: "longer bakes",
      });
      const write = (revision: number, bake: number, was?: { rev: number }): OverrideWrite => {
        const r = record(revision, bake) as PipelineRecord;
        return {
          kind: "pipeline",
          name: "orders-api",
          ...(was ? { was } : {}),
          set: r,
          revision: {
            name: r.name,
            revision,
            digest: r.digest as string,
            definition: r.definition,
            appliedAt: r.appliedAt as string,
            appliedBy: r.appliedBy as string,
            actor: "ana",
            reason: "longer bakes",
          },
        };
      };
      expect(await store.commitOverride([write(1, 60)], audit("p1"))).toBe(true);
      // A second first revision (a concurrent apply that read "no record") writes nothing.
      expect(await store.commitOverride([write(1, 90)], audit("p1b"))).toBe(false);
      const first = await store.getPipelineRecord("orders-api");
      expect(first).toMatchObject({ source: "apply", revision: 1, rev: 1 });
      expect(await store.getPipeline("orders-api")).toEqual(record(1, 60).definition);
      // Over a stale rev: refused, nothing written.
      expect(await store.commitOverride([write(2, 90, { rev: 7 })], audit("p2x"))).toBe(false);
      expect(await store.commitOverride([write(2, 90, { rev: 1 })], audit("p2"))).toBe(true);
      expect((await store.getPipelineRecord("orders-api"))?.revision).toBe(2);
      expect(
        (await store.listPipelineRevisions("orders-api")).map((r) => [
          r.revision,
          r.definition.stages[0]?.bake.minutes,
        ]),
      ).toEqual([
        [1, 60],
        [2, 90],
      ]);
      expect((await store.listAudit()).map((a) => a.id)).toEqual(["p1", "p2"]);
      expect(
        (await store.listPipelineRecords()).map((r) => [r.name, r.source, r.revision]),
      ).toEqual([["orders-api", "apply", 2]]);
    });

    it("never applies over a definition registered from a file", async () => {
      const store = await makeStore();
      await store.putPipeline(pipeline);
      expect(await store.getPipelineRecord("orders-api")).toMatchObject({ source: "file" });
      const stale = await store.getPipelineRecord("orders-api");
      const r = {
        name: "orders-api",
        definition: pipeline,
        source: "apply" as const,
        revision: 1,
        digest: `sha256:${"a".repeat(64)}`,
        appliedAt: "2026-01-05T10:00:00.000Z",
        appliedBy: "local:token",
        actor: "ana",
        reason: "take over",
      };
      const write: OverrideWrite = {
        kind: "pipeline",
        name: "orders-api",
        // Whatever the caller believes it read, a file's record is not an applied one.
        was: { rev: stale?.rev ?? 0 },
        set: r,
        revision: { ...r, digest: r.digest, appliedAt: r.appliedAt, appliedBy: r.appliedBy },
      };
      expect(await store.commitOverride([write], audit("p"))).toBe(false);
      expect(await store.getPipelineRecord("orders-api")).toMatchObject({ source: "file" });
      expect(await store.listPipelineRevisions("orders-api")).toEqual([]);
      expect(await store.getCapabilities()).toBeUndefined();
    });

    // Runs: arrival numbers and order.

    it("hands out distinct arrival numbers to concurrent callers, per pipeline", async () => {
      const store = await makeStore();
      const seqs = await Promise.all(Array.from({ length: 8 }, () => store.nextSeq("orders-api")));
      expect([...seqs].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(await store.nextSeq("other")).toBe(1);
    });

    it("lists a pipeline's runs oldest arrival first, whatever their creation order", async () => {
      const store = await makeStore();
      await store.createRun(run({ runId: "orders-api@v3", version: "v3", seq: 2 }));
      await store.createRun(run({ runId: "orders-api@v2", version: "v2", seq: 1 }));
      await store.createRun(run({ runId: "other@v1", pipeline: "other", seq: 1 }));
      expect((await store.listRuns("orders-api")).map((r) => r.runId)).toEqual([
        "orders-api@v2",
        "orders-api@v3",
      ]);
    });

    it("refuses a conditional run update whose expectation fails, and writes nothing", async () => {
      const store = await makeStore();
      await store.createRun(run({ waitingFor: "approval" }));
      expect(
        await store.updateRun("orders-api@v2", {
          expect: { waitingFor: "bake" },
          set: { status: "halted" },
        }),
      ).toBe(false);
      expect(
        await store.updateRun("orders-api@v2", {
          expect: { absent: ["waitingFor"] },
          set: { status: "halted" },
        }),
      ).toBe(false);
      expect(await store.updateRun("missing", { set: { status: "halted" } })).toBe(false);
      expect(
        await store.updateRun("orders-api@v2", {
          expect: { waitingFor: "approval" },
          set: { status: "halted" },
          remove: ["waitingFor"],
        }),
      ).toBe(true);
      const stored = await store.getRun("orders-api@v2");
      expect(stored?.status).toBe("halted");
      expect(stored?.waitingFor).toBeUndefined();
    });

    // Scopes: history order.

    it("keeps a scope's history in rev order, one entry per change", async () => {
      const store = await makeStore();
      await store.seedScope(seed(), "seed");
      for (const [i, status] of (["deploying", "baking", "stable"] as const).entries()) {
        const r = await store.transitionScope({
          pipeline: "orders-api",
          scope: "prod-1/eu-north-1",
          // The same instant for all: the order is the rev's, not the clock's.
          at: "2026-01-05T10:00:00.000Z",
          actor: "breakwater/deploy",
          cause: `step ${i}`,
          expect: {},
          set: { version: "v2", percent: 100, status },
        });
        expect(r.ok).toBe(true);
      }
      const history = await store.history("orders-api", "prod-1/eu-north-1");
      expect(history.map((h) => [h.rev, h.status])).toEqual([
        [1, "stable"],
        [2, "deploying"],
        [3, "baking"],
        [4, "stable"],
      ]);
      expect(history[1]).toMatchObject({ fromVersion: "v1", toVersion: "v2" });
      expect(history[2]?.fromVersion).toBeUndefined();
      expect((await store.listScopes("orders-api")).map((s) => s.rev)).toEqual([4]);
    });

    // Stage slots and location locks: compare-and-set.

    it("admits exactly one concurrent writer of a stage slot (compare-and-set on rev)", async () => {
      const store = await makeStore();
      expect(await store.getStageSlot("orders-api", "prod-1")).toEqual({
        pipeline: "orders-api",
        stage: "prod-1",
        waiters: {},
        rev: 0,
      });
      const empty = await store.getStageSlot("orders-api", "prod-1");
      const results = await Promise.all(
        ["r1", "r2", "r3"].map((holder) => store.putStageSlot({ ...empty, holder, since: "t" })),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const slot = await store.getStageSlot("orders-api", "prod-1");
      expect(slot.rev).toBe(1);
      // A stale rev is refused; the current one is accepted.
      expect(await store.putStageSlot({ ...slot, holder: "late", rev: 0 })).toBe(false);
      expect(await store.putStageSlot({ ...slot, holder: undefined, waiters: { r9: 4 } })).toBe(
        true,
      );
      expect(await store.getStageSlot("orders-api", "prod-1")).toMatchObject({
        waiters: { r9: 4 },
        rev: 2,
      });
    });

    it("writes a location lock by compare-and-set and releases a holder idempotently", async () => {
      const store = await makeStore();
      const holder = {
        pipeline: "orders-api",
        scope: "prod-1/eu-north-1",
        runId: "orders-api@v2",
        since: "2026-01-05T10:00:00.000Z",
      };
      expect(await store.getLocationLock("orders#eu-north-1")).toEqual({
        key: "orders#eu-north-1",
        holders: {},
        rev: 0,
      });
      const [a, b] = await Promise.all([
        store.putLocationLock("orders#eu-north-1", { a: holder }, 0),
        store.putLocationLock("orders#eu-north-1", { b: holder }, 0),
      ]);
      expect([a, b].filter(Boolean)).toHaveLength(1);
      const lock = await store.getLocationLock("orders#eu-north-1");
      expect(lock.rev).toBe(1);
      const key = Object.keys(lock.holders)[0] as string;
      await store.releaseLocationLock("orders#eu-north-1", key);
      await store.releaseLocationLock("orders#eu-north-1", key);
      await store.releaseLocationLock("orders#eu-north-1", "never-held");
      expect(await store.getLocationLock("orders#eu-north-1")).toEqual({
        key: "orders#eu-north-1",
        holders: {},
        rev: 2,
      });
    });

    // Blocks, bypasses, audit: one transaction per override, a totally ordered log.

    const audit = (id: string): AuditEntry => ({
      at: "2026-01-05T10:00:00.000Z",
      id,
      actor: "ana",
      principal: "arn:aws:iam::123456789012:user/ana",
      action: "block",
      reason: "incident",
      target: "pipeline orders-api",
      effect: "blocked",
      changed: true,
    });
    const block = (over: Partial<ManualBlock> = {}): ManualBlock => ({
      level: "pipeline",
      target: "orders-api",
      reason: "incident",
      actor: "ana",
      createdAt: "2026-01-05T10:00:00.000Z",
      ...over,
    });

    it("commits an override's writes and its audit entry together, or nothing when one changed", async () => {
      const store = await makeStore();
      const b = block();
      expect(
        await store.commitOverride(
          [{ kind: "block", level: "pipeline", target: "orders-api", set: b }],
          audit("1"),
        ),
      ).toBe(true);
      const [stored] = await store.listBlocks();
      expect(stored).toMatchObject({ target: "orders-api", rev: 1 });
      // A second writer that read the block as absent loses: nothing written, nothing audited.
      const bypass = bypassOf("v2");
      expect(
        await store.commitOverride(
          [
            { kind: "bypass", pipeline: "orders-api", version: "v2", set: bypass },
            { kind: "block", level: "pipeline", target: "orders-api", set: block({ reason: "x" }) },
          ],
          audit("2"),
        ),
      ).toBe(false);
      expect(await store.listBypasses("orders-api")).toEqual([]);
      expect((await store.listAudit()).map((e) => e.id)).toEqual(["1"]);
      // A check without a write (`set` absent) still guards the audit entry.
      expect(
        await store.commitOverride(
          [{ kind: "block", level: "pipeline", target: "orders-api", was: { ...b, rev: 7 } }],
          audit("3"),
        ),
      ).toBe(false);
      // The one who read rev 1 removes it (`set: null`).
      expect(
        await store.commitOverride(
          [{ kind: "block", level: "pipeline", target: "orders-api", was: stored, set: null }],
          audit("4"),
        ),
      ).toBe(true);
      expect(await store.listBlocks()).toEqual([]);
      expect((await store.listAudit()).map((e) => e.id)).toEqual(["1", "4"]);
      expect((await store.listAudit())[0]).toEqual(audit("1"));
    });

    it("lets one of two overrides that read the same state win; the audit log holds the winner", async () => {
      const store = await makeStore();
      const results = await Promise.all(
        ["a", "b"].map((id) =>
          store.commitOverride(
            [
              {
                kind: "block",
                level: "org",
                target: "org",
                set: block({ level: "org", target: "org" }),
              },
            ],
            audit(id),
          ),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.listAudit()).toHaveLength(1);
    });

    it("keeps every concurrently appended audit entry, each once, in one total order", async () => {
      const store = await makeStore();
      const ids = Array.from({ length: 6 }, (_, i) => `e${i}`);
      const results = await Promise.all(ids.map((id) => store.commitOverride([], audit(id))));
      expect(results.every(Boolean)).toBe(true);
      const log = (await store.listAudit()).map((e) => e.id);
      expect([...log].sort()).toEqual(ids);
      // Appended one after another, the log keeps their order.
      await store.commitOverride([], audit("z2"));
      await store.commitOverride([], audit("z1"));
      expect((await store.listAudit()).map((e) => e.id).slice(-2)).toEqual(["z2", "z1"]);
    });

    it("removes a target's open and scheduled blocks in one commit, each as it was read", async () => {
      const store = await makeStore();
      const open = block();
      const scheduled = block({ scheduled: true, from: "2026-02-01T00:00:00.000Z" });
      await store.putBlock(open);
      await store.putBlock(scheduled);
      await store.putBlock(block({ target: "other" }));
      expect(await store.listBlocks()).toHaveLength(3);
      const removal = (): OverrideWrite[] => [
        { kind: "block", level: "pipeline", target: "orders-api", was: open, set: null },
        {
          kind: "block",
          level: "pipeline",
          target: "orders-api",
          scheduledFrom: scheduled.from,
          was: scheduled,
          set: null,
        },
      ];
      expect(await store.commitOverride(removal(), audit("rm"))).toBe(true);
      expect((await store.listBlocks()).map((b) => b.target)).toEqual(["other"]);
      // Removed already: a second removal of the blocks as read no longer matches.
      expect(await store.commitOverride(removal(), audit("rm-again"))).toBe(false);
      expect((await store.listAudit()).map((e) => e.id)).toEqual(["rm"]);
    });

    it("stores bypasses per pipeline and version", async () => {
      const store = await makeStore();
      for (const b of [bypassOf("v3"), bypassOf("v2"), bypassOf("v2", "other")]) {
        const set: OverrideWrite = {
          kind: "bypass",
          pipeline: b.pipeline,
          version: b.version,
          set: b,
        };
        expect(await store.commitOverride([set], audit(`${b.pipeline}-${b.version}`))).toBe(true);
      }
      expect((await store.listBypasses("orders-api")).map((b) => b.version)).toEqual(["v2", "v3"]);
    });
  });
}
