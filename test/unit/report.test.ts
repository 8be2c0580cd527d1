/**
 * The rollout report's pieces: start and end events pair into bars per scope, version, step
 * and kind; an interval still open at the end runs to the end and says so; everything from the
 * run is escaped.
 */
import { describe, expect, it } from "vitest";
import { renderReport, reportBars } from "../../src/cli/report.ts";
import type { SimulationResult } from "../../src/local/simulate.ts";

const T0 = Date.parse("2026-01-05T09:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();
type Event = SimulationResult["timeline"][number];
const ev = (minutes: number, event: Event["event"], extra: Partial<Event> = {}): Event => ({
  at: at(minutes),
  version: "v2",
  stage: "prod-1",
  scope: "prod-1/us-east-1/use1-az1",
  step: "full",
  event,
  ...extra,
});

describe("reportBars", () => {
  it("shows a step's tests as their own bar, between its deploy and its bake", () => {
    const bars = reportBars(
      [
        ev(0, "deploy-started"),
        ev(5, "deploy-finished", { outcome: "succeeded" }),
        ev(5, "tests-started", { reason: "lambda it" }),
        ev(7, "tests-finished", { outcome: "failed", reason: "2 of 9 failed" }),
      ],
      T0 + 60 * 60_000,
    );
    expect(bars.map((b) => [b.kind, b.from, b.to, b.outcome])).toEqual([
      ["deploy", T0, T0 + 5 * 60_000, "succeeded"],
      ["tests", T0 + 5 * 60_000, T0 + 7 * 60_000, "failed"],
    ]);
  });

  it("pairs each start with the next end of the same scope, version, step and kind", () => {
    const bars = reportBars(
      [
        ev(0, "deploy-started", { step: "one-box", percent: 10 }),
        ev(5, "deploy-finished", { step: "one-box", outcome: "succeeded" }),
        ev(5, "bake-started", { step: "one-box" }),
        ev(10, "deploy-started", { scope: "prod-1/us-east-1/use1-az2" }),
        ev(50, "bake-finished", { step: "one-box", outcome: "Healthy" }),
        ev(15, "deploy-finished", { scope: "prod-1/us-east-1/use1-az2" }),
      ],
      T0 + 120 * 60_000,
    );
    expect(bars.map((b) => [b.scope.slice(-3), b.kind, b.step, b.from, b.to, b.open])).toEqual([
      ["az1", "deploy", "one-box", T0, T0 + 5 * 60_000, false],
      ["az1", "bake", "one-box", T0 + 5 * 60_000, T0 + 50 * 60_000, false],
      ["az2", "deploy", "full", T0 + 10 * 60_000, T0 + 15 * 60_000, false],
    ]);
    expect(bars[0]?.percent).toBe(10);
    expect(bars[1]?.outcome).toBe("Healthy");
  });

  it("runs an interval with no end to the end of the simulation, marked open", () => {
    const end = T0 + 90 * 60_000;
    const [bar] = reportBars([ev(30, "blocked", { reason: "alarm orders-5xx in ALARM" })], end);
    expect(bar).toMatchObject({ kind: "blocked", to: end, open: true });
    expect(bar?.reason).toContain("orders-5xx");
  });

  it("keeps a rollback's outcome and the version it returned to", () => {
    const [bar] = reportBars(
      [
        ev(60, "rollback-started", { toVersion: "v1", reason: "alarm in ALARM" }),
        ev(70, "rollback-finished", { toVersion: "v1", outcome: "succeeded" }),
      ],
      T0 + 120 * 60_000,
    );
    expect(bar).toMatchObject({ kind: "rollback", toVersion: "v1", outcome: "succeeded" });
  });
});

describe("renderReport", () => {
  const result = {
    pipeline: "orders-api",
    version: "v2",
    fromVersion: "v1",
    outcome: "rolled-back",
    reason: 'detector said <img src=x onerror="alert(1)">',
    runs: [{ version: "v2", arrivedAt: at(0), outcome: "rolled-back", reason: "<b>x</b>" }],
    decisions: [{ at: at(100), action: "rollback-all", effect: "<script>alert(1)</script>" }],
    scopes: { "prod-1/us-east-1/use1-az1": { version: "v1", status: "rolled-back" } },
    rolledBack: ["prod-1/us-east-1/use1-az1"],
    targets: [],
    stages: [],
    timeline: [
      ev(0, "deploy-started"),
      ev(5, "deploy-finished"),
      ev(5, "bake-started"),
      ev(20, "bake-finished", { outcome: "Unhealthy", reason: "<svg onload=alert(1)>" }),
      ev(20, "rollback-started", { toVersion: "v1" }),
    ],
    startedAt: at(0),
    finishedAt: at(120),
    simulatedSeconds: 7200,
    wallMs: 1,
    stats: { deploySteps: 1 },
  } as unknown as SimulationResult;

  it("escapes every string that came from the run", () => {
    const html = renderReport(result);
    expect(html).not.toMatch(/<(img|script|svg onload|b>)/i);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("&lt;svg onload=alert(1)&gt;");
  });

  it("loads nothing: no script, and a CSP that forbids every source but inline style", () => {
    const html = renderReport(result);
    expect(html).toContain(
      `content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`,
    );
    expect(html).not.toMatch(/<script|<link|src="http|href="http/i);
  });

  it("draws the halt and the decision as marks, and an unhealthy bake outlined", () => {
    const html = renderReport(result);
    expect(html).toMatch(/class="mark halt"/);
    expect(html).toMatch(/class="mark decision"/);
    expect(html).toMatch(/class="bar bake unhealthy"/);
    expect(html).toMatch(/class="bar rollback open"/);
  });
});
