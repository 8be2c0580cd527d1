/**
 * Safety rules 1 (rollback-all), 2, 3, 5 and 6 (docs/design.md) with several versions in flight: the "versions"
 * property of test/safety/properties.ts (generators and checks in test/safety/versions.ts) —
 * random arrival schedules, per-version fault sets and an optional engineer's decision — on the
 * real local control plane with the in-memory stores, and a sample of the same scenarios on
 * DynamoDB Local beside the memory stores (the two must record the same).
 *
 * A failing property prints the shrunk scenario, every violated rule and the `npm run soak`
 * command that replays it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readRollbackAsl } from "../../src/app/asl.ts";
import type { TimelineEvent } from "../../src/domain/model.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { checkSuiteProperty, SUITE_SEED, summary } from "../safety/properties.ts";
import {
  decisionSpans,
  hasApprovals,
  type Outcome,
  type Scenario,
  scenarioArb,
  simulateScenario,
  violations,
} from "../safety/versions.ts";
import { dynamoClient } from "../support/dynamo.ts";

/** Generous: it only stops a hung run (a loaded two-core machine slows scenarios tenfold). */
const PROPERTY_TIMEOUT = 20 * 60_000;

describe("safety rules with several versions in flight (local control plane)", () => {
  it("rules 1 (rollback-all), 2, 3, 5 and 6 for random arrival schedules, fault sets and decisions (memory stores)", {
    timeout: PROPERTY_TIMEOUT,
  }, async () => {
    const report = await checkSuiteProperty("versions", "memory");
    console.log(summary(report));
    // The generator reaches the interesting cases (a fixed seed keeps the suite reproducible):
    // a version through two stages, a rollback, two versions in one stage or a supersede.
    // And a wave-by-wave rollback-all over two stages or two AZs of a region (rule 1).
    for (const rule of [1, 2, 3, 5, 6] as const) expect(report.exercised[rule]).toBeGreaterThan(0);
  });

  it("the generator puts manual approvals before stages, with approve and reject decisions", () => {
    const sample = fc.sample(scenarioArb, { seed: SUITE_SEED, numRuns: 250 });
    const withApprovals = sample.filter(hasApprovals);
    expect(withApprovals.length).toBeGreaterThan(50);
    const actions = new Set(withApprovals.flatMap((s) => (s.approvals ?? []).map((a) => a.action)));
    expect(actions).toEqual(new Set(["approve", "reject"]));
    // Some scenarios decide nothing: their approvals time out.
    expect(withApprovals.some((s) => (s.approvals ?? []).length === 0)).toBe(true);
  });

  it("the same scenarios on DynamoDB Local record what the memory stores record", {
    timeout: PROPERTY_TIMEOUT,
  }, async () => {
    console.log(summary(await checkSuiteProperty("versions", dynamoClient())));
  });
});

/** The rollback ASL with the waves' Maps set to run everything at once. */
function allAtOnceWaves(): string {
  type Node = { States?: Record<string, Node>; ItemProcessor?: Node; MaxConcurrency?: number };
  const definition = JSON.parse(readRollbackAsl()) as Node;
  let edited = 0;
  const visit = (node: Node | undefined) => {
    for (const [name, state] of Object.entries(node?.States ?? {})) {
      if (name === "Waves" || name === "WavePhases") {
        state.MaxConcurrency = 0;
        edited++;
      }
      visit(state.ItemProcessor);
    }
  };
  visit(definition);
  if (edited !== 2) throw new Error("the rollback ASL has no Waves and WavePhases maps");
  return JSON.stringify(definition);
}

describe("rule 1 for rollback-all: the check catches a rollback-all that is not wave by wave", () => {
  // v2 through beta and prod-1 (two AZs), unhealthy in prod-2; rollback-all at 10:00.
  const scenario: Scenario = {
    pipeline: {
      name: "orders-api",
      stages: [
        { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } },
        {
          name: "prod-1",
          regions: [{ region: "eu-west-1", azs: ["euw1-az1", "euw1-az2"] }],
          bake: { minutes: 10 },
        },
        { name: "prod-2", regions: ["us-west-2"], bake: { minutes: 10 } },
      ],
    },
    arrivals: [0],
    faults: [{ version: "v2", scopes: "prod-2/us-west-2", kind: "faults" }],
    decision: { action: "rollback-all", atMinutes: 600 },
  };

  it("the real rollback machine goes wave by wave: no violation", async () => {
    const o = await simulateScenario(scenario, "memory");
    expect(
      decisionSpans(o)
        .map((x) => x.scope)
        .sort(),
    ).toEqual(["beta/us-east-1", "prod-1/eu-west-1/euw1-az1", "prod-1/eu-west-1/euw1-az2"]);
    expect(violations(o)).toEqual([]);
  });

  it("a rollback machine that rolls back all at once is caught", async () => {
    const o = await simulateScenario(scenario, "memory", { rollback: allAtOnceWaves() });
    const problems = violations(o).filter((p) => p.startsWith("rule 1"));
    expect(problems.some((p) => p.includes("before newer stage's"))).toBe(true);
    expect(problems.some((p) => p.includes("deploys AZs one at a time"))).toBe(true);
  });

  it("fast: true is the incident form: all at once, and no violation", async () => {
    const fast: Scenario = {
      ...scenario,
      decision: { action: "rollback-all", atMinutes: 600, fast: true },
    };
    const o = await simulateScenario(fast, "memory");
    expect(new Set(decisionSpans(o).map((x) => x.start)).size).toBe(1);
    expect(violations(o)).toEqual([]);
  });
});

describe("the several-versions checks catch a line that did not stop", () => {
  const input = {
    name: "orders-api",
    stages: [
      { name: "prod-1", regions: ["eu-west-1", "eu-north-1"], bake: { minutes: 60 } },
      { name: "prod-2", regions: ["us-west-2"], bake: { minutes: 60 } },
    ],
  };
  const event = (
    version: string,
    scope: string,
    name: TimelineEvent["event"],
    at: string,
  ): TimelineEvent => ({
    at,
    runId: `orders-api@${version}`,
    pipeline: "orders-api",
    version,
    stage: scope.split("/")[0] as string,
    scope,
    step: "full",
    event: name,
  });
  const outcome = (v3Deploy: string): Outcome => ({
    scenario: {
      pipeline: input,
      arrivals: [0, 30],
      faults: [{ version: "v2", scopes: "prod-2/us-west-2", kind: "faults" }],
      decision: undefined,
    },
    pipeline: parsePipeline(input),
    versions: ["v2", "v3"],
    runs: new Map(),
    timelines: new Map([
      ["v2", [event("v2", "prod-2/us-west-2", "rollback-started", "2026-03-02T12:00:00.000Z")]],
      ["v3", [event("v3", "prod-1/eu-north-1", "deploy-started", v3Deploy)]],
    ]),
    history: new Map(),
    serving: new Map(),
  });

  it("a newer version's step at the rollback's very instant, or after it, is a rule 3 violation", () => {
    for (const at of ["2026-03-02T12:00:00.000Z", "2026-03-02T12:05:00.000Z"]) {
      expect(violations(outcome(at)).join("\n")).toContain(
        "rule 3: v3 started a deploy in prod-1/eu-north-1",
      );
    }
    expect(violations(outcome("2026-03-02T11:59:59.999Z"))).toEqual([]);
  });
});
