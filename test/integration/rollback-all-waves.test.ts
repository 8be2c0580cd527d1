/**
 * `rollback-all` wave by wave (issue 13 item 7; safety rule 1: a rollback is a deployment), on
 * the real local control plane: DynamoDB Local, the real rollback ASL (its Waves map) in the
 * local interpreter, the real handlers, a simulated fleet and the virtual clock. The newest
 * stage rolls back first; in a stage the regions go together; in a region the AZs one at a
 * time. `fast: true` (and `"rollbackAll": "all-at-once"`) keeps the incident form: every
 * scope at once.
 */
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../src/domain/model.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { type SimulationResult, simulate } from "../../src/local/simulate.ts";
import { dynamoClient } from "../support/dynamo.ts";

const START = new Date("2026-01-12T09:00:00Z");
const DECIDE_AT = new Date("2026-01-12T21:00:00Z");

const input = (extra: Partial<PipelineInput> = {}): PipelineInput => ({
  name: "orders-api",
  ...extra,
  stages: [
    {
      name: "prod-1",
      regions: [{ region: "eu-west-1", azs: ["euw1-az1", "euw1-az2", "euw1-az3"] }, "us-west-2"],
      regionsInParallel: 2,
      bake: { minutes: 30 },
    },
    {
      name: "prod-2",
      regions: [
        { region: "us-east-1", azs: ["use1-az1", "use1-az2"] },
        { region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] },
      ],
      regionsInParallel: 2,
      bake: { minutes: 30 },
    },
  ],
});

/** v2 through prod-1, then unhealthy in prod-2/us-east-1/use1-az2; rollback-all at 21:00. */
const run = (extra: Partial<PipelineInput> = {}, fast = false) =>
  simulate({
    pipeline: parsePipeline(input(extra)),
    fromVersion: "v1",
    version: "v2",
    start: START,
    dynamo: dynamoClient(),
    faults: [{ scopes: "prod-2/us-east-1/use1-az2", kind: "faults" }],
    decisions: [{ action: "rollback-all", at: DECIDE_AT, ...(fast ? { fast: true } : {}) }],
  });

interface Span {
  scope: string;
  start: number;
  end: number;
}

/** The decision's rollbacks: rollback-started naming rollback-all → its rollback-finished. */
function decisionRollbacks(result: SimulationResult): Span[] {
  const tl = result.timeline as TimelineEvent[];
  return tl
    .filter((e) => e.event === "rollback-started" && e.reason?.includes("rollback-all"))
    .map((e) => {
      const finished = tl.find(
        (f) => f.event === "rollback-finished" && f.scope === e.scope && f.at >= e.at,
      );
      return {
        scope: e.scope,
        start: Date.parse(e.at),
        end: finished ? Date.parse(finished.at) : Number.NaN,
      };
    });
}

const inStage = (spans: Span[], stage: string) =>
  spans.filter((s) => s.scope.startsWith(`${stage}/`));
const of = (spans: Span[], scope: string) => spans.find((s) => s.scope === scope) as Span;

/** The v2 scopes the rollback-all returns to v1 (use1-az2 rolled back on its own). */
const TARGETS = [
  "prod-1/eu-west-1/euw1-az1",
  "prod-1/eu-west-1/euw1-az2",
  "prod-1/eu-west-1/euw1-az3",
  "prod-1/us-west-2",
  "prod-2/eu-north-1/eun1-az1",
  "prod-2/eu-north-1/eun1-az2",
  "prod-2/us-east-1/use1-az1",
];

describe("rollback-all", () => {
  it("goes wave by wave: newest stage first, regions together, AZs one at a time", async () => {
    const result = await run();
    expect(result.decisions[0]?.effect).toContain("wave by wave");
    const spans = decisionRollbacks(result);
    expect(spans.map((s) => s.scope).sort()).toEqual(TARGETS);
    expect(spans.every((s) => Number.isFinite(s.end))).toBe(true);
    for (const id of TARGETS) {
      expect(result.scopes[id], id).toMatchObject({ version: "v1", status: "rolled-back" });
    }
    // Newest stage first: prod-1 starts only once all of prod-2 is back.
    const prod2End = Math.max(...inStage(spans, "prod-2").map((s) => s.end));
    const prod1Start = Math.min(...inStage(spans, "prod-1").map((s) => s.start));
    expect(prod1Start).toBeGreaterThanOrEqual(prod2End);
    // One AZ at a time, in the stage's order.
    const euw1 = ["euw1-az1", "euw1-az2", "euw1-az3"].map((az) =>
      of(spans, `prod-1/eu-west-1/${az}`),
    );
    expect(euw1[1]?.start).toBeGreaterThanOrEqual(euw1[0]?.end as number);
    expect(euw1[2]?.start).toBeGreaterThanOrEqual(euw1[1]?.end as number);
    const eun1 = of(spans, "prod-2/eu-north-1/eun1-az1");
    expect(of(spans, "prod-2/eu-north-1/eun1-az2").start).toBeGreaterThanOrEqual(eun1.end);
    // Regions together: each stage's regions start at the same instant.
    expect(of(spans, "prod-1/us-west-2").start).toBe(euw1[0]?.start);
    expect(of(spans, "prod-2/us-east-1/use1-az1").start).toBe(eun1.start);
    expect(eun1.start).toBe(DECIDE_AT.getTime());
  });

  it("fast: true rolls every scope back at once", async () => {
    const result = await run({}, true);
    expect(result.decisions[0]?.effect).toContain("all at once (fast)");
    const spans = decisionRollbacks(result);
    expect(spans.map((s) => s.scope).sort()).toEqual(TARGETS);
    expect(new Set(spans.map((s) => s.start))).toEqual(new Set([DECIDE_AT.getTime()]));
    for (const id of TARGETS) expect(result.scopes[id], id).toMatchObject({ version: "v1" });
  });

  it('"rollbackAll": "all-at-once" in the pipeline does the same for every rollback-all', async () => {
    const result = await run({ rollbackAll: "all-at-once" });
    expect(result.decisions[0]?.effect).toContain("all at once (rollbackAll: all-at-once)");
    const spans = decisionRollbacks(result);
    expect(spans).toHaveLength(TARGETS.length);
    expect(new Set(spans.map((s) => s.start))).toEqual(new Set([DECIDE_AT.getTime()]));
  });
});
