/**
 * Several versions in flight (safety rule 6): each stage of a pipeline processes one version at
 * a time. A run that wants a stage joins the stage's waiting list; whenever the stage is free the
 * newest waiting version enters and the older waiting versions are superseded (a newer version
 * contains them). The stage slot — holder plus waiting list — is one item written only by
 * compare-and-set, so two promotions racing for one stage cannot both win, and a crash at any
 * point leaves state that the next call finishes (every function here is idempotent).
 *
 * Line stop: while an older version's run is halted awaiting an engineer's decision, a newer run
 * (which contains the bad change) does not cross a stage boundary; it halts there with
 * `older-version-halted` and resumes when the decision clears the way. When the older run rolled
 * back, newer runs inside a stage halt at once as well (the line item, `domain/line.ts`, refuses
 * their new deploy steps in the steps' own transactions).
 */
import { lineOpenFor } from "../domain/line.ts";
import {
  type ApprovalRequest,
  awaitsDecision,
  isFinal,
  type Run,
  stopsTheLine,
  type TimelineEvent,
} from "../domain/model.ts";
import { onAdmission, supersedesApprovalHolder } from "../domain/next-after-stage.ts";
import type { ApprovalTimerInput, RunUpdate, StageSlot } from "../domain/ports.ts";
import type { Deps } from "./deps.ts";
import { type RunEventDetail, runBusEvent, scopeEventBusEvent } from "./events.ts";

const MAX_CAS_ATTEMPTS = 20;

export async function announce(deps: Deps, detail: Omit<RunEventDetail, "at">): Promise<void> {
  await deps.events.publish([runBusEvent({ at: deps.clock.now().toISOString(), ...detail })]);
}

const base = (run: Run) => ({ runId: run.runId, pipeline: run.pipeline, version: run.version });

// The run predicates live with the run model (the next-after-stage rule uses them too).
export { awaitsDecision, isFinal };

/** Whether the run really is in (or entering) `stage`: anything else is a stale slot holder. */
function holdsStage(run: Run, stage: string): boolean {
  if (run.status === "waiting") return run.waitingFor === stage;
  if (run.status === "running" || run.status === "awaiting-approval" || awaitsDecision(run)) {
    return run.currentStage === stage;
  }
  return false;
}

/** A run stopping before `stage` because the older `blocker` halted: the record's fields. */
export function boundaryHalt(run: Run, blocker: Run, stage: string, at: string): RunUpdate["set"] {
  return {
    status: "halted",
    haltReason: "older-version-halted",
    haltedBy: blocker.runId,
    haltedAt: at,
    haltDetail: `${blocker.version} (older) halted in ${blocker.currentStage ?? "?"}; ${run.version} contains it and stops before ${stage}`,
    nextStage: stage,
    updatedAt: at,
  };
}

/** Announces a run stopped at a boundary (see `boundaryHalt`). */
export async function announceBoundaryHalt(
  deps: Deps,
  run: Run,
  blocker: Run,
  stage: string,
): Promise<void> {
  await announce(deps, {
    ...base(run),
    event: "run-halted",
    stage,
    reason: `stopped before ${stage}: older version ${blocker.version} halted`,
  });
}

/** The oldest run, older than `run`, that is halted awaiting a decision (the line stops behind it). */
export async function olderHalt(deps: Deps, run: Run): Promise<Run | undefined> {
  const runs = await deps.store.listRuns(run.pipeline);
  return runs.find((r) => r.seq < run.seq && r.runId !== run.runId && stopsTheLine(r));
}

/** Applies `change` to the stage slot by compare-and-set, retrying on contention. */
async function updateSlot(
  deps: Deps,
  pipeline: string,
  stage: string,
  change: (slot: StageSlot) => StageSlot | undefined,
): Promise<StageSlot> {
  for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
    const slot = await deps.store.getStageSlot(pipeline, stage);
    const next = change(slot);
    if (!next) return slot;
    if (await deps.store.putStageSlot(next)) return { ...next, rev: next.rev + 1 };
  }
  throw new Error(`stage slot ${pipeline}/${stage}: too much contention`);
}

/**
 * Puts the run in line for `stage` (its status becomes `waiting`) and lets the newest waiting
 * version in if the stage is free.
 */
export async function requestStage(deps: Deps, run: Run, stage: string): Promise<void> {
  const slot = await updateSlot(deps, run.pipeline, stage, (slot) =>
    slot.holder === run.runId || slot.waiters[run.runId] !== undefined
      ? undefined
      : { ...slot, waiters: { ...slot.waiters, [run.runId]: run.seq } },
  );
  await admit(deps, run.pipeline, stage, slot);
}

/** The run leaves `stage` (it finished it, or a decision ended it): the next version may enter. */
export async function leaveStage(deps: Deps, run: Run, stage: string): Promise<void> {
  const slot = await updateSlot(deps, run.pipeline, stage, (slot) => {
    if (slot.holder === run.runId) {
      const { holder: _h, since: _s, ...rest } = slot;
      return rest;
    }
    if (slot.waiters[run.runId] !== undefined) {
      const { [run.runId]: _w, ...waiters } = slot.waiters;
      return { ...slot, waiters };
    }
    return undefined;
  });
  await admit(deps, run.pipeline, stage, slot);
}

/**
 * Lets the newest waiting version into `stage` if nobody holds it; supersedes the older waiting
 * versions. Finishes an admission that crashed half-way. Safe to call any number of times.
 *
 * `known` is the slot as the caller has just read or written it by compare-and-set: the first
 * pass starts from it instead of reading it again. That is as safe as a read: every write below
 * is a compare-and-set on its rev, so a slot changed since fails the write and is read afresh.
 */
export async function admit(
  deps: Deps,
  pipeline: string,
  stage: string,
  known?: StageSlot,
): Promise<void> {
  for (let i = 0; i < MAX_CAS_ATTEMPTS; i++) {
    const slot = i === 0 && known ? known : await deps.store.getStageSlot(pipeline, stage);
    if (slot.holder) {
      const holder = await deps.store.getRun(slot.holder);
      const newestWaiter = Math.max(...Object.values(slot.waiters));
      if (
        holder &&
        supersedesApprovalHolder({
          holder,
          stage,
          newestWaiterSeq: Number.isFinite(newestWaiter) ? newestWaiter : undefined,
        })
      ) {
        // It holds the stage only to wait on its approval: the newer version takes its place.
        await supersedeApprovalHolder(deps, holder, stage, slot);
        continue;
      }
      if (holder && holdsStage(holder, stage)) {
        await finishAdmission(deps, holder, stage, slot.superseded ?? []);
        return;
      }
      // The holder ended, or moved on without freeing the stage (a crash): free it.
      const { holder: _h, since: _s, ...rest } = slot;
      await deps.store.putStageSlot(rest);
      continue;
    }
    const waiting = Object.entries(slot.waiters).sort((a, b) => b[1] - a[1]);
    const newest = waiting[0];
    if (!newest) return;
    const superseded = waiting.slice(1).map(([runId]) => runId);
    const taken = await deps.store.putStageSlot({
      pipeline,
      stage,
      holder: newest[0],
      since: deps.clock.now().toISOString(),
      waiters: {},
      superseded,
      rev: slot.rev,
    });
    if (!taken) continue;
    const run = await deps.store.getRun(newest[0]);
    if (run) await finishAdmission(deps, run, stage, superseded);
    return;
  }
  throw new Error(`stage slot ${pipeline}/${stage}: too much contention`);
}

/** The holder of `stage` enters it (or halts at its boundary); older waiting runs are superseded. */
async function finishAdmission(
  deps: Deps,
  run: Run,
  stage: string,
  superseded: string[],
): Promise<void> {
  const now = deps.clock.now().toISOString();
  for (const older of superseded) {
    const won = await deps.store.updateRun(older, {
      expect: { status: ["waiting"], waitingFor: stage },
      set: {
        status: "superseded",
        supersededBy: run.runId,
        finishedAt: now,
        updatedAt: now,
      },
      remove: ["waitingFor"],
    });
    if (won) {
      const o = await deps.store.getRun(older);
      if (o) {
        await announce(deps, {
          ...base(o),
          event: "run-superseded",
          stage,
          reason: `${run.version}, newer, entered ${stage} first`,
        });
      }
    }
  }
  if (run.status === "waiting" && run.waitingFor === stage) {
    const blocker = await olderHalt(deps, run);
    if (blocker) {
      // The line stops: the run keeps its place at the boundary but does not enter.
      const halted = await deps.store.updateRun(run.runId, {
        expect: { status: ["waiting"], waitingFor: stage },
        set: boundaryHalt(run, blocker, stage, now),
        remove: ["waitingFor"],
      });
      if (halted) await announceBoundaryHalt(deps, run, blocker, stage);
      await leaveStage(deps, run, stage);
      return;
    }
    const admission = onAdmission({ run, stage, now: deps.clock.now() });
    if (admission.kind === "await-approval") {
      await awaitApproval(deps, run, admission.approval);
      return;
    }
    const entered = await deps.store.updateRun(run.runId, {
      expect: { status: ["waiting"], waitingFor: stage },
      set: { status: "running", currentStage: stage, updatedAt: now },
      remove: ["waitingFor"],
    });
    if (!entered) return;
    await announce(deps, { ...base(run), event: "stage-started", stage });
    await startStageExecution(deps, { ...run, currentStage: stage, status: "running" }, stage);
    return;
  }
  if (
    run.status === "awaiting-approval" &&
    run.currentStage === stage &&
    run.approval?.stage === stage
  ) {
    // A retry after a crash between the wait's write and its announcement or timer: both are
    // finished (one timer execution per approval asked for; announced at least once).
    await announceApproval(deps, run);
    return;
  }
  if (run.status === "running" && run.currentStage === stage && !run.stages[stage]) {
    // Admitted, but the execution may not have started (a crash): starting it again is safe.
    // Its routine `stage-started` (never notified) is not repeated: a repeated status-change
    // event cannot be told from a retry here, and the stage starts once (README, "Crash survival").
    await startStageExecution(deps, run, stage);
  }
}

export async function startStageExecution(deps: Deps, run: Run, stage: string): Promise<void> {
  const attempt = run.attempts?.[stage];
  await deps.workflows.startStage({
    ...base(run),
    stage,
    ...(attempt && attempt > 1 ? { attempt } : {}),
    // The run's immutable snapshot rides in the input: no step re-reads the run for it.
    seq: run.seq,
    definition: run.definition,
    ...(run.change?.artifactDigest ? { artifactDigest: run.change.artifactDigest } : {}),
  });
}

/** A run inside a stage stopping because the older `blocker` rolled back: the record's fields. */
export function inStageHalt(run: Run, blocker: Run, at: string): RunUpdate["set"] {
  return {
    status: "halted",
    haltReason: "older-version-halted",
    haltedBy: blocker.runId,
    haltedAt: at,
    haltDetail: `${blocker.version} (older) rolled back in ${blocker.currentStage ?? "?"}; ${run.version} contains it and starts no new deploy step in ${run.currentStage ?? "?"} (steps in flight finish and bake)`,
    updatedAt: at,
  };
}

/**
 * Halts a newer run inside its stage behind the older `blocker`'s rollback and announces it
 * (once: the stage's end does not announce it again). Its line check already refuses its new
 * deploy steps; this says so, so nothing waits silently.
 */
export async function haltInStage(deps: Deps, run: Run, blocker: Run): Promise<boolean> {
  const now = deps.clock.now().toISOString();
  const stopped = await deps.store.updateRun(run.runId, {
    expect: { status: ["running"] },
    set: inStageHalt(run, blocker, now),
  });
  // A retry after a crash between this halt and its announcement announces it then.
  if (!stopped && !(await unannouncedHaltBehind(deps, run.runId, blocker))) return false;
  await announce(deps, {
    ...base(run),
    event: "run-halted",
    ...(run.currentStage ? { stage: run.currentStage } : {}),
    reason: `stopped inside ${run.currentStage ?? "?"}: older version ${blocker.version} rolled back`,
  });
  await deps.store.updateRun(run.runId, {
    expect: { absent: ["haltAnnouncedAt"] },
    set: { haltAnnouncedAt: now },
  });
  return true;
}

/** Whether the run is halted inside its stage behind `blocker` and that is not yet announced. */
async function unannouncedHaltBehind(deps: Deps, runId: string, blocker: Run): Promise<boolean> {
  const run = await deps.store.getRun(runId);
  return (
    run !== undefined &&
    haltedInStage(run) &&
    run.haltedBy === blocker.runId &&
    run.haltAnnouncedAt === undefined
  );
}

/**
 * An older run just halted: newer runs waiting at a stage boundary stop there (they contain the
 * bad change). When its rollback stopped the line (`atOnce`), newer runs inside a stage halt
 * at once too: they start no new deploy step, and their steps in flight finish and bake.
 * Otherwise (a failed or inconclusive bake) they stop at their next boundary (see promotion).
 */
export async function stopLineBehind(
  deps: Deps,
  halted: Run,
  options: { atOnce?: boolean } = {},
): Promise<void> {
  const now = deps.clock.now().toISOString();
  for (const run of await deps.store.listRuns(halted.pipeline)) {
    if (run.seq <= halted.seq) continue;
    if (run.status === "awaiting-approval") {
      await stopApprovalBehind(deps, run, halted, now);
      continue;
    }
    if (options.atOnce && run.status === "running") {
      await haltInStage(deps, run, halted);
      continue;
    }
    if (run.status !== "waiting" || !run.waitingFor) continue;
    const stage = run.waitingFor;
    const stopped = await deps.store.updateRun(run.runId, {
      expect: { status: ["waiting"], waitingFor: stage },
      set: boundaryHalt(run, halted, stage, now),
      remove: ["waitingFor"],
    });
    if (!stopped) continue;
    await announceBoundaryHalt(deps, run, halted, stage);
    await leaveStage(deps, { ...run, status: "halted" }, stage);
  }
}

/** Whether the run halted inside its stage behind an older version (not at a boundary). */
export function haltedInStage(run: Run): boolean {
  return (
    run.status === "halted" &&
    run.haltReason === "older-version-halted" &&
    !run.nextStage &&
    run.currentStage !== undefined
  );
}

/**
 * A newer run awaiting a stage's approval when an older one halts has not started the stage: it
 * stops at that boundary like a waiting run (its approval is asked for again when it resumes).
 */
async function stopApprovalBehind(deps: Deps, run: Run, halted: Run, now: string): Promise<void> {
  const stage = run.currentStage;
  if (!stage) return;
  const stopped = await deps.store.updateRun(run.runId, {
    expect: { status: ["awaiting-approval"], currentStage: stage },
    set: boundaryHalt(run, halted, stage, now),
    remove: ["approval"],
  });
  if (!stopped) return;
  const timer = approvalTimerInputOf(run);
  if (timer) await deps.workflows.stopApprovalTimer?.(timer);
  await announceBoundaryHalt(deps, run, halted, stage);
  await leaveStage(deps, { ...run, status: "halted" }, stage);
}

/**
 * After a decision: every run halted behind an older halt that no longer holds (and whose line
 * is open again) resumes: one halted at a boundary goes back in line for the stage it was about
 * to enter; one halted inside a stage runs that stage again (a new attempt: scopes already on
 * its version are skipped) once its stopped execution has ended; if it has not, the promotion
 * of that end resumes it.
 */
export async function resumeLine(deps: Deps, pipeline: string): Promise<string[]> {
  const resumed: string[] = [];
  const runs = await deps.store.listRuns(pipeline);
  const line = await deps.store.getLine(pipeline);
  for (const run of runs) {
    if (run.status !== "halted" || run.haltReason !== "older-version-halted") continue;
    if (runs.some((r) => r.seq < run.seq && stopsTheLine(r))) continue;
    if (!lineOpenFor(line, run.seq)) continue;
    if (haltedInStage(run)) {
      if (await resumeInStage(deps, run)) resumed.push(run.runId);
      continue;
    }
    if (!run.nextStage) continue;
    const stage = run.nextStage;
    const now = deps.clock.now().toISOString();
    const ok = await deps.store.updateRun(run.runId, {
      expect: { status: ["halted"] },
      set: { status: "waiting", waitingFor: stage, updatedAt: now },
      remove: ["haltReason", "haltedBy", "haltedAt", "haltDetail", "nextStage", "haltAnnouncedAt"],
    });
    if (!ok) continue;
    resumed.push(run.runId);
    await announce(deps, { ...base(run), event: "run-resumed", stage });
    await requestStage(deps, { ...run, status: "waiting", waitingFor: stage }, stage);
  }
  return resumed;
}

/**
 * A run halted inside its stage resumes it as a new attempt, once the stopped execution ended
 * (its stage is marked failed): two executions of one stage never deploy at once.
 */
async function resumeInStage(deps: Deps, run: Run): Promise<boolean> {
  const stage = run.currentStage as string;
  if (run.stages[stage]?.status !== "failed") return false;
  const now = deps.clock.now().toISOString();
  const attempt = (run.attempts?.[stage] ?? 1) + 1;
  const attempts = { ...(run.attempts ?? {}), [stage]: attempt };
  const ok = await deps.store.updateRun(run.runId, {
    expect: { status: ["halted"], haltReason: ["older-version-halted"] },
    set: {
      status: "running",
      attempts,
      updatedAt: now,
      stages: { [stage]: { status: "running", startedAt: now } },
    },
    remove: ["haltReason", "haltedBy", "haltedAt", "haltDetail", "haltAnnouncedAt"],
  });
  if (!ok) return false;
  await announce(deps, {
    ...base(run),
    event: "run-resumed",
    stage,
    reason: `the older version's halt was decided; ${stage} runs again (attempt ${attempt})`,
  });
  await startStageExecution(deps, { ...run, status: "running", attempts }, stage);
  return true;
}

// ---- a stage's manual approval ----------------------------------------------------------------

/**
 * The approval timer execution's input: which run's which approval (its name comes from these),
 * and how long to wait from `now` (a timer started late, after a crash, still ends at the
 * deadline).
 */
export function approvalTimerInput(
  run: Run,
  approval: ApprovalRequest,
  now: Date = new Date(approval.requestedAt),
): ApprovalTimerInput {
  return {
    approvalTimer: true,
    ...base(run),
    stage: approval.stage,
    requestedAt: approval.requestedAt,
    waitSeconds: Math.max(0, Math.ceil((Date.parse(approval.deadline) - now.getTime()) / 1000)),
  };
}

/**
 * The admitted run holds the stage but waits for an operator's approval before its execution
 * starts: recorded on the run and in its timeline, announced (notified), and timed by one timer
 * execution (a Wait state) that halts the run at the deadline unless someone decided.
 */
async function awaitApproval(deps: Deps, run: Run, approval: ApprovalRequest): Promise<void> {
  const stage = approval.stage;
  const waiting = await deps.store.updateRun(run.runId, {
    expect: { status: ["waiting"], waitingFor: stage },
    set: {
      status: "awaiting-approval",
      currentStage: stage,
      approval,
      updatedAt: approval.requestedAt,
    },
    remove: ["waitingFor"],
  });
  if (!waiting) return;
  await announceApproval(deps, {
    ...run,
    status: "awaiting-approval",
    currentStage: stage,
    approval,
  });
}

/**
 * Records, announces and times an approval asked for. Safe to repeat (a retry after a crash):
 * the timeline write and the timer are idempotent, and the announcement is made until the run
 * says it was (at least once; `approval.announcedAt` is set after the publish).
 */
async function announceApproval(deps: Deps, run: Run): Promise<void> {
  const approval = run.approval;
  if (!approval) return;
  const stage = approval.stage;
  const reason = `approve or reject before ${approval.deadline}`;
  await recordApprovalEvent(deps, run, stage, "approval-requested", approval.requestedAt, reason);
  if (!approval.announcedAt) {
    await announce(deps, { ...base(run), event: "approval-requested", stage, reason });
    await deps.store.updateRun(run.runId, {
      expect: { status: ["awaiting-approval"], currentStage: stage },
      set: { approval: { ...approval, announcedAt: deps.clock.now().toISOString() } },
    });
  }
  await deps.workflows.startApprovalTimer(approvalTimerInput(run, approval, deps.clock.now()));
}

/** A stage's approval event in the run's timeline (scope: the stage), published like a step's. */
export async function recordApprovalEvent(
  deps: Deps,
  run: Pick<Run, "runId" | "pipeline" | "version">,
  stage: string,
  event: "approval-requested" | "approved" | "rejected" | "approval-timed-out",
  at: string,
  reason: string,
): Promise<void> {
  const e: TimelineEvent = {
    at,
    runId: run.runId,
    pipeline: run.pipeline,
    version: run.version,
    stage,
    scope: stage,
    step: "approval",
    event,
    reason,
  };
  await deps.store.appendEvents([e]);
  await deps.events.publish([scopeEventBusEvent(e)]);
}

/** A newer version takes the stage from a run that held it only to wait on its approval. */
async function supersedeApprovalHolder(
  deps: Deps,
  holder: Run,
  stage: string,
  slot: StageSlot,
): Promise<void> {
  const now = deps.clock.now().toISOString();
  const newest = Object.entries(slot.waiters).sort((a, b) => b[1] - a[1])[0]?.[0] as string;
  const won = await deps.store.updateRun(holder.runId, {
    expect: { status: [holder.status], currentStage: stage },
    set: { status: "superseded", supersededBy: newest, finishedAt: now, updatedAt: now },
  });
  if (won) {
    const by = (await deps.store.getRun(newest))?.version ?? newest;
    const reason = `${by}, newer, arrived while it awaited approval of ${stage}`;
    await announce(deps, { ...base(holder), event: "run-superseded", stage, reason });
    const timer = approvalTimerInputOf(holder);
    if (timer) await deps.workflows.stopApprovalTimer?.(timer);
  }
  // Free the stage (the holder no longer holds it either way); admit's loop lets the newest in.
  await updateSlot(deps, holder.pipeline, stage, (s) => {
    if (s.holder !== holder.runId) return undefined;
    const { holder: _h, since: _s, ...rest } = s;
    return rest;
  });
}

function approvalTimerInputOf(run: Run): ApprovalTimerInput | undefined {
  return run.approval ? approvalTimerInput(run, run.approval) : undefined;
}
