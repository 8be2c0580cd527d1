/**
 * The expected schedule (src/domain/schedule.ts): bakes extended for minRequests as the bake rule
 * would, the blast radius step by step, the Map's pool of regions, and a window that never opens.
 * Its equality with `simulate` is test/integration/plan-simulate.test.ts.
 */
import { describe, expect, it } from "vitest";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { isProductionStage, planSchedule } from "../../src/domain/schedule.ts";

const START = new Date("2026-01-05T09:00:00Z");
const none = { type: "none" } as const;
const at = (offsetSeconds: number) =>
  new Date(START.getTime() + offsetSeconds * 1000).toISOString();

function plan(input: PipelineInput, options: Partial<Parameters<typeof planSchedule>[1]> = {}) {
  return planSchedule(parsePipeline(input), { start: START, ...options });
}

describe("planSchedule", () => {
  it("runs a stage's steps one after another: deploy (the target's local seconds), then bake", () => {
    const s = plan({
      name: "p",
      target: none,
      stages: [{ name: "prod-1", regions: ["us-east-1"], oneBox: true, bake: { minutes: 10 } }],
    });
    // none: one-box 120 s, full 300 s.
    expect(s.steps.map((x) => [x.kind, x.deployStartedAt, x.deployedAt, x.bakeEndsAt])).toEqual([
      ["one-box", at(0), at(120), at(720)],
      ["full", at(720), at(1020), at(1620)],
    ]);
    expect(s.totalSeconds).toBe(1620);
  });

  it("starts a region as soon as a slot of regionsInParallel frees, not in batches", () => {
    const s = plan({
      name: "p",
      target: none,
      stages: [
        {
          name: "prod-1",
          regions: ["us-east-1", "eu-west-1", "eu-north-1"],
          regionsInParallel: 2,
          bake: { minutes: 10 },
        },
      ],
    });
    const start = (r: string) => s.steps.find((x) => x.region === r)?.deployStartedAt;
    expect([start("us-east-1"), start("eu-west-1"), start("eu-north-1")]).toEqual([
      at(0),
      at(0),
      at(900),
    ]);
  });

  it("extends a bake for minRequests at the given traffic, by the bake rule's own arithmetic", () => {
    const input: PipelineInput = {
      name: "p",
      target: none,
      stages: [
        {
          name: "prod-1",
          regions: ["us-east-1"],
          oneBox: true,
          bake: { minutes: 45, minRequests: 5000, maxMinutes: 200 },
        },
      ],
    };
    const bare = plan(input);
    expect(bare.steps[0]?.bakeExtendedMinutes).toBeUndefined();
    expect(bare.assumptions.join(" ")).toMatch(/bakes assumed to end at bake.minutes/);
    // 1000 requests a minute, 10% on the one-box: 100 a minute, 4500 in 45 minutes; 500 more
    // take 5 minutes, plus the rule's minute of margin: 51 minutes in all.
    const busy = plan(input, { requestsPerMinute: () => 1000 });
    expect(busy.steps[0]?.bakeExtendedMinutes).toBe(6);
    expect(busy.steps[1]?.bakeExtendedMinutes).toBeUndefined();
    expect(busy.totalSeconds).toBe(120 + 51 * 60 + 300 + 45 * 60);
  });

  it("stops at a bake that would end inconclusive for want of traffic", () => {
    const s = plan(
      {
        name: "p",
        target: none,
        stages: [
          { name: "prod-1", regions: ["us-east-1"], bake: { minutes: 10, minRequests: 1000 } },
        ],
      },
      { requestsPerMinute: () => 1 },
    );
    expect(s.finishedAt).toBeUndefined();
    expect(s.stoppedAt?.reason).toMatch(/Inconclusive/);
    expect(s.steps[0]?.bakeOutcome).toBe("Inconclusive");
  });

  it("shows the blast radius: production regions, AZs and traffic exposed so far", () => {
    const s = plan({
      name: "p",
      target: none,
      stages: [
        { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } },
        {
          name: "prod-1",
          regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }],
          oneBox: { percent: 10 },
          bake: { minutes: 10 },
        },
        { name: "prod-2", regions: ["us-east-1"], bake: { minutes: 10 } },
      ],
    });
    expect(s.steps[0]?.blast).toBeUndefined();
    expect(s.steps.slice(1).map((x) => x.blast)).toEqual([
      // Each region weighs the same, split over its AZs: 10% of half of one of two regions.
      { regions: { exposed: 1, total: 2 }, azs: { exposed: 1, total: 2 }, trafficPercent: 2.5 },
      { regions: { exposed: 1, total: 2 }, azs: { exposed: 1, total: 2 }, trafficPercent: 25 },
      { regions: { exposed: 1, total: 2 }, azs: { exposed: 2, total: 2 }, trafficPercent: 50 },
      { regions: { exposed: 2, total: 2 }, azs: { exposed: 2, total: 2 }, trafficPercent: 100 },
    ]);
  });

  it("weighs the traffic share by requests per minute when every production scope's is known", () => {
    const s = plan(
      {
        name: "p",
        target: none,
        stages: [
          { name: "prod-1", regions: ["eu-north-1"], bake: { minutes: 10 } },
          { name: "prod-2", regions: ["us-east-1"], bake: { minutes: 10 } },
        ],
      },
      { requestsPerMinute: (scope) => (scope.includes("us-east-1") ? 900 : 100) },
    );
    expect(s.steps.map((x) => x.blast?.trafficPercent)).toEqual([10, 100]);
  });

  it("waits for a window, exactly until it opens, and names it", () => {
    const s = plan({
      name: "p",
      target: none,
      timeWindows: { allowed: [{ days: ["mon"], from: "10:00", to: "17:00" }] },
      stages: [{ name: "prod-1", regions: ["eu-west-1"], bake: { minutes: 10 } }],
    });
    // Monday 09:00 in Dublin (UTC in January): the window opens at 10:00.
    expect(s.steps[0]?.waits).toEqual([
      expect.objectContaining({
        from: at(0),
        until: at(3600),
        reason: expect.stringMatching(/outside/),
      }),
    ]);
    expect(s.steps[0]?.deployStartedAt).toBe(at(3600));
  });

  it("does not finish when a window never opens before the horizon", () => {
    const s = plan({
      name: "p",
      target: none,
      timeWindows: {
        freezes: [
          { from: "2026-01-01T00:00:00Z", to: "2026-12-31T00:00:00Z", reason: "year-long freeze" },
        ],
      },
      stages: [{ name: "prod-1", regions: ["eu-west-1"], bake: { minutes: 10 } }],
    });
    expect(s.finishedAt).toBeUndefined();
    expect(s.stoppedAt).toEqual({
      scope: "prod-1/eu-west-1",
      reason: expect.stringMatching(/year-long freeze.*horizon/),
    });
  });

  it("counts stages named prod… as production", () => {
    expect(
      ["prod", "prod-1", "Production-eu", "gamma", "beta", "preprod"].map((name) =>
        isProductionStage({ name }),
      ),
    ).toEqual([true, true, true, false, false, false]);
  });
});
