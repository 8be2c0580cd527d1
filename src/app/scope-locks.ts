/**
 * Scope locks: pipelines of one service (app code, infrastructure, config, OS patches, static
 * assets) run independently, but two of them never change the same region/AZ at the same time —
 * a bake judges one change at a time. A lock is held from a deploy step's start until the scope
 * is stable or rolled back; a region-wide scope conflicts with every AZ of its region, an AZ
 * with every cell in it, and a cell with the same cell of the other pipeline. The lock
 * is one item per (service, region), written by compare-and-set. A holder whose scope has moved
 * on (a crash between the step's end and the release) is stale and is dropped by the next
 * writer: a lock cannot leak.
 */
import type { Pipeline } from "../domain/pipeline.ts";
import type { LockHolder } from "../domain/ports.ts";
import { parseScopeId } from "../domain/scope.ts";
import type { Deps } from "./deps.ts";

/** A holder that never reached its deploy write (a crash in between) expires after this. */
const PENDING_MS = 15 * 60_000;
const MAX_ATTEMPTS = 20;

export type LockResult = { ok: true } | { ok: false; reason: string };

function lockOf(pipeline: Pipeline, scopeId: string) {
  if (!pipeline.service) return undefined;
  const scope = parseScopeId(scopeId);
  return {
    key: `${pipeline.service}#${scope.region}`,
    holderKey: `${pipeline.name}|${scopeId}`,
    az: scope.az,
    cell: scope.cell,
  };
}

const same = (a?: string, b?: string) => a === undefined || b === undefined || a === b;
/** Two locations overlap unless they name different AZs or different cells. */
const overlaps = (a: { az?: string; cell?: string }, b: { az?: string; cell?: string }) =>
  same(a.az, b.az) && same(a.cell, b.cell);

async function isLive(deps: Deps, h: LockHolder): Promise<boolean> {
  const scope = await deps.store.getScope(h.pipeline, h.scope);
  if (!scope) return false;
  const active =
    scope.runId === h.runId && ["deploying", "baking", "rolling-back"].includes(scope.status);
  if (active) return true;
  // Not (yet) active: taken just before the deploy write, or the step already ended.
  if (scope.since > h.since) return false;
  return deps.clock.now().getTime() - Date.parse(h.since) < PENDING_MS;
}

/** Takes the lock of the scope's location for one deploy step (idempotent for the same run). */
export async function acquireScopeLock(
  deps: Deps,
  pipeline: Pipeline,
  scopeId: string,
  runId: string,
): Promise<LockResult> {
  const lock = lockOf(pipeline, scopeId);
  if (!lock) return { ok: true };
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const current = await deps.store.getLocationLock(lock.key);
    const holders = { ...current.holders };
    const blocking: LockHolder[] = [];
    for (const [k, h] of Object.entries(current.holders)) {
      if (h.pipeline === pipeline.name) continue;
      if (!overlaps(h, lock)) continue;
      if (await isLive(deps, h)) blocking.push(h);
      else delete holders[k];
    }
    if (blocking.length > 0) {
      const h = blocking[0] as LockHolder;
      return {
        ok: false,
        reason: `scope lock: pipeline ${h.pipeline} of service ${pipeline.service} is changing ${h.scope} (${h.runId}) since ${h.since}`,
      };
    }
    const mine = holders[lock.holderKey];
    if (
      mine?.runId === runId &&
      Object.keys(holders).length === Object.keys(current.holders).length
    ) {
      return { ok: true };
    }
    holders[lock.holderKey] = {
      pipeline: pipeline.name,
      scope: scopeId,
      runId,
      ...(lock.az ? { az: lock.az } : {}),
      ...(lock.cell ? { cell: lock.cell } : {}),
      since: deps.clock.now().toISOString(),
    };
    if (await deps.store.putLocationLock(lock.key, holders, current.rev)) return { ok: true };
  }
  return { ok: false, reason: "scope lock: too much contention; trying again" };
}

/** Frees the scope's location (idempotent; nothing to do for a pipeline without a service). */
export async function releaseScopeLock(
  deps: Deps,
  pipeline: Pipeline,
  scopeId: string,
): Promise<void> {
  const lock = lockOf(pipeline, scopeId);
  if (lock) await deps.store.releaseLocationLock(lock.key, lock.holderKey);
}
