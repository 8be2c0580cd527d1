/**
 * Overrides race: many engineers (or one impatient script) act at once. Each case fires 50
 * concurrent calls of `applyOverride` on the real DynamoDB store (DynamoDB Local) — not
 * through `serve`, which handles one request at a time and would hide the race. The state
 * change and its audit entry are one conditional transaction, so concurrent identical actions
 * change the state once, and the last audit entry always agrees with the final state.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { applyOverride } from "../../src/app/override.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { type FaultSpec, SimulatedFleet } from "../../src/local/fleet.ts";
import { dynamoClient } from "../support/dynamo.ts";

const START = new Date("2026-01-12T09:00:00Z");
const N = 50;
/** 50 transactions contending for one audit counter take 5–25 s on a loaded 2-core machine. */
const RACE_TIMEOUT = 180_000;
const OPERATOR = {
  arn: "arn:aws:sts::123456789012:assumed-role/Operators/alice",
  accountId: "123456789012",
  callerId: "AROAEXAMPLE:alice",
};

async function plane(faults: FaultSpec[] = []) {
  const input: PipelineInput = {
    name: "billing",
    stages: [{ name: "alpha", regions: ["eu-west-1"], bake: { minutes: 30 } }],
  };
  const pipeline = parsePipeline(input);
  const p = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName: `override-race-${randomUUID()}`,
    start: START,
    fleet: (clock) => new SimulatedFleet({ pipeline, initialVersion: "v1", clock, faults }),
  });
  await p.register(pipeline, "v1");
  const act = (event: Record<string, unknown>) =>
    applyOverride(p.deps, event, { principal: OPERATOR });
  return { p, act };
}

const block = {
  action: "block",
  level: "pipeline",
  pipeline: "billing",
  actor: "alice",
  reason: "freeze",
};
const unblock = { ...block, action: "unblock", reason: "thaw" };

/** Shuffled, so neither kind of request gets a head start. */
function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe("concurrent overrides", () => {
  it(
    `${N} identical blocks: exactly one changes the state and one audit entry says so`,
    async () => {
      const { p, act } = await plane();
      const results = await Promise.all(Array.from({ length: N }, () => act(block)));
      expect(results.filter((r) => r.changed)).toHaveLength(1);
      expect(results.filter((r) => !r.changed).map((r) => r.effect)).toEqual(
        Array(N - 1).fill("unchanged (already blocked)"),
      );
      expect(await p.store.listBlocks()).toHaveLength(1);
      const audit = await p.store.listAudit();
      // Repeats are audited too (who tried what), told apart by `changed` and their effect.
      expect(audit).toHaveLength(N);
      expect(audit.filter((a) => a.changed).map((a) => a.effect)).toEqual([
        "blocked pipeline billing",
      ]);
      expect(audit[0]?.effect).toBe("blocked pipeline billing");
    },
    RACE_TIMEOUT,
  );

  it(
    `${N / 2} blocks racing ${N / 2} unblocks: the final state agrees with the last audit entry`,
    async () => {
      const { p, act } = await plane();
      const requests = shuffle([
        ...Array.from({ length: N / 2 }, () => block),
        ...Array.from({ length: N / 2 }, () => unblock),
      ]);
      const results = await Promise.all(requests.map((r) => act(r)));
      const audit = await p.store.listAudit();
      expect(audit).toHaveLength(N);
      const blocked = (await p.store.listBlocks()).length === 1;
      expect(audit.at(-1)?.effect).toMatch(
        blocked
          ? /^(blocked|unchanged \(already blocked\))/
          : /^(unblocked|unchanged \(no such block\))/,
      );
      // Replaying the audit log gives the final state: every change flips it, no repeat does.
      let state = false;
      for (const a of audit) {
        if (a.effect.startsWith("blocked")) {
          expect(state).toBe(false);
          state = true;
        } else if (a.effect.startsWith("unblocked")) {
          expect(state).toBe(true);
          state = false;
        } else if (a.effect === "unchanged (already blocked)") expect(state).toBe(true);
        else expect(state).toBe(false);
      }
      expect(state).toBe(blocked);
      expect(results.filter((r) => r.changed)).toHaveLength(audit.filter((a) => a.changed).length);
    },
    RACE_TIMEOUT,
  );

  it(
    `${N} identical bypasses change once; ${N / 2} racing ${N / 2} others leave what the log says last`,
    async () => {
      const { p, act } = await plane();
      p.requestRun("billing", "v2");
      await p.run(new Date(START.getTime() + 60_000));
      const at = p.clock.now().getTime();
      const bypass = (hours: number) => ({
        action: "bypass",
        pipeline: "billing",
        version: "v2",
        kinds: ["manual"],
        actor: "bob",
        reason: "v2 is the fix",
        expiresAt: new Date(at + hours * 3_600_000).toISOString(),
      });
      const same = await Promise.all(Array.from({ length: N }, () => act(bypass(2))));
      expect(same.filter((r) => r.changed)).toHaveLength(1);
      const first = await p.store.listAudit();
      expect(first.filter((a) => a.changed)).toHaveLength(1);

      const requests = shuffle([
        ...Array.from({ length: N / 2 }, () => bypass(3)),
        ...Array.from({ length: N / 2 }, () => bypass(4)),
      ]);
      await Promise.all(requests.map((r) => act(r)));
      const audit = (await p.store.listAudit()).slice(N);
      expect(audit).toHaveLength(N);
      const [live] = await p.store.listBypasses("billing");
      // The last change names the expiry that stands; a later repeat says it is unchanged.
      const lastChange = audit.filter((a) => a.changed).at(-1);
      expect(lastChange?.effect).toContain(`until ${live?.expiresAt}`);
      // Three and four hours alternate in the log at most once per change: no lost update.
      const changes = audit.filter((a) => a.changed).map((a) => a.effect);
      for (let i = 1; i < changes.length; i++) expect(changes[i]).not.toBe(changes[i - 1]);
    },
    RACE_TIMEOUT,
  );

  it(
    `${N} identical decisions on a halted run: one takes effect, the rest say unchanged`,
    async () => {
      const { p, act } = await plane([{ version: "v2", scopes: "alpha/*", kind: "faults" }]);
      p.requestRun("billing", "v2");
      await p.run();
      expect(await p.store.getRun("billing@v2")).toMatchObject({ status: "halted" });
      const cancel = {
        action: "cancel",
        pipeline: "billing",
        version: "v2",
        actor: "alice",
        reason: "v2 is bad",
      };
      const results = await Promise.all(Array.from({ length: N }, () => act(cancel)));
      expect(results.filter((r) => r.changed).map((r) => r.effect)).toEqual(["cancelled v2"]);
      // The run records the decision with who made it, as authenticated, in the same write.
      expect(await p.store.getRun("billing@v2")).toMatchObject({
        status: "cancelled",
        decision: { action: "cancel", actor: "alice", principal: OPERATOR.arn },
      });
      const audit = await p.store.listAudit();
      expect(audit).toHaveLength(N);
      expect(audit.filter((a) => a.changed).map((a) => a.effect)).toEqual(["cancelled v2"]);
    },
    RACE_TIMEOUT,
  );
});
