/**
 * Several versions in flight on the real local control plane (DynamoDB Local, the real stage and
 * rollback ASL in the local interpreter, real handlers, the local bus, a simulated fleet, a
 * virtual clock): one version per stage, the newest waiting version supersedes older ones, a
 * rollback halts newer versions at their next boundary, the engineer's decisions, duplicate
 * triggers, and scope locks between pipelines of one service.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { admit, requestStage } from "../../src/app/lanes.ts";
import { applyOverride } from "../../src/app/override.ts";
import type { Run, TimelineEvent } from "../../src/domain/model.ts";
import { type Pipeline, type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { type FaultSpec, SimulatedFleet } from "../../src/local/fleet.ts";
import { dynamoClient } from "../support/dynamo.ts";

/** The engineer deciding, as IAM authenticated them. */
const OPERATOR = {
  principal: { arn: "arn:aws:sts::123456789012:assumed-role/Operators/oncall" },
};
const START = new Date("2026-01-05T09:00:00Z");
const at = (minutes: number) => new Date(START.getTime() + minutes * 60_000);
const minutes = (iso: string) => (Date.parse(iso) - START.getTime()) / 60_000;

const waves: PipelineInput = {
  name: "orders-api",
  stages: [
    { name: "wave-1", regions: ["us-east-1"], bake: { minutes: 30 } },
    { name: "wave-2", regions: ["eu-west-1", "eu-central-1"], bake: { minutes: 60 } },
    {
      name: "wave-3",
      regions: [{ region: "us-west-2", azs: ["usw2-az1", "usw2-az2"] }],
      bake: { minutes: 60 },
    },
    { name: "wave-4", regions: ["ap-south-1"], bake: { minutes: 60 } },
  ],
};

async function plane(
  inputs: PipelineInput[],
  faults: FaultSpec[] = [],
): Promise<Awaited<ReturnType<typeof createLocalControlPlane>> & { pipelines: Pipeline[] }> {
  const pipelines = inputs.map((i) => parsePipeline(i));
  const [first, ...more] = pipelines as [Pipeline, ...Pipeline[]];
  const p = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName: `it-versions-${randomUUID()}`,
    start: START,
    fleet: (clock) =>
      new SimulatedFleet({
        pipeline: first,
        morePipelines: more,
        initialVersion: "v1",
        clock,
        faults,
      }),
  });
  for (const pipeline of pipelines) await p.register(pipeline, "v1");
  return Object.assign(p, { pipelines });
}

const stageSpan = (timeline: TimelineEvent[], stage: string) => {
  const events = timeline.filter((e) => e.stage === stage);
  return {
    first: Math.min(...events.map((e) => minutes(e.at))),
    last: Math.max(...events.map((e) => minutes(e.at))),
  };
};

const decide = (action: string, version: string, reason = "incident 42: decided by on-call") => ({
  action,
  pipeline: "orders-api",
  version,
  actor: "alice",
  reason,
});

describe("several versions in flight", () => {
  it("v3 arriving while v2 bakes in wave 2 enters wave 1 and waits for wave 2", async () => {
    const p = await plane([waves]);
    p.requestRun("orders-api", "v2");
    let v3WhileV2InWave2: Run | undefined;
    let v2WhenV3Arrived: Run | undefined;
    p.at(at(90), async () => {
      v2WhenV3Arrived = await p.store.getRun("orders-api@v2");
      p.requestRun("orders-api", "v3");
    });
    // v3's wave 1 (deploy + 30 min bake) is over by +130 min; v2 holds wave 2 until ~+170.
    p.at(at(140), async () => {
      v3WhileV2InWave2 = await p.store.getRun("orders-api@v3");
    });
    await p.run();

    expect(v2WhenV3Arrived?.currentStage).toBe("wave-2");
    expect(v3WhileV2InWave2).toMatchObject({ status: "waiting", waitingFor: "wave-2" });
    expect(v3WhileV2InWave2?.stages["wave-1"]?.status).toBe("succeeded");

    const v2 = await p.store.timeline("orders-api@v2");
    const v3 = await p.store.timeline("orders-api@v3");
    // v3 entered wave 1 while v2 was in wave 2 …
    expect(stageSpan(v3, "wave-1").first).toBeLessThan(stageSpan(v2, "wave-2").last);
    // … and entered wave 2 only once v2 had left it (bake included).
    expect(stageSpan(v3, "wave-2").first).toBeGreaterThanOrEqual(stageSpan(v2, "wave-2").last);
    for (const stage of ["wave-2", "wave-3", "wave-4"]) {
      expect(stageSpan(v3, stage).first).toBeGreaterThanOrEqual(stageSpan(v2, stage).last);
    }
    expect((await p.store.getRun("orders-api@v2"))?.status).toBe("succeeded");
    expect((await p.store.getRun("orders-api@v3"))?.status).toBe("succeeded");
    const scopes = await p.store.listScopes("orders-api");
    expect(new Set(scopes.map((s) => `${s.version} ${s.status}`))).toEqual(new Set(["v3 stable"]));
  });

  it("the newest waiting version enters a freed stage; older waiting versions are superseded", async () => {
    const p = await plane([waves]);
    p.requestRun("orders-api", "v2");
    // v3 and v4 both finish wave 1 while v2 is still in wave 2.
    p.at(at(40), async () => p.requestRun("orders-api", "v3"));
    p.at(at(80), async () => p.requestRun("orders-api", "v4"));
    await p.run();

    const v3 = await p.store.getRun("orders-api@v3");
    expect(v3).toMatchObject({ status: "superseded", supersededBy: "orders-api@v4" });
    expect(v3?.stages["wave-2"]).toBeUndefined();
    expect((await p.store.getRun("orders-api@v4"))?.status).toBe("succeeded");
    const superseded = p.bus.log.filter(
      (e) => e.detail.event === "run-superseded" && e.detail.version === "v3",
    );
    expect(superseded).toHaveLength(1);
    expect(superseded[0]?.detail.reason).toContain("v4");
    // Every wave-2+ scope went v2 -> v4 (v3 never deployed past wave 1).
    const history = await p.store.history("orders-api", "wave-3/us-west-2/usw2-az1");
    expect(history.map((h) => h.toVersion).filter((v, i, a) => a.indexOf(v) === i)).toEqual([
      "v1",
      "v2",
      "v4",
    ]);
  });

  it("v2 rolling back in wave 3 halts v3 at once inside wave 2; rollback-all returns every scope that ran v2 or v3 to v1", async () => {
    const p = await plane(
      [waves],
      [{ version: "v2", scopes: "wave-3/us-west-2/usw2-az2", kind: "faults" }],
    );
    p.requestRun("orders-api", "v2");
    p.at(at(100), async () => p.requestRun("orders-api", "v3"));
    let halted: Run[] = [];
    // Well after v2's rollback in wave 3 and v3's end of wave 2.
    p.at(at(600), async () => {
      halted = [
        (await p.store.getRun("orders-api@v2")) as Run,
        (await p.store.getRun("orders-api@v3")) as Run,
      ];
      await applyOverride(p.deps, decide("rollback-all", "v2"), OPERATOR);
    });
    await p.run();

    const [v2, v3] = halted;
    expect(v2).toMatchObject({ status: "halted", haltReason: "rollback", currentStage: "wave-3" });
    expect(v2?.rolledBack).toEqual(["wave-3/us-west-2/usw2-az2"]);
    // Safety rule 3, tightened: v3 (inside wave 2 then) halts at once, not at its boundary.
    expect(v3).toMatchObject({
      status: "halted",
      haltReason: "older-version-halted",
      haltedBy: "orders-api@v2",
      currentStage: "wave-2",
    });
    expect(v3?.nextStage).toBeUndefined();
    // v3 never deployed into wave 3, and started no step from v2's rollback on.
    const v3Timeline = await p.store.timeline("orders-api@v3");
    expect(v3Timeline.some((e) => e.stage === "wave-3")).toBe(false);
    const v2Rollback = (await p.store.timeline("orders-api@v2")).find(
      (e) => e.event === "rollback-started",
    );
    const lateSteps = v3Timeline.filter(
      (e) => e.event === "deploy-started" && e.at >= (v2Rollback?.at ?? ""),
    );
    expect(lateSteps).toEqual([]);

    // After rollback-all: every scope is back on v1, and the runs ended rolled-back.
    const scopes = await p.store.listScopes("orders-api");
    for (const s of scopes) expect(`${s.scope} ${s.version}`).toBe(`${s.scope} v1`);
    expect((await p.store.getRun("orders-api@v2"))?.status).toBe("rolled-back");
    expect((await p.store.getRun("orders-api@v3"))?.status).toBe("rolled-back");
    // History says why, with who decided.
    const w1 = await p.store.history("orders-api", "wave-1/us-east-1");
    expect(w1.map((h) => h.toVersion)).toEqual([
      "v1",
      "v2",
      "v2",
      "v2",
      "v3",
      "v3",
      "v3",
      "v1",
      "v1",
    ]);
    const back = w1.at(-2);
    expect(back).toMatchObject({
      fromVersion: "v3",
      toVersion: "v1",
      status: "rolling-back",
      actor: "breakwater/rollback-all",
    });
    expect(back?.cause).toContain("rollback-all of v2 and newer by alice: incident 42");
    // The scope v2 never reached is untouched.
    const w4 = await p.store.history("orders-api", "wave-4/ap-south-1");
    expect(w4).toHaveLength(1);
    const audit = await p.store.listAudit();
    expect(audit.at(-1)).toMatchObject({
      action: "rollback-all",
      actor: "alice",
      target: "orders-api@v2",
    });
    expect(audit.at(-1)?.effect).toContain("ended v2, v3");
  });

  it("retry resumes the halted stage; the version held behind it resumes too", async () => {
    // v2's fault in wave 1 is transient: by the retry, the scope is healthy again.
    const p = await plane([waves]);
    let fault = true;
    const fleet = p.fleet as SimulatedFleet;
    const minutesOf = fleet.minutes.bind(fleet);
    fleet.minutes = async (q) => {
      const samples = await minutesOf(q);
      if (!fault || q.select === "all" || q.select.version !== "v2" || q.scope.stage !== "wave-2")
        return samples;
      return samples?.map((m) => ({ ...m, faults: Math.round(m.requests * 0.2) }));
    };
    p.requestRun("orders-api", "v2");
    p.at(at(50), async () => p.requestRun("orders-api", "v3"));
    let before: Run[] = [];
    p.at(at(400), async () => {
      before = [
        (await p.store.getRun("orders-api@v2")) as Run,
        (await p.store.getRun("orders-api@v3")) as Run,
      ];
      fault = false;
      await applyOverride(
        p.deps,
        decide("retry", "v2", "dependency outage over; retrying"),
        OPERATOR,
      );
    });
    await p.run();
    expect(before[0]).toMatchObject({
      status: "halted",
      haltReason: "rollback",
      currentStage: "wave-2",
    });
    expect(before[1]).toMatchObject({ status: "halted", haltReason: "older-version-halted" });
    const v2 = await p.store.getRun("orders-api@v2");
    expect(v2).toMatchObject({ status: "succeeded", attempts: { "wave-2": 2 } });
    expect(v2?.decision).toMatchObject({ action: "retry", actor: "alice" });
    expect((await p.store.getRun("orders-api@v3"))?.status).toBe("succeeded");
    const scopes = await p.store.listScopes("orders-api");
    expect(new Set(scopes.map((s) => `${s.version} ${s.status}`))).toEqual(new Set(["v3 stable"]));
  });

  it("roll-forward lets the newer version pass; the halted older one is superseded", async () => {
    const p = await plane(
      [waves],
      [{ version: "v2", scopes: "wave-2/eu-central-1", kind: "faults" }],
    );
    p.requestRun("orders-api", "v2");
    p.at(at(50), async () => p.requestRun("orders-api", "v3"));
    p.at(at(400), async () => {
      await applyOverride(p.deps, decide("roll-forward", "v3", "v3 carries the fix"), OPERATOR);
    });
    await p.run();
    const v2 = await p.store.getRun("orders-api@v2");
    expect(v2).toMatchObject({ status: "superseded", supersededBy: "orders-api@v3" });
    expect((await p.store.getRun("orders-api@v3"))?.status).toBe("succeeded");
    const scopes = await p.store.listScopes("orders-api");
    expect(new Set(scopes.map((s) => s.version))).toEqual(new Set(["v3"]));
  });

  it("decisions are checked against the state: a clear error and nothing changed", async () => {
    const p = await plane([waves]);
    p.requestRun("orders-api", "v2");
    await p.run();
    const before = await p.store.getRun("orders-api@v2");
    for (const [action, message] of [
      ["retry", "retry resumes a run halted by its own rollback"],
      ["rollback-all", "rollback-all names the version whose run halted"],
      ["cancel", "only a halted, waiting or awaiting-approval run can be cancelled"],
      ["roll-forward", "v2 is succeeded"],
    ] as const) {
      await expect(applyOverride(p.deps, decide(action, "v2"), OPERATOR)).rejects.toThrow(message);
    }
    await expect(applyOverride(p.deps, decide("retry", "v9"), OPERATOR)).rejects.toThrow(
      'version: pipeline "orders-api" has no run of version "v9"',
    );
    expect(await p.store.getRun("orders-api@v2")).toEqual(before);
    expect(await p.store.listAudit()).toEqual([]);
  });

  it("duplicate trigger events start one run", async () => {
    const p = await plane([waves]);
    const change = {
      trigger: "github" as const,
      sha: "a".repeat(40),
      approvers: ["bob"],
      mergedAt: START.toISOString(),
    };
    for (let i = 0; i < 3; i++) p.requestRun("orders-api", "v2", "merged", change);
    await p.run();
    const runs = await p.store.listRuns("orders-api");
    expect(runs.map((r) => [r.version, r.status])).toEqual([["v2", "succeeded"]]);
    expect(runs[0]?.change).toMatchObject({ sha: "a".repeat(40), approvers: ["bob"] });
    expect([...p.sfn.executions.values()].map((e) => e.input.stage)).toEqual([
      "wave-1",
      "wave-2",
      "wave-3",
      "wave-4",
    ]);
    const duplicates = p.bus.log.filter((e) => e.detail.event === "run-duplicate");
    expect(duplicates).toHaveLength(2);
  });

  it("a change that merged before a known version arrives late: recorded superseded, never deployed", async () => {
    const p = await plane([waves]);
    p.requestRun("orders-api", "v3", "merged", {
      mergedAt: at(10).toISOString(),
      approvers: ["a"],
    });
    p.at(at(5), async () =>
      p.requestRun("orders-api", "v2", "merged", {
        mergedAt: at(1).toISOString(),
        approvers: ["a"],
      }),
    );
    await p.run();
    expect(await p.store.getRun("orders-api@v2")).toMatchObject({
      status: "superseded",
      supersededBy: "orders-api@v3",
    });
    const history = await p.store.history("orders-api");
    expect(history.some((h) => h.toVersion === "v2")).toBe(false);
  });

  it("two promotions racing for one stage: exactly one enters; the other waits or is superseded", async () => {
    const p = await plane([waves]);
    const mk = (version: string, seq: number): Run => ({
      runId: `orders-api@${version}`,
      pipeline: "orders-api",
      version,
      seq,
      status: "waiting",
      waitingFor: "wave-2",
      definition: p.pipelines[0] as Pipeline,
      createdAt: START.toISOString(),
      updatedAt: START.toISOString(),
      stages: { "wave-1": { status: "succeeded", startedAt: START.toISOString() } },
      rolledBack: [],
      cause: "race",
    });
    const runs = [mk("v2", 1), mk("v3", 2)];
    for (const r of runs) await p.store.createRun(r);
    const started: string[] = [];
    const deps = {
      ...p.deps,
      workflows: {
        ...p.deps.workflows,
        startStage: async (i: { runId: string }) => {
          started.push(i.runId);
          return { executionId: i.runId };
        },
      },
    };
    await Promise.all([
      requestStage(deps, runs[0] as Run, "wave-2"),
      requestStage(deps, runs[1] as Run, "wave-2"),
      admit(deps, "orders-api", "wave-2"),
      admit(deps, "orders-api", "wave-2"),
    ]);
    const slot = await p.store.getStageSlot("orders-api", "wave-2");
    expect(slot.holder).toBeDefined();
    // Starting the holder's execution more than once is harmless (one name per run and stage).
    expect(new Set(started)).toEqual(new Set([slot.holder]));
    const after = await Promise.all(runs.map((r) => p.store.getRun(r.runId)));
    const entered = after.filter((r) => r?.status === "running");
    expect(entered).toHaveLength(1);
    expect(entered[0]?.currentStage).toBe("wave-2");
    const other = after.find((r) => r?.runId !== slot.holder);
    expect(["waiting", "superseded"]).toContain(other?.status);
    if (other?.status === "waiting") expect(slot.waiters).toHaveProperty(other.runId);
  });
});

describe("scope locks between pipelines of one service", () => {
  it("two pipelines of one service never deploy into the same region at once; the second waits, the reason recorded", async () => {
    const app: PipelineInput = {
      name: "orders-app",
      service: "orders",
      stages: [{ name: "prod", regions: ["us-east-1", "eu-west-1"], bake: { minutes: 60 } }],
    };
    const config: PipelineInput = {
      name: "orders-config",
      service: "orders",
      stages: [{ name: "prod", regions: ["us-east-1"], bake: { minutes: 20 } }],
    };
    const other: PipelineInput = {
      name: "billing",
      stages: [{ name: "prod", regions: ["us-east-1"], bake: { minutes: 20 } }],
    };
    const p = await plane([app, config, other]);
    p.requestRun("orders-app", "v2");
    p.at(at(10), async () => p.requestRun("orders-config", "v2"));
    p.at(at(10), async () => p.requestRun("billing", "v2"));
    await p.run();

    const appT = await p.store.timeline("orders-app@v2");
    const cfgT = await p.store.timeline("orders-config@v2");
    const billT = await p.store.timeline("billing@v2");
    const span = (t: TimelineEvent[], region: string) => {
      const e = t.filter((x) => x.scope.includes(region));
      const start = e.find((x) => x.event === "deploy-started")?.at as string;
      const end = e.filter((x) => x.event === "bake-finished").at(-1)?.at as string;
      return [minutes(start), minutes(end)] as const;
    };
    const [appStart, appEnd] = span(appT, "us-east-1");
    const [cfgStart] = span(cfgT, "us-east-1");
    expect(appStart).toBeLessThan(10);
    expect(cfgStart).toBeGreaterThanOrEqual(appEnd);
    // The wait is recorded, with its reason, once.
    const blocked = cfgT.filter((e) => e.event === "blocked");
    expect(blocked).toHaveLength(1);
    expect(blocked[0]?.reason).toContain("scope lock: pipeline orders-app of service orders");
    expect(cfgT.filter((e) => e.event === "unblocked")).toHaveLength(1);
    // A pipeline of another service is not held.
    expect(span(billT, "us-east-1")[0]).toBeLessThan(appEnd);
    for (const name of ["orders-app@v2", "orders-config@v2", "billing@v2"]) {
      expect((await p.store.getRun(name))?.status).toBe("succeeded");
    }
  });
});
