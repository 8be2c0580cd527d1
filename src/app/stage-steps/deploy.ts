import { nextLookSeconds } from "../../domain/bake.ts";
import { ConcurrentUpdateError, NotFoundError } from "../../domain/errors.ts";
import type { Run, ScopeState } from "../../domain/model.ts";
import { type DeployStep, stepKindAt } from "../../domain/planner.ts";
import type { DeploymentRequest } from "../../domain/ports.ts";
import { parseScopeId, placementOf } from "../../domain/scope.ts";
import type { Deps } from "../deps.ts";
import { haltInStage } from "../lanes.ts";
import { releaseScopeLock } from "../scope-locks.ts";
import { bakePolicy } from "./bake-policy.ts";
import {
  deploymentId,
  loadRun,
  type RunSnapshot,
  type StageContext,
  snapshotOf,
  supersededBy,
} from "./context.ts";

const snapshotOfRun = (run: Run): RunSnapshot => ({
  pipeline: run.pipeline,
  definition: run.definition,
  ...(run.change?.artifactDigest ? { artifactDigest: run.change.artifactDigest } : {}),
});

import { checkGate } from "./gate.ts";
import { haltRun, seqOf } from "./halt.ts";
import { publish, stepEvent } from "./step-events.ts";
import { stageHasTests } from "./tests.ts";

function deploymentRequest(
  run: RunSnapshot,
  ctx: StageContext,
  step: DeployStep,
): DeploymentRequest {
  return {
    // A rolling step's share is in its id: each share is a deployment of its own.
    deploymentId: deploymentId(
      ctx,
      step,
      step.kind === "rolling" ? `rolling-${step.percent}` : step.kind,
    ),
    pipeline: run.definition,
    scope: parseScopeId(step.scope),
    version: ctx.version,
    percent: step.percent,
    kind: step.kind,
    ...(run.artifactDigest ? { artifactDigest: run.artifactDigest } : {}),
  };
}

/**
 * The request of the deploy step that moved `scope` to `percent` of the run's version, exactly as
 * the deploy step sent it: its kind from that share (the one-box's, a rolling step's, 100%), the stage's
 * current attempt (a fast rollback's context carries none), the run's version and digest. A
 * rollback cancels it before returning the scope to the version before.
 */
export function inFlightDeployRequest(
  run: Run,
  ctx: StageContext,
  scope: string,
  percent: number,
): DeploymentRequest {
  const ref = parseScopeId(scope);
  const attempt = ctx.attempt ?? run.attempts?.[ctx.stage];
  const step: DeployStep = {
    scope,
    region: ref.region,
    ...placementOf(ref),
    kind: stepKindAt(
      run.definition.stages.find((s) => s.name === ctx.stage),
      percent,
    ),
    percent,
    bakeSeconds: 0,
  };
  return deploymentRequest(run, { ...ctx, ...(attempt && attempt > 1 ? { attempt } : {}) }, step);
}

/**
 * The line refused this run's deploy step: an older version's (or this one's) rollback stopped
 * it. The run halts inside its stage behind that rollback, announced, so it never waits
 * silently; it resumes when the decision on the older run clears the line.
 */
async function haltBehindLine(deps: Deps, ctx: StageContext, seq: number): Promise<string> {
  const line = await deps.store.getLine(ctx.pipeline);
  const [stopper] = Object.entries(line.stops)
    .filter(([runId, s]) => s.seq <= seq && runId !== ctx.runId)
    .sort((a, b) => a[1].seq - b[1].seq);
  if (!stopper) return "line stopped by this run's own rollback";
  const [runId, stop] = stopper;
  const [run, blocker] = await Promise.all([
    deps.store.getRun(ctx.runId),
    deps.store.getRun(runId),
  ]);
  if (run && blocker) await haltInStage(deps, run, blocker);
  return `line stopped: ${stop.version} (older) rolled back in ${stop.scope} at ${stop.at}`;
}

export type StartDeployResult =
  | {
      started: true;
      blocked: false;
      deploymentId: string;
      pollSeconds: number;
      deployStartedAt: string;
      /** The scope as this step wrote it: the basis of its next transition. */
      scope: ScopeState;
    }
  | { started: false; blocked: true; reason: string; recheckSeconds: number }
  | { started: false; blocked: false; reason: string };

/**
 * Starts one deploy step, unless the run has halted: the scope write is conditional on the run
 * still running (safety rule 3), in the same transaction. The scope, the installation and the
 * manual blocks are read in one round trip; the run is not read on the way to a start (its
 * snapshot is in the execution input, and whether it still runs is the write's condition), only
 * before the gate records or waits on a blocked state. A retry that finds its deploy already
 * written goes on with it, as any step that had started before a halt does.
 */
export async function startDeploy(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
): Promise<StartDeployResult> {
  const carried = ctx.definition !== undefined;
  const read = await deps.store.readMany({
    ...(carried ? {} : { run: ctx.runId }),
    scope: { pipeline: ctx.pipeline, scope: step.scope },
    installation: true,
    blocks: true,
  });
  const run: RunSnapshot = carried
    ? await snapshotOf(deps, ctx)
    : snapshotOfRun(read.run ?? (await loadRun(deps, ctx.runId)));
  if (read.run && read.run.status !== "running") {
    return { started: false, blocked: false, reason: `run is ${read.run.status}` };
  }
  const runIsRunning = async () =>
    read.run
      ? read.run.status === "running"
      : (await loadRun(deps, ctx.runId)).status === "running";
  const current = read.scope;
  if (!current) throw new NotFoundError(`scope ${step.scope} has no state`);
  if (
    current.runId === ctx.runId &&
    current.version === ctx.version &&
    current.status === "stable" &&
    current.percent >= step.percent
  ) {
    // A retried stage: this scope already took the version in an earlier attempt.
    return { started: false, blocked: false, reason: `scope already on ${ctx.version}` };
  }
  const request = deploymentRequest(run, ctx, step);
  const alreadyStarted =
    current.runId === ctx.runId &&
    current.version === ctx.version &&
    current.status === "deploying" &&
    current.percent === step.percent;
  let deployStartedAt = current.since;
  let written = current;
  if (!alreadyStarted) {
    // Safety rule 4: no deploy step starts while a blocker holds.
    const gate = await checkGate(deps, run.definition, ctx, step, current, {
      ...(read.installation ? { installation: read.installation } : {}),
      ...(read.blocks ? { blocks: read.blocks } : {}),
      runIsRunning,
    });
    if ("halted" in gate) return { started: false, blocked: false, reason: "run halted" };
    if (gate.blocked) {
      return {
        started: false,
        blocked: true,
        reason: gate.reason,
        recheckSeconds: gate.recheckSeconds,
      };
    }
    const seq = ctx.seq ?? read.run?.seq ?? (await seqOf(deps, ctx));
    const at = deps.clock.now().toISOString();
    deployStartedAt = at;
    const previousVersion =
      current.version === ctx.version ? current.previousVersion : current.version;
    const result = await deps.store.transitionScope({
      pipeline: ctx.pipeline,
      scope: step.scope,
      at,
      actor: "breakwater/deploy",
      cause: `run ${ctx.runId}: ${step.kind} deploy of ${ctx.version} (${step.percent}%)${gate.bypassed ? `; ${gate.bypassed}` : ""}`,
      // The gate may have cleared the scope's blocked marker (a new rev): the store then finds
      // its basis stale and compares with what it reads now, so only the version and status
      // are expected here.
      expect: { status: ["stable", "rolled-back"], version: current.version },
      requireRunning: ctx.runId,
      // Safety rule 3: and while no rollback of this version or an older one stopped the line.
      lineOpenFor: seq,
      basis: current,
      set: {
        version: ctx.version,
        previousVersion: previousVersion ?? null,
        percent: step.percent,
        status: "deploying",
        runId: ctx.runId,
        blocked: null,
      },
      events: [
        stepEvent(ctx, step, "deploy-started", at, {
          percent: step.percent,
          ...(previousVersion || gate.bypassed
            ? {
                reason: [previousVersion ? `from ${previousVersion}` : "", gate.bypassed ?? ""]
                  .filter(Boolean)
                  .join("; "),
              }
            : {}),
        }),
      ],
    });
    if (!result.ok) {
      await releaseScopeLock(deps, run.definition, step.scope);
      if (result.reason === "run-not-running") {
        return { started: false, blocked: false, reason: "run halted" };
      }
      if (result.reason === "line-stopped") {
        return { started: false, blocked: false, reason: await haltBehindLine(deps, ctx, seq) };
      }
      throw new ConcurrentUpdateError(
        `scope ${step.scope} changed while starting a deploy (now ${result.current?.status} ${result.current?.version})`,
      );
    }
    written = result.state;
    await publish(deps, [stepEvent(ctx, step, "deploy-started", at, { percent: step.percent })]);
  } else {
    // A retry: the first invocation may have died between its write and its publish, so the
    // event is published again — at least once, never lost (README, "Crash survival").
    await publish(deps, [
      stepEvent(ctx, step, "deploy-started", current.since, { percent: step.percent }),
    ]);
  }
  const { pollSeconds } = await deps.deployer.start(request);
  return {
    started: true,
    blocked: false,
    deploymentId: request.deploymentId,
    pollSeconds,
    deployStartedAt,
    scope: written,
  };
}

export type CheckDeployResult = { deployStartedAt: string } & (
  | { done: false; failed: false; pollSeconds: number; scope?: ScopeState }
  | {
      done: true;
      failed: false;
      bakeStartedAt: string;
      bakeSeconds: number;
      /** Seconds from now to the bake's first look (its end when the detector looks only then). */
      lookSeconds: number;
      /** The scope as the bake's start wrote it: the basis of the step's record. */
      scope?: ScopeState;
      /**
       * The stage has tests: they run first (StartTests), and the bake starts when they pass
       * (`bakeStartedAt` is then when the deploy finished, the tests' start).
       */
      tests?: true;
    }
  | { done: true; failed: true; reason: string }
  | { done: true; failed: false; superseded: true; reason: string }
);

/**
 * Polls a started deploy step; when it completes, the scope starts baking. The deploy target
 * is asked first: a finished deploy's transition is conditional on the scope as the start
 * wrote it (`basis`), so it needs no read; an unfinished or failed one reads the scope to see
 * whether an alarm's fast rollback took it over meanwhile.
 */
export async function checkDeploy(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  deployStartedAt: string,
  basis?: ScopeState,
): Promise<CheckDeployResult> {
  const run = await snapshotOf(deps, ctx);
  const status = await deps.deployer.status(deploymentRequest(run, ctx, step));
  if (status.state !== "succeeded") {
    const current = await deps.store.getScope(ctx.pipeline, step.scope);
    const superseded = supersededBy(current, ctx);
    if (superseded)
      return { deployStartedAt, done: true, failed: false, superseded: true, reason: superseded };
    if (status.state === "in-progress") {
      return {
        deployStartedAt,
        done: false,
        failed: false,
        pollSeconds: status.pollSeconds,
        ...(basis ? { scope: basis } : {}),
      };
    }
  }
  const at = deps.clock.now().toISOString();
  if (status.state === "failed") {
    // A rollback may have taken the scope and cancelled this deploy since the read above (it
    // runs in its own execution): the failure is that cancel, and the rollback owns the scope.
    const since = supersededBy(await deps.store.getScope(ctx.pipeline, step.scope), ctx);
    if (since)
      return { deployStartedAt, done: true, failed: false, superseded: true, reason: since };
    await haltRun(deps, ctx, step.scope, "deploy-failed", at);
    const finished = stepEvent(ctx, step, "deploy-finished", at, {
      outcome: "failed",
      reason: status.reason,
    });
    await deps.store.appendEvents([finished]);
    await publish(deps, [finished]);
    return { deployStartedAt, done: true, failed: true, reason: status.reason };
  }
  // With tests, the bake starts when they pass (./tests.ts), not at the deploy's end.
  const tests = stageHasTests(run, ctx.stage);
  const events = [
    stepEvent(ctx, step, "deploy-finished", at, { outcome: "succeeded", percent: step.percent }),
    ...(tests ? [] : [stepEvent(ctx, step, "bake-started", at, { percent: step.percent })]),
  ];
  const result = await deps.store.transitionScope({
    pipeline: ctx.pipeline,
    scope: step.scope,
    at,
    actor: "breakwater/deploy",
    cause: `run ${ctx.runId}: ${step.kind} deploy of ${ctx.version} finished; baking`,
    expect: { status: ["deploying"], version: ctx.version, runId: ctx.runId },
    ...(basis ? { basis } : {}),
    set: { version: ctx.version, percent: step.percent, status: "baking" },
    events,
  });
  if (!result.ok) {
    const current = result.current;
    const superseded = supersededBy(current, ctx);
    if (superseded)
      return { deployStartedAt, done: true, failed: false, superseded: true, reason: superseded };
    if (
      current?.status === "baking" &&
      current.version === ctx.version &&
      current.runId === ctx.runId
    ) {
      // A retry after the transition landed: the bake started at the recorded time. Its events
      // are published again (the first invocation may have died before publishing them).
      await publish(
        deps,
        events.map((e) => ({ ...e, at: current.since })),
      );
      return {
        deployStartedAt,
        done: true,
        failed: false,
        bakeStartedAt: current.since,
        bakeSeconds: step.bakeSeconds,
        lookSeconds: firstLookSeconds(run, ctx, current.since, deps.clock.now()),
        scope: current,
        ...(tests ? { tests: true as const } : {}),
      };
    }
    throw new ConcurrentUpdateError(
      `scope ${step.scope} changed during its deploy (now ${current?.status} ${current?.version})`,
    );
  }
  await publish(deps, events);
  return {
    deployStartedAt,
    done: true,
    failed: false,
    bakeStartedAt: at,
    bakeSeconds: step.bakeSeconds,
    lookSeconds: firstLookSeconds(run, ctx, at, new Date(at)),
    scope: result.state,
    ...(tests ? { tests: true as const } : {}),
  };
}

/**
 * The Bake Wait's length: to the bake's first look (every `bake.checkEveryMinutes` while the
 * detector is on), counted from when the bake began (a retry finds it begun earlier).
 */
function firstLookSeconds(
  run: Pick<Run, "pipeline" | "definition">,
  ctx: StageContext,
  bakeStartedAt: string,
  now: Date,
): number {
  return nextLookSeconds(bakePolicy(run, ctx.stage), now.getTime() - Date.parse(bakeStartedAt));
}
