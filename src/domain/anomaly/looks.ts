/**
 * The detector's thresholds when it looks at a bake several times (every
 * `bake.checkEveryMinutes`, not only at the end). Each look is one more chance for healthy
 * noise to cross a threshold, so the two statistical thresholds are corrected (docs/decisions.md,
 * 2026-12-02):
 *
 * - both z thresholds (fault-rate's, latency's Mann–Whitney) by Bonferroni over the bake's
 *   planned looks: each look tests at 1/looks of a single look's tail probability, so the
 *   whole bake's nominal false-positive rate stays at or under a single look's;
 * - fault-rate's z and its ratio guard (`minRatio`), in addition, by an O'Brien–Fleming-shaped
 *   boundary over the share of the bake elapsed: ÷ √fraction, so the look at a quarter of the
 *   bake needs twice the z and twice the ratio of the last. Its binomial tests count each
 *   request as independent, while real faults come in bursts (several faults in a minute, then
 *   none): over a short window a burst makes both the evidence and the increase look larger
 *   than they are, and the first looks see the shortest windows. Latency's test counts
 *   minutes, not requests, and needs no such shape.
 *
 * The other thresholds (traffic-drop's ratio, the minimum increase, minimum samples) stay as
 * they are.
 */
import { type AnomalyRuleOverrides, type AnomalyRules, resolveAnomalyRules } from "./model.ts";
import { bonferroniZ } from "./stats.ts";

/** When a look happens: which of how many planned looks, as the share of the bake elapsed. */
export interface Look {
  /** The bake's planned looks (1: only at its end, as before). */
  planned: number;
  /** Elapsed ÷ the bake's minutes; 1 (or more, an extension) at the end. */
  fraction: number;
}

/**
 * The rules for one look at a bake: `base` (default: the built-in rules) with fault-rate's and
 * latency's `minZ` corrected as described above. The last look of a single-look bake: `base`.
 *
 * @example
 * rulesForLook({ planned: 12, fraction: 1 }).faultRate.minZ // ≈ 4.55 (one look: 4)
 * rulesForLook({ planned: 12, fraction: 0.25 }).faultRate.minZ // ≈ 9.11
 * rulesForLook({ planned: 12, fraction: 0.25 }).faultRate.minRatio // 4 (one look: 2)
 * rulesForLook({ planned: 12, fraction: 0.25 }).latency.minZ // ≈ 4.11 (one look: 3.5)
 */
export function rulesForLook(look: Look, base?: AnomalyRuleOverrides): AnomalyRules {
  const { planned, fraction } = look;
  if (!(Number.isInteger(planned) && planned >= 1)) {
    throw new RangeError(`rulesForLook: planned must be a whole number ≥ 1, got ${planned}`);
  }
  if (!(Number.isFinite(fraction) && fraction > 0)) {
    throw new RangeError(`rulesForLook: fraction must be > 0, got ${fraction}`);
  }
  const rules = resolveAnomalyRules(base);
  const shape = 1 / Math.sqrt(Math.min(1, fraction));
  return {
    trafficDrop: rules.trafficDrop,
    faultRate: {
      ...rules.faultRate,
      minZ: bonferroniZ(rules.faultRate.minZ, planned) * shape,
      minRatio: rules.faultRate.minRatio * shape,
    },
    latency: { ...rules.latency, minZ: bonferroniZ(rules.latency.minZ, planned) },
  };
}
