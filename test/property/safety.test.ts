/**
 * Safety rules 1, 2, 3 and 5 (docs/design.md, "Safety rules") as properties of whole runs: the
 * "runs" and "parallel-halt" properties of test/safety/properties.ts (generators and checks in
 * test/safety/runs.ts) over hundreds of generated pipelines, fault sets and deployment speeds on
 * the real local control plane with the in-memory stores, and a sample of the same scenarios on
 * DynamoDB Local beside the memory stores (the two must record the same). Then worked examples,
 * and the checks' own test: a control plane broken on purpose must fail them.
 *
 * A failing property prints the shrunk scenario, every violated rule with the timeline, and the
 * `npm run soak` command that replays it.
 */
import { describe, expect, it } from "vitest";
import { readStageAsl } from "../../src/app/asl.ts";
import type { TimelineEvent } from "../../src/domain/model.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { checkSuiteProperty, summary } from "../safety/properties.ts";
import { causalHistory, checkAll, ms, stepKey, violations } from "../safety/runs.ts";
import { dynamoClient } from "../support/dynamo.ts";
import { runSimulation, type SimOutcome } from "../support/sim.ts";

/**
 * Each property runs hundreds of scenarios; on a loaded two-core machine a scenario can take
 * ten times its usual ~20–90 ms. The bound only stops a hung run.
 */
const PROPERTY_TIMEOUT = 20 * 60_000;

describe("safety rules hold for any pipeline and any faults (local control plane)", () => {
  it("rules 1, 2, 3 and 5 on arbitrary pipelines, fault sets and speeds (memory stores)", {
    timeout: PROPERTY_TIMEOUT,
  }, async () => {
    const report = await checkSuiteProperty("runs", "memory");
    console.log(summary(report));
    // The generator reaches each rule's guarded case (a fixed seed keeps this reproducible).
    for (const rule of [1, 2, 3, 5] as const) expect(report.exercised[rule]).toBeGreaterThan(0);
  });

  it("rules 1, 3 and 5 when a rollback races regions deploying in parallel (memory stores)", {
    timeout: PROPERTY_TIMEOUT,
  }, async () => {
    const report = await checkSuiteProperty("parallel-halt", "memory");
    console.log(summary(report));
    expect(report.exercised[1]).toBeGreaterThan(0);
  });

  it("the same scenarios on DynamoDB Local record what the memory stores record", {
    timeout: PROPERTY_TIMEOUT,
  }, async () => {
    for (const name of ["runs", "parallel-halt"]) {
      console.log(summary(await checkSuiteProperty(name, dynamoClient())));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------------------------

const at = (r: SimOutcome, scope: string, step: string, event: TimelineEvent["event"]) =>
  r.timeline.find((e) => e.scope === scope && e.step === step && e.event === event);

describe("scoped rollback, examples", () => {
  it("three regions in parallel: a one-box fault halts the run, in-flight steps elsewhere finish and bake, nothing new starts", async () => {
    const pipeline = parsePipeline({
      name: "orders-api",
      stages: [
        {
          name: "prod-3",
          regions: [
            "us-west-2",
            { region: "eu-west-1", azs: ["euw1-az1", "euw1-az2"] },
            "ap-southeast-2",
          ],
          regionsInParallel: 3,
          oneBox: true,
          bake: { minutes: 60 },
        },
        { name: "prod-4", regions: ["sa-east-1"], bake: { minutes: 30 } },
      ],
    });
    // us-west-2's one-box deploys in 1 min and its fault is found at the detector's look at
    // minute 10 of its bake (11 min; at minute 5 the evidence is below the early looks' higher
    // threshold); the others' one-box deploys take 70 min, so they are still deploying when the
    // run halts.
    const r = await runSimulation({
      dynamo: dynamoClient(),
      pipeline,
      faults: [{ scopes: "prod-3/us-west-2", kind: "faults" }],
      durationsFor: (region) =>
        region === "us-west-2"
          ? { oneBox: 60, full: 300, rollback: 180 }
          : { oneBox: 4200, full: 300, rollback: 180 },
    });
    checkAll(r);
    expect(r.run?.status).toBe("halted");
    expect(r.run?.haltReason).toBe("rollback");
    expect(r.run?.rolledBack).toEqual(["prod-3/us-west-2"]);

    const rollback = at(r, "prod-3/us-west-2", "one-box", "rollback-started");
    expect(rollback?.at).toBe("2025-03-03T09:11:00.000Z");
    for (const scope of ["prod-3/eu-west-1/euw1-az1", "prod-3/ap-southeast-2"]) {
      const finished = at(r, scope, "one-box", "deploy-finished");
      const baked = at(r, scope, "one-box", "bake-finished");
      // The step in flight at the halt completes and is judged after it...
      expect(finished?.at).toBe("2025-03-03T10:10:00.000Z");
      expect(baked?.outcome).toBe("Healthy");
      expect(ms(baked?.at ?? "")).toBeGreaterThan(ms(rollback?.at ?? ""));
      // ...and the scope keeps the new version at its one-box share.
      expect(r.scopes.get(scope)).toMatchObject({ version: "v2", status: "stable", percent: 10 });
      expect(r.serving.get(scope)).toEqual({
        stable: "v1",
        canary: { version: "v2", percent: 10 },
      });
    }
    // No deploy step started after the rollback: only the three one-box steps ever started.
    expect(r.timeline.filter((e) => e.event === "deploy-started").map((e) => stepKey(e))).toEqual([
      "prod-3/ap-southeast-2 one-box",
      "prod-3/eu-west-1/euw1-az1 one-box",
      "prod-3/us-west-2 one-box",
    ]);
    expect(r.scopes.get("prod-3/us-west-2")).toMatchObject({
      version: "v1",
      status: "rolled-back",
      percent: 100,
    });
    expect(r.scopes.get("prod-3/eu-west-1/euw1-az2")).toMatchObject({
      version: "v1",
      status: "stable",
    });
    expect(r.scopes.get("prod-4/sa-east-1")).toMatchObject({ version: "v1", status: "stable" });
    expect(r.timeline.some((e) => e.stage === "prod-4")).toBe(false);
  });

  it("a fault only in the second AZ: AZ1 keeps the new version, AZ2 rolls back, AZ3 is untouched", async () => {
    const pipeline = parsePipeline({
      name: "orders-api",
      stages: [
        { name: "beta", regions: ["us-east-1"], bake: { minutes: 15 } },
        {
          name: "prod-2",
          regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2", "use1-az4"] }],
          oneBox: true,
          bake: { minutes: 60 },
        },
        { name: "prod-3", regions: ["eu-west-1"], bake: { minutes: 30 } },
      ],
    });
    const r = await runSimulation({
      dynamo: dynamoClient(),
      pipeline,
      faults: [{ scopes: "prod-2/us-east-1/use1-az2", kind: "latency" }],
    });
    checkAll(r);
    expect(r.run?.rolledBack).toEqual(["prod-2/us-east-1/use1-az2"]);
    expect(r.scopes.get("beta/us-east-1")).toMatchObject({
      version: "v2",
      status: "stable",
      percent: 100,
    });
    expect(r.scopes.get("prod-2/us-east-1/use1-az1")).toMatchObject({
      version: "v2",
      status: "stable",
      percent: 100,
    });
    expect(r.scopes.get("prod-2/us-east-1/use1-az2")).toMatchObject({
      version: "v1",
      previousVersion: "v2",
      status: "rolled-back",
      percent: 100,
    });
    expect(r.scopes.get("prod-2/us-east-1/use1-az4")).toMatchObject({
      version: "v1",
      status: "stable",
      percent: 100,
    });
    expect(r.scopes.get("prod-3/eu-west-1")).toMatchObject({ version: "v1", status: "stable" });
    // AZ3 and the next wave: the seed is their whole history.
    expect(r.history.get("prod-2/us-east-1/use1-az4")?.map((h) => h.actor)).toEqual(["seed"]);
    expect(r.history.get("prod-3/eu-west-1")?.map((h) => h.actor)).toEqual(["seed"]);
    // AZ2's history: seed, deploy, bake, rollback (who and why), rolled back.
    const az2 = causalHistory(r.history.get("prod-2/us-east-1/use1-az2") ?? []);
    expect(az2.map((h) => [h.toVersion, h.status, h.actor])).toEqual([
      ["v1", "stable", "seed"],
      ["v2", "deploying", "breakwater/deploy"],
      ["v2", "baking", "breakwater/deploy"],
      ["v1", "rolling-back", "breakwater/rollback"],
      ["v1", "rolled-back", "breakwater/rollback"],
    ]);
    // The rollback names the detector's finding, with its numbers.
    expect(az2[3]?.cause).toMatch(
      /^run orders-api@v2: rolling back v2 -> v1: unhealthy: detector latency: median p99 \d+ ms vs \d+ ms /,
    );
  });

  it("regions one at a time: a fault in the second region leaves the third and the next stage untouched", async () => {
    const pipeline = parsePipeline({
      name: "orders-api",
      stages: [
        {
          name: "prod-4",
          regions: ["ap-northeast-1", "sa-east-1", "ca-central-1"],
          oneBox: { percent: 5 },
          bake: { minutes: 30 },
        },
        { name: "prod-5", regions: ["eu-central-1"], bake: { minutes: 30 } },
      ],
    });
    const r = await runSimulation({
      dynamo: dynamoClient(),
      pipeline,
      faults: [{ scopes: "prod-4/sa-east-*", kind: "traffic-drop" }],
    });
    checkAll(r);
    expect(r.run?.rolledBack).toEqual(["prod-4/sa-east-1"]);
    // The one-box step alarmed (5% share, traffic dropped), so the full step never ran there.
    expect(at(r, "prod-4/sa-east-1", "one-box", "bake-finished")?.outcome).toBe("Unhealthy");
    expect(at(r, "prod-4/sa-east-1", "full", "deploy-started")).toBeUndefined();
    expect(r.scopes.get("prod-4/ap-northeast-1")).toMatchObject({ version: "v2", percent: 100 });
    expect(r.scopes.get("prod-4/ca-central-1")).toMatchObject({ version: "v1", status: "stable" });
    expect(r.scopes.get("prod-5/eu-central-1")).toMatchObject({ version: "v1", status: "stable" });
    expect(r.timeline.filter((e) => e.scope === "prod-4/ca-central-1")).toEqual([]);
  });
});

describe("tests and canaries as fault sources, examples", () => {
  it("a failing test in one AZ and a failing canary in another region: each rolls back its own scope, the rules hold", async () => {
    const pipeline = parsePipeline({
      name: "orders-api",
      stages: [
        {
          name: "gamma",
          regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }, "eu-west-1"],
          regionsInParallel: 2,
          oneBox: true,
          bake: { minutes: 20 },
          tests: [{ lambda: "it-{stage}-{region}" }],
          canaries: ["home-{stage}-{region}"],
        },
      ],
    });
    const r = await runSimulation({
      dynamo: dynamoClient(),
      pipeline,
      faults: [
        { scopes: "gamma/us-east-1/use1-az2", kind: "tests" },
        { scopes: "gamma/eu-west-1", kind: "canary" },
      ],
    });
    checkAll(r);
    // The canary sees eu-west-1's one-box (10% of checks fail: 90% < 99%).
    expect(at(r, "gamma/eu-west-1", "one-box", "bake-finished")?.outcome).toBe("Unhealthy");
    expect(r.run?.rolledBack).toEqual(["gamma/eu-west-1"]);
    // us-east-1's one-box (az1) was in flight: it finished, tested and baked healthy; az2's
    // full step, whose tests would fail, never started (the run halted).
    expect(at(r, "gamma/us-east-1/use1-az1", "one-box", "tests-finished")?.outcome).toBe("passed");
    expect(at(r, "gamma/us-east-1/use1-az2", "full", "deploy-started")).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// The checks themselves: a control plane broken on purpose must fail them.
// ---------------------------------------------------------------------------------------------

type AslNode = { States?: Record<string, AslNode>; ItemProcessor?: AslNode } & Record<
  string,
  unknown
>;

/** The stage ASL with one state edited (found by name at any depth). */
function brokenAsl(stateName: string, edit: (state: AslNode) => void): string {
  const definition = JSON.parse(readStageAsl()) as AslNode;
  const visit = (node: AslNode | undefined): boolean => {
    if (!node?.States) return false;
    for (const [name, state] of Object.entries(node.States)) {
      if (name === stateName) {
        edit(state);
        return true;
      }
      if (visit(state.ItemProcessor)) return true;
    }
    return false;
  };
  if (!visit(definition)) throw new Error(`no state ${stateName} in the stage ASL`);
  return JSON.stringify(definition);
}

describe("the safety checks catch a broken control plane", () => {
  const wave = parsePipeline({
    name: "orders-api",
    stages: [
      { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } },
      {
        name: "prod-1",
        regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }, "eu-west-1"],
        oneBox: true,
        bake: { minutes: 30 },
      },
      { name: "prod-2", regions: ["us-west-2"], bake: { minutes: 30 } },
    ],
  });

  it("rule 1: regions and AZs deployed all at once", async () => {
    const asl = brokenAsl("Regions", (s) => {
      delete s.MaxConcurrencyPath;
      s.MaxConcurrency = 0;
    });
    const regions = violations(
      await runSimulation({ dynamo: dynamoClient(), pipeline: wave, asl: { stage: asl } }),
    );
    expect(
      regions.some((p) => p.includes("rule 1: stage prod-1 (regionsInParallel 1) had 2 regions")),
    ).toBe(true);
    const phases = brokenAsl("Phases", (s) => {
      s.MaxConcurrency = 0;
    });
    // Without a one-box step, each phase is one AZ's full step: all phases at once overlap.
    const azWave = parsePipeline({
      name: "orders-api",
      stages: [
        {
          name: "prod-1",
          regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }],
          bake: { minutes: 30 },
        },
      ],
    });
    const azs = violations(
      await runSimulation({ dynamo: dynamoClient(), pipeline: azWave, asl: { stage: phases } }),
    );
    expect(azs.some((p) => p.includes("rule 1: prod-1/eu-north-1 deploys AZs one at a time"))).toBe(
      true,
    );
  });

  it("rule 1: cells deployed all at once, beyond cellsInParallel and across AZs", async () => {
    // Every phase of a region at once: cells batched two at a time all overlap.
    const phases = brokenAsl("Phases", (s) => {
      s.MaxConcurrency = 0;
    });
    const cellWave = parsePipeline({
      name: "orders-api",
      stages: [
        {
          name: "prod-1",
          regions: [
            { region: "eu-west-1", cells: ["c1", "c2", "c3"] },
            {
              region: "us-east-1",
              azs: [
                { az: "use1-az1", cells: ["c1"] },
                { az: "use1-az2", cells: ["c1"] },
              ],
            },
          ],
          regionsInParallel: 2,
          cellsInParallel: 2,
          bake: { minutes: 30 },
        },
      ],
    });
    const found = violations(
      await runSimulation({ dynamo: dynamoClient(), pipeline: cellWave, asl: { stage: phases } }),
    );
    expect(
      found.some((p) => p.startsWith("rule 1: prod-1/eu-west-1 deploys 2 cells at a time")),
    ).toBe(true);
    expect(
      found.some((p) => p.startsWith("rule 1: prod-1/us-east-1 deploys AZs one at a time")),
    ).toBe(true);
    // The same pipeline on the real ASL keeps to both limits.
    expect(violations(await runSimulation({ dynamo: dynamoClient(), pipeline: cellWave }))).toEqual(
      [],
    );
  });

  it("rule 3: an unhealthy scope kept instead of rolled back", async () => {
    // Unhealthy ends the branch as if all were well (sent to RecordStep it would no longer do:
    // Record takes only a Healthy verdict, and its error is rolled back).
    const asl = brokenAsl("Healthy?", (s) => {
      s.Choices = [
        { Variable: "$.health.phase", StringEquals: "Unhealthy", Next: "StepSuperseded" },
        ...(s.Choices as unknown[]),
      ];
    });
    const problems = violations(
      await runSimulation({
        dynamo: dynamoClient(),
        pipeline: wave,
        faults: [{ scopes: "prod-1/eu-north-1/eun1-az2", kind: "faults" }],
        asl: { stage: asl },
      }),
    );
    expect(problems).toContain(
      "rule 3: rolled back [] but unhealthy scopes were [prod-1/eu-north-1/eun1-az2] (a rollback must revert exactly the scopes that alarmed)",
    );
    expect(problems).toContain(
      "rule 3: faulty scope prod-1/eu-north-1/eun1-az2 was deployed and kept",
    );
  });

  it("rules 2, 3 and 5: a tampered record of a good run", async () => {
    const r = await runSimulation({
      dynamo: dynamoClient(),
      pipeline: wave,
      faults: [{ scopes: "prod-1/eu-west-1", kind: "latency" }],
    });
    expect(violations(r)).toEqual([]);
    const shift = (e: TimelineEvent, minutes: number) => ({
      ...e,
      at: new Date(ms(e.at) + minutes * 60_000).toISOString(),
    });
    // Rule 2: prod-1's first step moved before beta's bake ended.
    const early = {
      ...r,
      timeline: r.timeline.map((e) =>
        e.stage === "prod-1" &&
        e.event === "deploy-started" &&
        e.step === "one-box" &&
        e.scope.includes("eun1-az1")
          ? shift(e, -5)
          : e,
      ),
    };
    expect(violations(early).some((p) => p.startsWith("rule 2: prod-1 started at"))).toBe(true);
    // Rule 3: a deploy step after the rollback.
    const rollbackAt = at(r, "prod-1/eu-west-1", "one-box", "rollback-started")?.at ?? "";
    const late = {
      ...r,
      timeline: [
        ...r.timeline,
        {
          ...r.timeline[0],
          scope: "prod-2/us-west-2",
          stage: "prod-2",
          step: "full",
          event: "deploy-started",
          at: new Date(ms(rollbackAt) + 1000).toISOString(),
        } as TimelineEvent,
      ],
    };
    expect(violations(late).some((p) => p.includes("after the first rollback"))).toBe(true);
    // Rule 5: a version change missing from a scope's history.
    const history = new Map(r.history);
    history.set(
      "prod-1/eu-west-1",
      (history.get("prod-1/eu-west-1") ?? []).filter((h) => h.status !== "rolling-back"),
    );
    const forgotten = violations({ ...r, history });
    expect(forgotten.some((p) => p.startsWith("rule 5: prod-1/eu-west-1"))).toBe(true);
  });
});
