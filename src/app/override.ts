/**
 * The override function's service: stop the line (block/unblock at organisation, pipeline or
 * scope level), let one version through named blockers for a while (bypass) — for shipping
 * the fix during an incident — and decide what happens to a halted run (rollback-all, retry,
 * roll-forward, cancel; see run-decisions.ts). Every action is checked against the current state before anything
 * is written (unknown pipeline, scope or version: a clear error, nothing changed), is idempotent
 * (repeating it changes nothing and says so), and lands in the audit log and on the bus
 * ("Breakwater Override Event", which notifies people) with the caller's authenticated
 * principal beside the name they typed. A block, unblock or bypass and its audit entry are one
 * conditional transaction (StateStore.commitOverride), so concurrent overrides cannot both
 * change a target or leave the log disagreeing with the state.
 */
import { randomUUID } from "node:crypto";
import type { ManualBlock } from "../domain/blockers.ts";
import { blockKey } from "../domain/blockers.ts";
import { BreakwaterError } from "../domain/errors.ts";
import {
  type BlockOverride,
  type Bypass,
  DECISION_ACTIONS,
  type DecisionOverride,
  type Override,
  OverrideRejectedError,
  type Principal,
  parseOverride,
  principalMatches,
  type StartOverride,
  UnauthenticatedOverrideError,
  type UnblockOverride,
} from "../domain/override.ts";
import type { AuditEntry, OverrideWrite } from "../domain/ports.ts";
import { scopeGlobProblem } from "../domain/scope.ts";
import type { Deps } from "./deps.ts";
import { DetailType, SOURCE } from "./events.ts";
import { type ApplyOptions, appliedName, decideApply } from "./pipeline-apply.ts";
import { applyDecision, checkDecision } from "./run-decisions.ts";
import { type RunRequest, runRequestedEvent } from "./run-requests.ts";
import { runIdFor } from "./runs.ts";

export interface OverrideResult {
  action: Override["action"];
  changed: boolean;
  effect: string;
  audit: AuditEntry;
}

export interface OverrideOptions {
  /** The authenticated caller (required: an override without one is refused). */
  principal: Principal;
  /**
   * Principal ARN patterns that may act (`*` wildcards), on top of IAM's control of who may
   * call the function URL. Absent: every authenticated caller IAM lets through.
   */
  allowedPrincipals?: string[];
  /** `apply-pipeline`: the deployed function's capability check and the lint (pipeline-apply.ts). */
  apply?: ApplyOptions;
}

/** How often an override decides again after a concurrent one changed what it read. */
const DECIDE_ATTEMPTS = 100;

/** Concurrent overrides kept changing the target (far beyond any real use); nothing was written. */
export class OverrideConflictError extends BreakwaterError {
  override name = "OverrideConflictError";
}

const isDecision = (o: Override): o is DecisionOverride =>
  (DECISION_ACTIONS as readonly string[]).includes(o.action);

function targetOf(o: Override): string {
  if (o.action === "apply-pipeline") return `pipeline ${appliedName(o)}`;
  if (o.action === "bypass" || o.action === "start" || isDecision(o)) {
    return `${o.pipeline}@${o.version}`;
  }
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
  // A definition is checked whole where it is decided (pipeline-apply.ts).
  if (o.action === "apply-pipeline") return;
  if (o.action === "start") {
    if (!(await deps.store.getPipeline(o.pipeline))) {
      throw new OverrideRejectedError([
        { path: "pipeline", message: `no pipeline named "${o.pipeline}"` },
      ]);
    }
    return;
  }
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

interface Decided {
  changed: boolean;
  effect: string;
  /** The items decided on, each conditional on being as read (see StateStore.commitOverride). */
  writes: OverrideWrite[];
  /** A manual start's run request (written before the audit entry; its pointer is published after). */
  request?: RunRequest;
  /** Work that follows the committed change, idempotent (an applied pipeline's new scopes). */
  after?: () => Promise<void>;
}

/** Reads the target's current state and decides what the action does to it. */
async function decide(
  deps: Deps,
  o: Override,
  principal: Principal,
  at: string,
  options: OverrideOptions,
): Promise<Decided> {
  if (o.action === "apply-pipeline")
    return decideApply(deps, o, principal, at, options.apply ?? {});
  if (o.action === "block") {
    const target = blockTarget(o);
    // The target's open block (scheduled blocks are separate and stay as they are).
    const existing = (await deps.store.listBlocks()).find(
      (b) => !b.scheduled && blockKey(b.level, b.target) === blockKey(o.level, target),
    );
    const changed = !existing || existing.reason !== o.reason || existing.to !== o.until;
    const block: ManualBlock = {
      level: o.level,
      target,
      reason: o.reason,
      actor: o.actor,
      principal: principal.arn,
      createdAt: at,
      from: at,
      ...(o.until ? { to: o.until } : {}),
    };
    return {
      changed,
      effect: changed
        ? `blocked ${targetOf(o)}${o.until ? ` until ${o.until}` : ""}`
        : "unchanged (already blocked)",
      writes: [
        {
          kind: "block",
          level: o.level,
          target,
          ...(existing ? { was: existing } : {}),
          ...(changed ? { set: block } : {}),
        },
      ],
    };
  }
  if (o.action === "unblock") {
    const target = blockTarget(o);
    // Every block of the target goes, open and scheduled alike.
    const found = (await deps.store.listBlocks()).filter(
      (b) => b.level === o.level && b.target === target,
    );
    const changed = found.length > 0;
    return {
      changed,
      effect: changed ? `unblocked ${targetOf(o)}` : "unchanged (no such block)",
      writes: changed
        ? found.map((b) => ({
            kind: "block" as const,
            level: b.level,
            target,
            ...(b.scheduled && b.from ? { scheduledFrom: b.from } : {}),
            was: b,
            set: null,
          }))
        : // "No such block" holds only while the target's open block is still absent.
          [{ kind: "block", level: o.level, target }],
    };
  }
  if (o.action === "start") {
    // The run request is a write-once put (a repeat finds it); the audit entry follows it.
    return { ...(await writeManualStart(deps, o, principal)), writes: [] };
  }
  if (isDecision(o)) {
    // A decision's state change is the run's own conditional update (run-decisions.ts).
    return { ...(await applyDecision(deps, { ...o, principal: principal.arn })), writes: [] };
  }
  const existing = (await deps.store.listBypasses(o.pipeline)).find((b) => b.version === o.version);
  const kinds = [...new Set(o.kinds)].sort();
  const changed =
    !existing ||
    existing.expiresAt !== o.expiresAt ||
    JSON.stringify([...existing.kinds].sort()) !== JSON.stringify(kinds);
  const bypass: Bypass = {
    pipeline: o.pipeline,
    version: o.version,
    kinds,
    expiresAt: o.expiresAt,
    actor: o.actor,
    principal: principal.arn,
    reason: o.reason,
    createdAt: at,
  };
  return {
    changed,
    effect: changed
      ? `${o.pipeline}@${o.version} may ignore ${kinds.join(", ")} blockers until ${o.expiresAt}`
      : "unchanged (the same bypass is live)",
    writes: [
      {
        kind: "bypass",
        pipeline: o.pipeline,
        version: o.version,
        ...(existing ? { was: existing } : {}),
        ...(changed ? { set: bypass } : {}),
      },
    ],
  };
}

/**
 * Applies one override action on behalf of an authenticated caller. The state change and its
 * audit entry are one conditional transaction: when a concurrent override changed what this one
 * read, it reads again and decides again, so identical concurrent actions change the state
 * once, and the audit log's last word on a target is its state.
 *
 * @example
 * await applyOverride(deps, { action: "block", level: "org", actor: "alice", reason: "sev-1 open" },
 *   { principal: { arn: "arn:aws:sts::123456789012:assumed-role/Operators/alice" } });
 */
export async function applyOverride(
  deps: Deps,
  input: unknown,
  options: OverrideOptions,
): Promise<OverrideResult> {
  const principal = options?.principal;
  if (!principal?.arn) {
    throw new UnauthenticatedOverrideError(
      "an override needs the caller's authenticated identity (an IAM-signed function URL request, or serve's bearer token)",
    );
  }
  const now = deps.clock.now();
  const o = parseOverride(input, now);
  if (
    options.allowedPrincipals &&
    !options.allowedPrincipals.some((p) => principalMatches(p, principal.arn))
  ) {
    throw new OverrideRejectedError([
      { path: "principal", message: `"${principal.arn}" is not on the override allow-list` },
    ]);
  }
  await checkReferences(deps, o);
  const at = now.toISOString();
  for (let attempt = 1; ; attempt++) {
    const { changed, effect, writes, request, after } = await decide(
      deps,
      o,
      principal,
      at,
      options,
    );
    const audit: AuditEntry = {
      at,
      id: randomUUID(),
      actor: o.actor,
      principal: principal.arn,
      action: o.action,
      reason: o.reason,
      target: targetOf(o),
      effect,
      changed,
    };
    if (await deps.store.commitOverride(writes, audit)) {
      await after?.();
      await publish(deps, o, principal, at, effect);
      // A manual start's pointer goes out after its request and audit entry are written; it is
      // published again on a repeat, so a start whose first publish failed is finished.
      if (request) await deps.events.publish([runRequestedEvent(request)]);
      return { action: o.action, changed, effect, audit };
    }
    if (attempt >= DECIDE_ATTEMPTS) {
      throw new OverrideConflictError(
        `${targetOf(o)} kept changing under ${DECIDE_ATTEMPTS} concurrent overrides; nothing was written, try again`,
      );
    }
  }
}

async function publish(
  deps: Deps,
  o: Override,
  principal: Principal,
  at: string,
  effect: string,
): Promise<void> {
  await deps.events.publish([
    {
      source: SOURCE,
      detailType: DetailType.OverrideEvent,
      detail: {
        at,
        action: o.action,
        actor: o.actor,
        principal: principal.arn,
        reason: o.reason,
        ...(o.action === "apply-pipeline"
          ? { pipeline: appliedName(o) }
          : o.action === "block" || o.action === "unblock"
            ? {
                level: o.level,
                ...(o.level !== "org" ? { pipeline: o.pipeline } : {}),
                ...(o.level === "scope" ? { scope: o.scopes } : {}),
              }
            : { pipeline: o.pipeline }),
        ...(isDecision(o) || o.action === "start" ? { version: o.version } : {}),
        ...(o.action === "bypass"
          ? { version: o.version, kinds: o.kinds, expiresAt: o.expiresAt }
          : {}),
        ...(o.action === "block" && o.until ? { expiresAt: o.until } : {}),
        effect,
      },
    },
  ]);
}

/** Writes a manual start's run request (source `operator`); a request already stored is kept. */
async function writeManualStart(
  deps: Deps,
  o: StartOverride,
  principal: Principal,
): Promise<{ changed: boolean; effect: string; request: RunRequest }> {
  const { created, ...request } = await deps.runRequests.put({
    pipeline: o.pipeline,
    version: o.version,
    ...(o.artifactDigest ? { artifactDigest: o.artifactDigest } : {}),
    source: "operator",
    // The authenticated caller, not the typed name (safety rule 5).
    writtenBy: principal.arn,
    cause: `trigger=manual actor=${o.actor} principal=${principal.arn} reason=${JSON.stringify(o.reason)}`,
    change: {
      trigger: "manual",
      approvers: [],
      ...(o.artifactDigest ? { artifactDigest: o.artifactDigest } : {}),
    },
  });
  const target = `${o.pipeline}@${o.version}`;
  return {
    changed: created,
    effect: created
      ? `requested a run of ${target} (manual start)`
      : `unchanged (a run request for ${target} already exists, written by ${request.writtenBy})`,
    request,
  };
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
