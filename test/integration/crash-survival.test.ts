/**
 * A run survives a crash of any handler mid-step. Each case makes one handler "die" right
 * after its N-th store write (the write is durable; nothing after it in that invocation
 * happens, not even another write or publish), the way a Lambda function is killed by a
 * timeout or running out of memory. Step Functions reports such a task as `Lambda.Unknown`
 * (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html) and
 * the ASL retries it; an event-driven handler (start-run, promote) is invoked again by Lambda's
 * asynchronous retries, which the local bus reproduces. The run must end exactly as a crash-free
 * run does: the same outcome, the same final version per scope, and per scope the same history
 * of transitions, none lost, none duplicated.
 */
import { randomUUID } from "node:crypto";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { DetailType, SOURCE } from "../../src/app/events.ts";
import { applyOverride } from "../../src/app/override.ts";
import type { HistoryEntry } from "../../src/domain/model.ts";
import { type Pipeline, type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { pipelineScopes } from "../../src/domain/scope.ts";
import type { AlarmInterval } from "../../src/local/alarms.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { type FaultSpec, SimulatedFleet } from "../../src/local/fleet.ts";
import { CrashInjector, type CrashPoint, crashPoints, type EffectLog } from "../support/crash.ts";
import { dynamoClient } from "../support/dynamo.ts";

const START = new Date("2026-01-05T09:00:00Z");

const pipelineInput: PipelineInput = {
  name: "orders-api",
  stages: [
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 5 } },
    {
      name: "prod",
      regions: [{ region: "eu-west-1", azs: ["euw1-az1", "euw1-az2"] }],
      oneBox: true,
      bake: { minutes: 10 },
    },
  ],
};
const pipeline = parsePipeline(pipelineInput);
/** The same pipeline with an app alarm per stage and region (fast rollback). */
const alarmed = parsePipeline({ ...pipelineInput, alarms: ["{pipeline}-{stage}-{region}-errors"] });
/** The new version is unhealthy in the second AZ: its bake fails and it is rolled back. */
const FAULTY: FaultSpec[] = [{ version: "v2", scopes: "prod/eu-west-1/euw1-az2", kind: "faults" }];

/** The application entry point of each step, outermost first in a stack trace's reading. */
const STEPS = {
  "start-run": "startRun",
  promote: "onStageExecutionStatus",
  plan: "planStageForRun",
  "deploy start": "startDeploy",
  "deploy status": "checkDeploy",
  evaluate: "evaluateStep",
  "record step": "recordStep",
  "finish-stage": "finishStage",
  "rollback start": "startRollback",
  "rollback status": "checkRollback",
  "fast rollback": "onAlarmStateChange",
} as const;
type Step = keyof typeof STEPS;

/** Which step the current store call belongs to: the outermost step function on the stack. */
function currentStep(): Step | undefined {
  const stack = new Error().stack ?? "";
  let found: Step | undefined;
  let at = -1;
  for (const [step, fn] of Object.entries(STEPS) as [Step, string][]) {
    const i = stack.lastIndexOf(` ${fn} (`);
    const j = stack.lastIndexOf(`async ${fn} (`);
    const k = Math.max(i, j);
    if (k > at) {
      at = k;
      found = step;
    }
  }
  return found;
}

interface Outcome {
  status: string | undefined;
  /** The newer version's run at the end: status, halt reason, halted by. */
  newer?: string;
  scopes: Record<string, { version: string; status: string; percent: number }>;
  history: Record<string, string[]>;
  /** Side effects per invocation of each step (for choosing crash points). */
  effects: EffectLog;
  crashes: number;
  timeline: string[];
  /** Distinct deployments the deploy target was asked to start. */
  deployments: string[];
  /** Distinct deployments the deploy target was asked to cancel (a rollback of an in-flight deploy). */
  cancelled: string[];
  /** Stage and rollback executions started (each name once: Step Functions refuses a second). */
  executions: string[];
  /** Breakwater's run and scope events on the bus, in order (what notifications are made of). */
  published: string[];
}

function transition(h: HistoryEntry): string {
  return `${h.fromVersion ?? "-"}→${h.toVersion} ${h.fromStatus ?? "-"}→${h.status} ${h.percent}% by ${h.actor}`;
}

interface Scenario {
  name: string;
  pipeline: Pipeline;
  faults: FaultSpec[];
  alarms?: AlarmInterval[];
  /** The rollback cancels an in-flight deploy (the baseline must send that cancel). */
  cancels?: boolean;
  /** A newer version arriving then (two versions in flight: the line stop). */
  newer?: { version: string; at: Date };
  /** An operator approves v2's stage that asks for approval at this time (minutes from the start). */
  approveAt?: number;
  crash: Step[];
}

async function run(scenario: Scenario, crash?: CrashPoint): Promise<Outcome> {
  Error.stackTraceLimit = 200;
  const tableName = `crash-${randomUUID()}`;
  const injector = new CrashInjector(crash);
  const plane = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName,
    start: START,
    fleet: (clock) =>
      new SimulatedFleet({
        pipeline: scenario.pipeline,
        initialVersion: "v1",
        clock,
        faults: scenario.faults,
      }),
    ...(scenario.alarms ? { alarms: scenario.alarms } : {}),
    wrapDeps: (deps) => injector.wrapDeps(deps),
  });
  try {
    // One invocation at a time (the virtual clock serialises handlers): a new invocation starts
    // when the local runtime counts it; which step it is shows in the stack of its first call.
    const counted = plane.sfn.invocations;
    const set = counted.set.bind(counted);
    counted.set = (key, value) => {
      injector.begin(currentStep);
      return set(key, value);
    };
    await plane.register(scenario.pipeline, "v1");
    injector.begin(undefined);
    plane.requestRun("orders-api", "v2");
    const newer = scenario.newer;
    if (newer) plane.at(newer.at, async () => plane.requestRun("orders-api", newer.version));
    if (scenario.approveAt !== undefined) {
      plane.at(new Date(START.getTime() + scenario.approveAt * 60_000), () =>
        applyOverride(
          plane.deps,
          {
            action: "approve",
            pipeline: "orders-api",
            version: "v2",
            actor: "alice",
            reason: "CHG-1",
          },
          { principal: { arn: "arn:aws:sts::123456789012:assumed-role/Operators/alice" } },
        ),
      );
    }
    await plane.run();
    const run = await plane.store.getRun("orders-api@v2");
    const newerRun = newer ? await plane.store.getRun(`orders-api@${newer.version}`) : undefined;
    const scopes: Outcome["scopes"] = {};
    const history: Outcome["history"] = {};
    for (const scope of pipelineScopes(scenario.pipeline)) {
      const s = await plane.store.getScope("orders-api", scope.id);
      if (s) scopes[scope.id] = { version: s.version, status: s.status, percent: s.percent };
      const entries = await plane.store.history("orders-api", scope.id);
      // Revisions are contiguous: nothing lost, nothing written twice.
      expect(entries.map((h) => h.rev)).toEqual(entries.map((_, i) => i + 1));
      history[scope.id] = entries.map(transition);
    }
    const timeline = [
      ...(await plane.store.timeline("orders-api@v2")),
      ...(newer ? await plane.store.timeline(`orders-api@${newer.version}`) : []),
    ].map(
      (e) =>
        `${newer ? `${e.version} ` : ""}${e.scope} ${e.step} ${e.event}${e.outcome ? ` ${e.outcome}` : ""}`,
    );
    const published = plane.bus.log
      .filter((e) => e.source === SOURCE && e["detail-type"] !== DetailType.ApprovedChangeMerged)
      .map((e) => {
        const d = e.detail as {
          event?: string;
          scope?: string;
          stage?: string;
          step?: string;
          version?: string;
        };
        // With two versions in flight, each event names its version.
        const v = newer && d.version ? `${d.version} ` : "";
        return `${e["detail-type"]}: ${v}${d.event} ${d.scope ?? d.stage ?? ""}${d.step ? ` ${d.step}` : ""}`;
      });
    return {
      status: run?.status,
      ...(newerRun
        ? { newer: `${newerRun.status} ${newerRun.haltReason ?? ""} ${newerRun.haltedBy ?? ""}` }
        : {}),
      scopes,
      history,
      effects: injector.effects,
      crashes: injector.crashes,
      timeline,
      deployments: [...new Set(injector.deployStarts)].sort(),
      cancelled: [...new Set(injector.deployCancels)].sort(),
      executions: [
        ...plane.sfn.stage.executions.keys(),
        ...plane.sfn.rollback.executions.keys(),
        // One timer per approval asked for (its name holds the instant it was asked, which a
        // crash before the run's write moves to the retry's instant).
        ...[...plane.sfn.approvalTimer.executions.values()].map(
          (e) => `approval timer of ${(e.input as { stage: string }).stage}`,
        ),
      ],
      published,
    };
  } finally {
    await dynamoClient()
      .send(new DeleteTableCommand({ TableName: tableName }))
      .catch(() => undefined);
  }
}

/**
 * Routine events (no notification: src/notify/notification.ts) that a retry may add: start-run
 * retried after its stage execution already planned finds the run under way, and says so as
 * it does for any repeated request.
 */
const AFTER_RETRY = (event: string) => /^Breakwater Run Event: (v\d+ )?run-duplicate $/.test(event);

/**
 * Routine events (never notified) a crash may lose: `stage-started`, when the run entered the
 * stage and died before announcing it (its retry cannot tell itself from a repeated event).
 */
const MAY_BE_LOST = (event: string) => /^Breakwater Run Event: (v\d+ )?stage-started /.test(event);

/** Counts of each item of a list. */
function tally(items: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}

/**
 * What differs between a crashed run and the baseline, as readable lines (none: it ended as the
 * baseline did). Bus events (notifications are made of them) are at least once: none is lost,
 * and a crash repeats an event at most once (the retry publishes again what the dead invocation
 * may or may not have published; README, "Crash survival").
 */
function differences(o: Outcome, b: Outcome, at: string): string[] {
  const out: string[] = [];
  const same = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y)) {
      out.push(`${at}: ${what} differs: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`);
    }
  };
  same("status", o.status, b.status);
  same("newer run", o.newer, b.newer);
  same("scopes", o.scopes, b.scopes);
  same("history", o.history, b.history);
  same("timeline", o.timeline, b.timeline);
  // No deployment started that a crash-free run does not start (a retry re-sends `start` for
  // the same deploymentId, which the deploy target treats as the same deployment).
  same("deployments", o.deployments, b.deployments);
  // No cancel is lost (the retry sends it again) and none is sent that the baseline does not send.
  same("cancelled", o.cancelled, b.cancelled);
  same("executions", [...o.executions].sort(), [...b.executions].sort());
  const got = tally(o.published);
  const want = tally(b.published);
  for (const [event, n] of want) {
    if ((got.get(event) ?? 0) < n && !MAY_BE_LOST(event)) out.push(`${at}: lost ${event}`);
  }
  for (const [event, n] of got) {
    const expected = want.get(event);
    if (expected === undefined) {
      if (!AFTER_RETRY(event)) out.push(`${at}: unexpected ${event}`);
    } else if (n - expected > o.crashes) {
      out.push(`${at}: ${event} ${n} times (${expected} without a crash, ${o.crashes} crashes)`);
    }
  }
  return out;
}

const ALL_STEPS = Object.keys(STEPS) as Step[];
const scenarios: Scenario[] = [
  {
    name: "healthy run",
    pipeline,
    faults: [],
    // A Healthy verdict is written by the record step (with the scope's transition to stable),
    // so evaluate has no side effect here; its crashes are the rolled-back run's.
    crash: ALL_STEPS.filter(
      (s) => !s.startsWith("rollback") && s !== "fast rollback" && s !== "evaluate",
    ),
  },
  {
    // Up to the faulty bake the run is the healthy one: crash what differs from there on.
    name: "rolled-back run",
    pipeline,
    faults: FAULTY,
    crash: ["evaluate", "rollback start", "rollback status", "finish-stage", "promote"],
  },
  {
    // An alarm of the beta scope goes to ALARM mid-bake (deploy 09:00–09:05, bake to 09:10).
    name: "fast rollback on an alarm",
    pipeline: alarmed,
    faults: [],
    alarms: [{ name: "orders-api-beta-us-east-1-errors", from: new Date("2026-01-05T09:07:00Z") }],
    crash: ["fast rollback", "rollback start", "promote"],
  },
  {
    // The alarm fires while the beta deploy runs (09:00–09:05): the rollback cancels it first.
    name: "fast rollback during a deploy",
    pipeline: alarmed,
    faults: [],
    alarms: [{ name: "orders-api-beta-us-east-1-errors", from: new Date("2026-01-05T09:02:00Z") }],
    cancels: true,
    crash: ["fast rollback", "rollback start", "promote"],
  },
  {
    // prod asks for approval: promote admits v2 to wait for it (the run's write, its timeline
    // event, its announcement, its timer); an operator approves at 09:40.
    name: "a stage's approval",
    pipeline: parsePipeline({
      ...pipelineInput,
      stages: pipelineInput.stages.map((st) =>
        st.name === "prod" ? { ...st, approval: { timeoutMinutes: 120 } } : st,
      ),
    }),
    faults: [],
    approveAt: 40,
    crash: ["promote"],
  },
];

/**
 * Two versions in flight: v2 deploys prod-1's two AZs (09:00–09:30), then prod-2 (deploy to
 * 09:35, bake to 09:45); v3, arrived at 09:01, enters prod-1 at 09:30 (AZ1 baking to 09:45).
 * prod-2's alarm fires at 09:40: v2's fast rollback stops the line, v3 halts inside prod-1 and
 * its AZ2 step never starts.
 */
const lined = parsePipeline({
  name: "orders-api",
  alarms: ["{pipeline}-{stage}-{region}-errors"],
  stages: [
    {
      name: "prod-1",
      regions: [{ region: "eu-west-1", azs: ["euw1-az1", "euw1-az2"] }],
      bake: { minutes: 10 },
    },
    { name: "prod-2", regions: ["us-east-1"], bake: { minutes: 10 } },
  ],
});
scenarios.push({
  name: "a rollback stops the line with a newer version inside a stage",
  pipeline: lined,
  faults: [],
  alarms: [{ name: "orders-api-prod-2-us-east-1-errors", from: new Date("2026-01-05T09:40:00Z") }],
  newer: { version: "v3", at: new Date("2026-01-05T09:01:00Z") },
  crash: ["fast rollback", "rollback start", "promote"],
});

describe.each(scenarios)("crash survival: $name", (scenario) => {
  let baseline: Outcome | undefined;
  const baselineRun = async () => {
    baseline ??= await run(scenario);
    return baseline;
  };

  it("baseline (no crash) exercises every handler it needs", async () => {
    const b = await baselineRun();
    expect(Object.keys(b.effects)).toEqual(expect.arrayContaining(scenario.crash));
    expect(b.status).toBe(scenario.faults.length > 0 || scenario.alarms ? "halted" : "succeeded");
    expect(b.cancelled.length > 0).toBe(scenario.cancels === true);
    if (scenario.newer) {
      // The newer version halted inside its stage behind the rollback, and started no step after.
      expect(b.newer).toBe("halted older-version-halted orders-api@v2");
      expect(b.timeline.filter((e) => e.startsWith("v3 ") && e.includes("deploy-started"))).toEqual(
        ["v3 prod-1/eu-west-1/euw1-az1 full deploy-started"],
      );
    }
    // Without a crash every run and scope event is published exactly once.
    const repeated = [...tally(b.published)].filter(([, n]) => n > 1).map(([e]) => e);
    expect(repeated).toEqual([]);
  });

  it.each(scenario.crash)("%s dies after each of its side effects, in turn", async (step) => {
    const b = await baselineRun();
    const points = crashPoints(b.effects, step);
    expect(points.length, `${step} has no side effect in the baseline`).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const { afterEffects, kind } of points) {
      const o = await run(scenario, { step, afterEffects });
      const at = `${step} crashed after side effect ${afterEffects} (${kind})`;
      if (o.crashes !== 1) problems.push(`${at}: ${o.crashes} crashes`);
      problems.push(...differences(o, b, at));
    }
    expect(problems.join("\n")).toBe("");
  });

  // Sampled, to keep the suite's time: the first side effect of each kind that is not a store
  // write (publish, deploy start, StartExecution) — the retry dies there too when it gets there.
  let doubles = 0;
  it.each(scenario.crash)(
    "%s dies twice in a row after its first publish, deploy start and StartExecution",
    async (step) => {
      const b = await baselineRun();
      const points = crashPoints(b.effects, step).filter(
        (p, i, all) => p.kind !== "write" && all.findIndex((q) => q.kind === p.kind) === i,
      );
      const problems: string[] = [];
      for (const { afterEffects, kind } of points) {
        const o = await run(scenario, { step, afterEffects, times: 2 });
        const at = `${step} crashed twice after side effect ${afterEffects} (${kind})`;
        // A retry that finds the work done may stop before that point: then the step's next
        // invocation that gets as far dies instead, or none does.
        if (o.crashes === 2) doubles++;
        if (o.crashes < 1) problems.push(`${at}: no crash`);
        problems.push(...differences(o, b, at));
      }
      expect(problems.join("\n")).toBe("");
    },
  );

  it("some retry died again at the same point (the double crashes are real)", () => {
    expect(doubles).toBeGreaterThan(0);
  });
});
