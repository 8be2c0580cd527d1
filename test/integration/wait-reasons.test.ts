/**
 * "Every wait says why, and until when", on the real local control plane (DynamoDB Local, the
 * stage ASL in the interpreter, the real handlers, the virtual clock), stopped mid-run: the bake
 * rule's extension and the gate's time-window blocker are recorded where they are decided, and
 * `collectStatus` (what `status`, `status --watch` and the wave map show) says them.
 */
import { randomUUID } from "node:crypto";
import { DeleteTableCommand } from "@aws-sdk/client-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane, type LocalControlPlane } from "../../src/local/control-plane.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { collectStatus } from "../../src/ops/status.ts";
import { dynamoClient } from "../support/dynamo.ts";

const tables: string[] = [];
afterEach(async () => {
  for (const TableName of tables.splice(0)) {
    await dynamoClient()
      .send(new DeleteTableCommand({ TableName }))
      .catch(() => undefined);
  }
});

async function plane(
  pipeline: ReturnType<typeof parsePipeline>,
  start: Date,
  traffic: { scopes: string; requestsPerMinute: number }[] = [],
): Promise<LocalControlPlane> {
  const tableName = `breakwater-waits-${randomUUID()}`;
  tables.push(tableName);
  const p = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName,
    start,
    fleet: (clock) => new SimulatedFleet({ pipeline, initialVersion: "v1", clock, traffic }),
  });
  await p.register(pipeline, "v1");
  return p;
}

describe("every wait says why", () => {
  it("an extended bake says how many requests were served, and until when it bakes", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      stages: [
        {
          name: "prod-1",
          regions: ["eu-west-1"],
          bake: { minutes: 30, minRequests: 50_000, maxMinutes: 90 },
        },
      ],
    });
    const start = new Date("2026-01-12T09:00:00Z");
    const p = await plane(pipeline, start, [{ scopes: "prod-1/*", requestsPerMinute: 200 }]);
    p.requestRun("billing", "v2");
    // Past the first judging (deploy + 30 minutes of bake), well before maxMinutes.
    await p.run(new Date(start.getTime() + 60 * 60_000));

    const timeline = await p.store.timeline("billing@v2");
    const extended = timeline.filter((e) => e.event === "bake-extended");
    expect(extended).toHaveLength(1);
    const e = extended[0];
    expect(e?.reason).toMatch(/^extended: \d{1,3}(,\d{3})* of 50,000 requests served$/);
    const bakeStarted = timeline.find((x) => x.event === "bake-started");
    // 200 a minute cannot reach 50,000 in time: the bake is extended to maxMinutes.
    expect(Date.parse(e?.until ?? "")).toBe(Date.parse(bakeStarted?.at ?? "") + 90 * 60_000);

    const report = await collectStatus(p.store, { now: p.clock.now() });
    const scope = report.pipelines[0]?.scopes.find((s) => s.scope === "prod-1/eu-west-1");
    expect(scope?.status).toBe("baking");
    expect(scope?.wait).toEqual({ kind: "bake-extended", reason: e?.reason, until: e?.until });
  });

  it("a bake not yet extended says its minutes and its end", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      stages: [{ name: "prod-1", regions: ["eu-west-1"], bake: { minutes: 45 } }],
    });
    const start = new Date("2026-01-12T09:00:00Z");
    const p = await plane(pipeline, start);
    p.requestRun("billing", "v2");
    await p.run(new Date(start.getTime() + 30 * 60_000));
    const bakeStarted = (await p.store.timeline("billing@v2")).find(
      (x) => x.event === "bake-started",
    );
    const report = await collectStatus(p.store, { now: p.clock.now() });
    expect(report.pipelines[0]?.scopes[0]?.wait).toEqual({
      kind: "baking",
      reason: "baking 45 min",
      until: new Date(Date.parse(bakeStarted?.at ?? "") + 45 * 60_000).toISOString(),
    });
  });

  it("a step outside its window says when the window opens, in the region's time", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      timeWindows: {
        allowed: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "09:00", to: "17:00" }],
      },
      stages: [{ name: "prod-1", regions: ["eu-west-1"], bake: { minutes: 10 } }],
    });
    // Saturday noon in Dublin (UTC in January): the window opens Monday 09:00.
    const start = new Date("2026-01-10T12:00:00Z");
    const p = await plane(pipeline, start);
    p.requestRun("billing", "v2");
    await p.run(new Date(start.getTime() + 60 * 60_000));
    const report = await collectStatus(p.store, { now: p.clock.now() });
    const scope = report.pipelines[0]?.scopes[0];
    expect(scope?.status).toBe("stable");
    expect(scope?.wait).toEqual({
      kind: "blocked",
      reason: expect.stringContaining("window opens Mon 09:00 Europe/Dublin"),
      until: "2026-01-12T09:00:00.000Z",
    });
    expect(scope?.blocked?.until).toBe("2026-01-12T09:00:00.000Z");
  });
});
