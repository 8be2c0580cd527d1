/**
 * Rolling steps (issue 13 item 5) through the real local control plane: DynamoDB Local, the
 * real stage and rollback ASL in the local interpreter, the real handlers, the simulated
 * fleet and alarms, virtual time. Each full step deploys in traffic steps; each step below
 * 100% bakes `bakeMinutes` before the next; the 100% step bakes the stage's full bake; a scope
 * that turns unhealthy mid-rolling goes back to 0% of the new version.
 */
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../src/domain/model.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { simulate } from "../../src/local/simulate.ts";
import { dynamoClient } from "../support/dynamo.ts";

type Event = Omit<TimelineEvent, "runId" | "pipeline">;
const ms = (iso: string) => Date.parse(iso);
const start = new Date("2026-01-12T09:00:00Z");

const pipeline = parsePipeline({
  name: "orders",
  alarms: ["orders-errors-{az}"],
  stages: [
    {
      name: "prod-1",
      regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }],
      oneBox: true,
      rolling: { percents: [25, 50, 100], bakeMinutes: 10 },
      bake: { minutes: 60 },
    },
  ],
});
const A1 = "prod-1/us-east-1/use1-az1";
const A2 = "prod-1/us-east-1/use1-az2";

const of = (timeline: Event[], scope: string, event: string) =>
  timeline.filter((e) => e.scope === scope && e.event === event);

describe("rolling steps", () => {
  it("each scope takes every share in order, baking bakeMinutes between steps and the full bake at 100%", async () => {
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start,
      dynamo: dynamoClient(),
    });
    expect(result.outcome).toBe("succeeded");
    const t = result.timeline;
    expect(of(t, A1, "deploy-started").map((e) => [e.step, e.percent])).toEqual([
      ["one-box", 10],
      ["rolling", 25],
      ["rolling", 50],
      ["full", 100],
    ]);
    expect(of(t, A2, "deploy-started").map((e) => [e.step, e.percent])).toEqual([
      ["rolling", 25],
      ["rolling", 50],
      ["full", 100],
    ]);
    for (const scope of [A1, A2]) {
      const bakes = of(t, scope, "bake-started");
      const verdicts = of(t, scope, "bake-finished");
      const starts = of(t, scope, "deploy-started");
      expect(verdicts.map((v) => v.outcome)).toEqual(bakes.map(() => "Healthy"));
      bakes.forEach((bake, i) => {
        const minutes = bake.step === "rolling" ? 10 : 60;
        const verdict = verdicts[i] as Event;
        // Each bake lasted its own length, and the next step started only after it.
        expect(ms(verdict.at) - ms(bake.at), `${scope} ${bake.step} ${bake.percent}%`).toBe(
          minutes * 60_000,
        );
        const next = starts[i + 1];
        if (next) expect(ms(next.at)).toBeGreaterThanOrEqual(ms(verdict.at));
      });
    }
    // The second AZ starts only after the first one's 100% bake.
    const a1Full = of(t, A1, "bake-finished").at(-1) as Event;
    expect(ms(of(t, A2, "deploy-started")[0]?.at ?? "")).toBeGreaterThanOrEqual(ms(a1Full.at));
    expect(result.scopes[A1]).toMatchObject({ version: "v2", status: "stable" });
    expect(result.scopes[A2]).toMatchObject({ version: "v2", status: "stable" });
    expect(result.scopes[A1]?.percent ?? 100).toBe(100);
  });

  it("an alarm during the 50% bake rolls the scope back to 0% new; no further share starts", async () => {
    // The same rollout, healthy, gives the instant the 50% step of the first AZ starts baking
    // (virtual time: the second run is the same up to the alarm).
    const healthy = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start,
      dynamo: dynamoClient(),
    });
    const bake50 = of(healthy.timeline, A1, "bake-started").find((e) => e.percent === 50);
    expect(bake50).toBeDefined();
    const alarmAt = new Date(ms(bake50?.at ?? "") + 5 * 60_000);

    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start,
      dynamo: dynamoClient(),
      alarms: [{ name: "orders-errors-use1-az1", from: alarmAt }],
    });
    expect(result.outcome).toBe("rolled-back");
    expect(result.rolledBack).toEqual([A1]);
    const t = result.timeline;
    expect(of(t, A1, "deploy-started").map((e) => e.percent)).toEqual([10, 25, 50]);
    expect(of(t, A2, "deploy-started")).toEqual([]);
    const rollback = of(t, A1, "rollback-started")[0];
    expect(rollback?.toVersion).toBe("v1");
    expect(ms(rollback?.at ?? "")).toBeGreaterThanOrEqual(alarmAt.getTime());
    // Back to the previous version on all of the scope's traffic: 0% new.
    expect(result.scopes[A1]).toMatchObject({ version: "v1", status: "rolled-back" });
    expect(result.scopes[A1]?.percent ?? 100).toBe(100);
    expect(result.scopes[A2]).toMatchObject({ version: "v1" });
  });

  it("the built-in detector sees a fault at the first share of the second AZ: that AZ alone goes back to 0% new", async () => {
    const noBox = parsePipeline({
      name: "orders",
      stages: [
        {
          name: "prod-1",
          regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }],
          rolling: { percents: [25, 50, 100], bakeMinutes: 10 },
          bake: { minutes: 30 },
        },
      ],
    });
    const result = await simulate({
      pipeline: noBox,
      fromVersion: "v1",
      version: "v2",
      start,
      dynamo: dynamoClient(),
      faults: [{ scopes: A2, kind: "faults" }],
    });
    expect(result.outcome).toBe("rolled-back");
    expect(result.rolledBack).toEqual([A2]);
    const t = result.timeline;
    expect(of(t, A2, "deploy-started").map((e) => [e.step, e.percent])).toEqual([["rolling", 25]]);
    const verdict = of(t, A2, "bake-finished")[0];
    expect(verdict).toMatchObject({ step: "rolling", percent: 25, outcome: "Unhealthy" });
    expect(verdict?.reason).toContain("detector fault-rate");
    // The first AZ keeps the new version; the faulty one serves the old one on all its traffic.
    expect(result.scopes[A1]).toMatchObject({ version: "v2", status: "stable" });
    expect(result.scopes[A2]).toMatchObject({ version: "v1", status: "rolled-back" });
    expect(result.scopes[A2]?.percent ?? 100).toBe(100);
  });
});
