/**
 * The real stage ASL, run by aws-local-stepfunctions with Task states bound to the real
 * handlers, against DynamoDB Local, a simulated fleet and the virtual clock: event-driven
 * promotion, scoped rollback with the run halting, crash recovery, duplicates, determinism.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Deps } from "../../src/app/deps.ts";
import { TransientError } from "../../src/domain/errors.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import type { DeploymentRequest, StateStore } from "../../src/domain/ports.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { type FaultSpec, SimulatedFleet } from "../../src/local/fleet.ts";
import { dynamoClient } from "../support/dynamo.ts";

const START = new Date("2026-01-05T09:00:00Z");

const threeStages: PipelineInput = {
  name: "orders-api",
  stages: [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
    {
      name: "prod-1",
      regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2", "eun1-az3"] }],
      oneBox: true,
      bake: { minutes: 60 },
    },
    {
      name: "prod-2",
      regions: ["us-west-2", "eu-west-1"],
      regionsInParallel: 2,
      bake: { minutes: 30 },
    },
  ],
};

async function plane(
  input: PipelineInput,
  options: { faults?: FaultSpec[]; wrapDeps?: (d: Deps) => Deps } = {},
) {
  const pipeline = parsePipeline(input);
  const p = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName: `it-${randomUUID()}`,
    start: START,
    fleet: (clock) =>
      new SimulatedFleet({
        pipeline,
        initialVersion: "v1",
        clock,
        faults: (options.faults ?? []).map((f) => ({ version: "v2", ...f })),
      }),
    ...(options.wrapDeps ? { wrapDeps: options.wrapDeps } : {}),
  });
  await p.register(pipeline, "v1");
  return p;
}

const minutesAfterStart = (iso: string) => (Date.parse(iso) - START.getTime()) / 60_000;

describe("stage state machine, locally", () => {
  it("takes a version through every stage, promoting on each execution's status-change event", async () => {
    const p = await plane(threeStages);
    p.requestRun("orders-api", "v2");
    await p.run();

    const run = await p.store.getRun("orders-api@v2");
    expect(run?.status).toBe("succeeded");
    const executions = [...p.sfn.executions.values()];
    expect(executions.map((e) => [e.input.stage, e.status])).toEqual([
      ["alpha", "SUCCEEDED"],
      ["prod-1", "SUCCEEDED"],
      ["prod-2", "SUCCEEDED"],
    ]);
    // Each stage started only once the previous execution had ended (bake included).
    for (let i = 1; i < executions.length; i++) {
      expect(Date.parse(executions[i]?.startedAt ?? "")).toBeGreaterThanOrEqual(
        Date.parse(executions[i - 1]?.stoppedAt ?? ""),
      );
    }
    // Promotion came from the status-change events on the bus, as in AWS.
    const changes = p.bus.log.filter(
      (e) => e["detail-type"] === "Step Functions Execution Status Change",
    );
    expect(changes.map((e) => e.detail.status)).toEqual([
      "RUNNING",
      "SUCCEEDED",
      "RUNNING",
      "SUCCEEDED",
      "RUNNING",
      "SUCCEEDED",
    ]);
    const scopes = await p.store.listScopes("orders-api");
    expect(
      scopes.every((s) => s.version === "v2" && s.status === "stable" && s.percent === 100),
    ).toBe(true);
  });

  it("deploys one-box first at its share, bakes it, then the AZs one at a time with full bakes", async () => {
    const p = await plane(threeStages);
    p.requestRun("orders-api", "v2");
    await p.run();
    const prod1 = (await p.store.timeline("orders-api@v2")).filter((e) => e.stage === "prod-1");
    const starts = prod1.filter((e) => e.event === "deploy-started");
    expect(starts.map((e) => [e.scope.split("/")[2], e.step, e.percent])).toEqual([
      ["eun1-az1", "one-box", 10],
      ["eun1-az1", "full", 100],
      ["eun1-az2", "full", 100],
      ["eun1-az3", "full", 100],
    ]);
    const bakes = prod1.filter((e) => e.event === "bake-started");
    const ends = prod1.filter((e) => e.event === "bake-finished");
    expect(bakes).toHaveLength(4);
    bakes.forEach((b, i) => {
      expect(minutesAfterStart(ends[i]?.at ?? "") - minutesAfterStart(b.at)).toBeGreaterThanOrEqual(
        60,
      );
    });
  });

  it("rolls back only the scope that alarmed, halts the run and never starts the next stage", async () => {
    const p = await plane(threeStages, {
      faults: [{ scopes: "prod-1/eu-north-1/eun1-az2", kind: "faults" }],
    });
    p.requestRun("orders-api", "v2");
    await p.run();

    const run = await p.store.getRun("orders-api@v2");
    expect(run).toMatchObject({
      status: "halted",
      haltReason: "rollback",
      haltedBy: "prod-1/eu-north-1/eun1-az2",
      rolledBack: ["prod-1/eu-north-1/eun1-az2"],
    });
    const byScope = Object.fromEntries(
      (await p.store.listScopes("orders-api")).map((s) => [s.scope, `${s.version} ${s.status}`]),
    );
    expect(byScope).toEqual({
      "alpha/us-east-1": "v2 stable",
      "prod-1/eu-north-1/eun1-az1": "v2 stable",
      "prod-1/eu-north-1/eun1-az2": "v1 rolled-back",
      "prod-1/eu-north-1/eun1-az3": "v1 stable",
      "prod-2/us-west-2": "v1 stable",
      "prod-2/eu-west-1": "v1 stable",
    });
    const executions = [...p.sfn.executions.values()];
    expect(executions.map((e) => [e.input.stage, e.status, e.error])).toEqual([
      ["alpha", "SUCCEEDED", undefined],
      ["prod-1", "FAILED", "RunHalted"],
    ]);
    // The fleet agrees with the records: AZ2 serves v1 again.
    expect(p.fleet).toBeInstanceOf(SimulatedFleet);
    expect((p.fleet as SimulatedFleet).servingIn("prod-1/eu-north-1/eun1-az2")).toEqual({
      stable: "v1",
    });
    const history = await p.store.history("orders-api", "prod-1/eu-north-1/eun1-az2");
    expect(history.map((h) => `${h.toVersion} ${h.status} ${h.actor}`)).toEqual([
      "v1 stable seed",
      "v2 deploying breakwater/deploy",
      "v2 baking breakwater/deploy",
      "v1 rolling-back breakwater/rollback",
      "v1 rolled-back breakwater/rollback",
    ]);
    // The rollback names the built-in detector's finding, with its numbers.
    expect(history[3]?.cause).toMatch(
      /^run orders-api@v2: rolling back v2 -> v1: unhealthy: detector fault-rate: fault rate \d+(\.\d+)?% vs \d+(\.\d+)?% /,
    );
    expect(run?.haltDetail).toMatch(/^detector fault-rate: fault rate /);
  });

  it("a rollback hands the target the artifact digest of the version it returns to", async () => {
    const seen: DeploymentRequest[] = [];
    const p = await plane(
      {
        name: "orders-api",
        target: {
          type: "ecs",
          cluster: "main",
          service: "orders",
          container: "app",
          image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders@{digest}",
        },
        stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } }],
      },
      {
        faults: [{ scopes: "alpha/*", kind: "faults", version: "v3" }],
        wrapDeps: (deps) => ({
          ...deps,
          deployer: {
            start: (req) => {
              seen.push(req);
              return deps.deployer.start(req);
            },
            status: (req) => deps.deployer.status(req),
            cancel: (req) => deps.deployer.cancel(req),
          },
        }),
      },
    );
    const digest = (c: string) => `sha256:${c.repeat(64)}`;
    p.requestRun("orders-api", "v2", "merged", { artifactDigest: digest("a") });
    await p.run();
    p.requestRun("orders-api", "v3", "merged", { artifactDigest: digest("b") });
    await p.run();
    expect(await p.store.getRun("orders-api@v3")).toMatchObject({ status: "halted" });
    const summary = [...new Map(seen.map((r) => [r.deploymentId, r])).values()].map(
      (r) => `${r.kind} ${r.version} ${r.artifactDigest?.slice(7, 8)}`,
    );
    expect(summary).toEqual(["full v2 a", "full v3 b", "rollback v2 a"]);
  });

  it("rolls back a scope whose deploy the target reports failed", async () => {
    const p = await plane(threeStages, {
      wrapDeps: (deps) => ({
        ...deps,
        deployer: {
          start: (req) => deps.deployer.start(req),
          cancel: (req) => deps.deployer.cancel(req),
          status: async (req) =>
            req.scope.id === "alpha/us-east-1" && req.kind !== "rollback"
              ? { state: "failed", reason: "health check failed on 2 hosts" }
              : deps.deployer.status(req),
        },
      }),
    });
    p.requestRun("orders-api", "v2");
    await p.run();
    const run = await p.store.getRun("orders-api@v2");
    expect(run).toMatchObject({ status: "halted", rolledBack: ["alpha/us-east-1"] });
    const alpha = (await p.store.timeline("orders-api@v2")).map((e) =>
      `${e.event} ${e.outcome ?? ""}`.trim(),
    );
    expect(alpha).toEqual([
      "deploy-started",
      "deploy-finished failed",
      "rollback-started",
      "rollback-finished",
    ]);
    expect(await p.store.getScope("orders-api", "alpha/us-east-1")).toMatchObject({
      version: "v1",
      status: "rolled-back",
    });
  });

  it("survives handler crashes mid-step without losing or duplicating a scope transition", async () => {
    // Every handler's first call on each scope step crashes *after* its DynamoDB write landed
    // (as a Lambda timing out after the write would); the ASL retries and the handlers resume.
    const crashed = new Set<string>();
    const crashOnce = (key: string) => {
      if (crashed.has(key)) return;
      crashed.add(key);
      throw new TransientError(`injected crash after ${key}`);
    };
    const p = await plane(threeStages, {
      wrapDeps: (deps) => {
        const store: StateStore = Object.create(deps.store);
        store.transitionScope = async (t) => {
          const result = await deps.store.transitionScope(t);
          crashOnce(`${t.scope}|${t.set.status}|${t.set.percent}`);
          return result;
        };
        return {
          ...deps,
          store,
          deployer: {
            start: async (req) => {
              crashOnce(`start|${req.deploymentId}`);
              return deps.deployer.start(req);
            },
            status: (req) => deps.deployer.status(req),
            cancel: (req) => deps.deployer.cancel(req),
          },
        };
      },
    });
    p.requestRun("orders-api", "v2");
    await p.run();

    expect((await p.store.getRun("orders-api@v2"))?.status).toBe("succeeded");
    expect(crashed.size).toBeGreaterThan(10);
    for (const scope of await p.store.listScopes("orders-api")) {
      const history = await p.store.history("orders-api", scope.scope);
      const steps = scope.scope.endsWith("eun1-az1") ? 2 : 1;
      // seed + (deploying, baking, stable) per step: nothing lost, nothing twice.
      expect(history).toHaveLength(1 + 3 * steps);
      expect(scope).toMatchObject({ version: "v2", status: "stable" });
    }
    const timeline = await p.store.timeline("orders-api@v2");
    const keys = timeline.map((e) => `${e.scope}|${e.step}|${e.event}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("starts one run for duplicate requests of the same version", async () => {
    const p = await plane(threeStages);
    p.requestRun("orders-api", "v2");
    p.requestRun("orders-api", "v2");
    await p.run();
    expect([...p.sfn.executions.values()].map((e) => e.input.stage)).toEqual([
      "alpha",
      "prod-1",
      "prod-2",
    ]);
    const runEvents = p.bus.log
      .filter((e) => e["detail-type"] === "Breakwater Run Event")
      .map((e) => e.detail.event);
    expect(runEvents.filter((e) => e === "run-started")).toHaveLength(1);
    expect(runEvents).toContain("run-duplicate");
    const history = await p.store.history("orders-api", "alpha/us-east-1");
    expect(history.filter((h) => h.status === "deploying")).toHaveLength(1);
  });

  it("gives the same timeline for the same inputs, even when parallel regions race a rollback", async () => {
    // Three regions in parallel reach their verdicts at the same simulated instant; one is
    // faulty. Which of the others' next steps start before the halt must not depend on I/O
    // latencies: handlers run one at a time, in call order.
    const racing: PipelineInput = {
      name: "orders-api",
      stages: [
        {
          name: "prod-1",
          regions: ["us-west-2", "eu-west-1", "ap-southeast-2"],
          regionsInParallel: 3,
          oneBox: true,
          bake: { minutes: 30 },
        },
      ],
    };
    const timelines: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await plane(racing, { faults: [{ scopes: "prod-1/eu-west-1", kind: "latency" }] });
      p.requestRun("orders-api", "v2");
      await p.run();
      timelines.push(JSON.stringify(await p.store.timeline("orders-api@v2")));
    }
    expect(new Set(timelines).size).toBe(1);
    const timeline = JSON.parse(timelines[0] ?? "[]") as {
      scope: string;
      outcome?: string;
      reason?: string;
    }[];
    expect(
      timeline
        .filter((e) => e.outcome === "Unhealthy")
        .map((e) => [e.scope, e.reason?.split(":")[0]]),
    ).toEqual([["prod-1/eu-west-1", "detector latency"]]);
  });
});
