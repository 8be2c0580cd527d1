/**
 * Runs and promotion. A run gets in line for its first stage; every later stage is requested by
 * the previous stage execution's status-change event (event-driven promotion), never by a loop.
 * Which version enters a stage, and when, is decided in `lanes.ts`.
 */
import { NotFoundError } from "../domain/errors.ts";
import type { ChangeFacts, Run } from "../domain/model.ts";
import {
  type ExecutionStatus,
  type FinishMove,
  type MoveReport,
  nextAfterStage,
  type StageEnd,
} from "../domain/next-after-stage.ts";
import { nextStage } from "../domain/planner.ts";
import type { Deps } from "./deps.ts";
import {
  announce,
  announceBoundaryHalt,
  boundaryHalt,
  haltedInStage,
  leaveStage,
  olderHalt,
  requestStage,
  resumeLine,
} from "./lanes.ts";
import { backedRunRequest } from "./run-requests.ts";

export function runIdFor(pipeline: string, version: string): string {
  return `${pipeline}@${version}`;
}

export interface StartRunRequest {
  pipeline: string;
  version: string;
  cause: string;
  change?: ChangeFacts;
}

export type StartRunResult =
  | { started: true; runId: string; stage: string; status: Run["status"] }
  | { started: false; runId: string; reason: string };

/**
 * Creates the run (once: a duplicate request starts nothing) and puts it in line for its first
 * stage. A change that merged before a version already known arrives late: it is recorded as
 * superseded (the newer version contains it) and never deployed over the newer one.
 */
export async function startRun(deps: Deps, req: StartRunRequest): Promise<StartRunResult> {
  const definition = await deps.store.getPipeline(req.pipeline);
  if (!definition) throw new NotFoundError(`no pipeline named "${req.pipeline}" is registered`);
  const runId = runIdFor(req.pipeline, req.version);
  const first = definition.stages[0];
  if (!first) throw new NotFoundError(`pipeline "${req.pipeline}" has no stages`);
  const existing = await deps.store.getRun(runId);
  if (existing) return resumeOrDuplicate(deps, existing, first.name);
  const now = deps.clock.now().toISOString();
  const mergedAt = req.change?.mergedAt;
  const newer = mergedAt
    ? (await deps.store.listRuns(req.pipeline)).find(
        (r) => r.change?.mergedAt !== undefined && r.change.mergedAt > mergedAt,
      )
    : undefined;
  const seq = await deps.store.nextSeq(req.pipeline);
  const run: Run = {
    runId,
    pipeline: req.pipeline,
    version: req.version,
    seq,
    status: newer ? "superseded" : "waiting",
    ...(newer ? { supersededBy: newer.runId, finishedAt: now } : { waitingFor: first.name }),
    ...(req.change ? { change: req.change } : {}),
    definition,
    createdAt: now,
    updatedAt: now,
    stages: {},
    rolledBack: [],
    cause: req.cause,
  };
  if (!(await deps.store.createRun(run))) {
    const raced = await deps.store.getRun(runId);
    if (raced) return resumeOrDuplicate(deps, raced, first.name);
    throw new NotFoundError(`run ${runId} could not be created`);
  }
  const ids = { runId, pipeline: req.pipeline, version: req.version };
  if (newer) {
    const reason = `arrived after ${newer.version}, which merged later and contains it`;
    await announce(deps, { ...ids, event: "run-superseded", reason });
    return { started: false, runId, reason };
  }
  await announce(deps, { ...ids, event: "run-started" });
  await requestStage(deps, run, first.name);
  const after = await deps.store.getRun(runId);
  return { started: true, runId, stage: first.name, status: after?.status ?? run.status };
}

export type RequestedRunResult =
  | StartRunResult
  | { started: false; refused: true; reason: string; runId?: string };

/**
 * Start-run's entry point: an "Approved Change Merged" event starts a run only when it points at
 * a stored run request that matches it (see `backedRunRequest`); the run's cause and change
 * facts are the request's. Anything else starts nothing and is recorded as `refused` in the
 * trigger log (the bus is not proof of approval; fail closed).
 *
 * @example
 * await startRequestedRun(deps, { source: "breakwater", "detail-type": "Approved Change Merged", detail: { pipeline: "orders-api", version: "v2" } });
 * // → { started: false, refused: true, reason: "invalid event (not a run-request pointer): detail.requestId: …" }
 */
export async function startRequestedRun(deps: Deps, event: unknown): Promise<RequestedRunResult> {
  const check = await backedRunRequest(deps.runRequests, event);
  if (!check.backed) {
    const envelope = (typeof event === "object" && event !== null ? event : {}) as {
      id?: unknown;
      source?: unknown;
    };
    const short = (v: unknown) => (typeof v === "string" && v ? v.slice(0, 100) : undefined);
    const id = short(envelope.id);
    const source = short(envelope.source);
    await deps.triggers.record({
      at: deps.clock.now().toISOString(),
      trigger: "start-run",
      outcome: "refused",
      reason: check.reason.slice(0, 1000),
      ...(id ? { deliveryId: id } : {}),
      ...(source ? { event: source } : {}),
      ...(check.pipeline ? { pipeline: check.pipeline } : {}),
      ...(check.version ? { version: check.version } : {}),
    });
    return {
      started: false,
      refused: true,
      reason: check.reason,
      ...(check.pipeline && check.version
        ? { runId: runIdFor(check.pipeline, check.version) }
        : {}),
    };
  }
  const r = check.request;
  return startRun(deps, {
    pipeline: r.pipeline,
    version: r.version,
    cause: r.cause,
    change: r.change,
  });
}

/** A second request for a known version: a run that never got in line is put in line; else nothing. */
async function resumeOrDuplicate(deps: Deps, run: Run, first: string): Promise<StartRunResult> {
  const admitted = run.status === "running" && run.currentStage === first;
  if (((run.status === "waiting" && run.waitingFor === first) || admitted) && !run.stages[first]) {
    // A retried start (the first attempt crashed before or while queueing, or after entering
    // the stage but before its execution started): finish it. The crash may have come before
    // the run's announcement, which is made again (at least once).
    if (run.status === "waiting") {
      await announce(deps, {
        runId: run.runId,
        pipeline: run.pipeline,
        version: run.version,
        event: "run-started",
      });
    }
    await requestStage(deps, run, first);
    return { started: true, runId: run.runId, stage: first, status: run.status };
  }
  const reason = `a run for this version already exists (${run.status})`;
  await announce(deps, {
    runId: run.runId,
    pipeline: run.pipeline,
    version: run.version,
    event: "run-duplicate",
    reason,
  });
  return { started: false, runId: run.runId, reason };
}

export type { ExecutionStatus } from "../domain/next-after-stage.ts";

export type PromotionResult =
  | { action: "started-next-stage" | "waiting-for-next-stage"; stage: string }
  | { action: "halted-at-boundary"; stage: string; behind: string }
  | { action: "run-succeeded" }
  | { action: "run-halted"; reason: string }
  | { action: "ignored"; reason: string };

/**
 * Reacts to a stage execution's status change: reads the run, asks {@link nextAfterStage} what
 * the stage's end means, and writes it. On success the run leaves the stage (the next version
 * may enter it) and gets in line for the next stage — or halts at the boundary when an older
 * version is halted awaiting a decision, or succeeds after the last stage. The run's move is one
 * compare-and-set on its current stage, so a duplicate event does nothing twice. On failure the
 * run is halted and keeps its stage until an engineer decides.
 */
export async function onStageExecutionStatus(
  deps: Deps,
  input: {
    runId: string;
    stage: string;
    status: ExecutionStatus;
    error?: string;
    cause?: string;
    attempt?: number;
  },
): Promise<PromotionResult> {
  const end: StageEnd = {
    runId: input.runId,
    stage: input.stage,
    status: input.status,
    error: input.error,
    attempt: input.attempt,
  };
  const run = await deps.store.getRun(input.runId);
  // The line behind is read only for a run moving on to a next stage: the rule weighs it only
  // then, and a duplicate delivery costs no query.
  const movingOn =
    run !== undefined &&
    input.status === "SUCCEEDED" &&
    run.status === "running" &&
    run.currentStage === input.stage &&
    nextStage(run.definition, input.stage) !== undefined;
  const olderHalted = movingOn ? await olderHalt(deps, run) : undefined;
  const decision = nextAfterStage({ end, run, olderHalt: olderHalted });
  if (decision.kind === "ignore") return { action: "ignored", reason: decision.reason };
  // The rule ignores an unknown run; this only tells the compiler.
  if (!run) return { action: "ignored", reason: `unknown run ${input.runId}` };
  const now = deps.clock.now().toISOString();
  const ids = { runId: run.runId, pipeline: run.pipeline, version: run.version };
  switch (decision.kind) {
    case "halt": {
      if (decision.haltRunning) {
        // The execution ended without a rollback (control-plane fault, timeout, stop): halt so
        // an engineer decides; never promote.
        await deps.store.updateRun(run.runId, {
          expect: { status: ["running"] },
          set: {
            status: "halted",
            haltReason: "control-plane-error",
            haltedAt: now,
            haltDetail: decision.reason,
            updatedAt: now,
          },
        });
      }
      await deps.store.updateRun(run.runId, {
        set: {
          stages: {
            [input.stage]: {
              status: "failed",
              startedAt: run.stages[input.stage]?.startedAt ?? now,
              finishedAt: run.stages[input.stage]?.finishedAt ?? now,
            },
          },
        },
      });
      // Announce the halt once however often the event is delivered, recording it only after
      // the publish: a crash between the two repeats it on the retry (at least once), never
      // loses it.
      if (decision.announce) {
        await announce(deps, {
          ...ids,
          event: "run-halted",
          stage: input.stage,
          reason: decision.reason,
        });
        await deps.store.updateRun(run.runId, {
          expect: { absent: ["haltAnnouncedAt"] },
          set: { haltAnnouncedAt: now },
        });
      }
      // A run stopped inside this stage behind an older rollback whose decision came while
      // its steps were still in flight resumes now that the stopped execution has ended.
      if (haltedInStage(run)) await resumeLine(deps, run.pipeline);
      return { action: "run-halted", reason: decision.reason };
    }
    case "succeed":
    case "wait-for-next":
    case "stop-at-boundary": {
      const moved = await deps.store.updateRunReturning(run.runId, {
        expect: { status: ["running"], currentStage: input.stage },
        set:
          decision.kind === "succeed"
            ? { status: "succeeded", finishedAt: now, updatedAt: now }
            : decision.kind === "stop-at-boundary"
              ? boundaryHalt(run, decision.behind, decision.next, now)
              : { status: "waiting", waitingFor: decision.next, updatedAt: now },
      });
      const won = moved !== undefined;
      if (won) {
        await announce(deps, { ...ids, event: "stage-finished", stage: input.stage });
        if (decision.kind === "succeed") await announce(deps, { ...ids, event: "run-succeeded" });
        if (decision.kind === "stop-at-boundary") {
          await announceBoundaryHalt(deps, run, decision.behind, decision.next);
        }
      }
      // From here on idempotent: a duplicate event, or a retry after a crash, finishes the move.
      // The run as this move left it (announcing changes nothing in it), or as it is now.
      const latest = moved ?? (await deps.store.getRun(run.runId)) ?? run;
      return finishMove(deps, latest, nextAfterStage({ end, run: latest, afterMove: { won } }));
    }
    default:
      return finishMove(deps, run, decision);
  }
}

/** Finishes a move the rule found made (by this delivery or an earlier one): frees the stage. */
async function finishMove(deps: Deps, run: Run, decision: FinishMove): Promise<PromotionResult> {
  switch (decision.kind) {
    case "enter-next":
      // A retry after a crash between entering the next stage and starting its execution.
      await leaveStage(deps, run, decision.stage);
      await requestStage(deps, run, decision.next);
      return { action: "started-next-stage", stage: decision.next };
    case "release": {
      await leaveStage(deps, run, decision.stage);
      if (decision.requeue) await requestStage(deps, run, decision.requeue);
      // A retry after a crash between the move and its announcement (or a repeated delivery):
      // the announcement is made again, at least once.
      if (decision.announceAgain) await announceMove(deps, run, decision.stage);
      return reported(deps, run, decision.report);
    }
    case "ignore":
      return { action: "ignored", reason: decision.reason };
  }
}

/** The promote result of a finished move. */
async function reported(deps: Deps, run: Run, report: MoveReport): Promise<PromotionResult> {
  switch (report.kind) {
    case "already-promoted":
      return { action: "ignored", reason: "already promoted" };
    case "run-succeeded":
      return { action: "run-succeeded" };
    case "next-stage": {
      const after = await deps.store.getRun(run.runId);
      return after?.status === "running" && after.currentStage === report.stage
        ? { action: "started-next-stage", stage: report.stage }
        : { action: "waiting-for-next-stage", stage: report.stage };
    }
    case "halted-at-boundary":
      return { action: "halted-at-boundary", stage: report.stage, behind: report.behind };
    case "other":
      return { action: "ignored", reason: `run is ${report.status}` };
  }
}

/** Announces that `run` left `stage`: the stage finished, and the run succeeded or halted at the next boundary. */
async function announceMove(deps: Deps, run: Run, stage: string): Promise<void> {
  const ids = { runId: run.runId, pipeline: run.pipeline, version: run.version };
  await announce(deps, { ...ids, event: "stage-finished", stage });
  if (run.status === "succeeded") await announce(deps, { ...ids, event: "run-succeeded" });
  if (run.status === "halted" && run.haltReason === "older-version-halted" && run.haltedBy) {
    const blocker = await deps.store.getRun(run.haltedBy);
    if (blocker) await announceBoundaryHalt(deps, run, blocker, run.nextStage ?? "?");
  }
}
