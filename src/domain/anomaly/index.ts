/**
 * The built-in anomaly detector (the rules and their thresholds: ./rules.ts).
 *
 * - ./model.ts: inputs, outcomes, default thresholds
 * - ./stats.ts: the statistics
 * - ./rules.ts: traffic-drop, fault-rate, latency
 * - ./format.ts: numbers in messages
 * - ./detect.ts: {@link detectAnomalies}
 * - ./looks.ts: thresholds corrected for several looks at one bake ({@link rulesForLook})
 */
export { detectAnomalies } from "./detect.ts";
export { type Look, rulesForLook } from "./looks.ts";
export {
  type AnomalyFinding,
  type AnomalyInput,
  type AnomalyRule,
  type AnomalyRuleOverrides,
  type AnomalyRules,
  type AnomalyVerdict,
  DEFAULT_ANOMALY_RULES,
  type MinuteSample,
  resolveAnomalyRules,
} from "./model.ts";
export {
  bonferroniZ,
  conditionalBinomialZ,
  mannWhitneyZ,
  median,
  twoProportionZ,
} from "./stats.ts";
