/**
 * Runs one version through a pipeline on the real local control plane (DynamoDB Local, the
 * stage ASL in the local interpreter, the real handlers, a simulated fleet, a virtual clock)
 * and reads back everything the safety properties judge — run record, timeline, final scope
 * states and every scope's history — before the table is dropped.
 *
 * `simulate()` (src/local/simulate.ts) is the product's entry point, but it drops its table
 * before returning and does not return history; this runner builds the plane the same way.
 * It takes the DynamoDB client as a parameter (no vitest import), so benchmarks can use it too.
 */
import { randomUUID } from "node:crypto";
import { DeleteTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { runIdFor } from "../../src/app/runs.ts";
import type { CanaryObservation } from "../../src/domain/checks.ts";
import type { HistoryEntry, Run, ScopeState, TimelineEvent } from "../../src/domain/model.ts";
import type { Pipeline } from "../../src/domain/pipeline.ts";
import type {
  CanaryQuery,
  Deployer,
  DeploymentRequest,
  DeploymentStatus,
  MetricQuery,
  MetricSource,
  MinuteSample,
  TestRunner,
} from "../../src/domain/ports.ts";
import { pipelineScopes } from "../../src/domain/scope.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { type FaultSpec, type FleetOptions, SimulatedFleet } from "../../src/local/fleet.ts";

export type Durations = NonNullable<FleetOptions["durations"]>;

export interface SimOptions {
  /** DynamoDB Local (a table of the run's own, dropped at the end), or the in-memory stores. */
  dynamo: DynamoDBClient | "memory";
  pipeline: Pipeline;
  fromVersion?: string;
  version?: string;
  faults?: FaultSpec[];
  start?: Date;
  /**
   * Deployment durations per region (seconds). Regions with different speeds let a test put
   * one region's bake verdict strictly before another region's step ends.
   */
  durationsFor?: (region: string) => Durations | undefined;
  /** Other state machine definitions (tests of the tests: a deliberately broken one). */
  asl?: { stage?: string; rollback?: string };
}

export interface SimOutcome {
  pipeline: Pipeline;
  fromVersion: string;
  version: string;
  faults: FaultSpec[];
  runId: string;
  run: Run | undefined;
  timeline: TimelineEvent[];
  /** Final state per scope id. */
  scopes: Map<string, ScopeState>;
  /** History per scope id, as `store.history(pipeline, scope)` returns it. */
  history: Map<string, HistoryEntry[]>;
  /** What the fleet itself serves per scope at the end (independent of the store). */
  serving: Map<string, { stable: string; canary?: { version: string; percent: number } }>;
  simulatedSeconds: number;
  wallMs: number;
  timersFired: number;
  invocations: number;
}

/**
 * A deploy target and metric source that sends each region to its own simulated fleet, so
 * regions can deploy at different speeds. Every fleet knows every scope and every fault; a
 * scope's metrics come from its own region's fleet, the one that deployed it (its serving
 * history is the truth the detector judges).
 */
class RegionalFleet implements Deployer, MetricSource {
  private readonly fleets = new Map<string, SimulatedFleet>();

  constructor(
    private readonly make: (durations: Durations | undefined) => SimulatedFleet,
    private readonly durationsFor: (region: string) => Durations | undefined,
  ) {}

  fleetFor(region: string): SimulatedFleet {
    let fleet = this.fleets.get(region);
    if (!fleet) {
      fleet = this.make(this.durationsFor(region));
      this.fleets.set(region, fleet);
    }
    return fleet;
  }

  start(req: DeploymentRequest): Promise<{ pollSeconds: number }> {
    return this.fleetFor(req.scope.region).start(req);
  }

  status(req: DeploymentRequest): Promise<DeploymentStatus> {
    return this.fleetFor(req.scope.region).status(req);
  }

  cancel(req: DeploymentRequest): Promise<void> {
    return this.fleetFor(req.scope.region).cancel(req);
  }

  minutes(q: MetricQuery): Promise<MinuteSample[] | undefined> {
    return this.fleetFor(q.scope.region).minutes(q);
  }

  readonly testRunner: TestRunner = {
    start: (req) => this.fleetFor(req.scope.region).testRunner.start(req),
    status: (req, handle) => this.fleetFor(req.scope.region).testRunner.status(req, handle),
    stop: (req, handle) => this.fleetFor(req.scope.region).testRunner.stop(req, handle),
  };

  successPercent(q: CanaryQuery): Promise<CanaryObservation[]> {
    return this.fleetFor(q.scope.region).successPercent(q);
  }
}

export const DEFAULT_START = new Date("2025-03-03T09:00:00.000Z");

export async function runSimulation(options: SimOptions): Promise<SimOutcome> {
  const fromVersion = options.fromVersion ?? "v1";
  const version = options.version ?? "v2";
  const faults = options.faults ?? [];
  const start = options.start ?? DEFAULT_START;
  const pipeline = options.pipeline;
  const tableName = `breakwater-prop-${randomUUID()}`;
  const wallStart = performance.now();
  let regional: RegionalFleet | undefined;
  try {
    const plane = await createLocalControlPlane({
      dynamo: options.dynamo,
      ...(options.dynamo === "memory" ? {} : { tableName }),
      start,
      ...(options.asl ? { asl: options.asl } : {}),
      fleet: (clock) => {
        const make = (durations: Durations | undefined) =>
          new SimulatedFleet({
            pipeline,
            initialVersion: fromVersion,
            faults: faults.map((f) => ({ ...f, version: f.version ?? version })),
            clock,
            ...(durations ? { durations } : {}),
          });
        regional = new RegionalFleet(make, options.durationsFor ?? (() => undefined));
        return regional;
      },
    });
    await plane.register(pipeline, fromVersion);
    plane.requestRun(pipeline.name, version, "property test");
    await plane.run();
    const runId = runIdFor(pipeline.name, version);
    const run = await plane.store.getRun(runId);
    const timeline = await plane.store.timeline(runId);
    const scopes = new Map((await plane.store.listScopes(pipeline.name)).map((s) => [s.scope, s]));
    const history = new Map<string, HistoryEntry[]>();
    const serving = new Map<
      string,
      { stable: string; canary?: { version: string; percent: number } }
    >();
    for (const scope of pipelineScopes(pipeline)) {
      history.set(scope.id, await plane.store.history(pipeline.name, scope.id));
      const s = (regional as RegionalFleet).fleetFor(scope.region).servingIn(scope.id);
      if (s) serving.set(scope.id, s);
    }
    // A region's fleet only knows the deployments it ran: read each scope from its own region's
    // fleet (above), which is the one that deployed it.
    return {
      pipeline,
      fromVersion,
      version,
      faults,
      runId,
      run,
      timeline,
      scopes,
      history,
      serving,
      simulatedSeconds: (plane.clock.nowMillis() - start.getTime()) / 1000,
      wallMs: Math.round(performance.now() - wallStart),
      timersFired: plane.clock.fired,
      invocations: [...plane.sfn.invocations.values()].reduce((a, b) => a + b, 0),
    };
  } finally {
    if (options.dynamo !== "memory") {
      await options.dynamo
        .send(new DeleteTableCommand({ TableName: tableName }))
        .catch(() => undefined);
    }
  }
}
