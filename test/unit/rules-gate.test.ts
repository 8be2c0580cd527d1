import { describe, expect, it } from "vitest";
import type { Blocker } from "../../src/domain/blockers.ts";
import { decideGate, type GateDecision, type GateInput } from "../../src/domain/gate.ts";

const at = new Date("2026-12-01T10:00:00Z");
const iso = at.toISOString();
const inMin = (m: number) => new Date(at.getTime() + m * 60_000);
const manual: Blocker = { kind: "manual", reason: "freeze by ana" };
const alarm: Blocker = { kind: "alarm", reason: "faults in ALARM" };
const window = (m: number): Blocker => ({
  kind: "time-window",
  reason: "outside the window",
  until: inMin(m),
});
const bypass = {
  kinds: ["manual"],
  actor: "ana",
  reason: "hotfix",
  expiresAt: "2026-12-01T11:00:00.000Z",
};
const base: GateInput = { found: [], recheckMinutes: 5, at };

const rows: [label: string, input: Partial<GateInput>, expected: GateDecision][] = [
  ["nothing blocks", {}, { kind: "go" }],
  ["nothing blocks and the lock is taken", { lock: { ok: true } }, { kind: "go" }],
  [
    "a block clears: record the unblocking once",
    { was: { reason: "freeze by ana", since: "2026-12-01T09:00:00.000Z", kinds: ["manual"] } },
    { kind: "go", cleared: "freeze by ana" },
  ],
  [
    "a bypass lets the kinds it names through",
    { found: [manual], bypass },
    {
      kind: "go",
      bypassed: "bypass by ana (hotfix) until 2026-12-01T11:00:00.000Z: freeze by ana",
    },
  ],
  [
    "a bypass does not let other kinds through",
    { found: [manual, alarm], bypass },
    {
      kind: "wait",
      blockers: [alarm],
      reason: "faults in ALARM",
      recheckSeconds: 300,
      record: { reason: "faults in ALARM", since: iso, kinds: ["alarm"] },
    },
  ],
  [
    "a new block: record it",
    { found: [manual, alarm] },
    {
      kind: "wait",
      blockers: [manual, alarm],
      reason: "freeze by ana; faults in ALARM",
      recheckSeconds: 300,
      record: { reason: "freeze by ana; faults in ALARM", since: iso, kinds: ["manual", "alarm"] },
    },
  ],
  [
    "the same block on a re-check: nothing to record",
    { found: [manual], was: { reason: "freeze by ana", since: iso, kinds: ["manual"] } },
    { kind: "wait", blockers: [manual], reason: "freeze by ana", recheckSeconds: 300 },
  ],
  [
    "only a time window: wait exactly until it opens",
    {
      found: [window(90)],
      was: { reason: "outside the window", since: iso, kinds: ["time-window"] },
    },
    {
      kind: "wait",
      blockers: [window(90)],
      reason: "outside the window",
      until: inMin(90),
      recheckSeconds: 5400,
    },
  ],
  [
    "a block that ends sooner than the interval: look then",
    {
      found: [{ ...manual, until: inMin(2) }],
      was: { reason: "freeze by ana", since: iso, kinds: ["manual"] },
    },
    {
      kind: "wait",
      blockers: [{ ...manual, until: inMin(2) }],
      reason: "freeze by ana",
      until: inMin(2),
      recheckSeconds: 120,
    },
  ],
  [
    "another pipeline holds the scope lock: look every minute",
    { lock: { ok: false, reason: "scope held by run r-9 of orders-worker" } },
    {
      kind: "wait",
      blockers: [{ kind: "scope-lock", reason: "scope held by run r-9 of orders-worker" }],
      reason: "scope held by run r-9 of orders-worker",
      recheckSeconds: 60,
      record: {
        reason: "scope held by run r-9 of orders-worker",
        since: iso,
        kinds: ["scope-lock"],
      },
    },
  ],
  [
    "the scope lock is never a blocker while something else blocks",
    {
      found: [alarm],
      lock: { ok: false, reason: "held" },
      was: { reason: "faults in ALARM", since: iso, kinds: ["alarm"] },
    },
    { kind: "wait", blockers: [alarm], reason: "faults in ALARM", recheckSeconds: 300 },
  ],
];

describe("decideGate", () => {
  it.each(rows)("%s", (_label, input, expected) => {
    expect(decideGate({ ...base, ...input })).toEqual(expected);
  });
});
