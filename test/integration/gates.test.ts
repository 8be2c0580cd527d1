/**
 * Safety gates through the real local control plane (DynamoDB Local, the real ASL files and
 * handlers, the simulated fleet and alarms, the virtual clock): time windows, organisation
 * alarms, manual blocks, traffic-based bakes, the built-in detector, fast rollback.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../src/domain/model.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { simulate } from "../../src/local/simulate.ts";
import { dynamoClient } from "../support/dynamo.ts";

const at = (iso: string) => new Date(iso);
const ms = (iso: string) => Date.parse(iso);
type Event = Pick<TimelineEvent, "at" | "scope" | "step" | "event"> & {
  outcome?: string;
  reason?: string;
};
const events = <T extends Event>(timeline: T[], name: string): T[] =>
  timeline.filter((e) => e.event === name);

const small = (over: Partial<PipelineInput> = {}): PipelineInput => ({
  name: "billing",
  stages: [
    { name: "alpha", regions: ["eu-west-1"], bake: { minutes: 30 } },
    { name: "prod-1", regions: ["eu-west-1"], oneBox: true, bake: { minutes: 60 } },
  ],
  ...over,
});

describe("time windows", () => {
  it("a run started at 18:00 local with a 09:00-17:00 window waits until the next allowed day", async () => {
    const pipeline = parsePipeline(
      small({
        timeWindows: {
          allowed: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "09:00", to: "17:00" }],
        },
      }),
    );
    // Friday 9 January 2026, 18:00 in Dublin (UTC+0 in winter).
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-09T18:00:00Z"),
      dynamo: dynamoClient(),
    });
    expect(result.outcome).toBe("succeeded");
    const [blocked] = events(result.timeline, "blocked");
    expect(blocked).toMatchObject({ at: "2026-01-09T18:00:00.000Z", scope: "alpha/eu-west-1" });
    expect(blocked?.reason).toContain(
      "outside the allowed window (mon-fri 09:00-17:00 Europe/Dublin)",
    );
    const first = events(result.timeline, "deploy-started")[0];
    // Monday 09:00 local, to the minute: the step waited for the window, not for a poll.
    expect(first?.at).toBe("2026-01-12T09:00:00.000Z");
    expect(events(result.timeline, "unblocked")[0]?.at).toBe("2026-01-12T09:00:00.000Z");
    // Every deploy step started inside the window.
    for (const e of events(result.timeline, "deploy-started")) {
      const h = new Date(e.at).getUTCHours();
      expect(h >= 9 && h < 17, e.at).toBe(true);
    }
  });

  it("holds a step on a public holiday of the region (calendars loaded lazily by the gate)", async () => {
    const pipeline = parsePipeline(small({ timeWindows: { holidays: true } }));
    // Christmas Day 2026 (a Friday), 10:00 in Dublin: the handlers load date-holidays on first
    // need (src/domain/time-windows/holidays.ts), so this is the gate's real path.
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-12-25T10:00:00Z"),
      dynamo: dynamoClient(),
    });
    expect(result.outcome).toBe("succeeded");
    const [blocked] = events(result.timeline, "blocked");
    expect(blocked).toMatchObject({ at: "2026-12-25T10:00:00.000Z", scope: "alpha/eu-west-1" });
    expect(blocked?.reason).toContain("public holiday in eu-west-1 (IE): Christmas Day");
    const first = events(result.timeline, "deploy-started")[0];
    expect(ms(first?.at ?? "")).toBeGreaterThanOrEqual(ms("2026-12-26T00:00:00Z"));
  });

  it("a stage's own window replaces the pipeline's, in the stage's region local time", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      stages: [
        { name: "alpha", regions: ["eu-west-1"], bake: { minutes: 10 } },
        {
          name: "prod-1",
          regions: ["ap-southeast-2"],
          bake: { minutes: 10 },
          timeWindows: { allowed: [{ days: ["mon"], from: "10:00", to: "12:00" }] },
        },
      ],
    });
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
    });
    expect(result.outcome).toBe("succeeded");
    const prod = events(result.timeline, "deploy-started").find((e) =>
      e.scope.startsWith("prod-1"),
    );
    // Monday 10:00 in Sydney (UTC+11 in January) is Sunday 23:00 UTC: next Monday's window.
    expect(prod?.at).toBe("2026-01-18T23:00:00.000Z");
  });

  it("holds (never deploys, never rolls back) a region whose local time cannot be known", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      timeWindows: { allowed: [{ days: ["mon"], from: "09:00", to: "17:00" }] },
      // A region AWS has (the schema refuses others) with no built-in time zone: the ISO
      // partitions need the installation's region overrides.
      stages: [{ name: "prod-1", regions: ["us-isob-east-1"], bake: { minutes: 10 } }],
    });
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      horizon: at("2026-01-12T10:00:00Z"),
      dynamo: dynamoClient(),
    });
    expect(result.outcome).toBe("blocked");
    expect(result.reason).toContain("cannot evaluate time windows");
    expect(result.reason).toContain("us-isob-east-1");
    expect(events(result.timeline, "deploy-started")).toHaveLength(0);
    expect(result.rolledBack).toEqual([]);
  });
});

describe("organisation alarms", () => {
  it("hold every pipeline's next step while in ALARM, and they resume when it clears", async () => {
    const a = parsePipeline(small({ name: "billing" }));
    const b = parsePipeline(small({ name: "ledger" }));
    const start = at("2026-01-12T09:00:00Z");
    const alarmFrom = at("2026-01-12T09:20:00Z");
    const alarmTo = at("2026-01-12T12:00:00Z");
    const plane = await createLocalControlPlane({
      dynamo: dynamoClient(),
      tableName: `gates-${randomUUID()}`,
      start,
      fleet: (clock) =>
        new SimulatedFleet({ pipeline: a, morePipelines: [b], initialVersion: "v1", clock }),
      alarms: [{ name: "org-sev1-open", from: alarmFrom, to: alarmTo }],
      installation: { orgAlarms: ["org-sev1-open"], blockerRecheckMinutes: 5 },
    });
    await plane.register(a, "v1");
    await plane.register(b, "v1");
    plane.requestRun("billing", "v2");
    plane.requestRun("ledger", "v2");
    await plane.run();
    for (const name of ["billing", "ledger"]) {
      const run = await plane.store.getRun(`${name}@v2`);
      expect(run?.status, name).toBe("succeeded");
      const timeline = await plane.store.timeline(`${name}@v2`);
      const starts = events(timeline, "deploy-started");
      for (const e of starts) {
        const t = ms(e.at);
        expect(
          t < alarmFrom.getTime() || t >= alarmTo.getTime(),
          `${name} ${e.scope} ${e.at}`,
        ).toBe(true);
      }
      // alpha (bake 30 + deploy 5) ends at 09:35, inside the alarm: prod-1 waits.
      const blocked = events(timeline, "blocked");
      const unblocked = events(timeline, "unblocked");
      expect(blocked).toHaveLength(1);
      expect(unblocked).toHaveLength(1);
      expect(blocked[0]?.reason).toBe("organisation alarm org-sev1-open is in ALARM");
      expect(ms(unblocked[0]?.at ?? "")).toBeGreaterThanOrEqual(alarmTo.getTime());
      expect(ms(unblocked[0]?.at ?? "") - alarmTo.getTime()).toBeLessThanOrEqual(5 * 60_000);
      // Notified once when it started and once when it cleared, not on every re-check.
      const history = await plane.store.history(name, "prod-1/eu-west-1");
      expect(history.filter((h) => h.cause.includes("blocked: organisation alarm"))).toHaveLength(
        1,
      );
      expect(history.filter((h) => h.cause.includes("unblocked"))).toHaveLength(1);
    }
    const published = plane.bus.log.filter(
      (e) => e["detail-type"] === "Breakwater Scope Event" && e.detail.event === "blocked",
    );
    expect(published).toHaveLength(2);
  });

  it("flapping: each ALARM period blocks, each OK period lets the step go", async () => {
    const pipeline = parsePipeline(small());
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      installation: { blockerRecheckMinutes: 1 },
      alarms: [
        { name: "org-sev1-open", from: at("2026-01-12T08:00:00Z"), to: at("2026-01-12T09:10:00Z") },
        { name: "org-sev1-open", from: at("2026-01-12T09:40:00Z"), to: at("2026-01-12T10:05:00Z") },
      ],
    });
    expect(result.outcome).toBe("succeeded");
    const starts = events(result.timeline, "deploy-started").map((e) => e.at);
    expect(starts[0]).toBe("2026-01-12T09:10:00.000Z");
    // alpha: deploy 09:10-09:15, bake until 09:45 (in the second ALARM period): prod waits.
    expect(starts[1]).toBe("2026-01-12T10:05:00.000Z");
    expect(events(result.timeline, "blocked")).toHaveLength(2);
    expect(events(result.timeline, "unblocked")).toHaveLength(2);
  });
});

describe("manual blocks", () => {
  it("a scope-level block holds only the matching scopes", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      stages: [
        {
          name: "prod-1",
          regions: ["eu-west-1", "us-west-2"],
          regionsInParallel: 2,
          bake: { minutes: 30 },
        },
      ],
    });
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      blocks: [
        {
          level: "scope",
          target: "billing:prod-1/us-*",
          reason: "investigating a customer ticket",
          actor: "alice",
          createdAt: "2026-01-12T08:00:00Z",
          to: "2026-01-12T11:00:00Z",
        },
      ],
    });
    expect(result.outcome).toBe("succeeded");
    const starts = Object.fromEntries(
      events(result.timeline, "deploy-started").map((e) => [e.scope, e.at]),
    );
    expect(starts["prod-1/eu-west-1"]).toBe("2026-01-12T09:00:00.000Z");
    expect(starts["prod-1/us-west-2"]).toBe("2026-01-12T11:00:00.000Z");
    expect(events(result.timeline, "blocked")[0]?.reason).toBe(
      "manual block on scopes billing:prod-1/us-* by alice: investigating a customer ticket",
    );
  });

  it("two scheduled blocks on one target both hold (one does not replace the other)", async () => {
    const block = (from: string, to: string) => ({
      level: "pipeline" as const,
      target: "billing",
      reason: `window ${from}`,
      actor: "alice",
      createdAt: "2026-01-12T08:00:00Z",
      from,
      to,
      scheduled: true,
    });
    const result = await simulate({
      pipeline: parsePipeline(small()),
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      blocks: [
        block("2026-01-12T09:00:00Z", "2026-01-12T10:00:00Z"),
        block("2026-01-12T10:20:00Z", "2026-01-12T12:00:00Z"),
      ],
    });
    expect(result.outcome).toBe("succeeded");
    const starts = events(result.timeline, "deploy-started").map((e) => e.at);
    // alpha waits out the first block; prod-1's one-box (ready at 10:35) waits out the second.
    expect(starts).toEqual([
      "2026-01-12T10:00:00.000Z",
      "2026-01-12T12:00:00.000Z",
      "2026-01-12T13:02:00.000Z",
    ]);
  });

  it("a block that never lifts leaves the run waiting at the horizon, outcome blocked", async () => {
    const result = await simulate({
      pipeline: parsePipeline(small()),
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      horizon: at("2026-01-12T15:00:00Z"),
      dynamo: dynamoClient(),
      blocks: [
        {
          level: "org",
          target: "",
          reason: "sev-1",
          actor: "oncall",
          createdAt: "2026-01-12T08:00:00Z",
        },
      ],
    });
    expect(result.outcome).toBe("blocked");
    expect(result.reason).toContain("manual block on organisation by oncall: sev-1");
    expect(events(result.timeline, "deploy-started")).toHaveLength(0);
    expect(result.scopes["alpha/eu-west-1"]).toMatchObject({ version: "v1", status: "stable" });
  });
});

describe("bake policy", () => {
  it("halts, inconclusive (not a rollback), when traffic never reaches minRequests", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      stages: [
        {
          name: "prod-1",
          regions: ["eu-west-1"],
          bake: { minutes: 30, minRequests: 50_000, maxMinutes: 90 },
        },
        { name: "prod-2", regions: ["us-west-2"], bake: { minutes: 30 } },
      ],
    });
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      fleet: { traffic: [{ scopes: "prod-1/*", requestsPerMinute: 200 }] },
    });
    expect(result.outcome).toBe("halted");
    expect(result.reason).toMatch(
      /prod-1\/eu-west-1: insufficient traffic: served \d+ of 50000 requests in 90 minutes/,
    );
    expect(result.rolledBack).toEqual([]);
    expect(events(result.timeline, "rollback-started")).toHaveLength(0);
    const verdict = events(result.timeline, "bake-finished")[0];
    expect(verdict?.outcome).toBe("Inconclusive");
    // The bake lasted maxMinutes (bounded), and the version stays until an engineer decides.
    const bakeStart = events(result.timeline, "bake-started")[0];
    expect(ms(verdict?.at ?? "") - ms(bakeStart?.at ?? "")).toBe(90 * 60_000);
    expect(result.scopes["prod-1/eu-west-1"]).toMatchObject({ version: "v2", status: "stable" });
    expect(result.scopes["prod-2/us-west-2"]).toMatchObject({ version: "v1" });
  });

  it("extends the bake until minRequests is served, then proceeds", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      stages: [
        {
          name: "prod-1",
          regions: ["eu-west-1"],
          bake: { minutes: 30, minRequests: 60_000, maxMinutes: 240 },
        },
      ],
    });
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
    });
    expect(result.outcome).toBe("succeeded");
    const bakeStart = ms(events(result.timeline, "bake-started")[0]?.at ?? "");
    const verdictAt = ms(events(result.timeline, "bake-finished")[0]?.at ?? "");
    // About 1000 requests a minute: 60 minutes or a little more, far below maxMinutes.
    expect(verdictAt - bakeStart).toBeGreaterThanOrEqual(60 * 60_000);
    expect(verdictAt - bakeStart).toBeLessThan(75 * 60_000);
  });

  it("proceeds without enough traffic when the stage says onInsufficientTraffic: proceed", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      stages: [
        {
          name: "prod-1",
          regions: ["eu-west-1"],
          bake: { minutes: 30, minRequests: 50_000, maxMinutes: 60 },
          onInsufficientTraffic: "proceed",
        },
      ],
    });
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      fleet: { traffic: [{ scopes: "*", requestsPerMinute: 200 }] },
    });
    expect(result.outcome).toBe("succeeded");
    expect(events(result.timeline, "bake-finished")[0]?.reason).toContain(
      "proceeding (onInsufficientTraffic: proceed)",
    );
  });
});

describe("built-in anomaly detection", () => {
  it("rolls back a latency regression injected only in the one-box, with no alarm configured", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      stages: [
        {
          name: "prod-1",
          regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2", "eun1-az3"] }],
          oneBox: true,
          bake: { minutes: 60 },
        },
      ],
    });
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      faults: [{ scopes: "prod-1/eu-north-1/eun1-az1", kind: "latency" }],
    });
    expect(pipeline.alarms).toBeUndefined();
    expect(result.outcome).toBe("rolled-back");
    expect(result.rolledBack).toEqual(["prod-1/eu-north-1/eun1-az1"]);
    const verdict = events(result.timeline, "bake-finished")[0] as TimelineEvent;
    expect(verdict).toMatchObject({ step: "one-box", outcome: "Unhealthy" });
    expect(verdict.reason).toMatch(/^detector latency: /);
    // Only the one-box ever ran; AZ2 and AZ3 never saw the version.
    expect(events(result.timeline, "deploy-started")).toHaveLength(1);
    expect(result.scopes["prod-1/eu-north-1/eun1-az2"]).toMatchObject({
      version: "v1",
      status: "stable",
    });
  });

  it("does not roll back healthy noise across a whole rollout", async () => {
    const result = await simulate({
      pipeline: parsePipeline({
        name: "billing",
        stages: [
          { name: "alpha", regions: ["eu-west-1"], bake: { minutes: 20 } },
          {
            name: "prod-1",
            regions: ["us-west-2", "eu-west-1", "ap-southeast-2", "eu-central-1"],
            regionsInParallel: 4,
            oneBox: { percent: 5 },
            bake: { minutes: 45 },
          },
        ],
      }),
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      fleet: { traffic: [{ scopes: "prod-1/ap-*", requestsPerMinute: 60 }] },
    });
    expect(result.outcome).toBe("succeeded");
  });
});

describe("fast rollback", () => {
  it("an app alarm going to ALARM mid-bake starts that scope's rollback at once, not at the bake's end", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      alarms: ["billing-{stage}-{region}-errors"],
      stages: [
        {
          name: "prod-1",
          regions: ["eu-west-1", "us-west-2"],
          regionsInParallel: 2,
          bake: { minutes: 60 },
        },
        { name: "prod-2", regions: ["eu-central-1"], bake: { minutes: 60 } },
      ],
    });
    // Deploys finish at 09:05; the bake would end at 10:05. The alarm fires at 09:30.
    const alarmAt = at("2026-01-12T09:30:00Z");
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      alarms: [{ name: "billing-prod-1-eu-west-1-errors", from: alarmAt }],
    });
    expect(result.outcome).toBe("rolled-back");
    expect(result.rolledBack).toEqual(["prod-1/eu-west-1"]);
    const started = events(result.timeline, "rollback-started")[0];
    expect(started).toMatchObject({ scope: "prod-1/eu-west-1" });
    expect(ms(started?.at ?? "") - alarmAt.getTime()).toBeLessThan(1000);
    expect(started?.reason).toContain("billing-prod-1-eu-west-1-errors in ALARM");
    // The other region's in-flight step finishes its bake and keeps the new version.
    expect(result.scopes["prod-1/us-west-2"]).toMatchObject({ version: "v2", status: "stable" });
    expect(result.scopes["prod-1/eu-west-1"]).toMatchObject({
      version: "v1",
      status: "rolled-back",
    });
    expect(result.scopes["prod-2/eu-central-1"]).toMatchObject({ version: "v1", status: "stable" });
    // One rollback, not a second one at the end of the bake.
    expect(events(result.timeline, "rollback-started")).toHaveLength(1);
    // The bake the fast rollback ended has its verdict too (issue 13, item 7: audit).
    const bakes = events(result.timeline, "bake-finished");
    expect(bakes.map((e) => [e.scope, e.outcome])).toEqual([
      ["prod-1/eu-west-1", "Unhealthy"],
      ["prod-1/us-west-2", "Healthy"],
    ]);
    expect(bakes[0]?.at).toBe(started?.at);
    expect(bakes[0]?.reason).toContain("billing-prod-1-eu-west-1-errors in ALARM");
  });

  it("an alarm matched by a name prefix (template ending in *) rolls back its scope too", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      alarms: ["billing-{stage}-{region}-*"],
      stages: [{ name: "prod-1", regions: ["eu-west-1"], bake: { minutes: 60 } }],
    });
    const alarmAt = at("2026-01-12T09:40:00Z");
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      alarms: [{ name: "billing-prod-1-eu-west-1-latency-p99", from: alarmAt }],
    });
    expect(result.outcome).toBe("rolled-back");
    expect(events(result.timeline, "rollback-started")[0]?.at).toBe(alarmAt.toISOString());
  });
});
