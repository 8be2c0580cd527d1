import { describe, expect, it } from "vitest";
import type { AnomalyVerdict } from "../../src/domain/anomaly/index.ts";
import {
  type BakeDecision,
  type BakeInput,
  type BakePolicy,
  isBakeVerdict,
  judgeBake,
} from "../../src/domain/bake.ts";
import type { MinuteSample } from "../../src/domain/ports.ts";

const plain: BakePolicy = { minutes: 10, maxMinutes: 40, onInsufficientTraffic: "halt" };
const traffic: BakePolicy = { ...plain, minRequests: 100 };
const minutes = (...requests: number[]): MinuteSample[] =>
  requests.map((r) => ({ requests: r, faults: 0, p99Ms: 50 }));
const regression: AnomalyVerdict = {
  phase: "Unhealthy",
  findings: [
    { rule: "fault-rate", severity: "regression", message: "faults up", statistic: {} },
    { rule: "latency", severity: "insufficient-data", message: "p99 a bit up", statistic: {} },
  ],
};
const notice: AnomalyVerdict = {
  phase: "Healthy",
  findings: [
    { rule: "latency", severity: "insufficient-data", message: "p99 a bit up", statistic: {} },
  ],
};
const base: BakeInput = {
  alarms: [{ name: "faults", state: "OK" }],
  policy: plain,
  candidate: minutes(5, 5),
  elapsedMs: 10 * 60_000,
};

const rows: [label: string, input: Partial<BakeInput>, expected: BakeDecision][] = [
  ["alarms OK, no detector", {}, { kind: "done", verdict: "Healthy", reasons: [] }],
  [
    "no alarms configured: healthy, and that is not a reason",
    { alarms: [] },
    { kind: "done", verdict: "Healthy", reasons: [] },
  ],
  [
    "an alarm fires",
    { alarms: [{ name: "faults", state: "ALARM", reason: "3 > 1" }] },
    { kind: "done", verdict: "Unhealthy", reasons: ["faults: 3 > 1"] },
  ],
  [
    "the detector finds a regression (only regressions are reasons)",
    { anomaly: regression },
    { kind: "done", verdict: "Unhealthy", reasons: ["detector fault-rate: faults up"] },
  ],
  [
    "alarm and detector both: alarm reasons first",
    { alarms: [{ name: "faults", state: "ALARM" }], anomaly: regression },
    {
      kind: "done",
      verdict: "Unhealthy",
      reasons: ["faults in ALARM", "detector fault-rate: faults up"],
    },
  ],
  [
    "unhealthy wins over too little traffic",
    { alarms: [{ name: "faults", state: "ALARM" }], policy: traffic, candidate: minutes(1) },
    { kind: "done", verdict: "Unhealthy", reasons: ["faults in ALARM"] },
  ],
  [
    "missing data counts as inconclusive",
    { alarms: [{ name: "faults", state: "INSUFFICIENT_DATA" }], alarmMissingData: "inconclusive" },
    { kind: "done", verdict: "Inconclusive", reasons: ["faults has insufficient data"] },
  ],
  [
    "missing data counts as OK by default",
    { alarms: [{ name: "faults", state: "INSUFFICIENT_DATA" }] },
    { kind: "done", verdict: "Healthy", reasons: [] },
  ],
  [
    "healthy: the detector's notices are reasons",
    { anomaly: notice },
    { kind: "done", verdict: "Healthy", reasons: ["detector latency: p99 a bit up"] },
  ],
  [
    "minRequests without readable metrics",
    { policy: traffic, candidate: undefined },
    {
      kind: "done",
      verdict: "Inconclusive",
      reasons: [
        "bake.minRequests needs the scope's request metrics, and none could be read (configure the pipeline's metrics)",
      ],
    },
  ],
  [
    "minRequests met",
    { policy: traffic, candidate: minutes(60, 40) },
    { kind: "done", verdict: "Healthy", reasons: [] },
  ],
  [
    "too little traffic: extend as long as the rate needs (+1 minute)",
    // 50 in 10 minutes: 5/minute, 50 more = 10 minutes, + 1 = 11 minutes.
    { policy: traffic, candidate: minutes(25, 25) },
    { kind: "extend", seconds: 660, why: "extended: 50 of 100 requests served" },
  ],
  [
    "too little traffic: at least a minute",
    // 99 in 10 minutes: 1 more needs 6 s, + 60 s.
    { policy: traffic, candidate: minutes(99) },
    { kind: "extend", seconds: 67, why: "extended: 99 of 100 requests served" },
  ],
  [
    "too little traffic: at most to maxMinutes",
    { policy: traffic, candidate: minutes(20), elapsedMs: 30 * 60_000 },
    { kind: "extend", seconds: 600, why: "extended: 20 of 100 requests served" },
  ],
  [
    "no traffic at all: wait out maxMinutes",
    { policy: traffic, candidate: [] },
    { kind: "extend", seconds: 1800, why: "extended: 0 of 100 requests served" },
  ],
  [
    "maxMinutes reached, halt",
    { policy: traffic, candidate: minutes(20), elapsedMs: 40 * 60_000 },
    {
      kind: "done",
      verdict: "Inconclusive",
      reasons: ["insufficient traffic: served 20 of 100 requests in 40 minutes"],
    },
  ],
  [
    "maxMinutes reached, proceed (the detector's notices still listed)",
    {
      policy: { ...traffic, onInsufficientTraffic: "proceed" },
      candidate: minutes(20),
      anomaly: notice,
      elapsedMs: 41 * 60_000,
    },
    {
      kind: "done",
      verdict: "Healthy",
      reasons: [
        "insufficient traffic: served 20 of 100 requests in 40 minutes; proceeding (onInsufficientTraffic: proceed)",
        "detector latency: p99 a bit up",
      ],
    },
  ],
];

describe("judgeBake", () => {
  it.each(rows)("%s", (_label, input, expected) => {
    expect(judgeBake({ ...base, ...input })).toEqual(expected);
  });

  it("recognises a recorded verdict and nothing else", () => {
    expect(["Healthy", "Unhealthy", "Inconclusive"].every((o) => isBakeVerdict(o))).toBe(true);
    expect(isBakeVerdict("Extend")).toBe(false);
    expect(isBakeVerdict(undefined)).toBe(false);
  });
});
