/**
 * The detector during the bake (issue 13 item 7): when it looks (`bakeLooks`,
 * `nextLookSeconds`, `isInterimLook`), what an interim look decides (`judgeLook`), and the
 * thresholds corrected for the looks (`bonferroniZ`, `rulesForLook`; reference values
 * from the normal distribution's survival function, `scipy.stats.norm.isf(norm.sf(z) / k)`).
 * Two properties over the simulated scopes of test/support/anomaly-sim.ts: healthy scopes
 * looked at every 5 minutes with the corrected thresholds never roll back; injected
 * regressions are still caught, by some look, by the injected rule only.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AnomalyVerdict,
  bonferroniZ,
  DEFAULT_ANOMALY_RULES,
  detectAnomalies,
  rulesForLook,
} from "../../src/domain/anomaly/index.ts";
import {
  type BakeInput,
  type BakePolicy,
  bakeLooks,
  DEFAULT_CHECK_EVERY_MINUTES,
  isInterimLook,
  judgeLook,
  MAX_BAKE_LOOKS,
  nextLookSeconds,
} from "../../src/domain/bake.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import {
  healthyScopeArb,
  looksAt,
  regressedScopeArb,
  simulateScope,
} from "../support/anomaly-sim.ts";

const policy = (minutes: number, checkEveryMinutes?: number): BakePolicy => ({
  minutes,
  maxMinutes: minutes * 4,
  onInsufficientTraffic: "halt",
  ...(checkEveryMinutes !== undefined ? { checkEveryMinutes } : {}),
});

describe("bonferroniZ", () => {
  it.each([
    [4, 1, 4],
    [4, 2, 4.161104279],
    [4, 12, 4.553401458],
    [3.5, 12, 4.114681057],
  ])("corrects z = %d over %d looks to %d", (z, looks, expected) => {
    expect(bonferroniZ(z, looks)).toBeCloseTo(expected, 6);
  });

  it("grows with the looks, and never lowers a threshold", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 8, noNaN: true }),
        fc.integer({ min: 1, max: 1000 }),
        (z, k) => {
          expect(bonferroniZ(z, k + 1)).toBeGreaterThan(bonferroniZ(z, k));
          expect(bonferroniZ(z, k)).toBeGreaterThanOrEqual(z - 1e-9);
        },
      ),
    );
  });

  it("refuses non-finite input", () => {
    expect(() => bonferroniZ(Number.NaN, 2)).toThrow(RangeError);
    expect(() => bonferroniZ(4, Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe("rulesForLook", () => {
  const end = (planned: number) => rulesForLook({ planned, fraction: 1 });

  it("one look at the end is the built-in rules", () => {
    expect(end(1)).toEqual(DEFAULT_ANOMALY_RULES);
  });

  it("corrects only the two z thresholds, by Bonferroni over the planned looks", () => {
    const twelve = end(12);
    expect(twelve.faultRate.minZ).toBeCloseTo(4.5534, 4);
    expect(twelve.latency.minZ).toBeCloseTo(4.1147, 4);
    expect({ ...twelve.faultRate, minZ: 4 }).toEqual(DEFAULT_ANOMALY_RULES.faultRate);
    expect({ ...twelve.latency, minZ: 3.5 }).toEqual(DEFAULT_ANOMALY_RULES.latency);
    expect(twelve.trafficDrop).toEqual(DEFAULT_ANOMALY_RULES.trafficDrop);
  });

  it("asks early looks for more fault-rate evidence and a larger ratio: ÷ √(share of the bake elapsed)", () => {
    const quarter = rulesForLook({ planned: 12, fraction: 0.25 });
    expect(quarter.faultRate.minZ).toBeCloseTo(2 * 4.553401458, 6);
    expect(quarter.faultRate.minRatio).toBeCloseTo(4, 9);
    expect(quarter.faultRate.minIncrease).toBe(DEFAULT_ANOMALY_RULES.faultRate.minIncrease);
    // Latency's test counts minutes, not requests: Bonferroni only.
    expect(quarter.latency.minZ).toBeCloseTo(4.114681057, 6);
    // An extension after the bake's end is judged like its end.
    expect(rulesForLook({ planned: 12, fraction: 1.5 })).toEqual(end(12));
  });

  it("corrects overridden thresholds too", () => {
    expect(
      rulesForLook({ planned: 2, fraction: 1 }, { faultRate: { minZ: 3 } }).faultRate.minZ,
    ).toBeCloseTo(bonferroniZ(3, 2), 9);
  });

  it("refuses a look that is not one", () => {
    for (const planned of [0, 1.5, -3, Number.NaN]) {
      expect(() => rulesForLook({ planned, fraction: 1 })).toThrow(RangeError);
    }
    for (const fraction of [0, -0.5, Number.NaN]) {
      expect(() => rulesForLook({ planned: 2, fraction })).toThrow(RangeError);
    }
  });
});

describe("bakeLooks and nextLookSeconds", () => {
  it.each([
    ["60-minute bake, every 5", policy(60, 5), { everyMinutes: 5, planned: 12 }],
    ["62-minute bake: at most 12 looks, every 6", policy(62, 5), { everyMinutes: 6, planned: 11 }],
    [
      "57-minute bake, every 5 (the last look at the end)",
      policy(57, 5),
      { everyMinutes: 5, planned: 12 },
    ],
    ["interval at least the bake: one look", policy(10, 10), { everyMinutes: 10, planned: 1 }],
    ["detector off: one look", policy(60), { everyMinutes: 60, planned: 1 }],
    [
      "a 10-hour bake spaces its looks out to at most 12",
      policy(600, 5),
      { everyMinutes: 50, planned: 12 },
    ],
  ])("%s", (_label, p, expected) => {
    expect(bakeLooks(p)).toEqual(expected);
    expect(bakeLooks(p).planned).toBeLessThanOrEqual(MAX_BAKE_LOOKS);
  });

  it("waits to the next multiple of the interval, the last wait to the bake's end", () => {
    const p = policy(12, 5);
    expect(nextLookSeconds(p, 0)).toBe(300);
    expect(nextLookSeconds(p, 300_000)).toBe(300);
    expect(nextLookSeconds(p, 600_000)).toBe(120);
    // A look that ran late (a retried Lambda) waits only the rest of the interval.
    expect(nextLookSeconds(p, 330_000)).toBe(270);
    expect(nextLookSeconds(policy(60), 0)).toBe(3600);
  });

  it("only looks before the bake's minutes are interim", () => {
    const p = policy(60, 5);
    expect(isInterimLook(p, 5 * 60_000)).toBe(true);
    expect(isInterimLook(p, 60 * 60_000 - 1)).toBe(true);
    expect(isInterimLook(p, 60 * 60_000)).toBe(false);
    // An extension after the end (bake.minRequests) is judged as today.
    expect(isInterimLook(p, 75 * 60_000)).toBe(false);
    expect(isInterimLook(policy(60), 5 * 60_000)).toBe(false);
  });

  it("the default interval is 5 minutes", () => {
    expect(DEFAULT_CHECK_EVERY_MINUTES).toBe(5);
  });

  it("the looks a bake waits for add up to its minutes, at most MAX_BAKE_LOOKS of them", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 * 24 * 60 }),
        fc.integer({ min: 1, max: 1440 }),
        (minutes, every) => {
          const p = policy(minutes, every);
          let elapsed = 0;
          let looks = 0;
          while (elapsed < minutes * 60_000) {
            elapsed += nextLookSeconds(p, elapsed) * 1000;
            looks++;
          }
          expect(elapsed).toBe(minutes * 60_000);
          expect(looks).toBe(bakeLooks(p).planned);
          expect(looks).toBeLessThanOrEqual(MAX_BAKE_LOOKS);
        },
      ),
    );
  });
});

describe("judgeLook", () => {
  const regression: AnomalyVerdict = {
    phase: "Unhealthy",
    findings: [{ rule: "fault-rate", severity: "regression", message: "faults up", statistic: {} }],
  };
  const base: BakeInput = {
    alarms: [{ name: "faults", state: "OK" }],
    policy: { ...policy(60, 5), minRequests: 10_000 },
    candidate: [{ requests: 5, faults: 0, p99Ms: 50 }],
    elapsedMs: 15 * 60_000,
  };

  it("a regression ends the bake Unhealthy, at the minute it was found", () => {
    expect(judgeLook({ ...base, anomaly: regression })).toEqual({
      kind: "done",
      verdict: "Unhealthy",
      reasons: ["detector fault-rate: faults up", "found at minute 15 of 60 of the bake"],
    });
  });

  it.each<[string, Partial<BakeInput>]>([
    ["healthy so far", { anomaly: { phase: "Healthy", findings: [] } }],
    // Its own event rolls it back at once (fast rollback); the final look reads it too.
    ["an alarm in ALARM", { alarms: [{ name: "faults", state: "ALARM" }] }],
    ["too little data yet", { anomaly: { phase: "Inconclusive", findings: [] } }],
    [
      "an alarm without data, counted inconclusive",
      {
        alarms: [{ name: "faults", state: "INSUFFICIENT_DATA" }],
        alarmMissingData: "inconclusive",
      },
    ],
    ["minRequests not yet served, metrics unreadable", { candidate: undefined }],
  ])("%s: bakes on until the next look", (_label, over) => {
    expect(judgeLook({ ...base, ...over })).toEqual({ kind: "continue", seconds: 300 });
  });
});

describe("bake.checkEveryMinutes in the pipeline", () => {
  const withBake = (bake: Record<string, unknown>) => () =>
    parsePipeline(
      { name: "p", stages: [{ name: "prod", regions: ["us-east-1"], bake }] },
      "p.json",
    );

  it("accepts 1 to 1440 minutes", () => {
    expect(
      withBake({ minutes: 60, checkEveryMinutes: 10 })().stages[0]?.bake.checkEveryMinutes,
    ).toBe(10);
    expect(withBake({ minutes: 60, checkEveryMinutes: 1440 })).not.toThrow();
  });

  it.each([0, 1441, 2.5, "5"])("refuses %j, naming the field", (bad) => {
    expect(withBake({ minutes: 60, checkEveryMinutes: bad })).toThrow(
      /stages\[0\]\.bake\.checkEveryMinutes: must be a whole number of minutes from 1 to 1440/,
    );
  });
});

describe("simulated scopes looked at every 5 minutes", () => {
  const every = (minutes: number) =>
    bakeLooks(policy(minutes, DEFAULT_CHECK_EVERY_MINUTES)).everyMinutes;

  it("never judges a healthy scope Unhealthy at any look, with the corrected thresholds", () => {
    fc.assert(
      fc.property(healthyScopeArb, (scope) => {
        const { planned } = bakeLooks(policy(scope.bakeMinutes, DEFAULT_CHECK_EVERY_MINUTES));
        const looks = looksAt(simulateScope(scope), every(scope.bakeMinutes));
        for (const [i, { input, fraction }] of looks.entries()) {
          const verdict = detectAnomalies(input, rulesForLook({ planned, fraction }));
          if (verdict.phase === "Unhealthy") {
            throw new Error(`false positive at look ${i + 1}: ${JSON.stringify(verdict.findings)}`);
          }
        }
      }),
      { numRuns: 300, seed: 0x5eed },
    );
  });

  it("still catches every injected regression, by the injected rule only", () => {
    fc.assert(
      fc.property(regressedScopeArb, ({ scope, inject }) => {
        const { planned } = bakeLooks(policy(scope.bakeMinutes, DEFAULT_CHECK_EVERY_MINUTES));
        const looks = looksAt(simulateScope(scope, inject), every(scope.bakeMinutes));
        const first = looks
          .map(({ input, fraction }) => detectAnomalies(input, rulesForLook({ planned, fraction })))
          .find((v) => v.phase === "Unhealthy");
        expect(first, "no look found the regression").toBeDefined();
        expect(
          first?.findings.filter((f) => f.severity === "regression").map((f) => f.rule),
        ).toEqual([inject]);
      }),
      { numRuns: 300, seed: 0x5eed },
    );
  });
});
