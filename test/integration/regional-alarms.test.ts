/**
 * Alarms from every region reach fast rollback (issue 12, item 7), in the local mode: each
 * simulated alarm lives in a region, as in AWS, and its state-change event arrives with that
 * region (and account), as a forwarder delivers it to the control plane's bus. The real local
 * control plane (DynamoDB Local, the real ASL and handlers, the virtual clock).
 */
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../src/domain/model.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { simulate } from "../../src/local/simulate.ts";
import { dynamoClient } from "../support/dynamo.ts";

const at = (iso: string) => new Date(iso);
const ms = (iso: string) => Date.parse(iso);
const events = <T extends Pick<TimelineEvent, "event">>(timeline: T[], name: string): T[] =>
  timeline.filter((e) => e.event === name);

// One alarm name in every region (no {region} in it): only the alarm's region tells them apart.
const pipeline = parsePipeline({
  name: "billing",
  alarms: ["billing-errors"],
  stages: [
    {
      name: "prod-1",
      regions: ["eu-west-1", "us-west-2", "ap-southeast-2"],
      regionsInParallel: 3,
      bake: { minutes: 60 },
    },
  ],
});

describe("alarms in several regions", () => {
  it("an alarm in eu-west-1 rolls back the eu-west-1 scope at once; the same-named alarms of the other regions stay OK", async () => {
    // Deploys finish at 09:05; the bake would end at 10:05. eu-west-1's alarm fires at 09:30.
    const alarmAt = at("2026-01-12T09:30:00Z");
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      alarms: [{ name: "billing-errors", from: alarmAt, region: "eu-west-1" }],
    });
    expect(result.rolledBack).toEqual(["prod-1/eu-west-1"]);
    const rollbacks = events(result.timeline, "rollback-started");
    expect(rollbacks).toHaveLength(1);
    expect(rollbacks[0]).toMatchObject({ scope: "prod-1/eu-west-1" });
    // Fast: from the forwarded event, not at the end of the bake.
    expect(ms(rollbacks[0]?.at ?? "") - alarmAt.getTime()).toBeLessThan(1000);
    for (const scope of ["prod-1/us-west-2", "prod-1/ap-southeast-2"]) {
      expect(result.scopes[scope], scope).toMatchObject({ version: "v2", status: "stable" });
    }
  });

  it("alarms in two regions roll back exactly those two scopes, each when its own alarm fires", async () => {
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      alarms: [
        { name: "billing-errors", from: at("2026-01-12T09:20:00Z"), region: "ap-southeast-2" },
        {
          name: "billing-errors",
          from: at("2026-01-12T09:40:00Z"),
          region: "us-west-2",
          account: "210987654321",
        },
      ],
    });
    expect([...result.rolledBack].sort()).toEqual(["prod-1/ap-southeast-2", "prod-1/us-west-2"]);
    const started = Object.fromEntries(
      events(result.timeline, "rollback-started").map((e) => [e.scope, e.at]),
    );
    expect(ms(started["prod-1/ap-southeast-2"] ?? "") - ms("2026-01-12T09:20:00Z")).toBeLessThan(
      1000,
    );
    expect(result.scopes["prod-1/eu-west-1"]).toMatchObject({ version: "v2", status: "stable" });
  });
});
