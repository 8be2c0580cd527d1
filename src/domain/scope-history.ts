/**
 * The history record of one scope transition: what every store writes beside the scope's new
 * state, in the same transaction (safety rule 5: every change of a scope's version is recorded,
 * with who or what caused it).
 */
import type { HistoryEntry, ScopeState } from "./model.ts";
import type { ScopeTransition } from "./ports.ts";

/**
 * The history entry for `t` applied to `current` (the state it was read as).
 *
 * @example
 * historyEntryOf(current, { pipeline: "orders-api", scope: "beta/us-east-1", at, actor: "breakwater/deploy",
 *   cause: "deploy v2", set: { version: "v2", status: "deploying" } });
 * // → { rev: current.rev + 1, fromVersion: "v1", toVersion: "v2", fromStatus: "stable", status: "deploying", … }
 */
export function historyEntryOf(current: ScopeState, t: ScopeTransition): HistoryEntry {
  const runId = t.set.runId ?? current.runId;
  return {
    pipeline: t.pipeline,
    scope: t.scope,
    at: t.at,
    rev: current.rev + 1,
    ...(current.version !== t.set.version ? { fromVersion: current.version } : {}),
    toVersion: t.set.version,
    fromStatus: current.status,
    status: t.set.status,
    percent: t.set.percent,
    actor: t.actor,
    cause: t.cause,
    ...(runId ? { runId } : {}),
  };
}

/** The first history entry of a scope, seeded at `state.version` (rev 1, like the scope). */
export function seedHistoryEntryOf(state: Omit<ScopeState, "rev">, actor: string): HistoryEntry {
  return {
    pipeline: state.pipeline,
    scope: state.scope,
    at: state.since,
    toVersion: state.version,
    status: state.status,
    percent: state.percent,
    actor,
    cause: state.cause,
    rev: 1,
  };
}

/**
 * The scope's state after a transition: what the store writes (and returns as the next
 * transition's basis).
 *
 * @example
 * nextScopeState(current, t) // → { ...current, status: t.set.status, rev: current.rev + 1, … }
 */
export function nextScopeState(current: ScopeState, t: ScopeTransition): ScopeState {
  const next: ScopeState = {
    ...current,
    status: t.set.status,
    version: t.set.version,
    percent: t.set.percent,
    since: t.at,
    cause: t.cause,
    rev: current.rev + 1,
  };
  if (t.set.previousVersion === null) delete next.previousVersion;
  else if (t.set.previousVersion !== undefined) next.previousVersion = t.set.previousVersion;
  if (t.set.runId !== undefined) next.runId = t.set.runId;
  if (t.set.blocked === null) delete next.blocked;
  else if (t.set.blocked !== undefined) next.blocked = t.set.blocked;
  return next;
}
