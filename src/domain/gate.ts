/**
 * "May this step start now?" answered in one place. The gate service (`checkGate`) reads the
 * alarms, time windows, manual blocks, a live bypass and the scope lock, calls
 * {@link decideGate}, and writes what it says (the blocked marker, the timeline).
 */
import { type Blocker, describeBlockers, recheckSeconds } from "./blockers.ts";
import type { ScopeState } from "./model.ts";

/** An engineer's live bypass of some blocker kinds for one version (see the override service). */
export interface GateBypass {
  kinds: string[];
  actor: string;
  reason: string;
  expiresAt: string;
}

/** Everything the gate rule needs, as plain data read beforehand. */
export interface GateInput {
  /** The blockers found now (alarms, org alarms, time window, manual blocks). */
  found: Blocker[];
  /** A live bypass for this version, if any. */
  bypass?: GateBypass | undefined;
  /**
   * The scope lock, taken only once nothing else holds the step (so a blocked step never holds
   * the location); undefined while not tried.
   */
  lock?: { ok: true } | { ok: false; reason: string } | undefined;
  /** The scope's blocked marker as stored (the state the last check recorded). */
  was?: ScopeState["blocked"] | undefined;
  /** The installation's recheck interval (`blockerRecheckMinutes`). */
  recheckMinutes: number;
  /** The time of the check. */
  at: Date;
}

/** The scope's blocked marker the gate records when the blocked state changes. */
export type BlockedMarker = NonNullable<ScopeState["blocked"]>;

/** The outcome of {@link decideGate}: a closed union. */
export type GateDecision =
  | {
      kind: "go";
      /** What a bypass let through, for the step's history. */
      bypassed?: string;
      /** The blocked reason that just cleared: record the unblocking once. */
      cleared?: string;
    }
  | {
      kind: "wait";
      blockers: Blocker[];
      reason: string;
      /** When every blocker is known to end, the latest end. */
      until?: Date;
      recheckSeconds: number;
      /** A changed blocked state to record (once, not on a re-check with the same blockers). */
      record?: BlockedMarker;
    };

/**
 * Decides whether a deploy step may start now: go when no blocker is left after the bypass
 * (and the scope lock is not held by another pipeline), else wait, with the blockers, until
 * when, and when to look again — exactly at a time window's opening when only windows block;
 * at most every minute when another pipeline holds the scope lock (its bake's end is not known
 * here); otherwise the recheck interval. A change of the blocked state is recorded once.
 *
 * @example
 * decideGate({
 *   found: [{ kind: "manual", reason: "freeze by ana" }],
 *   recheckMinutes: 5,
 *   at: new Date("2026-12-01T10:00:00Z"),
 * });
 * // → { kind: "wait", blockers: [...], reason: "freeze by ana", recheckSeconds: 300,
 * //     record: { reason: "freeze by ana", since: "2026-12-01T10:00:00.000Z", kinds: ["manual"] } }
 */
export function decideGate(input: GateInput): GateDecision {
  const { found, bypass, lock, was, at } = input;
  const ignored = bypass ? found.filter((b) => bypass.kinds.includes(b.kind)) : [];
  const blockers = found.filter((b) => !ignored.includes(b));
  if (blockers.length === 0 && lock && !lock.ok) {
    blockers.push({ kind: "scope-lock", reason: lock.reason });
  }
  if (blockers.length === 0) {
    return {
      kind: "go",
      ...(ignored.length
        ? {
            bypassed: `bypass by ${bypass?.actor} (${bypass?.reason}) until ${bypass?.expiresAt}: ${describeBlockers(ignored)}`,
          }
        : {}),
      ...(was ? { cleared: was.reason } : {}),
    };
  }
  const reason = describeBlockers(blockers);
  const configured = input.recheckMinutes * 60;
  const interval = blockers.some((b) => b.kind === "scope-lock")
    ? Math.min(configured, 60)
    : configured;
  const ends = blockers.map((b) => b.until?.getTime());
  const until = ends.every((e): e is number => e !== undefined)
    ? new Date(Math.max(...ends))
    : undefined;
  return {
    kind: "wait",
    blockers,
    reason,
    ...(until ? { until } : {}),
    recheckSeconds: recheckSeconds(blockers, at, interval),
    ...(was?.reason !== reason
      ? {
          record: {
            reason,
            since: at.toISOString(),
            kinds: [...new Set(blockers.map((b) => b.kind))],
            // Recorded so status can say until when, not only why.
            ...(until ? { until: until.toISOString() } : {}),
          },
        }
      : {}),
  };
}
