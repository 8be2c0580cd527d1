/**
 * The statistics the anomaly rules use: median, two-proportion z, the exact conditional
 * binomial test, Mann–Whitney U. Pure numeric functions.
 */
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

/**
 * The Bonferroni correction of a one-sided z threshold over `looks` looks at the data: the z
 * whose upper-tail probability is `looks` times smaller than `z`'s, so that `looks` tests at
 * the corrected threshold together fire on healthy data at most as often as one test at `z`.
 * One look (or fewer) returns `z` unchanged.
 *
 * @example
 * bonferroniZ(4, 1) // 4 (P ≈ 3.2e-5)
 * bonferroniZ(4, 12) // ≈ 4.56 (P ≈ 2.6e-6 per look)
 */
export function bonferroniZ(z: number, looks: number): number {
  if (!(Number.isFinite(z) && Number.isFinite(looks))) {
    throw new RangeError(`bonferroniZ: need finite z and looks, got ${z} and ${looks}`);
  }
  if (looks <= 1) return z;
  return -inverseNormalCdfFromLog(logUpperTail(z) - Math.log(looks));
}

/**
 * ln P(Z ≥ z) for a standard normal Z: the complementary error function by its Chebyshev
 * fit (Numerical Recipes' erfcc, fractional error below 1.2e-7 everywhere), in log space so
 * that deep tails stay finite.
 */
function logUpperTail(z: number): number {
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t *
                          (-1.13520398 +
                            t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const logErfcAbs = Math.log(t) - x * x + poly;
  // P(Z ≥ z) = erfc(x) / 2; for negative z, erfc(x) = 2 − erfc(|x|).
  return x >= 0 ? logErfcAbs - Math.LN2 : Math.log1p(-Math.exp(logErfcAbs) / 2);
}

/** The largest z {@link mannWhitneyZ} can give for these sample sizes (complete separation). */
export function mannWhitneyMaxZ(n1: number, n2: number): number {
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
