/**
 * The override function survives a crash at every side effect. Each case kills the function
 * right after its N-th side effect (a store write or its bus publish; see test/support/crash.ts)
 * — once, or twice in a row — and then does what the engineer's client does with a failed
 * synchronous invoke: it sends the same request again until it succeeds. Afterwards state and
 * audit agree as after one crash-free call: the same blocks and bypasses, exactly one audit
 * entry that records the change (none that says "unchanged" for it), and the override event on
 * the bus at least once.
 */
import { randomUUID } from "node:crypto";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { createOverrideHandler } from "../../functions/override.ts";
import { DetailType } from "../../src/app/events.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { lambdaContext } from "../../src/local/step-functions.ts";
import {
  CrashInjector,
  type CrashPoint,
  crashPoints,
  type EffectKind,
  LambdaCrash,
} from "../support/crash.ts";
import { dynamoClient } from "../support/dynamo.ts";
import { ALICE, urlRequest } from "../support/override-url.ts";

const START = new Date("2026-01-12T09:00:00Z");
const pipeline = parsePipeline({
  name: "billing",
  stages: [{ name: "alpha", regions: ["eu-west-1"], bake: { minutes: 30 } }],
});

const ACTIONS: {
  name: string;
  request: Record<string, unknown>;
  before?: Record<string, unknown>;
}[] = [
  {
    name: "block",
    request: {
      action: "block",
      level: "pipeline",
      pipeline: "billing",
      actor: "alice",
      reason: "sev-2 open",
    },
  },
  {
    name: "unblock",
    before: { action: "block", level: "org", actor: "alice", reason: "sev-1 open" },
    request: { action: "unblock", level: "org", actor: "bob", reason: "sev-1 resolved" },
  },
  {
    name: "bypass",
    request: {
      action: "bypass",
      pipeline: "billing",
      version: "v2",
      kinds: ["manual"],
      expiresAt: "2026-01-12T12:00:00.000Z",
      actor: "carol",
      reason: "ship the fix during the incident",
    },
  },
];

interface Outcome {
  effects: EffectKind[][];
  crashes: number;
  attempts: number;
  blocks: string[];
  bypasses: string[];
  /** The audit entries of the request under test (not of the setup) that record a change. */
  audit: string[];
  /** Its audit entries that record a repeat (a retry after a crash is a second request). */
  repeats: string[];
  /** Override events of the request under test on the bus. */
  published: number;
}

async function run(action: (typeof ACTIONS)[number], crash?: CrashPoint): Promise<Outcome> {
  const tableName = `crash-override-${randomUUID()}`;
  const injector = new CrashInjector(crash);
  const plane = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName,
    start: START,
    fleet: (clock) => new SimulatedFleet({ pipeline, initialVersion: "v1", clock }),
  });
  try {
    await plane.register(pipeline, "v1");
    // A run of v2 exists (a bypass names a version with a run): its first second is enough.
    plane.requestRun("billing", "v2");
    await plane.run(new Date(START.getTime() + 1000));
    const setup = createOverrideHandler(() => plane.deps);
    if (action.before) {
      const res = await setup(
        urlRequest(action.before, ALICE),
        lambdaContext("breakwater-override", "setup"),
      );
      expect(res.statusCode, res.body).toBe(200);
    }
    const auditBefore = (await plane.store.listAudit()).length;
    const eventsBefore = plane.bus.log.length;

    const handler = createOverrideHandler(() => injector.wrapDeps(plane.deps));
    let attempts = 0;
    for (;;) {
      attempts++;
      injector.begin("override");
      try {
        // An IAM-signed function URL request, as the CLI sends it; resent after a crash.
        const res = await handler(
          urlRequest(action.request, ALICE),
          lambdaContext("breakwater-override", `try-${attempts}`),
        );
        expect(res.statusCode, res.body).toBe(200);
        break;
      } catch (err) {
        if (!(err instanceof LambdaCrash) || attempts >= 5) throw err;
      }
    }
    const audit = (await plane.store.listAudit()).slice(auditBefore);
    return {
      effects: injector.effects.override ?? [],
      crashes: injector.crashes,
      attempts,
      blocks: (await plane.store.listBlocks())
        .map((b) => `${b.level} ${b.target}: ${b.reason}`)
        .sort(),
      bypasses: (await plane.store.listBypasses("billing")).map(
        (b) => `${b.version} ${b.kinds.join(",")} until ${b.expiresAt}`,
      ),
      audit: audit.filter((a) => a.changed).map((a) => `${a.action} by ${a.actor}: ${a.effect}`),
      repeats: audit.filter((a) => !a.changed).map((a) => a.effect),
      published: plane.bus.log
        .slice(eventsBefore)
        .filter((e) => e["detail-type"] === DetailType.OverrideEvent).length,
    };
  } finally {
    await dynamoClient()
      .send(new DeleteTableCommand({ TableName: tableName }))
      .catch(() => undefined);
  }
}

describe.each(ACTIONS)("override $name survives a crash", (action) => {
  let baseline: Outcome | undefined;
  const baselineRun = async () => {
    baseline ??= await run(action);
    return baseline;
  };

  it("baseline: one change, one audit entry, one event", async () => {
    const b = await baselineRun();
    expect(b.attempts).toBe(1);
    expect(b.audit).toHaveLength(1);
    expect(b.audit[0]).not.toContain("unchanged");
    expect(b.repeats).toEqual([]);
    expect(b.published).toBe(1);
    expect(b.effects[0]?.length).toBeGreaterThan(0);
  });

  // Failed on main (issue 10): a crash after the block/unblock/bypass write and before its audit
  // entry left the change unaudited. Now the write and its audit entry are one transaction; a
  // retry finds the change made and is audited as a repeat (`changed: false`), never as a change.
  it.each([1, 2])(
    "dies after each of its side effects, %i time(s) in a row, and is retried",
    async (times) => {
      const b = await baselineRun();
      const problems: string[] = [];
      for (const { afterEffects, kind } of crashPoints({ override: b.effects }, "override")) {
        const o = await run(action, { step: "override", afterEffects, times });
        const at = `crashed ${times}× after side effect ${afterEffects} (${kind})`;
        if (o.crashes < 1) problems.push(`${at}: no crash`);
        if (JSON.stringify(o.blocks) !== JSON.stringify(b.blocks)) {
          problems.push(`${at}: blocks ${JSON.stringify(o.blocks)}`);
        }
        if (JSON.stringify(o.bypasses) !== JSON.stringify(b.bypasses)) {
          problems.push(`${at}: bypasses ${JSON.stringify(o.bypasses)}`);
        }
        // State and audit agree: the change is audited exactly once, as a change.
        if (JSON.stringify(o.audit) !== JSON.stringify(b.audit)) {
          problems.push(`${at}: audit ${JSON.stringify(o.audit)}`);
        }
        if (o.repeats.some((e) => !e.startsWith("unchanged"))) {
          problems.push(`${at}: repeats ${JSON.stringify(o.repeats)}`);
        }
        // The override event (which notifies people) at least once, at most once per crash more.
        if (o.published < 1 || o.published > 1 + times) {
          problems.push(`${at}: ${o.published} override events`);
        }
      }
      expect(problems.join("\n")).toBe("");
    },
  );
});
