/** The anomaly detector: validates its input, runs the three rules (./rules.ts), sums up. */
import { InvalidInputError } from "../errors.ts";
import { formatProblems } from "../pipeline.ts";
import {
  type AnomalyInput,
  type AnomalyRuleOverrides,
  type AnomalyVerdict,
  type MinuteSample,
  resolveAnomalyRules,
} from "./model.ts";
import { faultRate, latency, references, trafficDrop } from "./rules.ts";

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
