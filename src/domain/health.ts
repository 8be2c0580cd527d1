/**
 * Health verdicts are data. A scope is Unhealthy when any of its alarms is in ALARM, Healthy
 * when the rest are OK, and INSUFFICIENT_DATA counts as OK by default (an idle alarm is not a
 * failing one) unless the caller treats it otherwise.
 */
import type { AlarmObservation } from "./alarms.ts";

export type HealthPhase = "Healthy" | "Unhealthy" | "Inconclusive";

export interface HealthVerdict {
  phase: HealthPhase;
  reasons: string[];
  alarms: AlarmObservation[];
}

export interface JudgeOptions {
  insufficientData?: "ok" | "alarm" | "inconclusive";
}

/**
 * @example
 * judgeHealth([{ name: "prod-1/eu-north-1 FaultRate", state: "ALARM" }]).phase // "Unhealthy"
 */
export function judgeHealth(alarms: AlarmObservation[], options: JudgeOptions = {}): HealthVerdict {
  const missing = options.insufficientData ?? "ok";
  const firing = alarms.filter(
    (a) => a.state === "ALARM" || (a.state === "INSUFFICIENT_DATA" && missing === "alarm"),
  );
  if (firing.length > 0) {
    return {
      phase: "Unhealthy",
      reasons: firing.map((a) => (a.reason ? `${a.name}: ${a.reason}` : `${a.name} in ${a.state}`)),
      alarms,
    };
  }
  const unknown = alarms.filter(
    (a) => a.state === "INSUFFICIENT_DATA" && missing === "inconclusive",
  );
  if (unknown.length > 0) {
    return {
      phase: "Inconclusive",
      reasons: unknown.map((a) => `${a.name} has insufficient data`),
      alarms,
    };
  }
  return {
    phase: "Healthy",
    reasons: alarms.length === 0 ? ["no alarms configured for this scope"] : [],
    alarms,
  };
}
