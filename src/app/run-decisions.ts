/**
 * An engineer's decision on a halted run (safety rule 3: after a rollback the run halts and a
 * human decides). Entered through the override function, which validates and audits; this
 * module carries the decisions out:
 *
 * - `rollback-all`: every scope running the bad version or a newer one returns to the last
 *   version before the bad one (from the scope's own history); the runs of those versions end
 *   `rolled-back`.
 * - `retry`: the halted run's stage runs again (a new execution attempt); scopes already on the
 *   version are skipped, rolled-back scopes are deployed again.
 * - `roll-forward`: a newer version passes: every older run still halted or waiting is
 *   superseded, and the newer run resumes from the boundary where it stopped.
 * - `cancel`: the run ends where it is (its scopes stay as they are).
 * - `approve` / `reject`: a run awaiting a stage's approval starts the stage, or ends before it
 *   (approvals.ts).
 *
 * A rollback stops the pipeline's line (no deploy step of its version or a newer one starts);
 * every decision on the halted run clears its stop in the same write as the decision, and the
 * newer runs halted behind it resume (`resumeLine`) unless rollback-all ended them.
 *
 * Each checks the current state first (a clear error and nothing changed when the decision does
 * not apply) and is idempotent: repeating a decision that already took effect changes nothing.
 */

import type { HistoryEntry, Run, RunDecision, ScopeState } from "../domain/model.ts";
import { approvalDecisionProblem } from "../domain/next-after-stage.ts";
import { OverrideRejectedError } from "../domain/override.ts";
import {
  type DecisionRollback,
  inRollbackAll,
  rollbackWaves,
  scopesToRollBack,
} from "../domain/rollback.ts";
import { approve, reject as rejectApproval } from "./approvals.ts";
import type { Deps } from "./deps.ts";
import {
  announce,
  approvalTimerInput,
  awaitsDecision,
  isFinal,
  leaveStage,
  resumeLine,
} from "./lanes.ts";
import { runIdFor } from "./runs.ts";

export type DecisionAction = RunDecision["action"];

export interface DecisionRequest {
  action: DecisionAction;
  pipeline: string;
  version: string;
  actor: string;
  /** The authenticated caller, recorded on the run with the decision (in the same write). */
  principal?: string;
  reason: string;
  /** `rollback-all` only: every scope at once instead of wave by wave (incidents). */
  fast?: boolean | undefined;
}

export interface DecisionOutcome {
  changed: boolean;
  effect: string;
}

const reject = (path: string, message: string): never => {
  throw new OverrideRejectedError([{ path, message }]);
};

async function loadRun(deps: Deps, req: DecisionRequest): Promise<Run> {
  const run = await deps.store.getRun(runIdFor(req.pipeline, req.version));
  if (!run) reject("version", `pipeline "${req.pipeline}" has no run of version "${req.version}"`);
  return run as Run;
}

/** Checks a decision against the current state without changing anything. */
export async function checkDecision(deps: Deps, req: DecisionRequest): Promise<void> {
  const run = await loadRun(deps, req);
  const repeated = run.decision?.action === req.action;
  switch (req.action) {
    case "approve":
    case "reject": {
      const problem = approvalDecisionProblem(run, req.action);
      return problem ? reject("version", problem) : undefined;
    }
    case "retry":
      if (run.status === "halted" && run.haltReason === "approval-timeout") {
        return reject(
          "version",
          `${req.version} halted because nobody decided its approval of ${run.approval?.stage ?? "?"} in time: approve or reject it`,
        );
      }
      if (awaitsDecision(run) || (repeated && run.status === "running")) return;
      return reject(
        "version",
        `${req.version} is ${describe(run)}: retry resumes a run halted by its own rollback, failure or inconclusive bake`,
      );
    case "cancel":
      if (
        run.status === "halted" ||
        run.status === "waiting" ||
        run.status === "awaiting-approval" ||
        (repeated && run.status === "cancelled")
      )
        return;
      return reject(
        "version",
        `${req.version} is ${describe(run)}: only a halted, waiting or awaiting-approval run can be cancelled`,
      );
    case "rollback-all":
      if (awaitsDecision(run) || (repeated && run.status === "rolled-back")) return;
      return reject(
        "version",
        `${req.version} is ${describe(run)}: rollback-all names the version whose run halted (the bad one)`,
      );
    case "roll-forward": {
      if (repeated && !isFinal(run)) return;
      if (awaitsDecision(run)) {
        return reject(
          "version",
          `${req.version} itself halted (${run.haltReason}); roll forward to a newer version (the fix), or retry this one`,
        );
      }
      if (isFinal(run)) return reject("version", `${req.version} is ${describe(run)}`);
      const runs = await deps.store.listRuns(run.pipeline);
      if (!runs.some((r) => r.seq < run.seq && awaitsDecision(r))) {
        return reject(
          "version",
          `no older run of "${run.pipeline}" is halted: nothing to roll forward past`,
        );
      }
      return;
    }
  }
}

function describe(run: Run): string {
  if (run.status === "halted") return `halted (${run.haltReason ?? "unknown"})`;
  return run.status;
}

/** Carries out a decision that `checkDecision` accepted. */
export async function applyDecision(deps: Deps, req: DecisionRequest): Promise<DecisionOutcome> {
  const run = await loadRun(deps, req);
  const at = deps.clock.now().toISOString();
  const decision: RunDecision = {
    action: req.action,
    actor: req.actor,
    ...(req.principal ? { principal: req.principal } : {}),
    reason: req.reason,
    ...(req.action === "rollback-all" && req.fast ? { fast: true } : {}),
    at,
  };
  switch (req.action) {
    case "retry":
      return retry(deps, run, decision);
    case "cancel":
      return cancel(deps, run, decision);
    case "rollback-all":
      return rollbackAll(deps, run, decision);
    case "roll-forward":
      return rollForward(deps, run, decision);
    case "approve":
      return approve(deps, run, decision);
    case "reject":
      return rejectApproval(deps, run, decision);
  }
}

const ids = (run: Run) => ({ runId: run.runId, pipeline: run.pipeline, version: run.version });

async function retry(deps: Deps, run: Run, decision: RunDecision): Promise<DecisionOutcome> {
  if (!awaitsDecision(run))
    return { changed: false, effect: `unchanged (${run.version} is ${run.status})` };
  const stage = run.currentStage;
  if (!stage) return reject("version", `${run.version} has no stage to retry`);
  const stuck = (await deps.store.listScopes(run.pipeline)).filter(
    (s) => s.scope.startsWith(`${stage}/`) && s.status === "rolling-back",
  );
  if (stuck.length > 0) {
    return reject(
      "version",
      `the rollback of ${stuck.map((s) => s.scope).join(", ")} has not finished; retry once it has`,
    );
  }
  const attempt = (run.attempts?.[stage] ?? 1) + 1;
  const ok = await deps.store.updateRun(run.runId, {
    expect: { status: ["halted"] },
    set: {
      status: "running",
      attempts: { ...(run.attempts ?? {}), [stage]: attempt },
      decision,
      updatedAt: decision.at,
      stages: { [stage]: { status: "running", startedAt: decision.at } },
    },
    remove: ["haltReason", "haltedAt", "haltedBy", "haltDetail", "haltAnnouncedAt"],
    // The engineer judged the version fit to go on: its rollback no longer stops the line.
    line: { pipeline: run.pipeline, clear: true },
  });
  if (!ok) return { changed: false, effect: "unchanged (the run changed meanwhile)" };
  await announce(deps, {
    ...ids(run),
    event: "run-resumed",
    stage,
    reason: `retry by ${decision.actor}: ${decision.reason}`,
  });
  await deps.workflows.startStage({
    ...ids(run),
    stage,
    attempt,
    seq: run.seq,
    definition: run.definition,
    ...(run.change?.artifactDigest ? { artifactDigest: run.change.artifactDigest } : {}),
  });
  const resumed = await resumeLine(deps, run.pipeline);
  return {
    changed: true,
    effect: `${run.version} retries ${stage} (attempt ${attempt})${resumed.length ? `; resumed ${resumed.join(", ")}` : ""}`,
  };
}

/** Ends a run that is halted or waiting; frees whatever stage it holds or waits for. */
async function endRun(
  deps: Deps,
  run: Run,
  status: "cancelled" | "superseded" | "rolled-back",
  decision: RunDecision,
  extra: Partial<Run> = {},
): Promise<boolean> {
  const ok = await deps.store.updateRun(run.runId, {
    expect: { status: ["halted", "waiting", "awaiting-approval"] },
    set: { status, decision, finishedAt: decision.at, updatedAt: decision.at, ...extra },
    remove: ["waitingFor"],
    // An ended run stops the line no more (safety rule 3): the decision took its place.
    line: { pipeline: run.pipeline, clear: true },
  });
  if (!ok) return false;
  // A run that ended while it waited on an approval needs its timer no more.
  if (run.approval && deps.workflows.stopApprovalTimer) {
    await deps.workflows.stopApprovalTimer(approvalTimerInput(run, run.approval));
  }
  for (const stage of new Set([run.currentStage, run.waitingFor, run.nextStage])) {
    if (stage) await leaveStage(deps, { ...run, status }, stage);
  }
  return true;
}

async function cancel(deps: Deps, run: Run, decision: RunDecision): Promise<DecisionOutcome> {
  if (!(await endRun(deps, run, "cancelled", decision))) {
    return { changed: false, effect: `unchanged (${run.version} is ${run.status})` };
  }
  await announce(deps, {
    ...ids(run),
    event: "run-cancelled",
    reason: `by ${decision.actor}: ${decision.reason}`,
  });
  const resumed = await resumeLine(deps, run.pipeline);
  return {
    changed: true,
    effect: `cancelled ${run.version}${resumed.length ? `; resumed ${resumed.join(", ")}` : ""}`,
  };
}

async function rollForward(deps: Deps, run: Run, decision: RunDecision): Promise<DecisionOutcome> {
  const runs = await deps.store.listRuns(run.pipeline);
  const older = runs.filter(
    (r) =>
      r.seq < run.seq &&
      (r.status === "halted" || r.status === "waiting" || r.status === "awaiting-approval"),
  );
  const superseded: string[] = [];
  for (const r of older) {
    if (await endRun(deps, r, "superseded", decision, { supersededBy: run.runId })) {
      superseded.push(r.version);
      await announce(deps, {
        ...ids(r),
        event: "run-superseded",
        reason: `rolled forward to ${run.version} by ${decision.actor}: ${decision.reason}`,
      });
    }
  }
  await deps.store.updateRun(run.runId, { set: { decision, updatedAt: decision.at } });
  const resumed = await resumeLine(deps, run.pipeline);
  if (superseded.length === 0 && resumed.length === 0) {
    return { changed: false, effect: "unchanged (nothing older to supersede)" };
  }
  return {
    changed: true,
    effect: `rolled forward to ${run.version}: superseded ${superseded.join(", ") || "none"}${resumed.length ? `; resumed ${resumed.join(", ")}` : ""}`,
  };
}

async function rollbackAll(deps: Deps, bad: Run, decision: RunDecision): Promise<DecisionOutcome> {
  const runs = await deps.store.listRuns(bad.pipeline);
  const seqOf = new Map(runs.map((r) => [r.version, r.seq]));
  // Versions without a run (the seeded initial version) are older than every run.
  const seq = (v: string) => seqOf.get(v) ?? 0;
  const ended: string[] = [];
  for (const r of runs) {
    if (r.seq < bad.seq || isFinal(r)) continue;
    // A newer run still deploying elsewhere halts first: no new step of it starts from here on.
    if (r.status === "running") {
      await deps.store.updateRun(r.runId, {
        expect: { status: ["running"] },
        set: {
          status: "halted",
          haltReason: "older-version-halted",
          haltedBy: bad.runId,
          haltedAt: decision.at,
          haltDetail: `rollback-all of ${bad.version} and newer: stopped in ${r.currentStage ?? "?"}`,
          updatedAt: decision.at,
        },
      });
    }
    const latest = (await deps.store.getRun(r.runId)) ?? r;
    if (await endRun(deps, latest, "rolled-back", decision)) {
      ended.push(r.version);
      await announce(deps, {
        ...ids(r),
        event: "run-rolled-back",
        reason: `rollback-all of ${bad.version} and newer by ${decision.actor}: ${decision.reason}`,
      });
    }
  }
  const scopes: { scope: ScopeState; history: HistoryEntry[] }[] = [];
  for (const scope of await deps.store.listScopes(bad.pipeline)) {
    // Only a concerned scope's history is read.
    if (!inRollbackAll(scope, seq, bad.seq)) continue;
    scopes.push({ scope, history: await deps.store.history(bad.pipeline, scope.scope) });
  }
  const targets = scopesToRollBack({
    kind: "rollback-all",
    badSeq: bad.seq,
    seqOf: seq,
    definition: bad.definition,
    scopes,
  });
  const details = `rollback-all of ${bad.version} and newer by ${decision.actor}: ${decision.reason}`;
  const allAtOnce = decision.fast === true || bad.definition.rollbackAll === "all-at-once";
  const rolled = allAtOnce
    ? await rollBackAllAtOnce(deps, bad, targets, details)
    : await rollBackWaveByWave(deps, bad, targets, details);
  const how = allAtOnce
    ? decision.fast
      ? "all at once (fast)"
      : "all at once (rollbackAll: all-at-once)"
    : "wave by wave";
  if (ended.length === 0 && rolled.length === 0) {
    return { changed: false, effect: "unchanged (nothing runs the bad version or a newer one)" };
  }
  return {
    changed: true,
    effect: `rollback-all: ended ${ended.join(", ") || "none"}; rolling back ${rolled.length} scope(s)${rolled.length ? ` ${how}: ${rolled.join(", ")}` : ""}`,
  };
}

const describeTarget = (t: DecisionRollback) =>
  `${t.scope.scope} ${t.scope.version}->${t.toVersion}`;

/** The rollback of one target runs as the run of the version the scope is on. */
function rollbackCtx(bad: Run, { scope }: DecisionRollback) {
  const stage = scope.scope.split("/")[0] as string;
  const runId = scope.runId ?? runIdFor(bad.pipeline, scope.version);
  return { runId, pipeline: bad.pipeline, version: scope.version, stage };
}

/** Today's incident form: one rollback execution per scope, all started at once. */
async function rollBackAllAtOnce(
  deps: Deps,
  bad: Run,
  targets: DecisionRollback[],
  details: string,
): Promise<string[]> {
  for (const target of targets) {
    await deps.workflows.startRollback({
      ctx: rollbackCtx(bad, target),
      step: target.step,
      why: { kind: "decision", details, toVersion: target.toVersion },
    });
  }
  return targets.map(describeTarget);
}

/**
 * A rollback is a deployment (safety rule 1): one execution walks the targets as
 * `rollbackWaves` orders them (newest stage first, regions at once, AZs as the stage deploys).
 */
async function rollBackWaveByWave(
  deps: Deps,
  bad: Run,
  targets: DecisionRollback[],
  details: string,
): Promise<string[]> {
  const waves = rollbackWaves(bad.definition, targets);
  if (waves.length === 0) return [];
  const stages = waves.map((w) => ({
    stage: w.stage,
    regions: w.regions.map((r) => ({
      region: r.region,
      phases: r.phases.map((phase) =>
        phase.map((t) => ({ ctx: rollbackCtx(bad, t), step: t.step, toVersion: t.toVersion })),
      ),
    })),
  }));
  const input = {
    rollbackAll: { runId: bad.runId, pipeline: bad.pipeline, version: bad.version },
    details,
    stages,
  };
  // Step Functions takes at most 256 KiB of input: refuse (nothing started) rather than split
  // the waves into executions that could overlap.
  const size = new TextEncoder().encode(JSON.stringify(input)).length;
  if (size > MAX_WAVES_INPUT_BYTES) {
    reject(
      "fast",
      `rolling back ${targets.length} scopes wave by wave needs ${size} bytes of execution input, more than ${MAX_WAVES_INPUT_BYTES}; decide with fast: true to roll them back all at once`,
    );
  }
  await deps.workflows.startRollbackWaves(input);
  return waves.flatMap((w) => w.regions.flatMap((r) => r.phases.flat())).map(describeTarget);
}

/** Step Functions' input limit (256 KiB), less room for the execution's own state. */
const MAX_WAVES_INPUT_BYTES = 240 * 1024;
