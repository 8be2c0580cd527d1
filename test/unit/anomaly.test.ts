/**
 * The built-in anomaly detector: table-driven cases per rule (clear regressions, noise, edges
 * at the thresholds, tiny samples, zero traffic, control preferred over baseline), the
 * statistical helpers against values computed with SciPy, and two properties over simulated
 * scopes: healthy scopes are never judged Unhealthy, and injected regressions always are, by
 * the right rule.
 *
 * The simulated noise comes from a seeded PRNG (mulberry32) whose seed is part of each
 * generated case, so a counterexample printed by fast-check replays exactly with
 * `detectAnomalies(simulateScope(scope))`. fast-check's own seed is fixed as well: the detector
 * fires on healthy data with a small but non-zero probability by design (p ≈ 3e-5 per test),
 * and CI must not flake on it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AnomalyInput,
  type AnomalyRule,
  type AnomalyRuleOverrides,
  type AnomalyVerdict,
  conditionalBinomialZ,
  DEFAULT_ANOMALY_RULES,
  detectAnomalies,
  type MinuteSample,
  mannWhitneyZ,
  median,
  resolveAnomalyRules,
  twoProportionZ,
} from "../../src/domain/anomaly/index.ts";
import { InvalidInputError } from "../../src/domain/errors.ts";
import { healthyScopeArb, regressedScopeArb, simulateScope } from "../support/anomaly-sim.ts";

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/** `n` identical minutes. */
const flat = (n: number, requests: number, faults: number, p99Ms: number): MinuteSample[] =>
  Array.from({ length: n }, () => ({ requests, faults, p99Ms }));

/** `n` minutes whose p99 swings deterministically within ±`spread` around `p99Ms`. */
const wavy = (
  n: number,
  requests: number,
  faults: number,
  p99Ms: number,
  spread = 0.1,
): MinuteSample[] =>
  Array.from({ length: n }, (_, i) => ({
    requests,
    faults,
    p99Ms: p99Ms * (1 + spread * Math.sin(i * 2.1)),
  }));

/** `n` minutes of `requests` each with `faults` spread over them as evenly as integers allow. */
const spread = (n: number, requests: number, faults: number, p99Ms: number): MinuteSample[] =>
  Array.from({ length: n }, (_, i) => ({
    requests,
    faults: Math.floor(((i + 1) * faults) / n) - Math.floor((i * faults) / n),
    p99Ms,
  }));

/** A 10% one-box in a scope of 1,000 requests/min: the control serves the other 900. */
const oneBox = (candidate: MinuteSample[], control = wavy(30, 900, 1, 120)): AnomalyInput => ({
  candidate,
  control,
  baseline: wavy(30, 1000, 1, 118),
  candidateShare: 0.1,
});

interface Row {
  name: string;
  input: AnomalyInput;
  rules?: AnomalyRuleOverrides;
  phase: AnomalyVerdict["phase"];
  regressions?: AnomalyRule[];
  insufficient?: AnomalyRule[];
  message?: RegExp;
}

const rulesWith = (v: AnomalyVerdict, severity: "regression" | "insufficient-data") =>
  v.findings.filter((f) => f.severity === severity).map((f) => f.rule);

function check(row: Row): void {
  const verdict = detectAnomalies(row.input, row.rules);
  const seen = {
    phase: verdict.phase,
    regressions: rulesWith(verdict, "regression"),
    insufficient: rulesWith(verdict, "insufficient-data"),
  };
  expect(seen, JSON.stringify(verdict.findings, null, 2)).toEqual({
    phase: row.phase,
    regressions: row.regressions ?? [],
    insufficient: row.insufficient ?? [],
  });
  if (row.message) expect(verdict.findings.map((f) => f.message).join("\n")).toMatch(row.message);
  for (const f of verdict.findings) {
    for (const v of Object.values(f.statistic)) expect(Number.isFinite(v)).toBe(true);
  }
}

// ---------------------------------------------------------------------------------------------
// Rule 1: traffic-drop
// ---------------------------------------------------------------------------------------------

const trafficRows: Row[] = [
  {
    name: "a one-box that gets 1% of its share",
    input: oneBox(flat(30, 1, 0, 120)),
    phase: "Unhealthy",
    regressions: ["traffic-drop"],
    insufficient: ["fault-rate"],
    message:
      /^new version served 1 requests\/min, 1\.0% of the 100\/min expected for its 10% share \(judged by the traffic on the old version during the bake; threshold 10%\)$/m,
  },
  {
    name: "noise: 85% of the expected traffic",
    input: oneBox(flat(30, 85, 0, 120)),
    phase: "Healthy",
  },
  {
    name: "edge: exactly 10% of the expected traffic is not a drop",
    input: oneBox(flat(30, 10, 0, 120), flat(30, 900, 0, 120)),
    phase: "Healthy",
  },
  {
    name: "edge: 9.9% of the expected traffic is a drop",
    input: oneBox([...flat(27, 10, 0, 120), ...flat(3, 9, 0, 120)], flat(30, 900, 0, 120)),
    phase: "Unhealthy",
    regressions: ["traffic-drop"],
  },
  {
    name: "near-zero reference traffic: no traffic finding, nothing judged",
    input: {
      candidate: flat(10, 0, 0, Number.NaN),
      baseline: flat(10, 5, 0, 120),
      candidateShare: 1,
    },
    phase: "Inconclusive",
    insufficient: ["fault-rate", "latency"],
  },
  {
    name: "edge: 100 expected requests are enough to judge",
    input: {
      candidate: flat(10, 0, 0, Number.NaN),
      baseline: flat(10, 10, 0, 120),
      candidateShare: 1,
    },
    phase: "Unhealthy",
    regressions: ["traffic-drop"],
    insufficient: ["fault-rate", "latency"],
  },
  {
    name: "edge: 99 expected requests are not",
    input: {
      candidate: flat(10, 0, 0, Number.NaN),
      baseline: [...flat(9, 10, 0, 120), ...flat(1, 9, 0, 120)],
      candidateShare: 1,
    },
    phase: "Inconclusive",
    insufficient: ["fault-rate", "latency"],
  },
  {
    name: "zero traffic everywhere",
    input: {
      candidate: flat(30, 0, 0, Number.NaN),
      control: flat(30, 0, 0, Number.NaN),
      baseline: flat(30, 0, 0, Number.NaN),
      candidateShare: 0.1,
    },
    phase: "Inconclusive",
    insufficient: ["fault-rate", "latency"],
  },
  {
    name: "control preferred: a night-time lull after a daytime baseline is not a drop",
    input: {
      candidate: flat(30, 48, 0, 120),
      control: flat(30, 450, 0, 120),
      baseline: flat(30, 10_000, 5, 120),
      candidateShare: 0.1,
    },
    phase: "Healthy",
  },
  {
    name: "... while the baseline alone would call it one",
    input: {
      candidate: flat(30, 48, 0, 120),
      baseline: flat(30, 10_000, 5, 120),
      candidateShare: 0.1,
    },
    phase: "Unhealthy",
    regressions: ["traffic-drop"],
    message: /4\.8% of the 1,000\/min expected .* on the old version before the deploy/,
  },
  {
    name: "a control at 100% candidate share has no share and is ignored",
    input: {
      candidate: wavy(30, 950, 1, 120),
      control: flat(30, 900, 0, 120),
      baseline: wavy(30, 1000, 1, 120),
      candidateShare: 1,
    },
    phase: "Healthy",
  },
  {
    name: "a 98% step whose split is 13 points off is not a drop (its 2% control is no yardstick)",
    input: {
      candidate: wavy(30, 850, 1, 120),
      control: wavy(30, 150, 0, 120),
      baseline: wavy(30, 1000, 1, 120),
      candidateShare: 0.98,
    },
    phase: "Healthy",
  },
  {
    name: "a control smaller than the candidate (95% step) gives way to the baseline",
    input: {
      candidate: flat(10, 19, 0, 120),
      control: flat(10, 3, 0, 120),
      baseline: wavy(10, 1000, 1, 120),
      candidateShare: 0.95,
    },
    phase: "Unhealthy",
    regressions: ["traffic-drop"],
    insufficient: ["fault-rate"],
    message:
      /expected for its 95% share \(judged by the traffic on the old version before the deploy/,
  },
];

describe("traffic-drop", () => {
  it.each(trafficRows)("$name", check);
});

// ---------------------------------------------------------------------------------------------
// Rule 2: fault-rate
// ---------------------------------------------------------------------------------------------

const faultRows: Row[] = [
  {
    name: "clear regression: 5% against 0.11% on the control",
    input: oneBox(flat(30, 100, 5, 120)),
    phase: "Unhealthy",
    regressions: ["fault-rate"],
    message:
      /^fault rate 5\.0% vs 0\.11% on the old version during the bake \(z = 32\.9, exact-test z = 23\.1, threshold 4\)$/m,
  },
  {
    name: "noise: 0.13% against 0.11%",
    input: oneBox(spread(30, 100, 4, 120)),
    phase: "Healthy",
  },
  {
    name: "a big fleet's significant but tiny increase (0.3% vs 0.1%, z ≈ 45)",
    input: {
      candidate: flat(60, 100_000, 300, 120),
      baseline: flat(60, 100_000, 100, 120),
      candidateShare: 1,
    },
    phase: "Healthy",
  },
  {
    name: "a significant 4-point increase that is less than 2× (10% vs 6%)",
    input: {
      candidate: flat(60, 10_000, 1000, 120),
      baseline: flat(60, 10_000, 600, 120),
      candidateShare: 1,
    },
    phase: "Healthy",
  },
  {
    name: "tiny sample: 10 faults in 150 requests is insufficient data, not a rollback",
    input: {
      candidate: flat(10, 15, 1, 120),
      control: flat(10, 135, 0, 120),
      baseline: flat(10, 150, 0, 120),
      candidateShare: 0.1,
    },
    phase: "Healthy",
    insufficient: ["fault-rate"],
    message: /^only 150 requests on the new version; the fault-rate rule needs at least 200$/m,
  },
  {
    name: "edge: 199 candidate requests are insufficient",
    input: {
      candidate: [...flat(9, 20, 2, 120), ...flat(1, 19, 2, 120)],
      baseline: flat(10, 1000, 1, 120),
      candidateShare: 0.02,
    },
    phase: "Healthy",
    insufficient: ["fault-rate"],
  },
  {
    name: "edge: 200 candidate requests are judged (10% vs 0.1%)",
    input: {
      candidate: flat(10, 20, 2, 120),
      baseline: flat(10, 1000, 1, 120),
      candidateShare: 0.02,
    },
    phase: "Unhealthy",
    regressions: ["fault-rate"],
  },
  {
    name: "a handful of faults: pooled z 4.8 but exact-test z 2.7 (3 in 250 vs 10 in 10,000)",
    input: {
      candidate: spread(10, 25, 3, 120),
      baseline: flat(10, 1000, 1, 120),
      candidateShare: 0.025,
    },
    phase: "Healthy",
  },
  {
    name: "2 faults in 200 against none in 2,000: pooled z 4.5 but exact-test z 2.4",
    input: {
      candidate: spread(10, 20, 2, 120),
      baseline: flat(10, 200, 0, 120),
      candidateShare: 0.1,
    },
    phase: "Healthy",
  },
  {
    name: "too little reference traffic is insufficient data",
    input: { candidate: flat(10, 100, 50, 120), baseline: flat(10, 19, 0, 120), candidateShare: 1 },
    phase: "Healthy",
    insufficient: ["fault-rate"],
    message: /^only 190 requests on the old version before the deploy to compare with/m,
  },
  {
    name: "edge: an increase of exactly 0.5 points (0.9% vs 0.4%) is a regression",
    input: {
      candidate: flat(10, 100_000, 900, 120),
      baseline: flat(10, 100_000, 400, 120),
      candidateShare: 1,
    },
    phase: "Unhealthy",
    regressions: ["fault-rate"],
  },
  {
    name: "edge: an increase of 0.49 points is not",
    input: {
      candidate: flat(10, 100_000, 890, 120),
      baseline: flat(10, 100_000, 400, 120),
      candidateShare: 1,
    },
    phase: "Healthy",
  },
  {
    name: "edge: exactly 2× (1.2% vs 0.6%) is a regression",
    input: {
      candidate: flat(10, 100_000, 1200, 120),
      baseline: flat(10, 100_000, 600, 120),
      candidateShare: 1,
    },
    phase: "Unhealthy",
    regressions: ["fault-rate"],
  },
  {
    name: "edge: 1.98× is not",
    input: {
      candidate: flat(10, 100_000, 1190, 120),
      baseline: flat(10, 100_000, 600, 120),
      candidateShare: 1,
    },
    phase: "Healthy",
  },
  {
    name: "control preferred: a shared dependency's outage raises everyone's faults",
    input: {
      candidate: spread(30, 100, 96, 120),
      control: spread(30, 900, 810, 120),
      baseline: flat(30, 1000, 1, 120),
      candidateShare: 0.1,
    },
    phase: "Healthy",
  },
  {
    name: "... while the baseline alone would blame the new version",
    input: {
      candidate: spread(30, 100, 96, 120),
      baseline: flat(30, 1000, 1, 120),
      candidateShare: 0.1,
    },
    phase: "Unhealthy",
    regressions: ["fault-rate"],
    message: /^fault rate 3\.2% vs 0\.10% on the old version before the deploy/m,
  },
  {
    name: "more faults than requests in a misaligned minute are capped at the window's requests",
    input: {
      candidate: [...flat(29, 100, 100, 120), { requests: 0, faults: 50, p99Ms: Number.NaN }],
      baseline: flat(30, 100, 0, 120),
      candidateShare: 1,
    },
    phase: "Unhealthy",
    regressions: ["fault-rate"],
    message: /^fault rate 100\.0% vs 0%/m,
  },
];

describe("fault-rate", () => {
  it.each(faultRows)("$name", check);

  it("applies the z threshold inclusively, and overrides it", () => {
    const input: AnomalyInput = {
      candidate: spread(30, 100, 60, 120),
      baseline: spread(30, 1000, 30, 120),
      candidateShare: 0.1,
    };
    const z = Math.min(
      twoProportionZ(60, 3000, 30, 30_000),
      conditionalBinomialZ(60, 3000, 30, 30_000),
    );
    expect(z).toBeGreaterThan(4);
    expect(detectAnomalies(input, { faultRate: { minZ: z } }).phase).toBe("Unhealthy");
    expect(detectAnomalies(input, { faultRate: { minZ: z + 0.01 } }).phase).toBe("Healthy");
  });
});

// ---------------------------------------------------------------------------------------------
// Rule 3: latency
// ---------------------------------------------------------------------------------------------

const latencyRows: Row[] = [
  {
    name: "clear regression: p99 ×3",
    input: oneBox(wavy(30, 100, 0, 360)),
    phase: "Unhealthy",
    regressions: ["latency"],
    message:
      /^median p99 3\d\d ms vs 1\d\d ms on the old version during the bake \(3(\.\d+)?×, threshold 1\.5×; Mann–Whitney z = 6\.\d, threshold 3\.5\)$/m,
  },
  {
    name: "noise: ±10% around a slightly higher p99",
    input: oneBox(wavy(30, 100, 0, 125)),
    phase: "Healthy",
  },
  {
    name: "1.4× in every minute: significant but below the ratio",
    input: oneBox(flat(30, 100, 0, 168), flat(30, 900, 0, 120)),
    phase: "Healthy",
  },
  {
    name: "edge: 1.5× in every minute is a regression",
    input: oneBox(flat(30, 100, 0, 180), flat(30, 900, 0, 120)),
    phase: "Unhealthy",
    regressions: ["latency"],
  },
  {
    name: "one slow minute does not move the median",
    input: oneBox([...wavy(29, 100, 0, 120), ...flat(1, 100, 0, 2000)]),
    phase: "Healthy",
  },
  {
    name: "tiny sample: 4 minutes are insufficient data",
    input: oneBox(flat(4, 100, 0, 400), flat(4, 900, 0, 120)),
    phase: "Healthy",
    insufficient: ["latency"],
    message: /^only 4 minutes with traffic on the new version; the latency rule needs at least 5$/m,
  },
  {
    name: "5 minutes against 5 cannot reach z = 3.5 even fully separated",
    input: {
      candidate: flat(5, 100, 0, 400),
      control: flat(5, 900, 0, 120),
      baseline: flat(5, 1000, 0, 120),
      candidateShare: 0.1,
    },
    phase: "Healthy",
    insufficient: ["latency"],
    message: /cannot reach z = 3\.5 \(at most 2\.6 even if every new-version minute were slower\)/,
  },
  {
    name: "edge: 5 minutes against a 30-minute baseline can (z = 3.54)",
    input: {
      candidate: flat(5, 1000, 0, 400),
      baseline: flat(30, 1000, 0, 120),
      candidateShare: 1,
    },
    phase: "Unhealthy",
    regressions: ["latency"],
  },
  {
    name: "minutes without requests are not latency data",
    input: oneBox([...flat(4, 100, 0, 400), ...flat(6, 0, 0, Number.NaN)], wavy(10, 900, 0, 120)),
    phase: "Healthy",
    insufficient: ["latency"],
  },
  {
    name: "control preferred: everyone is slower at peak",
    input: oneBox(wavy(30, 100, 0, 320), wavy(30, 900, 0, 300)),
    phase: "Healthy",
  },
  {
    name: "... while the quiet baseline alone would blame the new version",
    input: {
      candidate: wavy(30, 100, 0, 320),
      baseline: flat(30, 1000, 0, 100),
      candidateShare: 0.1,
    },
    phase: "Unhealthy",
    regressions: ["latency"],
    message: /on the old version before the deploy/,
  },
];

describe("latency", () => {
  it.each(latencyRows)("$name", check);
});

// ---------------------------------------------------------------------------------------------
// Phase, rules, input validation
// ---------------------------------------------------------------------------------------------

describe("detectAnomalies", () => {
  it.each<Row>([
    {
      name: "an empty bake window is inconclusive",
      input: { candidate: [], baseline: wavy(30, 1000, 1, 120), candidateShare: 0.1 },
      phase: "Inconclusive",
      insufficient: ["fault-rate", "latency"],
    },
    {
      name: "several regressions at once are all reported",
      input: oneBox(wavy(30, 100, 10, 400)),
      phase: "Unhealthy",
      regressions: ["fault-rate", "latency"],
    },
    {
      name: "a stricter override turns a regression into Healthy",
      input: oneBox(flat(30, 100, 0, 180), flat(30, 900, 0, 120)),
      rules: { latency: { minRatio: 3 } },
      phase: "Healthy",
    },
  ])("$name", check);

  it("exposes the documented defaults, frozen", () => {
    expect(DEFAULT_ANOMALY_RULES).toEqual({
      trafficDrop: { dropRatio: 0.1, minExpectedRequests: 100 },
      faultRate: {
        minZ: 4,
        minIncrease: 0.005,
        minRatio: 2,
        minCandidateRequests: 200,
        minReferenceRequests: 200,
      },
      latency: { minRatio: 1.5, minZ: 3.5, minCandidateMinutes: 5, minReferenceMinutes: 5 },
    });
    expect(Object.isFrozen(DEFAULT_ANOMALY_RULES)).toBe(true);
    expect(Object.isFrozen(DEFAULT_ANOMALY_RULES.faultRate)).toBe(true);
  });

  it("merges overrides section by section", () => {
    const rules = resolveAnomalyRules({ faultRate: { minZ: 5, minRatio: undefined } });
    expect(rules.faultRate).toEqual({ ...DEFAULT_ANOMALY_RULES.faultRate, minZ: 5 });
    expect(rules.latency).toEqual(DEFAULT_ANOMALY_RULES.latency);
  });

  it.each([0, -0.1, 1.5, Number.NaN])("rejects candidateShare %s", (candidateShare) => {
    expect(() => detectAnomalies({ candidate: [], baseline: [], candidateShare })).toThrow(
      InvalidInputError,
    );
  });

  it("reports every malformed sample with its path", () => {
    const bad = flat(5, 100, 0, 120);
    bad[3] = { requests: -1, faults: Number.NaN, p99Ms: 120 };
    try {
      detectAnomalies({ candidate: bad, baseline: [], control: [bad[3]], candidateShare: 2 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidInputError);
      expect((e as InvalidInputError).problems.map((p) => p.path)).toEqual([
        "candidateShare",
        "candidate[3].requests",
        "candidate[3].faults",
        "control[0].requests",
        "control[0].faults",
      ]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Statistical helpers (expected values from SciPy 1.17)
// ---------------------------------------------------------------------------------------------

describe("median", () => {
  it.each([
    [[120, 95, 130], 120],
    [[1, 2, 3, 4], 2.5],
    [[7], 7],
    [[], Number.NaN],
  ])("median(%j) = %s", (values, expected) => {
    expect(median(values)).toBe(expected);
  });

  it("does not reorder its input", () => {
    const values = [3, 1, 2];
    median(values);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe("twoProportionZ", () => {
  it("matches the textbook pooled z", () => {
    expect(twoProportionZ(50, 1000, 10, 1000)).toBeCloseTo(5.243225, 5);
  });

  it("is 0 without data or without variance", () => {
    expect(twoProportionZ(0, 0, 5, 100)).toBe(0);
    expect(twoProportionZ(0, 100, 0, 100)).toBe(0);
    expect(twoProportionZ(100, 100, 100, 100)).toBe(0);
  });

  it("rejects more events than trials", () => {
    expect(() => twoProportionZ(101, 100, 0, 100)).toThrow(RangeError);
  });

  it("is antisymmetric", () => {
    const counts = fc
      .tuple(fc.nat(10_000), fc.nat(10_000))
      .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
    fc.assert(
      fc.property(counts, counts, ([x1, n1], [x2, n2]) => {
        expect(twoProportionZ(x1, n1, x2, n2)).toBeCloseTo(-twoProportionZ(x2, n2, x1, n1), 9);
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});

describe("conditionalBinomialZ", () => {
  it.each([
    // P(X ≥ 2), X ~ Binomial(2, 1/11) = 1/121
    [2, 200, 0, 2000, 2.397022],
    // P(X ≥ 9), X ~ Binomial(10, 1/2) = 11/1024
    [9, 10, 1, 10, 2.299362],
    // Large counts: P(X ≥ 1100), X ~ Binomial(2100, 1/2)
    [1100, 1e6, 1000, 1e6, 2.160672],
  ])("conditionalBinomialZ(%s, %s, %s, %s) ≈ %s", (x1, n1, x2, n2, expected) => {
    expect(conditionalBinomialZ(x1, n1, x2, n2)).toBeCloseTo(expected, 5);
  });

  it("stays finite on overwhelming evidence and is -Infinity with no events at all on A", () => {
    const z = conditionalBinomialZ(50_000, 1e6, 1000, 1e6);
    expect(Number.isFinite(z) && z > 200).toBe(true);
    expect(conditionalBinomialZ(0, 200, 5, 2000)).toBe(Number.NEGATIVE_INFINITY);
    expect(conditionalBinomialZ(0, 200, 0, 2000)).toBe(0);
  });
});

describe("mannWhitneyZ", () => {
  it.each([
    [[4, 5, 6], [1, 2, 3], 1.963961],
    // With ties: scipy.stats.mannwhitneyu(..., method="asymptotic", use_continuity=False)
    [[3, 3, 5, 7], [1, 3, 3, 4, 4], 1.028047],
    [[1, 1, 1], [1, 1, 1], 0],
    [[], [1, 2], 0],
  ])("mannWhitneyZ(%j, %j) ≈ %s", (a, b, expected) => {
    expect(mannWhitneyZ(a, b)).toBeCloseTo(expected, 5);
  });

  it("is antisymmetric", () => {
    const sample = fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(sample, sample, (a, b) => {
        expect(mannWhitneyZ(a, b)).toBeCloseTo(-mannWhitneyZ(b, a), 9);
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Simulated scopes
// ---------------------------------------------------------------------------------------------

describe("simulated scopes", () => {
  it("never judges a healthy scope Unhealthy", () => {
    fc.assert(
      fc.property(healthyScopeArb, (scope) => {
        const verdict = detectAnomalies(simulateScope(scope));
        if (verdict.phase === "Unhealthy") {
          throw new Error(`false positive: ${JSON.stringify(verdict.findings, null, 2)}`);
        }
      }),
      { numRuns: 300, seed: 0x5eed },
    );
  });

  it("judges an injected regression Unhealthy, by the injected rule only", () => {
    fc.assert(
      fc.property(regressedScopeArb, ({ scope, inject }) => {
        const verdict = detectAnomalies(simulateScope(scope, inject));
        expect(verdict.phase, JSON.stringify(verdict.findings, null, 2)).toBe("Unhealthy");
        expect(rulesWith(verdict, "regression")).toEqual([inject]);
      }),
      { numRuns: 300, seed: 0x5eed },
    );
  });
});
