/**
 * The gate before every deploy step: gathers alarm states, manual blocks and the time-window
 * verdict, decides with the pure gate rule (`decideGate`), and records a change of the blocked state in
 * the scope's history and the run's timeline — once when it starts and once when it clears,
 * never on a re-check that finds the same blockers.
 */
import {
  type Blocker,
  findBlockers,
  type ManualBlock,
  resolveAlarmNames,
} from "../../domain/blockers.ts";
import { decideGate } from "../../domain/gate.ts";
import {
  DEFAULT_RECHECK_MINUTES,
  type Installation,
  orgAlarmsOf,
} from "../../domain/installation.ts";
import type { ScopeState, TimelineEvent } from "../../domain/model.ts";
import type { Pipeline } from "../../domain/pipeline.ts";
import type { DeployStep } from "../../domain/planner.ts";
import type { StageExecutionInput as StageContext } from "../../domain/ports.ts";
import { parseScopeId } from "../../domain/scope.ts";
import { targetRoleArn } from "../../domain/targets/index.ts";
import {
  checkTimeWindows,
  effectiveTimeWindows,
  loadHolidayCalendars,
  type WindowVerdict,
} from "../../domain/time-windows/index.ts";
import type { Deps } from "../deps.ts";
import { scopeEventBusEvent } from "../events.ts";
import { liveBypass } from "../override.ts";
import { acquireScopeLock } from "../scope-locks.ts";
import { stepEvent } from "./step-events.ts";

export type GateResult =
  | { blocked: false; bypassed?: string }
  | { blocked: true; reason: string; recheckSeconds: number }
  /** The run is no longer running: the step does not start, and nothing was recorded. */
  | { blocked: false; halted: true };

export interface GateInputs {
  /** The installation's configuration, when the caller read it with the scope (one round trip). */
  installation?: Installation;
  /** The manual blocks, when the caller read them with the scope. */
  blocks?: ManualBlock[];
  /**
   * Whether the run is still running, asked before the gate records a change of the blocked
   * state (a halted run records nothing). The deploy write checks it again in its condition.
   */
  runIsRunning: () => Promise<boolean>;
}

/** The control plane's home region (where organisation alarms live unless they say otherwise). */
export function homeRegion(): string {
  return process.env.AWS_REGION ?? "local";
}

async function currentBlockers(
  deps: Deps,
  pipeline: Pipeline,
  ctx: StageContext,
  step: DeployStep,
  config: Installation,
  known: ManualBlock[] | undefined,
): Promise<Blocker[]> {
  const scope = parseScopeId(step.scope);
  const stage = pipeline.stages.find((s) => s.name === ctx.stage);
  const at = deps.clock.now();
  const appNames = resolveAlarmNames(
    [...(pipeline.alarms ?? []), ...(step.kind === "one-box" ? (pipeline.oneBoxAlarms ?? []) : [])],
    pipeline.name,
    scope,
  );
  // The app's alarms live in the scope's region and account (its target's role, if any); the
  // organisation's in the control plane's account.
  const appAlarms = appNames.length
    ? await deps.alarms.describe(appNames, scope.region, at, {
        roleArn: targetRoleArn(pipeline, scope.stage),
      })
    : [];
  const org = orgAlarmsOf(config, homeRegion());
  const byRegion = new Map<string, string[]>();
  for (const a of org) byRegion.set(a.region, [...(byRegion.get(a.region) ?? []), a.name]);
  const orgAlarms = (
    await Promise.all(
      [...byRegion].map(([region, names]) => deps.alarms.describe(names, region, at)),
    )
  ).flat();
  // Freezes only add up: the stage's own windows replace the pipeline's, never a freeze.
  const policy = effectiveTimeWindows(pipeline.timeWindows, stage?.timeWindows, config.freezes);
  // The holiday calendars are loaded on first need, not at cold start (most functions never
  // judge a window; see src/domain/time-windows/holidays.ts).
  if (policy?.holidays) await loadHolidayCalendars();
  let window: WindowVerdict;
  try {
    window = checkTimeWindows(policy, scope.region, at, config.regions);
  } catch (err) {
    // A region without a known time zone or calendar is a configuration problem: hold the step
    // (visible, with the reason) rather than deploy outside a window or roll back.
    window = {
      allowed: false,
      kind: "outside-window",
      reason: `cannot evaluate time windows: ${(err as Error).message}`,
    };
  }
  const blocks = known ?? (await deps.store.listBlocks());
  return findBlockers({ pipeline: pipeline.name, scope, at, appAlarms, orgAlarms, window, blocks });
}

/**
 * Checks the blockers of one deploy step and records a change of the scope's blocked state.
 * The caller (the deploy step) starts only on `{ blocked: false }`.
 */
export async function checkGate(
  deps: Deps,
  pipeline: Pipeline,
  ctx: StageContext,
  step: DeployStep,
  current: ScopeState,
  inputs: GateInputs,
): Promise<GateResult> {
  const config = inputs.installation ?? (await deps.store.getInstallation());
  const found = await currentBlockers(deps, pipeline, ctx, step, config, inputs.blocks);
  const at = deps.clock.now();
  const iso = at.toISOString();
  // An engineer's live bypass lets this version ignore the blocker kinds it names (audited
  // when it was granted; the step's history says it went through on it).
  const bypass = found.length ? await liveBypass(deps, ctx.pipeline, ctx.version, at) : undefined;
  const rule = {
    found,
    bypass,
    was: current.blocked,
    recheckMinutes: config.blockerRecheckMinutes ?? DEFAULT_RECHECK_MINUTES,
    at,
  };
  let decision = decideGate(rule);
  if (decision.kind === "go") {
    // Last, once nothing else holds the step: take the location from other pipelines of the service.
    const lock = await acquireScopeLock(deps, pipeline, step.scope, ctx.runId);
    if (!lock.ok) decision = decideGate({ ...rule, lock });
  }
  if (decision.kind === "go") {
    if (decision.cleared !== undefined) {
      if (!(await inputs.runIsRunning())) return { blocked: false, halted: true };
      const was = decision.cleared;
      const events = [stepEvent(ctx, step, "unblocked", iso, { reason: `cleared: ${was}` })];
      await recordBlocked(deps, ctx, step, current, null, iso, `unblocked (was: ${was})`, events);
    }
    return decision.bypassed ? { blocked: false, bypassed: decision.bypassed } : { blocked: false };
  }
  const { reason, record } = decision;
  // A halted run's step neither waits nor records (it ends; see the deploy step).
  if (!(await inputs.runIsRunning())) return { blocked: false, halted: true };
  if (record) {
    const events = [stepEvent(ctx, step, "blocked", iso, { reason })];
    await recordBlocked(deps, ctx, step, current, record, iso, `blocked: ${reason}`, events);
  }
  return { blocked: true, reason, recheckSeconds: decision.recheckSeconds };
}

async function recordBlocked(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  current: ScopeState,
  blocked: ScopeState["blocked"] | null,
  at: string,
  cause: string,
  events: TimelineEvent[],
): Promise<void> {
  const result = await deps.store.transitionScope({
    pipeline: ctx.pipeline,
    scope: step.scope,
    at,
    actor: "breakwater/gate",
    cause: `run ${ctx.runId}: ${step.kind} step ${cause}`,
    expect: { status: [current.status], version: current.version },
    set: {
      version: current.version,
      percent: current.percent,
      status: current.status,
      blocked,
    },
    events,
  });
  // A concurrent writer changed the scope: the next check records the blocked state afresh.
  if (result.ok) await deps.events.publish(events.map(scopeEventBusEvent));
}
