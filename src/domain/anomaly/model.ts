/**
 * The anomaly detector's inputs, outcomes and thresholds (the rules are described in ./rules.ts).
 */

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
