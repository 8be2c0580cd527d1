/**
 * An installation's scale (issue 15, item 3): `status` of one pipeline reads only that
 * pipeline's items (and the organisation's blocks and configuration), however many other
 * pipelines share the table. Every item every answer carried is recorded at the DynamoDB
 * client, below every store.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { localDynamoClient } from "../../src/local/dynamodb-local.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { collectStatus } from "../../src/ops/status.ts";

const START = new Date("2026-01-05T09:00:00Z");
const pipelineNamed = (name: string) =>
  parsePipeline({
    name,
    stages: [
      { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
      { name: "prod-1", regions: ["eu-west-1", "us-east-1"], bake: { minutes: 60 } },
    ],
  });

type Attr = { S?: string } | string | undefined;
const text = (a: Attr) => (typeof a === "string" ? a : a?.S);

describe("status of one pipeline", () => {
  it("reads only that pipeline's items while other pipelines' runs are in flight on the table", async () => {
    const dynamo = localDynamoClient(inject("dynamoEndpoint"), inject("dynamoCredentials"));
    const pipelines = ["orders-api", "payments", "search"].map(pipelineNamed);
    const plane = await createLocalControlPlane({
      dynamo,
      tableName: `status-reads-${randomUUID()}`,
      start: START,
      fleet: (clock) => SimulatedFleet.serving(pipelines, "v1", clock),
    });
    try {
      for (const p of pipelines) await plane.register(p, "v1");
      for (const p of pipelines) plane.requestRun(p.name, "v2", "test");
      // Past alpha's bake, inside prod-1's: every pipeline has a run in flight.
      await plane.run(new Date(START.getTime() + 30 * 60_000));

      const read: string[] = [];
      dynamo.middlewareStack.add(
        (next) => async (args) => {
          const out = await next(args);
          const o = (out.output ?? {}) as {
            Item?: Record<string, Attr>;
            Items?: Record<string, Attr>[];
            Responses?: Record<string, Record<string, Attr>[]>;
          };
          const items = [
            ...(o.Item ? [o.Item] : []),
            ...(o.Items ?? []),
            ...Object.values(o.Responses ?? {}).flat(),
          ];
          for (const item of items) read.push(`${text(item.pk)}|${text(item.sk)}`);
          return out;
        },
        { step: "initialize", name: "items-read" },
      );
      const report = await collectStatus(plane.store, {
        now: plane.clock.now(),
        pipeline: "payments",
      });
      dynamo.middlewareStack.remove("items-read");

      expect(report.pipelines.map((p) => p.pipeline)).toEqual(["payments"]);
      expect(report.pipelines[0]?.runs.some((r) => r.inFlight)).toBe(true);
      expect(read.length).toBeGreaterThan(0);
      const foreign = read.filter(
        (key) => !/^(PIPELINE#payments\||RUN#payments@|CONFIG\||BLOCKS\|)/.test(key),
      );
      expect(foreign).toEqual([]);
      // And the pipeline's own runs, scopes and timelines were among them.
      expect(read.some((k) => k.startsWith("RUN#payments@v2|"))).toBe(true);
      expect(read.some((k) => k.startsWith("PIPELINE#payments|SCOPE#"))).toBe(true);
    } finally {
      dynamo.destroy();
    }
  });
});
