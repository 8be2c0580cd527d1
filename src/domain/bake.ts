/**
 * "When is a bake done?" answered in one place. The app service (`evaluateStep`) reads the
 * alarms, the metrics and the detector's findings, calls {@link judgeBake}, and writes what it
 * says; the stage machine's Choice only routes on the outcome's phase.
 */

import type { AnomalyVerdict } from "./anomaly/index.ts";
import type { CanaryVerdict } from "./checks.ts";
import { type HealthPhase, judgeHealth } from "./health.ts";
import type { AlarmObservation, MinuteSample } from "./ports.ts";

/** The verdict of a finished bake: written once, used by the service, the timeline and the ASL. */
export type BakeVerdict = HealthPhase;

/** A step's bake policy, resolved from the stage (see `bakePolicy` in the stage steps). */
export interface BakePolicy {
  minutes: number;
  minRequests?: number | undefined;
  maxMinutes: number;
  onInsufficientTraffic: "halt" | "proceed";
  /**
   * The detector also judges the bake every this many minutes before its end (see
   * {@link bakeLooks}); undefined: judged at the end only (the detector is off).
   */
  checkEveryMinutes?: number | undefined;
}

/** `bake.checkEveryMinutes` when the stage does not say. */
export const DEFAULT_CHECK_EVERY_MINUTES = 5;
/**
 * At most this many planned looks per bake: a long bake spaces its looks out instead (each
 * look costs a Wait, a Lambda invocation and metric reads, and tightens the thresholds).
 */
export const MAX_BAKE_LOOKS = 12;

/**
 * When the detector looks at a bake: every `everyMinutes` (the stage's `checkEveryMinutes`,
 * spaced out so a bake has at most {@link MAX_BAKE_LOOKS}), the last look at the bake's end;
 * `planned` looks in all, which is what the detector's thresholds are corrected for. A policy
 * without `checkEveryMinutes` has one look, at the end.
 *
 * @example
 * bakeLooks({ minutes: 60, maxMinutes: 60, onInsufficientTraffic: "halt", checkEveryMinutes: 5 })
 * // { everyMinutes: 5, planned: 12 }
 * bakeLooks({ minutes: 600, maxMinutes: 600, onInsufficientTraffic: "halt", checkEveryMinutes: 5 })
 * // { everyMinutes: 50, planned: 12 }
 */
export function bakeLooks(policy: BakePolicy): { everyMinutes: number; planned: number } {
  const every = policy.checkEveryMinutes;
  if (every === undefined || every >= policy.minutes) {
    return { everyMinutes: policy.minutes, planned: 1 };
  }
  const everyMinutes = Math.max(every, Math.ceil(policy.minutes / MAX_BAKE_LOOKS));
  return { everyMinutes, planned: Math.ceil(policy.minutes / everyMinutes) };
}

/** Whether a look `elapsedMs` into the bake is an interim one (before `minutes`). */
export function isInterimLook(policy: BakePolicy, elapsedMs: number): boolean {
  return bakeLooks(policy).planned > 1 && elapsedMs < policy.minutes * 60_000;
}

/**
 * Seconds from `elapsedMs` into the bake to its next planned look (the next multiple of the
 * look interval, or the bake's end), at least one.
 *
 * @example
 * nextLookSeconds({ minutes: 12, maxMinutes: 12, onInsufficientTraffic: "halt", checkEveryMinutes: 5 }, 0) // 300
 * nextLookSeconds({ minutes: 12, maxMinutes: 12, onInsufficientTraffic: "halt", checkEveryMinutes: 5 }, 600_000) // 120
 */
export function nextLookSeconds(policy: BakePolicy, elapsedMs: number): number {
  const endMs = policy.minutes * 60_000;
  const everyMs = bakeLooks(policy).everyMinutes * 60_000;
  const next = Math.min((Math.floor(Math.max(0, elapsedMs) / everyMs) + 1) * everyMs, endMs);
  return Math.max(1, Math.ceil((next - elapsedMs) / 1000));
}

/** The outcome of an interim look ({@link judgeLook}). */
export type LookDecision =
  | { kind: "done"; verdict: "Unhealthy"; reasons: string[] }
  | { kind: "continue"; seconds: number };

/**
 * Judges a step at an interim look of its bake: a regression the detector found (with
 * thresholds corrected for the planned looks) ends the bake Unhealthy at once, and the scope
 * rolls back; anything else (healthy so far, too little data yet, `minRequests` not yet
 * served) bakes on until the next look. Alarms are not judged here: an alarm going to ALARM
 * already rolls its scope back at once through its own event (fast rollback), and a look at
 * the same instant must not race it; the final look ({@link judgeBake}) still reads them, and
 * only it can find a bake Healthy, Inconclusive, or extend it.
 *
 * @example
 * judgeLook({ alarms: [], anomaly: { phase: "Healthy", findings: [] }, policy, candidate: [],
 *   elapsedMs: 5 * 60_000 }) // with policy a 60-minute bake looked at every 5: { kind: "continue", seconds: 300 }
 */
export function judgeLook(input: BakeInput): LookDecision {
  if (input.anomaly?.phase === "Unhealthy") {
    const reasons = input.anomaly.findings
      .filter((f) => f.severity === "regression")
      .map((f) => `detector ${f.rule}: ${f.message}`);
    const minute = Math.floor(input.elapsedMs / 60_000);
    return {
      kind: "done",
      verdict: "Unhealthy",
      reasons: [...reasons, `found at minute ${minute} of ${input.policy.minutes} of the bake`],
    };
  }
  return { kind: "continue", seconds: nextLookSeconds(input.policy, input.elapsedMs) };
}

/** Everything the bake rule needs, as plain data read beforehand. */
export interface BakeInput {
  /** The scope's alarms as observed now (app alarms, plus one-box alarms for a one-box step). */
  alarms: AlarmObservation[];
  /** How an alarm in INSUFFICIENT_DATA counts (the pipeline's `alarmMissingData`). */
  alarmMissingData?: "ok" | "alarm" | "inconclusive" | undefined;
  /** The detector's verdict; undefined when detection is off or no metrics could be read. */
  anomaly?: AnomalyVerdict | undefined;
  policy: BakePolicy;
  /** The candidate version's request minutes since the bake began; undefined when unreadable. */
  candidate: MinuteSample[] | undefined;
  /** Milliseconds since the bake began. */
  elapsedMs: number;
  /** The stage's canaries over the bake (issue 13); undefined when it has none. */
  canaries?: CanaryVerdict | undefined;
}

/** The outcome of {@link judgeBake}: a closed union. */
export type BakeDecision =
  | { kind: "done"; verdict: BakeVerdict; reasons: string[] }
  | { kind: "extend"; seconds: number; why: string };

const served = (xs: MinuteSample[] | undefined) => (xs ?? []).reduce((n, x) => n + x.requests, 0);

/**
 * Judges a step at the end of its bake. Unhealthy when an alarm fires or the detector finds a
 * regression; Inconclusive when an alarm has no data (and that counts as inconclusive), or
 * `bake.minRequests` is set and the metrics cannot be read, or the traffic minimum was not met
 * by `bake.maxMinutes` under `onInsufficientTraffic: halt`. Before `maxMinutes`, too little
 * traffic extends the bake by as long as the observed rate says it takes to reach the minimum
 * (at least a minute, at most to `maxMinutes`): a bounded number of extensions, not a polling
 * loop. Otherwise Healthy, with the detector's non-regression findings as reasons.
 *
 * @example
 * judgeBake({
 *   alarms: [{ name: "faults", state: "OK" }],
 *   policy: { minutes: 10, minRequests: 100, maxMinutes: 40, onInsufficientTraffic: "halt" },
 *   candidate: [{ requests: 20, faults: 0, p99Ms: 80 }],
 *   elapsedMs: 30 * 60_000,
 * });
 * // 20 requests in 30 minutes: 120 more minutes needed, 10 left before maxMinutes →
 * // { kind: "extend", seconds: 600, why: "extended: 20 of 100 requests served" }
 */
export function judgeBake(input: BakeInput): BakeDecision {
  const { anomaly, policy, candidate, elapsedMs } = input;
  const alarms = judgeHealth(input.alarms, { insufficientData: input.alarmMissingData ?? "ok" });
  const reasons: string[] = [];
  let verdict: BakeVerdict = "Healthy";
  const canaries = input.canaries;
  if (
    alarms.phase === "Unhealthy" ||
    anomaly?.phase === "Unhealthy" ||
    canaries?.phase === "Unhealthy"
  ) {
    verdict = "Unhealthy";
    if (alarms.phase === "Unhealthy") reasons.push(...alarms.reasons);
    for (const f of anomaly?.findings ?? []) {
      if (f.severity === "regression") reasons.push(`detector ${f.rule}: ${f.message}`);
    }
    if (canaries?.phase === "Unhealthy") reasons.push(...canaries.reasons);
  } else if (alarms.phase === "Inconclusive" || canaries?.phase === "Inconclusive") {
    verdict = "Inconclusive";
    if (alarms.phase === "Inconclusive") reasons.push(...alarms.reasons);
    if (canaries?.phase === "Inconclusive") reasons.push(...canaries.reasons);
  } else if (policy.minRequests !== undefined && !candidate) {
    verdict = "Inconclusive";
    reasons.push(
      `bake.minRequests needs the scope's request metrics, and none could be read (configure the pipeline's metrics)`,
    );
  } else if (policy.minRequests !== undefined) {
    const count = served(candidate);
    if (count < policy.minRequests) {
      const maxMs = policy.maxMinutes * 60_000;
      if (elapsedMs < maxMs) {
        const rate = count / Math.max(1, elapsedMs / 60_000);
        const neededMs = rate > 0 ? ((policy.minRequests - count) / rate) * 60_000 + 60_000 : maxMs;
        const remainingMs = maxMs - elapsedMs;
        return {
          kind: "extend",
          seconds: Math.ceil(Math.min(Math.max(neededMs, 60_000), remainingMs) / 1000),
          why: `extended: ${count.toLocaleString("en-US")} of ${policy.minRequests.toLocaleString("en-US")} requests served`,
        };
      }
      const detail = `insufficient traffic: served ${count} of ${policy.minRequests} requests in ${policy.maxMinutes} minutes`;
      if (policy.onInsufficientTraffic === "halt") {
        verdict = "Inconclusive";
        reasons.push(detail);
      } else reasons.push(`${detail}; proceeding (onInsufficientTraffic: proceed)`);
    }
  }
  if (verdict === "Healthy") {
    for (const f of anomaly?.findings ?? []) reasons.push(`detector ${f.rule}: ${f.message}`);
  }
  return { kind: "done", verdict, reasons };
}

/** True for a recorded `bake-finished` outcome that is a verdict. */
export const isBakeVerdict = (o: string | undefined): o is BakeVerdict =>
  o === "Healthy" || o === "Unhealthy" || o === "Inconclusive";
