import { describe, expect, it } from "vitest";
import { type HealthVerdict, type JudgeOptions, judgeHealth } from "../../src/domain/health.ts";
import type { AlarmObservation } from "../../src/domain/ports.ts";

const ok = (name: string): AlarmObservation => ({ name, state: "OK" });
const alarm = (name: string, reason?: string): AlarmObservation =>
  reason ? { name, state: "ALARM", reason } : { name, state: "ALARM" };
const idle = (name: string): AlarmObservation => ({ name, state: "INSUFFICIENT_DATA" });

type Row = [
  label: string,
  alarms: AlarmObservation[],
  options: JudgeOptions | undefined,
  expected: Omit<HealthVerdict, "alarms">,
];

const rows: Row[] = [
  [
    "no alarms configured",
    [],
    undefined,
    { phase: "Healthy", reasons: ["no alarms configured for this scope"] },
  ],
  ["all OK", [ok("faults"), ok("latency")], undefined, { phase: "Healthy", reasons: [] }],
  [
    "one ALARM with a reason",
    [ok("latency"), alarm("faults", "Threshold Crossed: 3 datapoints > 1.0")],
    undefined,
    { phase: "Unhealthy", reasons: ["faults: Threshold Crossed: 3 datapoints > 1.0"] },
  ],
  [
    "one ALARM without a reason",
    [alarm("faults")],
    undefined,
    { phase: "Unhealthy", reasons: ["faults in ALARM"] },
  ],
  [
    "every ALARM is a reason, in order",
    [alarm("faults", "too many 5xx"), ok("cpu"), alarm("latency")],
    undefined,
    { phase: "Unhealthy", reasons: ["faults: too many 5xx", "latency in ALARM"] },
  ],
  [
    "INSUFFICIENT_DATA counts as OK by default",
    [idle("faults"), ok("latency")],
    undefined,
    { phase: "Healthy", reasons: [] },
  ],
  [
    "INSUFFICIENT_DATA counts as OK when asked explicitly",
    [idle("faults")],
    { insufficientData: "ok" },
    { phase: "Healthy", reasons: [] },
  ],
  [
    "INSUFFICIENT_DATA is inconclusive when asked",
    [idle("faults"), ok("latency"), idle("errors")],
    { insufficientData: "inconclusive" },
    {
      phase: "Inconclusive",
      reasons: ["faults has insufficient data", "errors has insufficient data"],
    },
  ],
  [
    "ALARM beats inconclusive",
    [idle("faults"), alarm("latency", "p99 > 2s")],
    { insufficientData: "inconclusive" },
    { phase: "Unhealthy", reasons: ["latency: p99 > 2s"] },
  ],
  [
    "all OK is Healthy even when INSUFFICIENT_DATA would be inconclusive",
    [ok("faults")],
    { insufficientData: "inconclusive" },
    { phase: "Healthy", reasons: [] },
  ],
  [
    "no alarms is Healthy whatever the INSUFFICIENT_DATA treatment",
    [],
    { insufficientData: "alarm" },
    { phase: "Healthy", reasons: ["no alarms configured for this scope"] },
  ],
];

describe("judgeHealth", () => {
  it.each(rows)("%s", (_, alarms, options, expected) => {
    const verdict = judgeHealth(alarms, options);
    expect(verdict).toEqual({ ...expected, alarms });
  });

  it("INSUFFICIENT_DATA treated as alarm makes the scope Unhealthy, naming the alarm", () => {
    const verdict = judgeHealth([ok("latency"), idle("faults")], { insufficientData: "alarm" });
    expect(verdict.phase).toBe("Unhealthy");
    expect(verdict.reasons).toHaveLength(1);
    expect(verdict.reasons[0]).toMatch(/^faults\b/);
  });

  it("INSUFFICIENT_DATA treated as alarm keeps CloudWatch's reason", () => {
    const verdict = judgeHealth(
      [{ name: "faults", state: "INSUFFICIENT_DATA", reason: "no datapoints for 15 minutes" }],
      { insufficientData: "alarm" },
    );
    expect(verdict).toMatchObject({
      phase: "Unhealthy",
      reasons: ["faults: no datapoints for 15 minutes"],
    });
  });

  it("returns the observations it judged", () => {
    const alarms = [ok("a"), alarm("b")];
    expect(judgeHealth(alarms).alarms).toEqual(alarms);
  });
});
