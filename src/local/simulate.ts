/**
 * `breakwater simulate`: one or several versions through a pipeline on the local control plane,
 * against a simulated fleet, on a virtual clock, with the engineer's decisions scripted. Returns the outcome, the version per scope and the
 * timeline read back from DynamoDB (the audit records, not a side channel).
 */
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { awaitsDecision, isFinal } from "../app/lanes.ts";
import { applyOverride } from "../app/override.ts";
import type { DecisionAction } from "../app/run-decisions.ts";
import { runIdFor } from "../app/runs.ts";
import { alarmNameMatches, type ManualBlock, resolveAlarmNames } from "../domain/blockers.ts";
import { BreakwaterError } from "../domain/errors.ts";
import type { Installation } from "../domain/installation.ts";
import { compareEvents, type Run, type ScopeStatus, type TimelineEvent } from "../domain/model.ts";
import { waitsOnApproval } from "../domain/next-after-stage.ts";
import { clip, type Pipeline } from "../domain/pipeline.ts";
import { pipelineScopes, scopeGlobProblem, scopeMatcher } from "../domain/scope.ts";
import { versionProblem } from "../domain/version.ts";
import type { Notifier } from "../notify/ports.ts";
import type { AlarmInterval } from "./alarms.ts";
import { createLocalControlPlane, type LocalControlPlane } from "./control-plane.ts";
import { startDynamoDbLocal } from "./dynamodb-local.ts";
import type { BusEnvelope } from "./event-bus.ts";
import {
  type FaultSpec,
  type FleetOptions,
  type LocalTarget,
  localTargets,
  SimulatedFleet,
} from "./fleet.ts";
import { countStoreCalls, type StoreCallCounts } from "./store-calls.ts";

/** A version arriving (an approved change merging) at a simulated time. */
export interface Arrival {
  version: string;
  at: Date;
}

/** An engineer's decision, scripted at a simulated time (`--decide`). */
export interface ScriptedDecision {
  action: DecisionAction;
  /** Default: the oldest run awaiting a decision (roll-forward: the newest run in flight). */
  version?: string;
  at: Date;
  /** rollback-all: every scope at once instead of wave by wave (`--decide rollback-all!fast@…`). */
  fast?: boolean;
}

export interface SimulateOptions {
  pipeline: Pipeline;
  fromVersion: string;
  /** The first version, arriving at the start (when `versions` is not given). */
  version: string;
  /** Several versions with their arrival times (`--version v2 --version v3@+90m`). */
  versions?: Arrival[];
  /** The engineer's scripted decisions. */
  decisions?: ScriptedDecision[];
  faults?: FaultSpec[];
  start: Date;
  /**
   * Reuse a running DynamoDB Local (tests), or `"memory"`: the in-memory stores (the property
   * tests); otherwise a DynamoDB Local is started and stopped.
   */
  dynamo?: DynamoDBClient | "memory";
  /** Sees every bus event as it happens (the live progress view). */
  onEvent?: (event: BusEnvelope, plane: LocalControlPlane) => void;
  fleet?: Pick<FleetOptions, "requestsPerMinute" | "durations" | "baseline" | "traffic">;
  /** Named alarms in ALARM during intervals; a name the pipeline does not use is organisation-wide. */
  alarms?: AlarmInterval[];
  /** Manual blocks in force during the simulation. */
  blocks?: ManualBlock[];
  /** The installation's configuration (organisation alarms, region overrides, recheck interval). */
  installation?: Installation;
  /** The simulation stops at this simulated time even if the run is still waiting (default +14 days). */
  horizon?: Date;
  /** Notification channels (the local mode's console, a Slack-compatible URL). */
  notifiers?: Notifier[];
}

export type Outcome =
  | "succeeded"
  | "rolled-back"
  | "halted"
  | "blocked"
  | "superseded"
  | "cancelled"
  | "failed";

/** One version's run, as the simulation ended. */
export interface RunSummary {
  version: string;
  arrivedAt: string;
  outcome: Outcome;
  reason?: string;
  /**
   * Where it halted: the stage (its own halt, or inside it behind an older version's rollback)
   * or `before <stage>` (at a boundary behind an older halt).
   */
  haltedAt?: string;
  supersededBy?: string;
}

export interface SimulationResult {
  pipeline: string;
  /** The newest version (the one whose outcome is `outcome`). */
  version: string;
  fromVersion: string;
  outcome: Outcome;
  reason?: string;
  /** Every version's run, in arrival order. */
  runs: RunSummary[];
  /** The scripted decisions and what each did. */
  decisions: { at: string; action: string; version?: string; effect: string }[];
  scopes: Record<
    string,
    { version: string; status: ScopeStatus; percent?: number; blocked?: string }
  >;
  rolledBack: string[];
  /** Each stage's target type and the simulated seconds its one-box, full and rollback steps took. */
  targets: LocalTarget[];
  stages: { stage: string; status: string; startedAt: string; finishedAt?: string }[];
  timeline: Omit<TimelineEvent, "runId" | "pipeline">[];
  startedAt: string;
  finishedAt: string;
  simulatedSeconds: number;
  wallMs: number;
  /** Measures for benchmarks. */
  stats: {
    timersFired: number;
    stateTransitions: number;
    invocations: Record<string, number>;
    deploySteps: number;
    /**
     * DynamoDB calls the control plane made during the rollout (from the first run request to
     * the end; the table's creation and the scopes' seeding are the simulation's set-up). On
     * the memory stores (tests only) there are no DynamoDB calls: all zero.
     */
    storeCalls: StoreCallCounts;
    /** `storeCalls.total` over `deploySteps` (0 when no step ran). */
    storeCallsPerStep: number;
  };
}

/** How long a simulation runs when no horizon is given: 14 simulated days. */
export const DEFAULT_HORIZON_MS = 14 * 86_400_000;

export class SimulationInputError extends BreakwaterError {
  override name = "SimulationInputError";
}

/** Checks the simulation's own inputs (the pipeline is already validated). */
export function checkSimulationInput(
  options: Pick<SimulateOptions, "pipeline" | "fromVersion" | "version" | "faults" | "versions">,
): void {
  const versions = (options.versions ?? [{ version: options.version }]).map((a) => a.version);
  for (const [flag, v] of [
    ["--from-version", options.fromVersion],
    ...versions.map((v) => ["--version", v] as const),
  ] as const) {
    const problem = versionProblem(v);
    // A long value is cut in the message: the message names it, it need not repeat 100 KB.
    if (problem) throw new SimulationInputError(`${flag} "${clip(v)}": ${problem}`);
  }
  for (const [i, v] of versions.entries()) {
    if (v === options.fromVersion) {
      throw new SimulationInputError(`--version "${v}": must differ from --from-version`);
    }
    if (versions.indexOf(v) !== i) {
      throw new SimulationInputError(`--version "${v}": given twice (versions are immutable)`);
    }
  }
  for (const f of options.faults ?? []) {
    if (f.version !== undefined && !versions.includes(f.version)) {
      throw new SimulationInputError(
        `--fault "${f.version}:${f.scopes}": version "${f.version}" is not one of the --version values (${versions.join(", ")})`,
      );
    }
  }
  for (const f of options.faults ?? []) {
    const problem =
      scopeGlobProblem(f.scopes, options.pipeline) ?? checksFaultProblem(f, options.pipeline);
    if (problem) throw new SimulationInputError(`--fault "${f.scopes}": ${problem}`);
  }
}

/**
 * A `tests` or `canary` fault that no test or canary could see (none of the matched scopes'
 * stages has any) would silently change nothing: refused, naming what is missing.
 */
function checksFaultProblem(f: FaultSpec, pipeline: Pipeline): string | undefined {
  if (f.kind !== "tests" && f.kind !== "canary") return undefined;
  const field = f.kind === "tests" ? "tests" : "canaries";
  const match = scopeMatcher(f.scopes);
  const stages = new Set(
    pipelineScopes(pipeline)
      .filter((s) => match(s.id))
      .map((s) => s.stage),
  );
  const seen = pipeline.stages.some((s) => stages.has(s.name) && (s[field] ?? []).length > 0);
  return seen
    ? undefined
    : `a ${f.kind} fault needs stages[].${field}, and no stage it matches (${[...stages].join(", ")}) has any`;
}

function outcomeOf(
  run: Run | undefined,
  blocked: string | undefined,
  horizon: Date,
): { outcome: Outcome; reason?: string } {
  if (!run) return { outcome: "failed", reason: "the run was never created" };
  if (run.status === "succeeded") return { outcome: "succeeded" };
  const decided = run.decision
    ? ` (${run.decision.action} by ${run.decision.actor}: ${run.decision.reason})`
    : "";
  if (run.status === "rolled-back")
    return { outcome: "rolled-back", reason: `rollback-all${decided}` };
  if (run.status === "superseded") {
    return {
      outcome: "superseded",
      reason: `superseded by ${run.supersededBy?.split("@").slice(1).join("@") ?? "a newer version"}${decided}`,
    };
  }
  if (run.status === "cancelled") return { outcome: "cancelled", reason: `cancelled${decided}` };
  if (
    run.status === "halted" &&
    (run.haltReason === "rollback" || run.haltReason === "deploy-failed")
  ) {
    return {
      outcome: "rolled-back",
      reason: `${run.haltedBy} rolled back${run.haltDetail ? ` (${run.haltDetail})` : ""}`,
    };
  }
  if (run.status === "halted" && run.haltReason === "inconclusive") {
    return {
      outcome: "halted",
      reason: `${run.haltedBy}: ${run.haltDetail ?? "bake inconclusive"}`,
    };
  }
  if (run.status === "halted" && run.haltReason === "older-version-halted") {
    return { outcome: "halted", reason: run.haltDetail ?? `stopped behind ${run.haltedBy}` };
  }
  if (run.status === "halted" && run.haltReason === "approval-timeout") {
    return { outcome: "halted", reason: run.haltDetail ?? "its approval timed out" };
  }
  if (run.status === "halted")
    return { outcome: "failed", reason: `run halted: ${run.haltReason}` };
  if (run.status === "awaiting-approval") {
    return {
      outcome: "blocked",
      reason: `awaiting approval of ${run.approval?.stage ?? run.currentStage} (until ${run.approval?.deadline ?? "?"}) at the simulation horizon ${horizon.toISOString()}`,
    };
  }
  if (run.status === "running" || run.status === "waiting") {
    return {
      outcome: "blocked",
      reason: `still ${run.status === "waiting" ? `waiting for ${run.waitingFor}` : "running"} at the simulation horizon ${horizon.toISOString()}${blocked ? `: ${blocked}` : ""}`,
    };
  }
  return { outcome: "failed", reason: `run ended ${run.status}` };
}

function summarize(
  run: Run | undefined,
  arrival: Arrival,
  blocked: string | undefined,
  horizon: Date,
): RunSummary {
  const { outcome, reason } = outcomeOf(run, blocked, horizon);
  const haltedAt =
    run?.status === "halted"
      ? run.haltReason === "older-version-halted" && run.nextStage
        ? `before ${run.nextStage}`
        : run.currentStage
      : undefined;
  return {
    version: arrival.version,
    arrivedAt: arrival.at.toISOString(),
    outcome,
    ...(reason ? { reason } : {}),
    ...(haltedAt ? { haltedAt } : {}),
    ...(run?.supersededBy ? { supersededBy: run.supersededBy.split("@").slice(1).join("@") } : {}),
  };
}

/** The run a scripted decision without a version is about. */
function decisionTarget(action: DecisionAction, runs: Run[]): Run | undefined {
  if (action === "roll-forward") return [...runs].reverse().find((r) => !isFinal(r));
  if (action === "cancel") return runs.find((r) => r.status === "halted" || r.status === "waiting");
  if (action === "approve" || action === "reject") return runs.find((r) => waitsOnApproval(r));
  return runs.find(awaitsDecision);
}

/** Alarm names the pipeline uses for some scope (app alarms); other names are organisation-wide. */
function appAlarmNames(pipeline: Pipeline): Set<string> {
  const names = new Set<string>();
  const templates = [...(pipeline.alarms ?? []), ...(pipeline.oneBoxAlarms ?? [])];
  for (const scope of pipelineScopes(pipeline)) {
    for (const n of resolveAlarmNames(templates, pipeline.name, scope)) names.add(n);
  }
  return names;
}

export async function simulate(options: SimulateOptions): Promise<SimulationResult> {
  checkSimulationInput(options);
  const arrivals = [
    ...(options.versions ?? [{ version: options.version, at: options.start }]),
  ].sort((a, b) => a.at.getTime() - b.at.getTime());
  const wallStart = performance.now();
  // Its own DynamoDB Local lives for this one simulation: started for a short life.
  const local = options.dynamo ? undefined : await startDynamoDbLocal({ quickStart: true });
  const dynamo = options.dynamo ?? (local as NonNullable<typeof local>).client();
  const tableName = `breakwater-sim-${randomUUID()}`;
  try {
    // A name one of the pipeline's alarm names (or prefixes) designates is an app alarm.
    const app = [...appAlarmNames(options.pipeline)];
    const isApp = (name: string) => app.some((n) => alarmNameMatches(n, name));
    const orgNames = [
      ...new Set((options.alarms ?? []).map((a) => a.name).filter((n) => !isApp(n))),
    ];
    const installation: Installation = {
      ...options.installation,
      orgAlarms: [...(options.installation?.orgAlarms ?? []), ...orgNames],
    };
    const horizon = options.horizon ?? new Date(options.start.getTime() + DEFAULT_HORIZON_MS);
    const plane = await createLocalControlPlane({
      dynamo,
      ...(dynamo === "memory" ? {} : { tableName }),
      start: options.start,
      alarms: options.alarms ?? [],
      blocks: options.blocks ?? [],
      installation,
      ...(options.notifiers ? { notifiers: options.notifiers } : {}),
      fleet: (clock) =>
        new SimulatedFleet({
          pipeline: options.pipeline,
          initialVersion: options.fromVersion,
          faults: (options.faults ?? []).map((f) => ({
            ...f,
            version: f.version ?? (arrivals[0] as Arrival).version,
          })),
          clock,
          ...options.fleet,
        }),
    });
    if (options.onEvent) {
      const onEvent = options.onEvent;
      plane.bus.observe((e) => onEvent(e, plane));
    }
    await plane.register(options.pipeline, options.fromVersion);
    // Counted at the DynamoDB client: the memory stores (tests) make no calls to count.
    const calls =
      dynamo === "memory"
        ? {
            counts: (): StoreCallCounts => ({
              total: 0,
              byOperation: {},
              capacity: { read: 0, write: 0 },
              latencyMs: 0,
            }),
            stop: () => {},
          }
        : countStoreCalls(dynamo, tableName);
    const name = options.pipeline.name;
    for (const arrival of arrivals) {
      plane.at(arrival.at, async () =>
        plane.requestRun(name, arrival.version, "breakwater simulate", {
          mergedAt: arrival.at.toISOString(),
        }),
      );
    }
    const decisions: SimulationResult["decisions"] = [];
    for (const d of options.decisions ?? []) {
      plane.at(d.at, async () => {
        const at = plane.clock.now().toISOString();
        const target =
          d.version ?? decisionTarget(d.action, await plane.store.listRuns(name))?.version;
        if (!target) {
          decisions.push({ at, action: d.action, effect: "not applied: no run it applies to" });
          return;
        }
        try {
          const result = await applyOverride(
            plane.deps,
            {
              action: d.action,
              pipeline: name,
              version: target,
              actor: "simulate",
              reason: "scripted decision (--decide)",
              ...(d.fast ? { fast: true } : {}),
            },
            // The simulation runs on the engineer's own machine: the script is the caller.
            { principal: { arn: "local:simulate" } },
          );
          decisions.push({ at, action: d.action, version: target, effect: result.effect });
        } catch (err) {
          decisions.push({
            at,
            action: d.action,
            version: target,
            effect: `rejected: ${(err as Error).message}`,
          });
        }
      });
    }
    await plane.run(horizon).finally(() => calls.stop());
    const storeCalls = calls.counts();
    const newest = arrivals.at(-1) as Arrival;
    const runId = runIdFor(name, newest.version);
    const run = await plane.store.getRun(runId);
    const scopes = await plane.store.listScopes(name);
    const timeline = (
      await Promise.all(arrivals.map((a) => plane.store.timeline(runIdFor(name, a.version))))
    )
      .flat()
      .sort(compareEvents);
    const waiting = scopes.find((s) => s.blocked)?.blocked?.reason;
    const runs: RunSummary[] = [];
    for (const a of arrivals) {
      runs.push(
        summarize(await plane.store.getRun(runIdFor(name, a.version)), a, waiting, horizon),
      );
    }
    const { outcome, reason } = runs.at(-1) as RunSummary;
    const finishedAt = plane.clock.now();
    const deploySteps = timeline.filter((e) => e.event === "deploy-started").length;
    const order = new Map(pipelineScopes(options.pipeline).map((s, i) => [s.id, i]));
    scopes.sort((a, b) => (order.get(a.scope) ?? 0) - (order.get(b.scope) ?? 0));
    return {
      pipeline: options.pipeline.name,
      version: newest.version,
      fromVersion: options.fromVersion,
      outcome,
      ...(reason ? { reason } : {}),
      runs,
      decisions,
      scopes: Object.fromEntries(
        scopes.map((s) => [
          s.scope,
          {
            version: s.version,
            status: s.status,
            ...(s.percent < 100 ? { percent: s.percent } : {}),
          },
        ]),
      ),
      rolledBack: [
        ...new Set(
          arrivals.flatMap((a) =>
            timeline
              .filter((e) => e.version === a.version && e.event === "rollback-finished")
              .map((e) => e.scope),
          ),
        ),
      ],
      targets: localTargets(options.pipeline, options.fleet?.durations),
      stages: options.pipeline.stages
        .filter((s) => run?.stages[s.name])
        .map((s) => {
          const p = run?.stages[s.name];
          return {
            stage: s.name,
            status: p?.status ?? "pending",
            startedAt: p?.startedAt ?? "",
            ...(p?.finishedAt ? { finishedAt: p.finishedAt } : {}),
          };
        }),
      timeline: timeline.map(({ runId: _r, pipeline: _p, ...e }) => e),
      startedAt: options.start.toISOString(),
      finishedAt: finishedAt.toISOString(),
      simulatedSeconds: Math.round((finishedAt.getTime() - options.start.getTime()) / 1000),
      wallMs: Math.round(performance.now() - wallStart),
      stats: {
        timersFired: plane.clock.fired,
        stateTransitions: plane.sfn.counters.transitions,
        invocations: Object.fromEntries(plane.sfn.invocations),
        deploySteps,
        storeCalls,
        storeCallsPerStep: deploySteps
          ? Math.round((storeCalls.total / deploySteps) * 100) / 100
          : 0,
      },
    };
  } finally {
    if (options.dynamo && options.dynamo !== "memory") {
      await options.dynamo
        .send(new DeleteTableCommand({ TableName: tableName }))
        .catch(() => undefined);
    }
    await local?.stop();
  }
}
