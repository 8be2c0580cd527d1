/**
 * Tests and canaries in a stage (issue 13, items 2 and 3), on the real local control plane:
 * DynamoDB Local, the stage ASL in the local interpreter, the real handlers, the simulated
 * fleet (its test runner and canaries), the virtual clock. Faults are the local mode's own:
 * `tests` fails only the stage's tests in those scopes, `canary` only its canaries, and the
 * fleet's `faults` are seen by the canaries as by the traffic.
 */
import { randomUUID } from "node:crypto";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { runIdFor } from "../../src/app/runs.ts";
import type { TimelineEvent } from "../../src/domain/model.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { type FaultSpec, SimulatedFleet } from "../../src/local/fleet.ts";
import { simulate } from "../../src/local/simulate.ts";
import { dynamoClient } from "../support/dynamo.ts";
import { type Durations, runSimulation, type SimOutcome } from "../support/sim.ts";

type StageInput = PipelineInput["stages"][number];

function pipeline(stage: Partial<StageInput>, extra: Partial<PipelineInput> = {}) {
  return parsePipeline({
    name: "orders-api",
    stages: [
      {
        name: "beta",
        regions: ["us-east-1", "us-west-2"],
        bake: { minutes: 30 },
        ...stage,
      },
    ],
    ...extra,
  });
}

async function run(
  stage: Partial<StageInput>,
  faults: FaultSpec[] = [],
  options: { durations?: Durations; extra?: Partial<PipelineInput> } = {},
): Promise<SimOutcome> {
  return runSimulation({
    dynamo: dynamoClient(),
    pipeline: pipeline(stage, options.extra),
    faults,
    ...(options.durations ? { durationsFor: () => options.durations } : {}),
  });
}

const of = (r: SimOutcome, event: TimelineEvent["event"], scope?: string) =>
  r.timeline.filter((e) => e.event === event && (!scope || e.scope === scope));
const ms = (at: string | undefined) => Date.parse(at ?? "");

const TESTS = [{ lambda: "orders-it-{stage}-{region}" }];

describe("stages[].tests", () => {
  it("run after the deploy step and before its bake: the bake starts when they pass", async () => {
    const r = await run({ tests: TESTS });
    expect(r.run?.status).toBe("succeeded");
    for (const scope of ["beta/us-east-1", "beta/us-west-2"]) {
      const deployed = of(r, "deploy-finished", scope)[0];
      const started = of(r, "tests-started", scope)[0];
      const finished = of(r, "tests-finished", scope)[0];
      const bake = of(r, "bake-started", scope)[0];
      expect(started?.at, scope).toBe(deployed?.at);
      expect(started?.reason).toBe(`lambda orders-it-beta-${scope.split("/")[1]}`);
      expect(finished).toMatchObject({ outcome: "passed" });
      expect(finished?.reason).toContain("passed");
      // The simulated tests take 120 s; the bake counts from their end.
      expect(ms(finished?.at) - ms(deployed?.at)).toBe(120_000);
      expect(bake?.at).toBe(finished?.at);
      const verdict = of(r, "bake-finished", scope)[0];
      expect(ms(verdict?.at) - ms(bake?.at)).toBe(30 * 60_000);
    }
  });

  it("failing tests roll that scope back, with the test's report in the timeline and the scope's history", async () => {
    const r = await run({ tests: TESTS }, [{ scopes: "beta/us-east-1", kind: "tests" }]);
    expect(r.run).toMatchObject({
      status: "halted",
      haltReason: "rollback",
      haltedBy: "beta/us-east-1",
    });
    const finished = of(r, "tests-finished", "beta/us-east-1")[0];
    expect(finished?.outcome).toBe("failed");
    expect(finished?.reason).toMatch(
      /^test lambda orders-it-beta-us-east-1 failed: simulated lambda orders-it-beta-us-east-1: 3 of 40 checks failed against v2 in beta\/us-east-1/,
    );
    // Rolled back before any bake: no bake of that step, and the next region never deployed.
    expect(of(r, "bake-started", "beta/us-east-1")).toEqual([]);
    expect(of(r, "rollback-finished", "beta/us-east-1")).toHaveLength(1);
    expect(of(r, "deploy-started", "beta/us-west-2")).toEqual([]);
    expect(r.scopes.get("beta/us-east-1")).toMatchObject({ version: "v1", status: "rolled-back" });
    const history = r.history.get("beta/us-east-1") ?? [];
    const rollback = history.find((h) => h.status === "rolling-back");
    expect(rollback?.cause).toContain(
      "tests-failed: test lambda orders-it-beta-us-east-1 failed: simulated",
    );
    expect(r.run?.haltDetail).toContain("3 of 40 checks failed");
  });

  it("a test that does not answer within timeoutMinutes is a failure", async () => {
    // The simulated tests take 45 minutes; the stage allows 20.
    const r = await run({ tests: [{ codebuild: "orders-e2e", timeoutMinutes: 20 }] }, [], {
      durations: { tests: 45 * 60 },
    });
    expect(r.run).toMatchObject({
      status: "halted",
      haltReason: "rollback",
      haltedBy: "beta/us-east-1",
    });
    const deployed = of(r, "deploy-finished", "beta/us-east-1")[0];
    const finished = of(r, "tests-finished", "beta/us-east-1")[0];
    expect(finished).toMatchObject({
      outcome: "failed",
      reason: "test codebuild orders-e2e did not answer within 20 minutes (timeoutMinutes)",
    });
    expect(ms(finished?.at) - ms(deployed?.at)).toBe(20 * 60_000);
    expect(r.scopes.get("beta/us-east-1")).toMatchObject({ version: "v1", status: "rolled-back" });
  });

  it("run after the one-box step too, at its share of the traffic", async () => {
    const r = await run({ tests: TESTS, oneBox: true }, [
      { scopes: "beta/us-east-1", kind: "tests" },
    ]);
    const started = of(r, "tests-started", "beta/us-east-1");
    expect(started.map((e) => [e.step, e.percent])).toEqual([["one-box", 10]]);
    expect(of(r, "tests-finished", "beta/us-east-1")[0]).toMatchObject({
      step: "one-box",
      outcome: "failed",
    });
    expect(of(r, "deploy-started", "beta/us-east-1").map((e) => e.step)).toEqual(["one-box"]);
  });
});

describe("stages[].tests and fast rollback", () => {
  it("an alarm while the tests run rolls the scope back at once; the step ends without a bake", async () => {
    const start = new Date("2026-03-02T09:00:00Z");
    // Deploy done at 09:05; the tests would take 40 minutes; the alarm fires at 09:15.
    const result = await simulate({
      pipeline: pipeline(
        { regions: ["us-east-1"], tests: [{ lambda: "orders-it", timeoutMinutes: 60 }] },
        { alarms: ["orders-errors-{region}"] },
      ),
      fromVersion: "v1",
      version: "v2",
      start,
      dynamo: dynamoClient(),
      fleet: { durations: { tests: 40 * 60 } },
      alarms: [{ name: "orders-errors-us-east-1", from: new Date("2026-03-02T09:15:00Z") }],
    });
    const events = result.timeline.map((e) => e.event);
    expect(events).toContain("tests-started");
    expect(events).not.toContain("tests-finished");
    expect(events).not.toContain("bake-started");
    const rollback = result.timeline.find((e) => e.event === "rollback-started");
    expect(ms(rollback?.at) - Date.parse("2026-03-02T09:15:00Z")).toBeLessThan(1000);
    expect(result.scopes["beta/us-east-1"]).toMatchObject({ version: "v1", status: "rolled-back" });
    // The tests' step ended when it saw the rollback, well before the tests' 40 minutes.
    expect(ms(result.finishedAt)).toBeLessThan(Date.parse("2026-03-02T09:45:00Z"));
  });
});

describe("stages[].canaries", () => {
  const CANARIES = ["orders-home-{stage}-{region}"];

  it("a canary below minSuccessPercent makes the bake unhealthy and rolls the scope back", async () => {
    const r = await run({ canaries: CANARIES }, [{ scopes: "beta/us-west-2", kind: "canary" }]);
    expect(r.run).toMatchObject({
      status: "halted",
      haltReason: "rollback",
      haltedBy: "beta/us-west-2",
    });
    expect(of(r, "bake-finished", "beta/us-east-1")[0]?.outcome).toBe("Healthy");
    const verdict = of(r, "bake-finished", "beta/us-west-2")[0];
    expect(verdict?.outcome).toBe("Unhealthy");
    expect(verdict?.reason).toContain("canary orders-home-beta-us-west-2: 0% success (below 99%)");
    expect(r.scopes.get("beta/us-west-2")).toMatchObject({ version: "v1", status: "rolled-back" });
    const history = r.history.get("beta/us-west-2") ?? [];
    expect(history.find((h) => h.status === "rolling-back")?.cause).toContain(
      "canary orders-home-beta-us-west-2",
    );
  });

  it("a `canary` fault affects only the canaries: without canaries (and with tests) the run succeeds", async () => {
    const r = await run({ tests: TESTS }, [{ scopes: "beta/*", kind: "canary" }]);
    expect(r.run?.status).toBe("succeeded");
    expect(of(r, "tests-finished").map((e) => e.outcome)).toEqual(["passed", "passed"]);
    expect(of(r, "bake-finished").map((e) => e.outcome)).toEqual(["Healthy", "Healthy"]);
  });

  it("see the fleet's own faults: with the detector off, the canary alone rolls back a faulty scope", async () => {
    const r = await run({ canaries: CANARIES }, [{ scopes: "beta/us-east-1", kind: "faults" }], {
      extra: { anomalyDetection: false },
    });
    const verdict = of(r, "bake-finished", "beta/us-east-1")[0];
    expect(verdict?.outcome).toBe("Unhealthy");
    expect(verdict?.reason).toMatch(
      /^canary orders-home-beta-us-east-1: 9[2-5](\.\d+)?% success \(below 99%\)$/,
    );
    expect(r.scopes.get("beta/us-east-1")).toMatchObject({ version: "v1", status: "rolled-back" });
  });

  it("in gamma, a one-box step is judged on the canaries' view of the mixed fleet", async () => {
    // A 10% one-box of a version every canary check fails on: the canary sees 90% success.
    const r = await runSimulation({
      dynamo: dynamoClient(),
      pipeline: parsePipeline({
        name: "orders-api",
        stages: [
          {
            name: "gamma",
            regions: ["eu-west-1"],
            oneBox: true,
            bake: { minutes: 20 },
            canaries: [{ name: "orders-{stage}-{region}", minSuccessPercent: 95 }],
          },
        ],
      }),
      faults: [{ scopes: "gamma/*", kind: "canary" }],
    });
    const verdict = of(r, "bake-finished", "gamma/eu-west-1")[0];
    expect(verdict).toMatchObject({ step: "one-box", outcome: "Unhealthy" });
    expect(verdict?.reason).toContain("canary orders-gamma-eu-west-1: 90% success (below 95%)");
    expect(of(r, "deploy-started").map((e) => e.step)).toEqual(["one-box"]);
  });

  it("a healthy version passes its canaries", async () => {
    const r = await run({ canaries: CANARIES, tests: TESTS });
    expect(r.run?.status).toBe("succeeded");
  });
});

describe("fail closed", () => {
  it("a stage with tests but no test runner, or with canaries but no canary source, never bakes healthy", async () => {
    const outcome = async (stage: Partial<StageInput>) => {
      const p = pipeline({ ...stage, regions: ["us-east-1"] });
      const tableName = `checks-${randomUUID()}`;
      const plane = await createLocalControlPlane({
        dynamo: dynamoClient(),
        tableName,
        start: new Date("2026-03-02T09:00:00Z"),
        // A deploy target and metrics only: no test runner, no canaries.
        fleet: (clock) => {
          const f = new SimulatedFleet({ pipeline: p, initialVersion: "v1", clock });
          return {
            start: (r) => f.start(r),
            status: (r) => f.status(r),
            cancel: (r) => f.cancel(r),
            minutes: (q) => f.minutes(q),
          };
        },
      });
      try {
        await plane.register(p, "v1");
        plane.requestRun(p.name, "v2");
        await plane.run();
        const runId = runIdFor(p.name, "v2");
        return {
          run: await plane.store.getRun(runId),
          timeline: await plane.store.timeline(runId),
        };
      } finally {
        await dynamoClient().send(new DeleteTableCommand({ TableName: tableName }));
      }
    };
    const tested = await outcome({ tests: TESTS });
    expect(tested.run).toMatchObject({ status: "halted", haltReason: "rollback" });
    expect(tested.timeline.find((e) => e.event === "rollback-started")?.reason).toContain(
      "the stage has tests, but this control plane has no test runner",
    );
    expect(tested.timeline.some((e) => e.event === "bake-started")).toBe(false);
    const canaried = await outcome({ canaries: ["orders-home-{region}"] });
    expect(canaried.run).toMatchObject({ status: "halted", haltReason: "inconclusive" });
    expect(canaried.timeline.find((e) => e.event === "bake-finished")).toMatchObject({
      outcome: "Inconclusive",
      reason: "the stage has canaries, but this control plane cannot read canaries",
    });
  });
});
