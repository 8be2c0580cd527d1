/**
 * Safety rules 2, 3, 5 and 6 (docs/design.md) with several versions in flight: the "versions"
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
import type { TimelineEvent } from "../../src/domain/model.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { checkSuiteProperty, SUITE_SEED, summary } from "../safety/properties.ts";
import { hasApprovals, type Outcome, scenarioArb, violations } from "../safety/versions.ts";
import { dynamoClient } from "../support/dynamo.ts";

/** Generous: it only stops a hung run (a loaded two-core machine slows scenarios tenfold). */
const PROPERTY_TIMEOUT = 20 * 60_000;

describe("safety rules with several versions in flight (local control plane)", () => {
  it("rules 2, 3, 5 and 6 for random arrival schedules, fault sets and decisions (memory stores)", {
    timeout: PROPERTY_TIMEOUT,
  }, async () => {
    const report = await checkSuiteProperty("versions", "memory");
    console.log(summary(report));
    // The generator reaches the interesting cases (a fixed seed keeps the suite reproducible):
    // a version through two stages, a rollback, two versions in one stage or a supersede.
    for (const rule of [2, 3, 5, 6] as const) expect(report.exercised[rule]).toBeGreaterThan(0);
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
