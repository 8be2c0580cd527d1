/**
 * Runs and promotion. A run starts with its first stage; every later stage is started by the
 * previous stage execution's status-change event (event-driven promotion), never by a loop.
 */
import { NotFoundError } from "../domain/errors.ts";
import type { Run } from "../domain/model.ts";
import { nextStage } from "../domain/planner.ts";
import type { Deps } from "./deps.ts";
import { type RunEventDetail, runBusEvent } from "./events.ts";

export function runIdFor(pipeline: string, version: string): string {
  return `${pipeline}@${version}`;
}

export interface StartRunRequest {
  pipeline: string;
  version: string;
  cause: string;
}

export type StartRunResult =
  | { started: true; runId: string; stage: string }
  | { started: false; runId: string; reason: string };

async function announce(deps: Deps, detail: Omit<RunEventDetail, "at">): Promise<void> {
  await deps.events.publish([runBusEvent({ at: deps.clock.now().toISOString(), ...detail })]);
}

/** Creates the run (once: a duplicate request starts nothing) and starts its first stage. */
export async function startRun(deps: Deps, req: StartRunRequest): Promise<StartRunResult> {
  const definition = await deps.store.getPipeline(req.pipeline);
  if (!definition) throw new NotFoundError(`no pipeline named "${req.pipeline}" is registered`);
  const runId = runIdFor(req.pipeline, req.version);
  const first = definition.stages[0];
  if (!first) throw new NotFoundError(`pipeline "${req.pipeline}" has no stages`);
  const now = deps.clock.now().toISOString();
  const run: Run = {
    runId,
    pipeline: req.pipeline,
    version: req.version,
    status: "running",
    definition,
    createdAt: now,
    updatedAt: now,
    currentStage: first.name,
    stages: {},
    rolledBack: [],
    cause: req.cause,
  };
  const created = await deps.store.createRun(run);
  if (!created) {
    const existing = await deps.store.getRun(runId);
    // A retried start whose first stage did not start yet is resumed; anything else is a duplicate.
    if (!existing || Object.keys(existing.stages).length > 0 || existing.status !== "running") {
      await announce(deps, {
        runId,
        pipeline: req.pipeline,
        version: req.version,
        event: "run-duplicate",
        reason: "a run for this version already exists",
      });
      return { started: false, runId, reason: "a run for this version already exists" };
    }
  } else {
    await announce(deps, {
      runId,
      pipeline: req.pipeline,
      version: req.version,
      event: "run-started",
    });
  }
  await deps.workflows.startStage({
    runId,
    pipeline: req.pipeline,
    version: req.version,
    stage: first.name,
  });
  return { started: true, runId, stage: first.name };
}

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export type PromotionResult =
  | { action: "started-next-stage"; stage: string }
  | { action: "run-succeeded" }
  | { action: "run-halted"; reason: string }
  | { action: "ignored"; reason: string };

/**
 * Reacts to a stage execution's status change: on success the version enters the next stage
 * (exactly once: the run's currentStage is compare-and-set), or the run succeeds after the last
 * stage; on failure the run is halted and stays halted until an engineer decides.
 */
export async function onStageExecutionStatus(
  deps: Deps,
  input: { runId: string; stage: string; status: ExecutionStatus; error?: string; cause?: string },
): Promise<PromotionResult> {
  const run = await deps.store.getRun(input.runId);
  if (!run) return { action: "ignored", reason: `unknown run ${input.runId}` };
  const now = deps.clock.now().toISOString();
  const base = { runId: run.runId, pipeline: run.pipeline, version: run.version };
  if (input.status === "RUNNING") return { action: "ignored", reason: "execution still running" };
  if (input.status !== "SUCCEEDED") {
    const reason =
      run.status === "halted"
        ? `stage ${input.stage} halted: ${run.haltedBy ?? "run"} rolled back`
        : `stage ${input.stage} execution ${input.status}${input.error ? `: ${input.error}` : ""}`;
    if (run.status === "running") {
      // The execution ended without a rollback (control-plane fault, timeout, stop): halt so an
      // engineer decides; never promote.
      await deps.store.updateRun(run.runId, {
        expect: { status: ["running"] },
        set: { status: "halted", haltReason: "control-plane-error", haltedAt: now, updatedAt: now },
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
    // Announce the halt once, however often the event is delivered.
    const first = await deps.store.updateRun(run.runId, {
      expect: { absent: ["haltAnnouncedAt"] },
      set: { haltAnnouncedAt: now },
    });
    if (first) await announce(deps, { ...base, event: "run-halted", stage: input.stage, reason });
    return { action: "run-halted", reason };
  }
  if (run.status !== "running") return { action: "ignored", reason: `run is ${run.status}` };
  const next = nextStage(run.definition, input.stage);
  if (!next) {
    const won = await deps.store.updateRun(run.runId, {
      expect: { status: ["running"], currentStage: input.stage },
      set: { status: "succeeded", finishedAt: now, updatedAt: now },
    });
    if (!won) return { action: "ignored", reason: "already promoted" };
    await announce(deps, { ...base, event: "stage-finished", stage: input.stage });
    await announce(deps, { ...base, event: "run-succeeded" });
    return { action: "run-succeeded" };
  }
  const won = await deps.store.updateRun(run.runId, {
    expect: { status: ["running"], currentStage: input.stage },
    set: { currentStage: next.name, updatedAt: now },
  });
  if (!won) {
    // A duplicate event, or a retry after a crash between the compare-and-set and the start:
    // starting the stage again is safe (the execution name is derived from run and stage).
    const latest = await deps.store.getRun(run.runId);
    if (
      latest?.status !== "running" ||
      latest.currentStage !== next.name ||
      latest.stages[next.name]
    ) {
      return { action: "ignored", reason: "already promoted" };
    }
    await deps.workflows.startStage({ ...base, stage: next.name });
    return { action: "started-next-stage", stage: next.name };
  }
  await announce(deps, { ...base, event: "stage-finished", stage: input.stage });
  await deps.workflows.startStage({ ...base, stage: next.name });
  await announce(deps, { ...base, event: "stage-started", stage: next.name });
  return { action: "started-next-stage", stage: next.name };
}
