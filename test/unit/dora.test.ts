/** The DORA figures from runs and history (src/domain/dora.ts): pure, so exact. */
import { describe, expect, it } from "vitest";
import {
  computeDora,
  type DoraRun,
  formatMinutes,
  restoreEpisodes,
} from "../../src/domain/dora.ts";
import type { HistoryEntry } from "../../src/domain/model.ts";

const from = new Date("2026-11-01T00:00:00Z");
const to = new Date("2026-11-11T00:00:00Z"); // 10 days

function run(over: Partial<DoraRun> & Pick<DoraRun, "version">): DoraRun {
  return {
    pipeline: "orders-api",
    status: "succeeded",
    createdAt: "2026-11-02T10:00:00Z",
    rolledBack: [],
    deployed: true,
    ...over,
  };
}

function entry(scope: string, at: string, status: HistoryEntry["status"]): HistoryEntry {
  return {
    pipeline: "orders-api",
    scope,
    at,
    toVersion: "v1",
    status,
    percent: 100,
    actor: "breakwater/rollback",
    cause: "test",
  };
}

describe("computeDora", () => {
  const runs: DoraRun[] = [
    // merged 09:00, fully deployed 15:00: 6 h
    run({
      version: "v2",
      change: { mergedAt: "2026-11-02T09:00:00Z" },
      finishedAt: "2026-11-02T15:00:00Z",
    }),
    // no merge time: from the run's creation (10:00) to 12:00: 2 h
    run({ version: "v3", finishedAt: "2026-11-03T12:00:00Z", createdAt: "2026-11-03T10:00:00Z" }),
    // rolled back: a change failure, not a deployment
    run({
      version: "v4",
      status: "halted",
      haltReason: "rollback",
      rolledBack: ["prod-1/eu-west-1"],
      createdAt: "2026-11-04T10:00:00Z",
    }),
    // superseded while waiting: deployed nothing, judged neither way
    run({
      version: "v5",
      status: "superseded",
      deployed: false,
      createdAt: "2026-11-05T10:00:00Z",
    }),
    // still running: not judged yet
    run({ version: "v6", status: "running", createdAt: "2026-11-06T10:00:00Z" }),
    // before the window: not counted
    run({
      version: "v1",
      createdAt: "2026-10-01T10:00:00Z",
      finishedAt: "2026-10-01T12:00:00Z",
    }),
    // another pipeline of the same service
    run({
      pipeline: "orders-infra",
      version: "i2",
      change: { mergedAt: "2026-11-07T00:00:00Z" },
      finishedAt: "2026-11-07T01:00:00Z",
      createdAt: "2026-11-07T00:10:00Z",
    }),
  ];
  const history = [
    entry("prod-1/eu-west-1", "2026-11-04T11:00:00Z", "baking"),
    entry("prod-1/eu-west-1", "2026-11-04T11:05:00Z", "rolling-back"),
    entry("prod-1/eu-west-1", "2026-11-04T11:17:00Z", "rolled-back"),
  ];
  const report = computeDora({
    pipelines: [
      { name: "orders-api", service: "orders" },
      { name: "orders-infra", service: "orders" },
      { name: "search" },
    ],
    runs,
    history,
    from,
    to,
  });

  it("lead time: merge (else creation) to succeeded, median and p90", () => {
    const api = report.pipelines.find((p) => p.pipeline === "orders-api");
    expect(api?.leadTime).toEqual({ samples: 2, medianMinutes: 120, p90Minutes: 360 });
  });

  it("deployment frequency: successful runs per day of the window", () => {
    const api = report.pipelines.find((p) => p.pipeline === "orders-api");
    expect(api?.deployments).toBe(2);
    expect(api?.deploymentsPerDay).toBe(0.2);
  });

  it("change-failure rate: runs that rolled back, of the ended runs that deployed", () => {
    const api = report.pipelines.find((p) => p.pipeline === "orders-api");
    expect(api?.changeFailureRate).toEqual({ failed: 1, total: 3, rate: 0.333 });
  });

  it("time to restore: rolling-back to rolled-back, per scope", () => {
    const api = report.pipelines.find((p) => p.pipeline === "orders-api");
    expect(api?.timeToRestore).toEqual({ samples: 1, medianMinutes: 12, p90Minutes: 12 });
  });

  it("per service and overall", () => {
    expect(report.services).toEqual([
      expect.objectContaining({
        service: "orders",
        pipelines: ["orders-api", "orders-infra"],
        deployments: 3,
      }),
    ]);
    expect(report.overall.deployments).toBe(3);
    const search = report.pipelines.find((p) => p.pipeline === "search");
    expect(search).toMatchObject({
      deployments: 0,
      leadTime: { samples: 0 },
      changeFailureRate: { failed: 0, total: 0 },
    });
    expect(search?.changeFailureRate.rate).toBeUndefined();
  });
});

describe("restoreEpisodes", () => {
  it("pairs each rollback start with the scope's next healthy entry", () => {
    const episodes = restoreEpisodes([
      entry("a", "2026-11-01T00:00:00Z", "rolling-back"),
      entry("b", "2026-11-01T00:01:00Z", "rolling-back"),
      entry("a", "2026-11-01T00:10:00Z", "rolled-back"),
      entry("b", "2026-11-01T00:04:00Z", "stable"),
      entry("c", "2026-11-01T00:04:00Z", "rolling-back"), // still rolling back: no episode
    ]);
    expect(episodes.map((e) => e.ms / 60_000).sort((a, b) => a - b)).toEqual([3, 10]);
  });
});

describe("formatMinutes", () => {
  it.each([
    [undefined, "–"],
    [45, "45m"],
    [412, "6h 52m"],
    [3060, "2d 3h"],
  ])("%s → %s", (m, text) => {
    expect(formatMinutes(m)).toBe(text);
  });
});
