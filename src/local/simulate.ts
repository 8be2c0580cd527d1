/**
 * `breakwater simulate`: one version through a pipeline on the local control plane, against a
 * simulated fleet, on a virtual clock. Returns the outcome, the version per scope and the
 * timeline read back from DynamoDB (the audit records, not a side channel).
 */
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { runIdFor } from "../app/runs.ts";
import { alarmNameMatches, type ManualBlock, resolveAlarmNames } from "../domain/blockers.ts";
import type { Installation } from "../domain/installation.ts";
import type { Run, ScopeStatus, TimelineEvent } from "../domain/model.ts";
import type { Pipeline } from "../domain/pipeline.ts";
import { pipelineScopes, scopeMatcher } from "../domain/scope.ts";
import type { Notifier } from "../notify/ports.ts";
import type { AlarmInterval } from "./alarms.ts";
import { createLocalControlPlane, type LocalControlPlane } from "./control-plane.ts";
import { startDynamoDbLocal } from "./dynamodb-local.ts";
import type { BusEnvelope } from "./event-bus.ts";
import { type FaultSpec, type FleetOptions, SimulatedFleet } from "./fleet.ts";

export interface SimulateOptions {
  pipeline: Pipeline;
  fromVersion: string;
  version: string;
  faults?: FaultSpec[];
  start: Date;
  /** Reuse a running DynamoDB Local (tests); otherwise one is started and stopped. */
  dynamo?: DynamoDBClient;
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

export type Outcome = "succeeded" | "rolled-back" | "halted" | "blocked" | "failed";

export interface SimulationResult {
  pipeline: string;
  version: string;
  fromVersion: string;
  outcome: Outcome;
  reason?: string;
  scopes: Record<
    string,
    { version: string; status: ScopeStatus; percent?: number; blocked?: string }
  >;
  rolledBack: string[];
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
  };
}

export class SimulationInputError extends Error {
  override name = "SimulationInputError";
}

/** Checks the simulation's own inputs (the pipeline is already validated). */
export function checkSimulationInput(
  options: Pick<SimulateOptions, "pipeline" | "fromVersion" | "version" | "faults">,
): void {
  const versionRule = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;
  for (const [flag, v] of [
    ["--from-version", options.fromVersion],
    ["--version", options.version],
  ] as const) {
    if (!versionRule.test(v)) {
      throw new SimulationInputError(
        `${flag} "${v}": must be 1-64 letters, digits, '.', '_', '+' or '-'`,
      );
    }
  }
  if (options.fromVersion === options.version) {
    throw new SimulationInputError(
      `--version "${options.version}": must differ from --from-version`,
    );
  }
  const scopes = pipelineScopes(options.pipeline).map((s) => s.id);
  for (const f of options.faults ?? []) {
    const match = scopeMatcher(f.scopes);
    if (!scopes.some(match)) {
      throw new SimulationInputError(
        `--fault "${f.scopes}": matches no scope of pipeline "${options.pipeline.name}" (scopes look like ${scopes[0]})`,
      );
    }
  }
}

function outcomeOf(
  run: Run | undefined,
  blocked: string | undefined,
  horizon: Date,
): { outcome: Outcome; reason?: string } {
  if (!run) return { outcome: "failed", reason: "the run was never created" };
  if (run.status === "succeeded") return { outcome: "succeeded" };
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
  if (run.status === "halted")
    return { outcome: "failed", reason: `run halted: ${run.haltReason}` };
  if (run.status === "running") {
    return {
      outcome: "blocked",
      reason: `still waiting at the simulation horizon ${horizon.toISOString()}${blocked ? `: ${blocked}` : ""}`,
    };
  }
  return { outcome: "failed", reason: `run ended ${run.status}` };
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
  const wallStart = performance.now();
  const local = options.dynamo ? undefined : await startDynamoDbLocal();
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
    const horizon = options.horizon ?? new Date(options.start.getTime() + 14 * 86_400_000);
    const plane = await createLocalControlPlane({
      dynamo,
      tableName,
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
            version: f.version ?? options.version,
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
    plane.requestRun(options.pipeline.name, options.version, "breakwater simulate");
    await plane.run(horizon);
    const runId = runIdFor(options.pipeline.name, options.version);
    const run = await plane.store.getRun(runId);
    const scopes = await plane.store.listScopes(options.pipeline.name);
    const timeline = await plane.store.timeline(runId);
    const waiting = scopes.find((s) => s.blocked)?.blocked?.reason;
    const { outcome, reason } = outcomeOf(run, waiting, horizon);
    const finishedAt = plane.clock.now();
    const order = new Map(pipelineScopes(options.pipeline).map((s, i) => [s.id, i]));
    scopes.sort((a, b) => (order.get(a.scope) ?? 0) - (order.get(b.scope) ?? 0));
    return {
      pipeline: options.pipeline.name,
      version: options.version,
      fromVersion: options.fromVersion,
      outcome,
      ...(reason ? { reason } : {}),
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
      rolledBack: run?.rolledBack ?? [],
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
        deploySteps: timeline.filter((e) => e.event === "deploy-started").length,
      },
    };
  } finally {
    if (options.dynamo) {
      await options.dynamo
        .send(new DeleteTableCommand({ TableName: tableName }))
        .catch(() => undefined);
    }
    await local?.stop();
  }
}
