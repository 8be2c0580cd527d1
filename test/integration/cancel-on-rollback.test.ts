/**
 * The control plane cancels an in-flight deploy when it rolls that scope back (issue "Deploy
 * real things", item 2). Without the cancel, the first deploy keeps running in the target while
 * the rollback runs, and lands after it: the scope ends on the bad version that the control plane
 * records as rolled back.
 *
 * The real local control plane (DynamoDB Local, the real stage and rollback ASL, the real
 * handlers, a virtual clock) with a simulated fleet as the deploy target. The fleet is asked
 * about the first deploy once more after the run, as the real target would finish it anyway:
 * a deploy that was not cancelled completes then.
 */
import { randomUUID } from "node:crypto";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import type { Deps } from "../../src/app/deps.ts";
import { onAlarmStateChange } from "../../src/app/fast-rollback.ts";
import { InMemoryRunRequestStore } from "../../src/app/run-requests.ts";
import { startRollback } from "../../src/app/stage-steps/index.ts";
import { InvalidInputError } from "../../src/domain/errors.ts";
import type { Run, TimelineEvent } from "../../src/domain/model.ts";
import { type Pipeline, type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import type {
  Deployer,
  DeploymentRequest,
  DeploymentStatus,
  MetricQuery,
  MetricSource,
  MinuteSample,
  RollbackExecutionInput,
} from "../../src/domain/ports.ts";
import type { AlarmInterval } from "../../src/local/alarms.ts";
import { createLocalControlPlane, type LocalControlPlane } from "../../src/local/control-plane.ts";
import { type FleetOptions, SimulatedFleet } from "../../src/local/fleet.ts";
import { InMemoryTriggerLog } from "../../src/triggers/in-memory.ts";
import { LambdaCrash } from "../support/crash.ts";
import { dynamoClient, freshStore } from "../support/dynamo.ts";

const START = new Date("2026-01-05T09:00:00Z");
const ALARM = "{pipeline}-{stage}-{region}-errors";

/** What the deploy target was asked, in order; `hooks` make chosen calls fail. */
class RecordingFleet implements Deployer, MetricSource {
  readonly calls: { method: "start" | "status" | "cancel"; req: DeploymentRequest }[] = [];

  constructor(
    readonly fleet: SimulatedFleet,
    private readonly hooks: {
      status?: (req: DeploymentRequest) => void | Promise<void>;
      cancel?: (req: DeploymentRequest, n: number) => void;
    } = {},
  ) {}

  // Polled every 30 seconds, as the AWS targets ask to be (the fleet alone asks for one poll at
  // the step's end).
  async start(req: DeploymentRequest): Promise<{ pollSeconds: number }> {
    this.calls.push({ method: "start", req });
    const { pollSeconds } = await this.fleet.start(req);
    return { pollSeconds: Math.min(pollSeconds, 30) };
  }

  async status(req: DeploymentRequest): Promise<DeploymentStatus> {
    this.calls.push({ method: "status", req });
    await this.hooks.status?.(req);
    const status = await this.fleet.status(req);
    return status.state === "in-progress"
      ? { ...status, pollSeconds: Math.min(status.pollSeconds, 30) }
      : status;
  }

  async cancel(req: DeploymentRequest): Promise<void> {
    this.calls.push({ method: "cancel", req });
    this.hooks.cancel?.(req, this.cancels().length);
    return this.fleet.cancel(req);
  }

  minutes(q: MetricQuery): Promise<MinuteSample[] | undefined> {
    return this.fleet.minutes(q);
  }

  starts(): DeploymentRequest[] {
    return this.calls.filter((c) => c.method === "start").map((c) => c.req);
  }

  cancels(): DeploymentRequest[] {
    return this.calls.filter((c) => c.method === "cancel").map((c) => c.req);
  }
}

const tables: string[] = [];
afterEach(async () => {
  for (const t of tables.splice(0)) {
    await dynamoClient()
      .send(new DeleteTableCommand({ TableName: t }))
      .catch(() => undefined);
  }
});

async function runVersion(options: {
  pipeline: Pipeline;
  durations: FleetOptions["durations"];
  alarms?: AlarmInterval[];
  hooks?: ConstructorParameters<typeof RecordingFleet>[1];
  /** Called with the plane before the run starts (a hook that needs its handlers' deps). */
  withPlane?: (plane: LocalControlPlane) => void;
}) {
  const tableName = `cancel-${randomUUID()}`;
  tables.push(tableName);
  let recording: RecordingFleet | undefined;
  const plane = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName,
    start: START,
    fleet: (clock) => {
      recording = new RecordingFleet(
        new SimulatedFleet({
          pipeline: options.pipeline,
          initialVersion: "v1",
          clock,
          ...(options.durations ? { durations: options.durations } : {}),
        }),
        options.hooks,
      );
      return recording;
    },
    ...(options.alarms ? { alarms: options.alarms } : {}),
  });
  options.withPlane?.(plane);
  await plane.register(options.pipeline, "v1");
  plane.requestRun(options.pipeline.name, "v2");
  await plane.run();
  const fleet = recording as RecordingFleet;
  const runId = `${options.pipeline.name}@v2`;
  return {
    plane,
    fleet,
    run: await plane.store.getRun(runId),
    timeline: await plane.store.timeline(runId),
    scope: (id: string) => plane.store.getScope(options.pipeline.name, id),
    history: (id: string) => plane.store.history(options.pipeline.name, id),
    /** The first deploy, asked about once more half an hour in (after it would have completed). */
    async lateStatus(req: DeploymentRequest) {
      let status: DeploymentStatus | undefined;
      plane.at(new Date(START.getTime() + 30 * 60_000), async () => {
        status = await fleet.fleet.status(req);
      });
      await plane.run();
      return status;
    },
  };
}

const pipelineOf = (input: Partial<PipelineInput>) =>
  parsePipeline({
    name: "orders-api",
    alarms: [ALARM],
    stages: [{ name: "beta", regions: ["us-east-1"], bake: { minutes: 5 } }],
    ...input,
  });

const timelineOf = (events: TimelineEvent[], scope: string) =>
  events
    .filter((e) => e.scope === scope)
    .map((e) => `${e.step} ${e.event}${e.outcome ? ` ${e.outcome}` : ""}`);

describe("an in-flight deploy is cancelled when its scope is rolled back", () => {
  it("fast rollback: an alarm during a slow full deploy cancels it; it never lands, and the scope is rolled back", async () => {
    const scope = "beta/us-east-1";
    const o = await runVersion({
      pipeline: pipelineOf({}),
      // The deploy takes 20 minutes; the alarm fires 5 minutes in.
      durations: { full: 1200, rollback: 120 },
      alarms: [
        { name: "orders-api-beta-us-east-1-errors", from: new Date("2026-01-05T09:05:00Z") },
      ],
    });
    const deploy = o.fleet.starts().find((r) => r.kind === "full" && r.version === "v2");
    expect(deploy).toBeDefined();
    const d = deploy as DeploymentRequest;
    // The very deployment the deploy step started, cancelled before the rollback started.
    expect(o.fleet.cancels().map((r) => r.deploymentId)).toContain(d.deploymentId);
    const order = o.fleet.calls
      .filter((c) => c.method !== "status")
      .map((c) => `${c.method} ${c.req.kind} ${c.req.version}`);
    expect(order.indexOf("cancel full v2")).toBeGreaterThanOrEqual(0);
    expect(order.indexOf("cancel full v2")).toBeLessThan(order.indexOf("start rollback v1"));
    // The first deploy never lands, even when the target is asked after it would have finished.
    expect(await o.lateStatus(d)).toEqual({ state: "failed", reason: "cancelled" });
    expect(o.fleet.fleet.servingIn(scope)).toEqual({ stable: "v1" });
    expect(await o.scope(scope)).toMatchObject({ version: "v1", status: "rolled-back" });
    expect(o.run?.status).toBe("halted");
    // The cancel is on the scope's timeline, between the deploy's start and the rollback's.
    expect(timelineOf(o.timeline, scope)).toEqual([
      "full deploy-started",
      "full deploy-finished cancelled",
      "full rollback-started",
      "full rollback-finished",
    ]);
    const rollingBack = (await o.history(scope)).find((h) => h.status === "rolling-back");
    expect(rollingBack?.fromStatus).toBe("deploying");
    expect(rollingBack?.cause).toContain("cancels the in-flight full deploy of v2");
  });

  it("fast rollback during a one-box deploy cancels the one-box deployment (its own id, kind and percent)", async () => {
    const scope = "prod/us-east-1/use1-az1";
    const o = await runVersion({
      pipeline: pipelineOf({
        stages: [
          {
            name: "prod",
            regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }],
            oneBox: true,
            bake: { minutes: 5 },
          },
        ],
      }),
      durations: { oneBox: 1200, rollback: 120 },
      alarms: [
        { name: "orders-api-prod-us-east-1-errors", from: new Date("2026-01-05T09:05:00Z") },
      ],
    });
    const oneBox = o.fleet.starts().find((r) => r.kind === "one-box") as DeploymentRequest;
    expect(oneBox.scope.id).toBe(scope);
    const cancelled = o.fleet.cancels().filter((r) => r.deploymentId === oneBox.deploymentId);
    expect(cancelled.length).toBeGreaterThan(0);
    expect(cancelled[0]).toMatchObject({ kind: "one-box", percent: 10, version: "v2" });
    expect(await o.lateStatus(oneBox)).toEqual({ state: "failed", reason: "cancelled" });
    expect(o.fleet.fleet.servingIn(scope)).toEqual({ stable: "v1" });
    expect(await o.scope(scope)).toMatchObject({ version: "v1", status: "rolled-back" });
    // The other AZ never started.
    expect(o.fleet.starts().filter((r) => r.scope.id !== scope)).toEqual([]);
  });

  it("the stage's own rollback of an erroring deploy step cancels the deploy still running", async () => {
    const scope = "beta/us-east-1";
    const o = await runVersion({
      pipeline: pipelineOf({ alarms: [] }),
      durations: { full: 1200, rollback: 120 },
      hooks: {
        // The target answers the deploy's status with nonsense: the step errors (not retried)
        // and the stage rolls the scope back while the deploy itself still runs.
        status: (req) => {
          if (req.kind !== "rollback")
            throw new InvalidInputError("deploy target answered garbage");
        },
      },
    });
    const deploy = o.fleet.starts().find((r) => r.kind === "full") as DeploymentRequest;
    expect(o.fleet.cancels().map((r) => r.deploymentId)).toContain(deploy.deploymentId);
    expect(await o.lateStatus(deploy)).toEqual({ state: "failed", reason: "cancelled" });
    expect(o.fleet.fleet.servingIn(scope)).toEqual({ stable: "v1" });
    expect(await o.scope(scope)).toMatchObject({ version: "v1", status: "rolled-back" });
    expect(timelineOf(o.timeline, scope)).toContain("full deploy-finished cancelled");
  });

  it("a rollback that dies right after recording the cancel cancels again on its retry (crash-safe)", async () => {
    const scope = "beta/us-east-1";
    const o = await runVersion({
      pipeline: pipelineOf({}),
      durations: { full: 1200, rollback: 120 },
      alarms: [
        { name: "orders-api-beta-us-east-1-errors", from: new Date("2026-01-05T09:05:00Z") },
      ],
      hooks: {
        // The first cancel never reaches the target: the function was killed just before.
        cancel: (_req, n) => {
          if (n === 1) throw new LambdaCrash("killed before the cancel");
        },
      },
    });
    const deploy = o.fleet.starts().find((r) => r.kind === "full") as DeploymentRequest;
    const cancels = o.fleet.cancels().filter((r) => r.deploymentId === deploy.deploymentId);
    expect(cancels.length).toBeGreaterThanOrEqual(2);
    expect(await o.lateStatus(deploy)).toEqual({ state: "failed", reason: "cancelled" });
    expect(await o.scope(scope)).toMatchObject({ version: "v1", status: "rolled-back" });
    // Recorded once, however many times the cancel was sent.
    expect(
      timelineOf(o.timeline, scope).filter((e) => e === "full deploy-finished cancelled"),
    ).toHaveLength(1);
  });

  it("a deploy step that reads its deploy as failed just after a rollback cancelled it ends quietly (no second rollback)", async () => {
    const scope = "beta/us-east-1";
    let plane: LocalControlPlane | undefined;
    let raced = false;
    const ctx = { runId: "orders-api@v2", pipeline: "orders-api", version: "v2", stage: "beta" };
    const step = {
      scope,
      region: "us-east-1",
      kind: "full" as const,
      percent: 100,
      bakeSeconds: 300,
    };
    const o = await runVersion({
      pipeline: pipelineOf({}),
      durations: { full: 1200, rollback: 120 },
      withPlane: (p) => {
        plane = p;
      },
      hooks: {
        // In AWS the rollback execution runs beside the stage's: here its first task lands
        // between the deploy step's read of the scope and its status call, five minutes in.
        status: async (req) => {
          const p = plane as LocalControlPlane;
          if (raced || req.kind !== "full" || p.clock.nowMillis() < START.getTime() + 5 * 60_000) {
            return;
          }
          raced = true;
          const why = {
            kind: "alarm" as const,
            details: "orders-api-beta-us-east-1-errors in ALARM",
          };
          await startRollback(p.deps, ctx, step, `alarm: ${why.details}`, 1);
          await p.deps.workflows.startRollback({ ctx, step, why });
        },
      },
    });
    expect(raced).toBe(true);
    expect(await o.scope(scope)).toMatchObject({ version: "v1", status: "rolled-back" });
    expect(timelineOf(o.timeline, scope)).toEqual([
      "full deploy-started",
      "full deploy-finished cancelled",
      "full rollback-started",
      "full rollback-finished",
    ]);
    expect(o.run?.haltReason).toBe("rollback");
    // Nothing announced the deploy as failed, and only the rollback execution rolled back.
    const outcomes = o.plane.bus.log
      .filter((e) => e["detail-type"] === "Breakwater Scope Event")
      .map((e) => e.detail as { event: string; outcome?: string })
      .filter((d) => d.event === "deploy-finished")
      .map((d) => d.outcome);
    expect(outcomes.length).toBeGreaterThan(0);
    expect(outcomes.every((x) => x === "cancelled")).toBe(true);
    expect(o.fleet.starts().filter((r) => r.kind === "rollback")).toHaveLength(2);
  });

  it("a bake's rollback cancels nothing (the deploy had finished)", async () => {
    const scope = "beta/us-east-1";
    const o = await runVersion({
      pipeline: pipelineOf({}),
      durations: { full: 120, rollback: 120 },
      alarms: [
        { name: "orders-api-beta-us-east-1-errors", from: new Date("2026-01-05T09:04:00Z") },
      ],
    });
    expect(o.fleet.cancels()).toEqual([]);
    expect(await o.scope(scope)).toMatchObject({ version: "v1", status: "rolled-back" });
    expect(timelineOf(o.timeline, scope)).not.toContain("full deploy-finished cancelled");
  });
});

describe("the fast path cancels the deploy of the stage's current attempt", () => {
  it("after a retry decision (attempt 2) the cancel names the attempt's deployment, which the alarm's context does not carry", async () => {
    const { store, table } = await freshStore();
    tables.push(table);
    const now = new Date("2026-01-05T09:03:00Z");
    const at = now.toISOString();
    const calls: { method: string; req: DeploymentRequest }[] = [];
    const rollbacks: RollbackExecutionInput[] = [];
    const unused = (what: string) => () => {
      throw new Error(`must not call ${what}`);
    };
    const deps: Deps = {
      store,
      clock: { now: () => now },
      deployer: {
        start: async (req) => {
          calls.push({ method: "start", req });
          return { pollSeconds: 30 };
        },
        status: unused("deployer.status"),
        cancel: async (req) => {
          calls.push({ method: "cancel", req });
        },
      },
      alarms: { describe: unused("alarms.describe") },
      metrics: { minutes: unused("metrics.minutes") },
      workflows: {
        startStage: unused("workflows.startStage"),
        startApprovalTimer: unused("workflows.startApprovalTimer"),
        startRollback: async (input) => {
          rollbacks.push(structuredClone(input));
          return { executionId: "rb" };
        },
        startRollbackWaves: unused("workflows.startRollbackWaves"),
      },
      events: { publish: async () => {} },
      runRequests: new InMemoryRunRequestStore(),
      triggers: new InMemoryTriggerLog(),
    };
    const definition = pipelineOf({});
    await store.putPipeline(definition);
    const scope = "beta/us-east-1";
    await store.seedScope(
      {
        pipeline: "orders-api",
        scope,
        version: "v1",
        percent: 100,
        status: "stable",
        since: at,
        cause: "seed",
      },
      "seed",
    );
    const run: Run = {
      runId: "orders-api@v2",
      seq: 1,
      pipeline: "orders-api",
      version: "v2",
      status: "running",
      definition,
      createdAt: at,
      updatedAt: at,
      currentStage: "beta",
      stages: { beta: { status: "running", startedAt: at } },
      attempts: { beta: 2 },
      rolledBack: [],
      cause: "test",
    };
    expect(await store.createRun(run)).toBe(true);
    // The second attempt's full deploy is in flight.
    const deploying = await store.transitionScope({
      pipeline: "orders-api",
      scope,
      at,
      actor: "breakwater/deploy",
      cause: "run orders-api@v2: full deploy of v2 (100%)",
      expect: { status: ["stable"] },
      set: {
        version: "v2",
        previousVersion: "v1",
        percent: 100,
        status: "deploying",
        runId: run.runId,
      },
    });
    expect(deploying.ok).toBe(true);

    await onAlarmStateChange(deps, {
      alarmName: "orders-api-beta-us-east-1-errors",
      region: "us-east-1",
      state: "ALARM",
    });
    expect(rollbacks).toHaveLength(1);
    const input = rollbacks[0] as RollbackExecutionInput;
    expect(input.ctx.attempt).toBeUndefined();
    await startRollback(deps, input.ctx, input.step, `alarm: ${input.why.details}`, 1);
    expect(calls.map((c) => `${c.method} ${c.req.deploymentId}`)).toEqual([
      "cancel orders-api@v2|beta/us-east-1|full|attempt-2",
      `start ${calls[1]?.req.deploymentId}`,
    ]);
    expect(calls[1]?.req).toMatchObject({ kind: "rollback", version: "v1" });
  });
});
