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
import { fmtCount, fmtMs, fmtPct, fmtRatio } from "./format.ts";
import type {
  AnomalyFinding,
  AnomalyInput,
  AnomalyRule,
  AnomalyRules,
  MinuteSample,
} from "./model.ts";
import {
  conditionalBinomialZ,
  mannWhitneyMaxZ,
  mannWhitneyZ,
  median,
  twoProportionZ,
} from "./stats.ts";

export interface Reference {
  samples: MinuteSample[];
  /** The reference's share of the scope's traffic. */
  share: number;
  /** "on the old version during the bake" / "... before the deploy". */
  where: string;
}

export interface References {
  baseline: Reference;
  control?: Reference;
}

export interface RuleOutcome {
  /** The rule could judge (a regression or a clean bill), as opposed to not enough data. */
  judged: boolean;
  finding?: AnomalyFinding;
}

export function references(input: AnomalyInput): References {
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

export function trafficDrop(
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

export function faultRate(
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

export function latency(
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
