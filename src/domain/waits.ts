/**
 * "Every wait says why, and until when." What a scope is waiting for, told from what the
 * decisions recorded where they were made: the gate's blocked marker on the scope (with the
 * blockers' reason and, when known, their end), and the run's timeline (the bake rule's
 * `bake-extended` with the requests served so far and when the bake is judged again, the bake's
 * start and the stage's bake minutes). Pure: status, `status --watch` and the dashboard show
 * the same sentence.
 */
import type { ScopeState, TimelineEvent } from "./model.ts";
import type { Pipeline } from "./pipeline.ts";

export type WaitKind = "blocked" | "deploying" | "baking" | "bake-extended" | "rolling-back";

export interface ScopeWait {
  kind: WaitKind;
  /** One sentence: "extended: 1,840 of 5,000 requests served". */
  reason: string;
  /** When the wait is known to end (ISO time); absent when nobody can know. */
  until?: string;
}

/** The bake minutes of a stage, from the run's definition snapshot. */
function bakeMinutes(definition: Pipeline | undefined, stage: string): number | undefined {
  return definition?.stages.find((s) => s.name === stage)?.bake.minutes;
}

/**
 * Why the scope is not yet done, or undefined when it waits for nothing (stable, rolled back).
 * `events` is the timeline of the run acting on the scope (any order); `definition` its snapshot.
 *
 * @example
 * explainWait(scope, [{ event: "bake-extended", reason: "extended: 1,840 of 5,000 requests served", until, … }]);
 * // → { kind: "bake-extended", reason: "extended: 1,840 of 5,000 requests served", until }
 */
export function explainWait(
  scope: Pick<ScopeState, "scope" | "status" | "since" | "blocked" | "version" | "previousVersion">,
  events: TimelineEvent[] = [],
  definition?: Pipeline,
): ScopeWait | undefined {
  if (scope.blocked) {
    return {
      kind: "blocked",
      reason: `blocked: ${scope.blocked.reason}`,
      ...(scope.blocked.until ? { until: scope.blocked.until } : {}),
    };
  }
  const mine = events
    .filter((e) => e.scope === scope.scope && e.version === scope.version)
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const last = (name: TimelineEvent["event"]) => mine.filter((e) => e.event === name).at(-1);
  switch (scope.status) {
    case "baking": {
      const started = last("bake-started");
      const extended = last("bake-extended");
      if (extended && (!started || extended.at >= started.at)) {
        return {
          kind: "bake-extended",
          reason: extended.reason ?? "bake extended",
          ...(extended.until ? { until: extended.until } : {}),
        };
      }
      const from = started?.at ?? scope.since;
      const minutes = started ? bakeMinutes(definition, started.stage) : undefined;
      return {
        kind: "baking",
        reason: minutes !== undefined ? `baking ${minutes} min` : "baking",
        ...(minutes !== undefined
          ? { until: new Date(Date.parse(from) + minutes * 60_000).toISOString() }
          : {}),
      };
    }
    case "deploying": {
      const started = last("deploy-started");
      const share =
        started?.percent !== undefined && started.percent < 100 ? ` to ${started.percent}%` : "";
      return {
        kind: "deploying",
        reason: `deploying${share}${started ? ` (${started.step})` : ""}`,
      };
    }
    case "rolling-back":
      return {
        kind: "rolling-back",
        reason: `rolling back${scope.previousVersion ? ` to ${scope.previousVersion}` : ""}`,
      };
    default:
      return undefined;
  }
}

/** A wait for people: "extended: 1,840 of 5,000 requests served (until 2026-12-02 10:42Z)". */
export function waitNote(wait: ScopeWait): string {
  return `${wait.reason}${wait.until ? ` (until ${wait.until.slice(0, 16).replace("T", " ")}Z)` : ""}`;
}
