/**
 * The override function's service: stop the line (block/unblock at organisation, pipeline or
 * scope level), let one version through named blockers for a while (bypass) — for shipping
 * the fix during an incident — and decide what happens to a halted run (rollback-all, retry,
 * roll-forward, cancel; see run-decisions.ts). Every action is checked against the current state before anything
 * is written (unknown pipeline, scope or version: a clear error, nothing changed), is idempotent
 * (repeating it changes nothing and says so), and lands in the audit log and on the bus
 * ("Breakwater Override Event", which notifies people).
 */
import { randomUUID } from "node:crypto";
import type { ManualBlock } from "../domain/blockers.ts";
import { blockKey } from "../domain/blockers.ts";
import {
  type BlockOverride,
  type Bypass,
  DECISION_ACTIONS,
  type DecisionOverride,
  type Override,
  OverrideRejectedError,
  parseOverride,
  type UnblockOverride,
} from "../domain/override.ts";
import type { AuditEntry } from "../domain/ports.ts";
import { scopeGlobProblem } from "../domain/scope.ts";
import type { Deps } from "./deps.ts";
import { DetailType, SOURCE } from "./events.ts";
import { applyDecision, checkDecision } from "./run-decisions.ts";
import { runIdFor } from "./runs.ts";

export interface OverrideResult {
  action: Override["action"];
  changed: boolean;
  effect: string;
  audit: AuditEntry;
}

export interface OverrideOptions {
  /** When set, only these actors may act (on top of IAM's control of who may invoke). */
  allowedActors?: string[];
}

const isDecision = (o: Override): o is DecisionOverride =>
  (DECISION_ACTIONS as readonly string[]).includes(o.action);

function targetOf(o: Override): string {
  if (o.action === "bypass" || isDecision(o)) return `${o.pipeline}@${o.version}`;
  if (o.level === "org") return "org";
  if (o.level === "pipeline") return `pipeline ${o.pipeline}`;
  return `scopes ${o.pipeline}:${o.scopes}`;
}

/** The stored target of a block or unblock: "", the pipeline, or `pipeline:glob`. */
function blockTarget(o: BlockOverride | UnblockOverride): string {
  if (o.level === "org") return "";
  return o.level === "pipeline" ? (o.pipeline as string) : `${o.pipeline}:${o.scopes}`;
}

/** Checks what the request refers to exists; nothing is written before this passes. */
async function checkReferences(deps: Deps, o: Override): Promise<void> {
  if (isDecision(o)) {
    if (!(await deps.store.getPipeline(o.pipeline))) {
      throw new OverrideRejectedError([
        { path: "pipeline", message: `no pipeline named "${o.pipeline}"` },
      ]);
    }
    return checkDecision(deps, o);
  }
  if (o.action !== "bypass" && o.level === "org") return;
  const name = o.pipeline as string;
  const pipeline = await deps.store.getPipeline(name);
  if (!pipeline) {
    throw new OverrideRejectedError([{ path: "pipeline", message: `no pipeline named "${name}"` }]);
  }
  if (o.action !== "bypass" && o.level === "scope") {
    const problem = scopeGlobProblem(o.scopes as string, pipeline);
    if (problem) throw new OverrideRejectedError([{ path: "scopes", message: problem }]);
  }
  if (o.action === "bypass") {
    const run = await deps.store.getRun(runIdFor(name, o.version));
    if (!run) {
      throw new OverrideRejectedError([
        { path: "version", message: `pipeline "${name}" has no run of version "${o.version}"` },
      ]);
    }
  }
}

/**
 * Applies one override action.
 *
 * @example
 * await applyOverride(deps, { action: "block", level: "org", actor: "alice", reason: "sev-1 open" });
 */
export async function applyOverride(
  deps: Deps,
  input: unknown,
  options: OverrideOptions = {},
): Promise<OverrideResult> {
  const now = deps.clock.now();
  const o = parseOverride(input, now);
  if (options.allowedActors && !options.allowedActors.includes(o.actor)) {
    throw new OverrideRejectedError([
      { path: "actor", message: `"${o.actor}" is not on the override allow-list` },
    ]);
  }
  await checkReferences(deps, o);
  const at = now.toISOString();
  let changed: boolean;
  let effect: string;
  if (o.action === "block") {
    const target = blockTarget(o);
    // The target's open block (scheduled blocks are separate and stay as they are).
    const existing = (await deps.store.listBlocks()).find(
      (b) => !b.scheduled && blockKey(b.level, b.target) === blockKey(o.level, target),
    );
    changed = !existing || existing.reason !== o.reason || existing.to !== o.until;
    if (changed) {
      const block: ManualBlock = {
        level: o.level,
        target,
        reason: o.reason,
        actor: o.actor,
        createdAt: at,
        from: at,
        ...(o.until ? { to: o.until } : {}),
      };
      await deps.store.putBlock(block);
    }
    effect = changed
      ? `blocked ${targetOf(o)}${o.until ? ` until ${o.until}` : ""}`
      : "unchanged (already blocked)";
  } else if (o.action === "unblock") {
    const target = blockTarget(o);
    changed = await deps.store.removeBlock(o.level, target);
    effect = changed ? `unblocked ${targetOf(o)}` : "unchanged (no such block)";
  } else if (isDecision(o)) {
    ({ changed, effect } = await applyDecision(deps, o));
  } else {
    const existing = (await deps.store.listBypasses(o.pipeline)).find(
      (b) => b.version === o.version,
    );
    const kinds = [...new Set(o.kinds)].sort();
    changed =
      !existing ||
      existing.expiresAt !== o.expiresAt ||
      JSON.stringify([...existing.kinds].sort()) !== JSON.stringify(kinds);
    if (changed) {
      const bypass: Bypass = {
        pipeline: o.pipeline,
        version: o.version,
        kinds,
        expiresAt: o.expiresAt,
        actor: o.actor,
        reason: o.reason,
        createdAt: at,
      };
      await deps.store.putBypass(bypass);
    }
    effect = changed
      ? `${o.pipeline}@${o.version} may ignore ${kinds.join(", ")} blockers until ${o.expiresAt}`
      : "unchanged (the same bypass is live)";
  }
  const audit: AuditEntry = {
    at,
    id: randomUUID(),
    actor: o.actor,
    action: o.action,
    reason: o.reason,
    target: targetOf(o),
    effect,
  };
  await deps.store.appendAudit(audit);
  await deps.events.publish([
    {
      source: SOURCE,
      detailType: DetailType.OverrideEvent,
      detail: {
        at,
        action: o.action,
        actor: o.actor,
        reason: o.reason,
        ...(o.action === "block" || o.action === "unblock"
          ? {
              level: o.level,
              ...(o.level !== "org" ? { pipeline: o.pipeline } : {}),
              ...(o.level === "scope" ? { scope: o.scopes } : {}),
            }
          : { pipeline: o.pipeline }),
        ...(isDecision(o) ? { version: o.version } : {}),
        ...(o.action === "bypass"
          ? { version: o.version, kinds: o.kinds, expiresAt: o.expiresAt }
          : {}),
        ...(o.action === "block" && o.until ? { expiresAt: o.until } : {}),
        effect,
      },
    },
  ]);
  return { action: o.action, changed, effect, audit };
}

/** The live bypass of a version, if any (expired bypasses are ignored). */
export async function liveBypass(
  deps: Deps,
  pipeline: string,
  version: string,
  at: Date,
): Promise<Bypass | undefined> {
  const all = await deps.store.listBypasses(pipeline);
  return all.find((b) => b.version === version && Date.parse(b.expiresAt) > at.getTime());
}
