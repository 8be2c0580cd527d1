/**
 * The built-in anomaly detector: judges one scope's bake from per-minute metrics, without
 * alarms. It compares the new version (the candidate) with a reference: the part of the same
 * scope still on the old version during the same minutes (the control, present during a
 * one-box step), because it shares time-of-day effects and incidents of shared dependencies;
 * otherwise the scope before the deploy (the baseline). Each rule takes the control when it is
 * meant to carry at least as much traffic as the candidate (`candidateShare` ≤ 0.5) and has
 * enough data for that rule (the minimums below), else the baseline. A control smaller than
 * the candidate is a poor yardstick for all three rules: a load balancer a few points off on a
 * 95/5 split changes the control's traffic severalfold (traffic-drop), the smaller sample
 * limits the power of the comparison (fault-rate), and a p99 over a handful of requests reads
 * low, making the candidate look slow (latency).
 *
 * Rules (thresholds in {@link DEFAULT_ANOMALY_RULES}; every threshold is inclusive):
 *
 * 1. **traffic-drop** — the candidate's requests per minute, divided by `candidateShare`, are
 *    below `dropRatio` (10%) of the reference scope's requests per minute (the control's rate
 *    divided by its share `1 − candidateShare`, else the baseline's rate). Judged only when
 *    the reference served at least `minExpectedRequests` (100) requests and predicts at least
 *    as many candidate requests over the window: below that a 10× shortfall can be chance, so
 *    the rule gives no finding.
 * 2. **fault-rate** — candidate faults/requests against the reference's. Unhealthy only when
 *    all of these hold: the one-sided pooled two-proportion z ≥ `minZ` (4, p ≈ 3e-5); the
 *    exact conditional binomial test of the same hypothesis gives a z ≥ `minZ` as well; the
 *    rate rose by ≥ `minIncrease` (0.5 percentage points); and it is ≥ `minRatio` (2×) the
 *    reference rate. So a big fleet's significant but tiny increase does not roll back, nor
 *    does a small sample's large relative one. The exact test is there because the z-test's
 *    normal approximation is far too optimistic with a handful of faults: with 200 candidate
 *    requests against a 19× larger control at a true 0.03% fault rate, z ≥ 4 alone fires on
 *    about 2% of healthy bakes (computed exactly); with both tests, at most about 2e-5 on a
 *    grid of 200..20,000 requests, control 1..99× larger, true rate 0.01%..20%. Fewer than
 *    `minCandidateRequests` (200) candidate or `minReferenceRequests` (200) reference
 *    requests → an insufficient-data finding.
 * 3. **latency** — the per-minute p99 values (minutes with requests and a finite p99 only).
 *    Unhealthy when the candidate's median p99 is ≥ `minRatio` (1.5×) the reference's AND a
 *    one-sided Mann–Whitney U test (normal approximation, tie-corrected) gives z ≥ `minZ`
 *    (3.5). Fewer than `minCandidateMinutes` (5) or `minReferenceMinutes` (5) minutes, or too
 *    few for z to reach `minZ` even if every candidate minute were slower than every
 *    reference minute (5 against 5 tops out at z = 2.6; 10 against 10 reaches 3.8) → an
 *    insufficient-data finding.
 *
 * Phase: any regression → Unhealthy; else no rule could judge (each gave insufficient data or,
 * for traffic-drop, had too little reference traffic) → Inconclusive; else Healthy.
 *
 * Inputs carry one sample per minute of the window, zero-filled: CloudWatch returns no
 * datapoint for a minute without requests, and an absent minute must count as a minute of zero
 * traffic, not shorten the window. Pure: no I/O, no clock.
 */
import { InvalidInputError } from "./errors.ts";
import { formatProblems } from "./pipeline.ts";

/** One minute of one version's traffic in one scope. */
export interface MinuteSample {
  requests: number;
  faults: number;
  /** p99 latency of the minute; ignored when the minute had no requests or it is not finite. */
  p99Ms: number;
}

export interface AnomalyInput {
  /** The new version during the bake window, one sample per minute. */
  candidate: MinuteSample[];
  /** The scope before the deploy: the old version at 100%, a comparable window just before. */
  baseline: MinuteSample[];
  /**
   * The part of the scope still on the old version during the bake window (one-box steps);
   * used only while `candidateShare` ≤ 0.5.
   */
  control?: MinuteSample[];
  /** The fraction (0..1] of the scope's traffic the candidate is meant to get. */
  candidateShare: number;
}

export type AnomalyRule = "traffic-drop" | "fault-rate" | "latency";

export interface AnomalyFinding {
  rule: AnomalyRule;
  severity: "regression" | "insufficient-data";
  /** A sentence with the numbers, for notifications and the run's timeline. */
  message: string;
  /** The numbers behind the message (finite values only, so it survives JSON). */
  statistic: Record<string, number>;
}

export interface AnomalyVerdict {
  phase: "Healthy" | "Unhealthy" | "Inconclusive";
  findings: AnomalyFinding[];
}

export interface AnomalyRules {
  trafficDrop: {
    /** Unhealthy below this fraction of the expected request rate. */
    dropRatio: number;
    /** Judge only when the reference served, and predicts for the candidate, this many requests. */
    minExpectedRequests: number;
  };
  faultRate: {
    /** Both the pooled z and the exact test's z must reach this. */
    minZ: number;
    /** Absolute increase of the fault rate (0.005 = 0.5 percentage points). */
    minIncrease: number;
    /** Candidate rate ÷ reference rate. */
    minRatio: number;
    minCandidateRequests: number;
    minReferenceRequests: number;
  };
  latency: {
    /** Candidate median p99 ÷ reference median p99. */
    minRatio: number;
    /** Mann–Whitney z. */
    minZ: number;
    minCandidateMinutes: number;
    minReferenceMinutes: number;
  };
}

/** Overrides of some thresholds; the rest keep their defaults. */
export type AnomalyRuleOverrides = { [K in keyof AnomalyRules]?: Partial<AnomalyRules[K]> };

/** The built-in thresholds (documented at the top of this module and in the README). */
export const DEFAULT_ANOMALY_RULES: Readonly<AnomalyRules> = Object.freeze({
  trafficDrop: Object.freeze({ dropRatio: 0.1, minExpectedRequests: 100 }),
  faultRate: Object.freeze({
    minZ: 4,
    minIncrease: 0.005,
    minRatio: 2,
    minCandidateRequests: 200,
    minReferenceRequests: 200,
  }),
  latency: Object.freeze({
    minRatio: 1.5,
    minZ: 3.5,
    minCandidateMinutes: 5,
    minReferenceMinutes: 5,
  }),
});

/** The defaults with `overrides` applied, section by section. */
export function resolveAnomalyRules(overrides: AnomalyRuleOverrides = {}): AnomalyRules {
  return {
    trafficDrop: { ...DEFAULT_ANOMALY_RULES.trafficDrop, ...defined(overrides.trafficDrop) },
    faultRate: { ...DEFAULT_ANOMALY_RULES.faultRate, ...defined(overrides.faultRate) },
    latency: { ...DEFAULT_ANOMALY_RULES.latency, ...defined(overrides.latency) },
  };
}

/** `{ minZ: undefined }` (an optional config field left unset) keeps the default. */
function defined<T extends object>(section: T | undefined): Partial<T> {
  return Object.fromEntries(
    Object.entries(section ?? {}).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

// ---------------------------------------------------------------------------------------------
// Statistical helpers
// ---------------------------------------------------------------------------------------------

/**
 * The median of `values` (the mean of the two middle values for an even count); NaN when
 * empty. Does not modify `values`.
 *
 * @example
 * median([120, 95, 130]) // 120
 * median([1, 2, 3, 4]) // 2.5
 */
export function median(values: readonly number[]): number {
  assertFinite(values, "median");
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The one-sided pooled two-proportion z statistic for "the rate of A is higher than the rate
 * of B": `(pA − pB) / √(p(1−p)(1/nA + 1/nB))` with `p` the pooled rate. Positive when A's rate
 * is higher. 0 when either sample is empty or the pooled rate is 0 or 1 (no variance, no
 * evidence). Its normal approximation overstates the evidence of a few events; see
 * {@link conditionalBinomialZ}.
 *
 * @example
 * twoProportionZ(50, 1000, 10, 1000) // ≈ 5.24 (5% vs 1%)
 */
export function twoProportionZ(
  eventsA: number,
  trialsA: number,
  eventsB: number,
  trialsB: number,
): number {
  assertCounts(eventsA, trialsA, "twoProportionZ (A)");
  assertCounts(eventsB, trialsB, "twoProportionZ (B)");
  if (trialsA === 0 || trialsB === 0) return 0;
  const pooled = (eventsA + eventsB) / (trialsA + trialsB);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / trialsA + 1 / trialsB));
  if (!(se > 0)) return 0;
  return (eventsA / trialsA - eventsB / trialsB) / se;
}

/**
 * The exact one-sided test of "A's event rate is higher than B's" for event counts in large
 * streams (faults among requests), as a normal deviate so it reads like a z. Given the total
 * `k` events, A's count is Binomial(k, nA / (nA + nB)) when the rates are equal; the result
 * is the z whose upper-tail probability equals P(X ≥ eventsA). Computed in log space, so
 * overwhelming evidence gives a large finite z rather than Infinity; `-Infinity` when A has
 * no events but B has some; 0 when there are no events or a sample is empty. Counts are
 * rounded to integers.
 *
 * @example
 * conditionalBinomialZ(2, 200, 0, 2000) // ≈ 2.40 (P = (1/11)² ≈ 0.0083); the pooled z says 4.47
 */
export function conditionalBinomialZ(
  eventsA: number,
  trialsA: number,
  eventsB: number,
  trialsB: number,
): number {
  assertCounts(eventsA, trialsA, "conditionalBinomialZ (A)");
  assertCounts(eventsB, trialsB, "conditionalBinomialZ (B)");
  const x = Math.round(eventsA);
  const k = x + Math.round(eventsB);
  if (trialsA === 0 || trialsB === 0 || k === 0) return 0;
  const q = trialsA / (trialsA + trialsB);
  if (x > k * q) return -inverseNormalCdfFromLog(logBinomialTail(x, k, q, "upper"));
  if (x === 0) return Number.NEGATIVE_INFINITY;
  // P(X ≥ x) = 1 − P(X ≤ x − 1); the deviate of the lower tail is the same number.
  return inverseNormalCdfFromLog(logBinomialTail(x - 1, k, q, "lower"));
}

/**
 * The one-sided Mann–Whitney U test of "values in `a` tend to be larger than values in `b`",
 * as a z from the normal approximation with midranks and the tie correction of the variance
 * (no continuity correction). `mannWhitneyZ(a, b) === -mannWhitneyZ(b, a)`. 0 when either
 * sample is empty or every value is tied.
 *
 * @example
 * mannWhitneyZ([4, 5, 6], [1, 2, 3]) // ≈ 1.96 (U = 9 of 9)
 */
export function mannWhitneyZ(a: readonly number[], b: readonly number[]): number {
  assertFinite(a, "mannWhitneyZ");
  assertFinite(b, "mannWhitneyZ");
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return 0;
  const all = [
    ...a.map((value) => ({ value, fromA: true })),
    ...b.map((value) => ({ value, fromA: false })),
  ].sort((x, y) => x.value - y.value);
  const n = all.length;
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (
      j + 1 < n &&
      (all[j + 1] as { value: number }).value === (all[i] as { value: number }).value
    )
      j++;
    const midrank = (i + j) / 2 + 1;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    for (let m = i; m <= j; m++) if ((all[m] as { fromA: boolean }).fromA) rankSumA += midrank;
    i = j + 1;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (!(variance > 0)) return 0;
  return (u - (n1 * n2) / 2) / Math.sqrt(variance);
}

/** The largest z {@link mannWhitneyZ} can give for these sample sizes (complete separation). */
function mannWhitneyMaxZ(n1: number, n2: number): number {
  return Math.sqrt((3 * n1 * n2) / (n1 + n2 + 1));
}

/** ln P(X ≥ from) ("upper") or ln P(X ≤ from) ("lower") for X ~ Binomial(k, q), 0 ≤ from ≤ k. */
function logBinomialTail(from: number, k: number, q: number, side: "upper" | "lower"): number {
  const logOdds = Math.log(q) - Math.log1p(-q);
  const mode = Math.floor((k + 1) * q);
  let term = logChoose(k, from) + from * Math.log(q) + (k - from) * Math.log1p(-q);
  let sum = term;
  const step = side === "upper" ? 1 : -1;
  // Sum away from the mean; stop once the terms shrink below e^-40 of the sum (past the mode,
  // they only shrink).
  for (let i = from; side === "upper" ? i < k : i > 0; i += step) {
    term +=
      side === "upper"
        ? Math.log((k - i) / (i + 1)) + logOdds
        : Math.log(i / (k - i + 1)) - logOdds;
    sum = logAdd(sum, term);
    const pastMode = side === "upper" ? i + 1 > mode : i - 1 < mode;
    if (pastMode && term < sum - 40) break;
  }
  return Math.min(0, sum);
}

function logAdd(a: number, b: number): number {
  const hi = Math.max(a, b);
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

/** ln(n!) by Stirling's series, shifted up to n ≥ 16 (error below 1e-15). */
function logFactorial(n: number): number {
  let x = n + 1;
  let shift = 0;
  while (x < 16) {
    shift += Math.log(x);
    x++;
  }
  const x2 = x * x;
  const series = 1 / (12 * x) - 1 / (360 * x * x2) + 1 / (1260 * x * x2 * x2);
  return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + series - shift;
}

// Acklam's rational approximation of the normal quantile (relative error < 1.2e-9).
const QA = [
  -3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2,
  -3.066479806614716e1, 2.506628277459239,
] as const;
const QB = [
  -5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1,
  -1.328068155288572e1,
] as const;
const QC = [
  -7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734,
  4.374664141464968, 2.938163982698783,
] as const;
const QD = [
  7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416,
] as const;
const Q_LOW = 0.02425;

/** Φ⁻¹(p) given ln p; the tail branch needs only ln p, so p may be far below 1e-308. */
function inverseNormalCdfFromLog(logP: number): number {
  const tail = (q: number) =>
    (((((QC[0] * q + QC[1]) * q + QC[2]) * q + QC[3]) * q + QC[4]) * q + QC[5]) /
    ((((QD[0] * q + QD[1]) * q + QD[2]) * q + QD[3]) * q + 1);
  if (logP === Number.NEGATIVE_INFINITY) return Number.NEGATIVE_INFINITY;
  if (logP >= 0) return Number.POSITIVE_INFINITY;
  if (logP < Math.log(Q_LOW)) return tail(Math.sqrt(-2 * logP));
  const p = Math.exp(logP);
  if (p > 1 - Q_LOW) return -tail(Math.sqrt(-2 * Math.log1p(-p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((QA[0] * r + QA[1]) * r + QA[2]) * r + QA[3]) * r + QA[4]) * r + QA[5]) * q) /
    (((((QB[0] * r + QB[1]) * r + QB[2]) * r + QB[3]) * r + QB[4]) * r + 1)
  );
}

function assertFinite(values: readonly number[], where: string): void {
  if (!values.every(Number.isFinite)) throw new RangeError(`${where}: values must be finite`);
}

function assertCounts(events: number, trials: number, where: string): void {
  if (!(Number.isFinite(events) && Number.isFinite(trials) && events >= 0 && events <= trials))
    throw new RangeError(`${where}: need 0 ≤ events ≤ trials, got ${events} of ${trials}`);
}

// ---------------------------------------------------------------------------------------------
// The detector
// ---------------------------------------------------------------------------------------------

interface Reference {
  samples: MinuteSample[];
  /** The reference's share of the scope's traffic. */
  share: number;
  /** "on the old version during the bake" / "... before the deploy". */
  where: string;
}

interface References {
  baseline: Reference;
  control?: Reference;
}

interface RuleOutcome {
  /** The rule could judge (a regression or a clean bill), as opposed to not enough data. */
  judged: boolean;
  finding?: AnomalyFinding;
}

/**
 * Judges a bake from per-minute metrics of the new version and a reference (see the rules at
 * the top of this module). Expected outcomes are data; only malformed input throws
 * ({@link InvalidInputError}, with every problem and its path).
 *
 * @example
 * const minutes = (n: number, requests: number, faults: number, p99Ms: number) =>
 *   Array.from({ length: n }, () => ({ requests, faults, p99Ms }));
 * detectAnomalies({
 *   candidate: minutes(30, 100, 5, 130), // a 10% one-box at 5% faults
 *   control: minutes(30, 900, 1, 120), // the other 90% at 0.11%
 *   baseline: minutes(30, 1000, 1, 118),
 *   candidateShare: 0.1,
 * })
 * // { phase: "Unhealthy", findings: [{ rule: "fault-rate", severity: "regression", message:
 * //   "fault rate 5.0% vs 0.11% on the old version during the bake (z = 32.9, exact-test z = 23.1,
 * //   threshold 4)", statistic: { candidateRequests: 3000, candidateFaults: 150, z: 32.89, … } }] }
 */
export function detectAnomalies(
  input: AnomalyInput,
  overrides?: AnomalyRuleOverrides,
): AnomalyVerdict {
  validate(input);
  const rules = resolveAnomalyRules(overrides);
  const refs = references(input);
  const outcomes = [
    trafficDrop(input, refs, rules.trafficDrop),
    faultRate(input, refs, rules.faultRate),
    latency(input, refs, rules.latency),
  ];
  const findings = outcomes.flatMap((o) => (o.finding ? [o.finding] : []));
  const phase = findings.some((f) => f.severity === "regression")
    ? "Unhealthy"
    : outcomes.some((o) => o.judged)
      ? "Healthy"
      : "Inconclusive";
  return { phase, findings };
}

function validate(input: AnomalyInput): void {
  const problems: { path: string; message: string }[] = [];
  const share = input.candidateShare;
  if (!(Number.isFinite(share) && share > 0 && share <= 1)) {
    problems.push({ path: "candidateShare", message: `must be in (0, 1], got ${share}` });
  }
  const series: [string, MinuteSample[] | undefined][] = [
    ["candidate", input.candidate],
    ["baseline", input.baseline],
    ["control", input.control],
  ];
  for (const [name, samples] of series) {
    if (samples === undefined && name === "control") continue;
    if (!Array.isArray(samples)) {
      problems.push({ path: name, message: "must be an array of minute samples" });
      continue;
    }
    samples.forEach((s, i) => {
      for (const key of ["requests", "faults"] as const) {
        const v = s[key];
        if (!(Number.isFinite(v) && v >= 0)) {
          problems.push({ path: `${name}[${i}].${key}`, message: `must be ≥ 0, got ${v}` });
        }
      }
    });
  }
  if (problems.length > 0) {
    throw new InvalidInputError(
      `invalid anomaly input: ${formatProblems(problems, "; ")}`,
      problems,
    );
  }
}

function references(input: AnomalyInput): References {
  const baseline: Reference = {
    samples: input.baseline,
    share: 1,
    where: "on the old version before the deploy",
  };
  const control = input.control;
  const controlShare = 1 - input.candidateShare;
  if (!control || control.length === 0 || controlShare < input.candidateShare) return { baseline };
  return {
    baseline,
    control: { samples: control, share: controlShare, where: "on the old version during the bake" },
  };
}

/**
 * The control (when {@link references} kept it) if it has enough data for the rule: it shares
 * the bake's minutes, so time-of-day swings and shared incidents cancel out. Else the baseline.
 */
function pick(refs: References, enough: (ref: Reference) => boolean): Reference {
  return refs.control && enough(refs.control) ? refs.control : refs.baseline;
}

function trafficDrop(
  input: AnomalyInput,
  refs: References,
  rule: AnomalyRules["trafficDrop"],
): RuleOutcome {
  const ref = pick(refs, (r) => atLeast(total(r.samples, "requests"), rule.minExpectedRequests));
  const minutes = input.candidate.length;
  const refRequests = total(ref.samples, "requests");
  if (minutes === 0 || ref.samples.length === 0) return { judged: false };
  const scopePerMinute = refRequests / ref.samples.length / ref.share;
  const expectedPerMinute = scopePerMinute * input.candidateShare;
  const expected = expectedPerMinute * minutes;
  if (
    !atLeast(expected, rule.minExpectedRequests) ||
    !atLeast(refRequests, rule.minExpectedRequests)
  ) {
    return { judged: false };
  }
  const perMinute = total(input.candidate, "requests") / minutes;
  const ratio = perMinute / expectedPerMinute;
  if (atLeast(ratio, rule.dropRatio)) return { judged: true };
  return {
    judged: true,
    finding: {
      rule: "traffic-drop",
      severity: "regression",
      message:
        `new version served ${fmtCount(perMinute)} requests/min, ${fmtPct(ratio)} of the ` +
        `${fmtCount(expectedPerMinute)}/min expected for its ${fmtPct(input.candidateShare, true)} ` +
        `share (judged by the traffic ${ref.where}; threshold ${fmtPct(rule.dropRatio, true)})`,
      statistic: stats({
        candidateRequestsPerMinute: perMinute,
        expectedRequestsPerMinute: expectedPerMinute,
        ratio,
        dropRatio: rule.dropRatio,
        candidateMinutes: minutes,
        referenceMinutes: ref.samples.length,
        candidateShare: input.candidateShare,
      }),
    },
  };
}

function faultRate(
  input: AnomalyInput,
  refs: References,
  rule: AnomalyRules["faultRate"],
): RuleOutcome {
  const ref = pick(refs, (r) => atLeast(total(r.samples, "requests"), rule.minReferenceRequests));
  const n1 = total(input.candidate, "requests");
  // Faults and requests are separate metrics; a misaligned minute can count more faults than
  // requests, so only the window's totals are held to faults ≤ requests.
  const x1 = Math.min(total(input.candidate, "faults"), n1);
  const n2 = total(ref.samples, "requests");
  const x2 = Math.min(total(ref.samples, "faults"), n2);
  if (!atLeast(n1, rule.minCandidateRequests)) {
    return insufficient(
      "fault-rate",
      `only ${fmtCount(n1)} requests on the new version; the fault-rate rule needs at least ${fmtCount(rule.minCandidateRequests)}`,
      { candidateRequests: n1, minCandidateRequests: rule.minCandidateRequests },
    );
  }
  if (!atLeast(n2, rule.minReferenceRequests)) {
    return insufficient(
      "fault-rate",
      `only ${fmtCount(n2)} requests ${ref.where} to compare with; the fault-rate rule needs at least ${fmtCount(rule.minReferenceRequests)}`,
      { referenceRequests: n2, minReferenceRequests: rule.minReferenceRequests },
    );
  }
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const z = twoProportionZ(x1, n1, x2, n2);
  const exactZ = conditionalBinomialZ(x1, n1, x2, n2);
  const regression =
    atLeast(Math.min(z, exactZ), rule.minZ) &&
    atLeast(p1 - p2, rule.minIncrease) &&
    atLeast(p1, rule.minRatio * p2);
  if (!regression) return { judged: true };
  return {
    judged: true,
    finding: {
      rule: "fault-rate",
      severity: "regression",
      message:
        `fault rate ${fmtPct(p1)} vs ${fmtPct(p2)} ${ref.where} ` +
        `(z = ${z.toFixed(1)}, exact-test z = ${exactZ.toFixed(1)}, threshold ${rule.minZ})`,
      statistic: stats({
        candidateRequests: n1,
        candidateFaults: x1,
        candidateFaultRate: p1,
        referenceRequests: n2,
        referenceFaults: x2,
        referenceFaultRate: p2,
        z,
        exactZ,
        minZ: rule.minZ,
        increase: p1 - p2,
        ratio: p1 / p2,
      }),
    },
  };
}

function latency(
  input: AnomalyInput,
  refs: References,
  rule: AnomalyRules["latency"],
): RuleOutcome {
  const cand = p99s(input.candidate);
  const ref = pick(refs, (r) => {
    const n = p99s(r.samples).length;
    return n >= rule.minReferenceMinutes && atLeast(mannWhitneyMaxZ(cand.length, n), rule.minZ);
  });
  const base = p99s(ref.samples);
  if (cand.length < rule.minCandidateMinutes) {
    return insufficient(
      "latency",
      `only ${cand.length} minutes with traffic on the new version; the latency rule needs at least ${rule.minCandidateMinutes}`,
      { candidateMinutes: cand.length, minCandidateMinutes: rule.minCandidateMinutes },
    );
  }
  if (base.length < rule.minReferenceMinutes) {
    return insufficient(
      "latency",
      `only ${base.length} minutes with traffic ${ref.where}; the latency rule needs at least ${rule.minReferenceMinutes}`,
      { referenceMinutes: base.length, minReferenceMinutes: rule.minReferenceMinutes },
    );
  }
  const maxZ = mannWhitneyMaxZ(cand.length, base.length);
  if (!atLeast(maxZ, rule.minZ)) {
    return insufficient(
      "latency",
      `${cand.length} minutes on the new version against ${base.length} ${ref.where} cannot ` +
        `reach z = ${rule.minZ} (at most ${maxZ.toFixed(1)} even if every new-version minute were slower)`,
      {
        candidateMinutes: cand.length,
        referenceMinutes: base.length,
        maxZ,
        minZ: rule.minZ,
      },
    );
  }
  const candMedian = median(cand);
  const refMedian = median(base);
  const ratio = refMedian > 0 ? candMedian / refMedian : candMedian > 0 ? Infinity : 1;
  const z = mannWhitneyZ(cand, base);
  if (!(atLeast(ratio, rule.minRatio) && atLeast(z, rule.minZ))) return { judged: true };
  return {
    judged: true,
    finding: {
      rule: "latency",
      severity: "regression",
      message:
        `median p99 ${fmtMs(candMedian)} vs ${fmtMs(refMedian)} ${ref.where} ` +
        `(${fmtRatio(ratio)}, threshold ${fmtRatio(rule.minRatio)}; ` +
        `Mann–Whitney z = ${z.toFixed(1)}, threshold ${rule.minZ})`,
      statistic: stats({
        candidateMedianP99Ms: candMedian,
        referenceMedianP99Ms: refMedian,
        ratio,
        minRatio: rule.minRatio,
        z,
        minZ: rule.minZ,
        candidateMinutes: cand.length,
        referenceMinutes: base.length,
      }),
    },
  };
}

function insufficient(
  rule: AnomalyRule,
  message: string,
  statistic: Record<string, number>,
): RuleOutcome {
  return {
    judged: false,
    finding: { rule, severity: "insufficient-data", message, statistic: stats(statistic) },
  };
}

/** Latency datapoints: minutes that served requests and reported a usable p99. */
function p99s(samples: MinuteSample[]): number[] {
  return samples
    .filter((s) => s.requests > 0 && Number.isFinite(s.p99Ms) && s.p99Ms >= 0)
    .map((s) => s.p99Ms);
}

function total(samples: MinuteSample[], key: "requests" | "faults"): number {
  let sum = 0;
  for (const s of samples) sum += s[key];
  return sum;
}

/** `value ≥ threshold`, forgiving floating-point rounding (0.009 − 0.004 < 0.005 in binary). */
function atLeast(value: number, threshold: number): boolean {
  return value >= threshold - 1e-9 * Math.max(1, Math.abs(threshold));
}

/** Drops non-finite numbers (a ratio over a zero rate), which JSON would turn into null. */
function stats(values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => Number.isFinite(v)));
}

/** `trim` for thresholds and shares ("10%"), not for measured rates ("5.0%"). */
function fmtPct(fraction: number, trim = false): string {
  const pct = fraction * 100;
  if (pct === 0) return "0%";
  if (pct >= 1) return `${trim ? trimZeros(pct.toFixed(1)) : pct.toFixed(1)}%`;
  if (pct >= 0.01) return `${pct.toFixed(2)}%`;
  return `${pct.toPrecision(2)}%`;
}

function trimZeros(s: string): string {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

function fmtCount(n: number): string {
  return n >= 10 ? Math.round(n).toLocaleString("en-US") : trimZeros(n.toFixed(1));
}

function fmtMs(ms: number): string {
  return `${Math.round(ms)} ms`;
}

function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${trimZeros(r.toFixed(2))}×` : "∞×";
}
