/**
 * The detector's thresholds when it looks at a bake several times (every
 * `bake.checkEveryMinutes`, not only at the end). Each look is one more chance for healthy
 * noise to cross a threshold, so the two statistical thresholds (fault-rate's z, latency's
 * Mann–Whitney z) are corrected by Bonferroni over the bake's planned looks: each look tests at
 * 1/looks of the single look's tail probability, and the whole bake's false-positive rate stays
 * at or under today's (docs/decisions.md, 2026-12-02). The other thresholds (ratios, minimum
 * increase, minimum samples) are not probabilities and stay as they are.
 */
import { type AnomalyRuleOverrides, type AnomalyRules, resolveAnomalyRules } from "./model.ts";
import { bonferroniZ } from "./stats.ts";

/**
 * The rules for one of `looks` planned looks at a bake: `base` (default: the built-in rules)
 * with fault-rate's and latency's `minZ` corrected by {@link bonferroniZ}. One look: `base`.
 *
 * @example
 * rulesForLooks(12).faultRate.minZ // ≈ 4.56 (one look: 4)
 * rulesForLooks(12).latency.minZ // ≈ 4.08 (one look: 3.5)
 */
export function rulesForLooks(looks: number, base?: AnomalyRuleOverrides): AnomalyRules {
  if (!(Number.isInteger(looks) && looks >= 1)) {
    throw new RangeError(`rulesForLooks: looks must be a whole number ≥ 1, got ${looks}`);
  }
  const rules = resolveAnomalyRules(base);
  return {
    trafficDrop: rules.trafficDrop,
    faultRate: { ...rules.faultRate, minZ: bonferroniZ(rules.faultRate.minZ, looks) },
    latency: { ...rules.latency, minZ: bonferroniZ(rules.latency.minZ, looks) },
  };
}
