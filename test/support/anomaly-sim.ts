/**
 * Simulated scopes for the anomaly detector's properties (test/unit/anomaly.test.ts,
 * test/unit/bake-looks.test.ts) and its false-positive measurement
 * (test/safety/detector-false-positives.ts): per-minute metrics of one scope's bake and its
 * reference, from a seeded PRNG (mulberry32) whose seed is part of each case, so a case replays
 * exactly with `simulateScope(scope)`.
 */
import fc from "fast-check";
import type { AnomalyInput, AnomalyRule, MinuteSample } from "../../src/domain/anomaly/index.ts";

/** mulberry32: a small seeded PRNG, so every simulated minute replays from the case's seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function poisson(rand: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * gaussian(rand)));
  // Knuth: multiply uniforms until the product drops below e^-mean.
  const limit = Math.exp(-mean);
  let k = 0;
  for (let p = rand(); p > limit; p *= rand()) k++;
  return k;
}

function binomial(rand: () => number, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (n < 50) {
    let k = 0;
    for (let i = 0; i < n; i++) if (rand() < p) k++;
    return k;
  }
  const mean = n * p;
  if (mean < 30) return Math.min(n, poisson(rand, mean));
  const sd = Math.sqrt(mean * (1 - p));
  return Math.min(n, Math.max(0, Math.round(mean + sd * gaussian(rand))));
}

export interface Scope {
  seed: number;
  /** The whole scope's requests per minute. */
  scopeRate: number;
  faultRate: number;
  p99Ms: number;
  bakeMinutes: number;
  baselineMinutes: number;
  candidateShare: number;
  withControl: boolean;
  /** The load balancer's imprecision: the candidate's real share ÷ its nominal share. */
  shareError: number;
  /** Time of day: the baseline window's traffic, fault rate and p99 ÷ the bake window's. */
  baselineDrift: { traffic: number; faults: number; p99: number };
}

export type Injection = AnomalyRule | undefined;

/**
 * Per-minute metrics of one scope: Poisson requests around a rate that wobbles ±10% a minute,
 * a fault rate that wobbles between 0.5× and 1.5× its level (bursty, like the fleet's) with
 * binomial faults, and p99 with ±15% multiplicative noise.
 */
function series(
  rand: () => number,
  minutes: number,
  rate: number,
  faultRate: number,
  p99Ms: number,
): MinuteSample[] {
  return Array.from({ length: minutes }, () => {
    const requests = poisson(rand, rate * (0.9 + 0.2 * rand()));
    const faults = binomial(rand, requests, Math.min(1, faultRate * (0.5 + rand())));
    const p99 = p99Ms * (0.85 + 0.3 * rand());
    return requests > 0
      ? { requests, faults, p99Ms: p99 }
      : { requests: 0, faults: 0, p99Ms: Number.NaN };
  });
}

/** The detector's input for a scope, optionally with a regression injected in the candidate. */
export function simulateScope(s: Scope, inject?: Injection): AnomalyInput {
  const rand = prng(s.seed);
  const realShare = Math.min(1, s.candidateShare * s.shareError);
  const candidateRate = s.scopeRate * realShare * (inject === "traffic-drop" ? 0.02 : 1);
  const candidateFaults = s.faultRate + (inject === "fault-rate" ? 0.05 : 0);
  const candidateP99 = s.p99Ms * (inject === "latency" ? 3 : 1);
  const d = s.baselineDrift;
  const input: AnomalyInput = {
    baseline: series(
      rand,
      s.baselineMinutes,
      s.scopeRate * d.traffic,
      s.faultRate * d.faults,
      s.p99Ms * d.p99,
    ),
    candidate: series(rand, s.bakeMinutes, candidateRate, candidateFaults, candidateP99),
    candidateShare: s.candidateShare,
  };
  if (s.withControl && s.candidateShare < 1) {
    input.control = series(
      rand,
      s.bakeMinutes,
      s.scopeRate * (1 - realShare),
      s.faultRate,
      s.p99Ms,
    );
  }
  return input;
}

const between = (min: number, max: number) => fc.double({ min, max, noNaN: true });
/** Log-uniform, so small and large rates are equally represented. */
const logBetween = (min: number, max: number) =>
  between(Math.log(min), Math.log(max)).map(Math.exp);

const driftArb = fc.record({
  traffic: between(0.8, 1.25),
  faults: between(0.8, 1.25),
  p99: between(0.85, 1.15),
});

/** Healthy scopes over the ranges the detector promises not to roll back. */
export const healthyScopeArb: fc.Arbitrary<Scope> = fc
  .record({
    seed: fc.integer(),
    scopeRate: logBetween(50, 5000),
    faultRate: logBetween(0.0001, 0.01),
    p99Ms: between(50, 500),
    bakeMinutes: fc.integer({ min: 10, max: 120 }),
    baselineLength: between(0.5, 2),
    candidateShare: between(0.05, 1),
    withControl: fc.boolean(),
    shareError: between(0.85, 1.15),
    baselineDrift: driftArb,
  })
  .map(({ baselineLength, ...s }) => ({
    ...s,
    baselineMinutes: Math.max(5, Math.round(s.bakeMinutes * baselineLength)),
  }));

/**
 * Scopes with an injected regression and enough traffic to see it: the candidate's healthy
 * rate is ≥ 50 requests/min after the load balancer's error, the bake ≥ 10 minutes, and the
 * baseline at least as long as the bake. A +5-point fault rate also needs ≥ 2,000 candidate
 * requests: with 500 requests against an equal-sized baseline at 1%, no test at p < 3e-5 can
 * see it reliably (z ≈ 4.3 on average; the detector catches about 60%).
 */
export const regressedScopeArb = fc
  .record({
    seed: fc.integer(),
    candidateRate: logBetween(50 / 0.85, 2000),
    faultRate: logBetween(0.0001, 0.01),
    p99Ms: between(50, 500),
    bakeMinutes: fc.integer({ min: 10, max: 120 }),
    baselineLength: between(1, 2),
    candidateShare: between(0.05, 1),
    withControl: fc.boolean(),
    shareError: between(0.85, 1.15),
    baselineDrift: driftArb,
    inject: fc.constantFrom<AnomalyRule>("fault-rate", "latency", "traffic-drop"),
  })
  .map(({ baselineLength, candidateRate, inject, ...s }) => {
    const rate =
      inject === "fault-rate"
        ? Math.max(candidateRate, 2000 / 0.85 / s.bakeMinutes)
        : candidateRate;
    const scope: Scope = {
      ...s,
      scopeRate: rate / s.candidateShare,
      baselineMinutes: Math.round(s.bakeMinutes * baselineLength),
    };
    return { scope, inject };
  });

/**
 * The detector's inputs at each look of a bake looked at every `everyMinutes`, the last at the
 * bake's end, as `evaluateStep` reads them, with the share of the bake elapsed: the candidate
 * (and control) from the bake's start to the look; the baseline, the `max(elapsed, 10)` minutes
 * just before the deploy (at most what was simulated). The last look sees the whole simulated
 * input, as a single look at the end does.
 */
export function looksAt(
  input: AnomalyInput,
  everyMinutes: number,
): { input: AnomalyInput; fraction: number }[] {
  const minutes = input.candidate.length;
  const looks: { input: AnomalyInput; fraction: number }[] = [];
  for (let t = everyMinutes; t < minutes; t += everyMinutes) {
    const lookback = Math.min(input.baseline.length, Math.max(t, 10));
    looks.push({
      input: {
        candidate: input.candidate.slice(0, t),
        baseline: input.baseline.slice(input.baseline.length - lookback),
        ...(input.control ? { control: input.control.slice(0, t) } : {}),
        candidateShare: input.candidateShare,
      },
      fraction: t / minutes,
    });
  }
  looks.push({ input, fraction: 1 });
  return looks;
}
