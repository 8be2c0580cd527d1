/**
 * The whole control plane on one machine: DynamoDB Local for state, the stage and rollback
 * ASL run by the local interpreter with Task states bound to the real handlers, a local event
 * bus with the stack's rules, a simulated fleet as deploy target and metric source, simulated
 * alarms, and a virtual clock.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { createAlarmStateChangeHandler } from "../../functions/alarm-state-change.ts";
import { createArtifactPublishedHandler } from "../../functions/artifact-published.ts";
import { createDeployHandler } from "../../functions/deploy.ts";
import { createEvaluateHandler } from "../../functions/evaluate.ts";
import { logger } from "../../functions/lib/handler.ts";
import { createNotifyHandler } from "../../functions/notify.ts";
import { createPlanHandler } from "../../functions/plan.ts";
import { createPromoteHandler } from "../../functions/promote.ts";
import { createRecordHandler } from "../../functions/record.ts";
import { createRollbackHandler } from "../../functions/rollback.ts";
import { createStartRunHandler } from "../../functions/start-run.ts";
import { DynamoRunRequestStore } from "../adapters/aws/dynamo-run-requests.ts";
import { DynamoStateStore } from "../adapters/aws/dynamo-store.ts";
import { DynamoDeliveryStore, DynamoTriggerLog } from "../adapters/aws/dynamo-triggers.ts";
import { MemoryStateStore } from "../adapters/memory/memory-store.ts";
import { readApprovalTimerAsl, readRollbackAsl, readStageAsl } from "../app/asl.ts";
import type { Deps } from "../app/deps.ts";
import {
  alarmStateChangePattern,
  approvedChangePattern,
  artifactPublishedPattern,
  notificationsPattern,
  stageStatusChangePattern,
} from "../app/rules.ts";
import { InMemoryRunRequestStore, runRequestedEvent } from "../app/run-requests.ts";
import type { ManualBlock } from "../domain/blockers.ts";
import { InvalidInputError } from "../domain/errors.ts";
import type { Installation } from "../domain/installation.ts";
import type { ChangeFacts } from "../domain/model.ts";
import type { Pipeline } from "../domain/pipeline.ts";
import type {
  AlarmSource,
  CanarySource,
  Deployer,
  MetricSource,
  StateStore,
  TestRunner,
} from "../domain/ports.ts";
import type { RunRequestStore } from "../domain/run-requests.ts";
import { pipelineScopes } from "../domain/scope.ts";
import type { Notifier } from "../notify/ports.ts";
import { InMemoryTriggerLog, InMemoryWebhookDeliveryStore } from "../triggers/in-memory.ts";
import type { TriggerLog, WebhookDeliveryStore } from "../triggers/ports.ts";
import { type AlarmInterval, SimulatedAlarms } from "./alarms.ts";
import { createTable } from "./dynamodb-local.ts";
import { LocalEventBus } from "./event-bus.ts";
import { type LocalHandler, LocalStepFunctions, lambdaContext } from "./step-functions.ts";
import { VirtualClock } from "./virtual-time.ts";

export interface LocalControlPlaneOptions {
  /**
   * DynamoDB Local, with `tableName` (created here). Or `"memory"`: the in-memory twins of every
   * store (MemoryStateStore, the in-memory run-request, trigger and delivery stores), which pass
   * the same contract suites; the property tests run thousands of scenarios on them.
   */
  dynamo: DynamoDBClient | "memory";
  /** The table (DynamoDB only). */
  tableName?: string;
  start: Date;
  /**
   * Builds the deploy target and metric source (the simulated fleet) on the plane's clock; the
   * simulated fleet also runs the stages' tests (`testRunner`) and canaries (`successPercent`).
   */
  fleet: (clock: VirtualClock) => LocalFleet;
  /** Named alarms in ALARM during intervals (app or organisation alarms). */
  alarms?: AlarmInterval[] | AlarmSource;
  installation?: Installation;
  blocks?: ManualBlock[];
  asl?: { stage?: string; rollback?: string };
  /** Wraps the handlers' dependencies (tests inject crashes and slow or failing adapters). */
  wrapDeps?: (deps: Deps) => Deps;
  /** Notification channels (console, a Slack-compatible URL); none by default. */
  notifiers?: Notifier[];
}

export type LocalControlPlane = Awaited<ReturnType<typeof createLocalControlPlane>>;

/** What the local mode deploys to and reads from: a deploy target and metrics, maybe tests and canaries. */
export type LocalFleet = Deployer &
  MetricSource &
  Partial<CanarySource> & { readonly testRunner?: TestRunner };

/** The plane's stores: on DynamoDB Local (a table of their own) or in memory. */
async function createStores(
  options: Pick<LocalControlPlaneOptions, "dynamo" | "tableName">,
  clock: VirtualClock,
): Promise<{
  store: StateStore;
  runRequests: RunRequestStore;
  triggers: TriggerLog;
  deliveries: WebhookDeliveryStore;
}> {
  if (options.dynamo === "memory") {
    return {
      store: new MemoryStateStore(),
      runRequests: new InMemoryRunRequestStore(() => clock.now()),
      triggers: new InMemoryTriggerLog(),
      deliveries: new InMemoryWebhookDeliveryStore({ now: () => clock.nowMillis() }),
    };
  }
  const { dynamo, tableName } = options;
  if (!tableName) {
    throw new InvalidInputError("local control plane: tableName is required with DynamoDB", [
      { path: "tableName", message: "required when dynamo is a DynamoDB client" },
    ]);
  }
  await createTable(dynamo, tableName);
  return {
    store: new DynamoStateStore(dynamo, tableName),
    runRequests: new DynamoRunRequestStore(dynamo, tableName, () => clock.now()),
    triggers: new DynamoTriggerLog(dynamo, tableName, { now: () => clock.nowMillis() }),
    deliveries: new DynamoDeliveryStore(dynamo, tableName, () => clock.nowMillis()),
  };
}

export async function createLocalControlPlane(options: LocalControlPlaneOptions) {
  // Handlers log through Powertools; the local mode shows its own progress view instead.
  logger.setLogLevel("SILENT");
  const clock = new VirtualClock(options.start);
  const { store, runRequests, triggers, deliveries } = await createStores(options, clock);
  const bus = new LocalEventBus(clock);
  const fleet = options.fleet(clock);
  const simulatedAlarms = Array.isArray(options.alarms)
    ? new SimulatedAlarms(options.alarms)
    : undefined;
  const alarms: AlarmSource =
    simulatedAlarms ?? (options.alarms as AlarmSource | undefined) ?? new SimulatedAlarms([]);
  const deps: Deps = {
    store,
    clock,
    deployer: fleet,
    alarms,
    metrics: fleet,
    ...(fleet.testRunner ? { tests: fleet.testRunner } : {}),
    ...(fleet.successPercent ? { canaries: fleet as CanarySource } : {}),
    workflows: {
      startStage: (input) => sfn.startStage(input),
      startRollback: (input) => sfn.startRollback(input),
      startRollbackWaves: (input) => sfn.startRollbackWaves(input),
      startApprovalTimer: (input) => sfn.startApprovalTimer(input),
      stopApprovalTimer: (input) => sfn.stopApprovalTimer(input),
    },
    events: bus,
    runRequests,
    triggers,
  };
  const wrapped = options.wrapDeps ? options.wrapDeps(deps) : deps;
  const provide = () => wrapped;
  const sfn = new LocalStepFunctions(
    {
      stage: options.asl?.stage ?? readStageAsl(),
      rollback: options.asl?.rollback ?? readRollbackAsl(),
      approvalTimer: readApprovalTimerAsl(),
    },
    {
      PlanFunctionArn: createPlanHandler(provide),
      DeployFunctionArn: createDeployHandler(provide),
      EvaluateFunctionArn: createEvaluateHandler(provide),
      RollbackFunctionArn: createRollbackHandler(provide),
      RecordFunctionArn: createRecordHandler(provide),
    },
    clock,
    bus,
  );
  let requests = 0;
  const invoke = (name: string, handler: LocalHandler) => (event: unknown) => {
    sfn.invocations.set(name, (sfn.invocations.get(name) ?? 0) + 1);
    return handler(event, lambdaContext(name, `local-bus-${++requests}`));
  };
  bus.addRule(
    "promote",
    stageStatusChangePattern(sfn.stateMachineArn, sfn.approvalTimer.arn),
    invoke("breakwater-promote", createPromoteHandler(provide)),
  );
  bus.addRule(
    "start-run",
    approvedChangePattern,
    invoke("breakwater-start-run", createStartRunHandler(provide)),
  );
  bus.addRule(
    "fast-rollback",
    alarmStateChangePattern,
    invoke("breakwater-alarm-state-change", createAlarmStateChangeHandler(provide)),
  );
  bus.addRule(
    "artifact-published",
    artifactPublishedPattern,
    invoke(
      "breakwater-artifact-published",
      createArtifactPublishedHandler(async () => ({
        config: (await store.getInstallation()).github ?? [],
        publishers: (await store.getInstallation()).artifactPublishers ?? [],
        runRequests,
        deliveries,
        triggers,
        publish: (events) => bus.publish(events),
        clock,
      })) as unknown as LocalHandler,
    ),
  );
  if (options.notifiers?.length) {
    const notifiers = options.notifiers;
    bus.addRule(
      "notify",
      notificationsPattern,
      invoke("breakwater-notify", createNotifyHandler(() => notifiers) as unknown as LocalHandler),
    );
  }
  if (options.installation) await store.putInstallation(options.installation);
  for (const block of options.blocks ?? []) await store.putBlock(block);
  simulatedAlarms?.publishChanges(clock, bus);

  return {
    clock,
    store,
    bus,
    sfn,
    fleet,
    deps,
    /** Every trigger input that started, or refused to start, a run. */
    triggers,
    /** The run requests behind "Approved Change Merged" events. */
    runRequests,
    /** Registers a pipeline and seeds every scope that has no state with `initialVersion`. */
    async register(pipeline: Pipeline, initialVersion: string): Promise<void> {
      await store.putPipeline(pipeline);
      const since = clock.now().toISOString();
      await store.seedScopes(
        pipelineScopes(pipeline).map((scope) => ({
          pipeline: pipeline.name,
          scope: scope.id,
          version: initialVersion,
          percent: 100,
          status: "stable" as const,
          since,
          cause: `initial version ${initialVersion}`,
        })),
        "seed",
      );
    },
    /**
     * Requests a run as a trigger would, through the same checked path: writes the run request
     * (source `local`), then publishes its "Approved Change Merged" pointer. Asynchronous on the
     * clock, in call order; a failure surfaces from `run`.
     */
    requestRun(
      pipeline: string,
      version: string,
      cause = "requested locally",
      change: Partial<ChangeFacts> = {},
    ): void {
      clock
        .track(async () => {
          const request = await runRequests.put({
            pipeline,
            version,
            ...(change.artifactDigest ? { artifactDigest: change.artifactDigest } : {}),
            source: "local",
            writtenBy: "breakwater local",
            cause,
            change: { trigger: "local", approvers: [], ...change },
          });
          await bus.publish([runRequestedEvent(request)]);
        })
        .catch((err: unknown) => clock.fail(err));
    },
    /** Schedules real work (an engineer's action, say) at a simulated instant. */
    at(when: Date, work: () => Promise<unknown>): void {
      clock.enter(() =>
        setTimeout(
          () => {
            clock.track(work).catch((err) => clock.fail(err));
          },
          Math.max(0, when.getTime() - clock.nowMillis()),
        ),
      );
    },
    /** Advances virtual time until nothing is left to do (or until `until`). */
    run(until?: Date): Promise<number> {
      return clock.run(until ? { until } : {});
    },
  };
}
