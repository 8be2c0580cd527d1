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
import type { Deps } from "../../src/app/deps.ts";
import type { HistoryEntry } from "../../src/domain/model.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import type { StateStore } from "../../src/domain/ports.ts";
import { pipelineScopes } from "../../src/domain/scope.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { type FaultSpec, SimulatedFleet } from "../../src/local/fleet.ts";
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
/** The new version is unhealthy in the second AZ: its bake fails and it is rolled back. */
const FAULTY: FaultSpec[] = [{ version: "v2", scopes: "prod/eu-west-1/euw1-az2", kind: "faults" }];

/** The store methods that write. A crash "after the N-th write" counts these calls. */
const WRITES = new Set<keyof StateStore>([
  "putPipeline",
  "putInstallation",
  "putBypass",
  "appendAudit",
  "putBlock",
  "removeBlock",
  "createRun",
  "nextSeq",
  "putStageSlot",
  "putLocationLock",
  "releaseLocationLock",
  "updateRun",
  "seedScope",
  "transitionScope",
  "appendEvents",
]);

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
} as const;
type Step = keyof typeof STEPS;

/** A function killed mid-invocation, as Step Functions names it. */
class LambdaCrash extends Error {
  override name = "Lambda.Unknown";
}

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

interface Crash {
  step: Step;
  /** Die right after this many store writes of the step's first invocation. */
  afterWrites: number;
}

interface Outcome {
  status: string | undefined;
  scopes: Record<string, { version: string; status: string; percent: number }>;
  history: Record<string, string[]>;
  /** Writes per invocation of each step (for choosing crash points). */
  writes: Record<string, number[]>;
  crashed: boolean;
  timeline: string[];
}

function transition(h: HistoryEntry): string {
  return `${h.fromVersion ?? "-"}→${h.toVersion} ${h.fromStatus ?? "-"}→${h.status} ${h.percent}% by ${h.actor}`;
}

async function run(faults: FaultSpec[], crash?: Crash): Promise<Outcome> {
  Error.stackTraceLimit = 200;
  const tableName = `crash-${randomUUID()}`;
  // One invocation at a time (the virtual clock serialises handlers): a new invocation starts
  // when the local runtime counts it, and ends when the next one starts.
  let invocation = 0;
  let seen = -1;
  let step: Step | undefined;
  let writes = 0;
  let dead = -1;
  let crashed = false;
  const writesPerStep: Record<string, number[]> = {};
  const beforeCall = () => {
    if (dead === invocation) throw new LambdaCrash("the function is no longer running");
    if (seen !== invocation) {
      seen = invocation;
      step = currentStep();
      writes = 0;
      if (step) writesPerStep[step] = [...(writesPerStep[step] ?? []), 0];
    }
  };
  const afterWrite = () => {
    writes++;
    const counts = step ? writesPerStep[step] : undefined;
    if (counts) counts[counts.length - 1] = writes;
    if (!crashed && crash && step === crash.step && writes === crash.afterWrites) {
      crashed = true;
      dead = invocation;
      throw new LambdaCrash(`${crash.step} died after write ${writes}`);
    }
  };
  const guard = <T extends object>(target: T, isWrite: (name: string) => boolean): T =>
    new Proxy(target, {
      get(t, prop, receiver) {
        const value = Reflect.get(t, prop, receiver);
        if (typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          beforeCall();
          const out = await value.apply(t, args);
          if (isWrite(String(prop))) afterWrite();
          return out;
        };
      },
    });
  const wrapDeps = (deps: Deps): Deps => ({
    ...deps,
    store: guard(deps.store, (name) => WRITES.has(name as keyof StateStore)),
    events: guard(deps.events, () => false),
    deployer: guard(deps.deployer, () => false),
    workflows: guard(deps.workflows, () => false),
  });
  const plane = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName,
    start: START,
    fleet: (clock) => new SimulatedFleet({ pipeline, initialVersion: "v1", clock, faults }),
    wrapDeps,
  });
  try {
    const counted = plane.sfn.invocations;
    const set = counted.set.bind(counted);
    counted.set = (key, value) => {
      invocation++;
      return set(key, value);
    };
    await plane.register(pipeline, "v1");
    plane.requestRun("orders-api", "v2");
    await plane.run();
    const run = await plane.store.getRun("orders-api@v2");
    const scopes: Outcome["scopes"] = {};
    const history: Outcome["history"] = {};
    for (const scope of pipelineScopes(pipeline)) {
      const s = await plane.store.getScope("orders-api", scope.id);
      if (s) scopes[scope.id] = { version: s.version, status: s.status, percent: s.percent };
      const entries = await plane.store.history("orders-api", scope.id);
      // Revisions are contiguous: nothing lost, nothing written twice.
      expect(entries.map((h) => h.rev)).toEqual(entries.map((_, i) => i + 1));
      history[scope.id] = entries.map(transition);
    }
    const timeline = (await plane.store.timeline("orders-api@v2")).map(
      (e) => `${e.scope} ${e.step} ${e.event}${e.outcome ? ` ${e.outcome}` : ""}`,
    );
    return { status: run?.status, scopes, history, writes: writesPerStep, crashed, timeline };
  } finally {
    await dynamoClient()
      .send(new DeleteTableCommand({ TableName: tableName }))
      .catch(() => undefined);
  }
}

const ALL_STEPS = Object.keys(STEPS) as Step[];
const scenarios: { name: string; faults: FaultSpec[]; crash: Step[] }[] = [
  {
    name: "healthy run",
    faults: [],
    crash: ALL_STEPS.filter((s) => !s.startsWith("rollback")),
  },
  {
    // Up to the faulty bake the run is the healthy one: crash what differs from there on.
    name: "rolled-back run",
    faults: FAULTY,
    crash: ["evaluate", "rollback start", "rollback status", "finish-stage", "promote"],
  },
];

describe.each(scenarios)("crash survival: $name", ({ faults, crash: crashed }) => {
  let baseline: Outcome | undefined;
  const baselineRun = async () => {
    baseline ??= await run(faults);
    return baseline;
  };

  it("baseline (no crash) exercises every handler it needs", async () => {
    const b = await baselineRun();
    const steps = Object.keys(b.writes).sort();
    const expected: Step[] = [
      "deploy start",
      "deploy status",
      "evaluate",
      "finish-stage",
      "plan",
      "promote",
      "record step",
      "start-run",
    ];
    if (faults.length > 0) expected.push("rollback start", "rollback status");
    expect(steps).toEqual(expect.arrayContaining(expected));
    expect(b.status).toBe(faults.length > 0 ? "halted" : "succeeded");
  });

  it.each(crashed)("%s dies after each of its writes, in turn", async (step) => {
    const b = await baselineRun();
    // Crash points: after every write the step's invocations make (its busiest one's count).
    const writes = Math.max(...(b.writes[step] ?? [0]));
    expect(writes, `${step} writes nothing in the baseline`).toBeGreaterThan(0);
    for (let afterWrites = 1; afterWrites <= writes; afterWrites++) {
      const o = await run(faults, { step, afterWrites });
      const at = `${step} crashed after write ${afterWrites}`;
      expect(o.crashed, at).toBe(true);
      expect(o.status, at).toBe(b.status);
      expect(o.scopes, at).toEqual(b.scopes);
      expect(o.history, at).toEqual(b.history);
      expect(o.timeline, at).toEqual(b.timeline);
    }
  });
});
