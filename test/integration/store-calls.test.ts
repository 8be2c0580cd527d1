/**
 * Round trips per deploy step (issue 15, item 1): the local control plane's DynamoDB calls,
 * counted at the client below every store, over a rollout shaped like the benchmark's (a
 * pre-production stage, then production waves with one-box, AZs one at a time, regions in
 * parallel, 1-hour bakes). The count is deterministic (the virtual clock orders every step), so
 * this is a test, not a timing.
 */
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { createTable } from "../../src/local/dynamodb-local.ts";
import { simulate } from "../../src/local/simulate.ts";
import { countStoreCalls } from "../../src/local/store-calls.ts";
import { dynamoClient } from "../support/dynamo.ts";

const START = new Date("2026-01-05T09:00:00Z");

const rollout: PipelineInput = {
  name: "orders-api",
  stages: [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 60 } },
    {
      name: "gamma",
      regions: ["us-east-1", "eu-west-1"],
      regionsInParallel: 2,
      bake: { minutes: 60 },
    },
    {
      name: "prod-1",
      regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2", "eun1-az3"] }],
      oneBox: true,
      bake: { minutes: 60 },
    },
    {
      name: "prod-2",
      regions: [
        { region: "us-west-2", azs: ["usw2-az1", "usw2-az2", "usw2-az3"] },
        { region: "ap-southeast-2", azs: ["apse2-az1", "apse2-az2", "apse2-az3"] },
      ],
      regionsInParallel: 2,
      oneBox: true,
      bake: { minutes: 60 },
    },
  ],
};

describe("store calls per deploy step", () => {
  it("counts every call on its own table, by operation, and none on another table", async () => {
    const dynamo = dynamoClient();
    const mine = `calls-${Date.now()}-a`;
    const other = `calls-${Date.now()}-b`;
    await createTable(dynamo, mine);
    await createTable(dynamo, other);
    const counter = countStoreCalls(dynamo, mine);
    const key = { pk: { S: "x" }, sk: { S: "y" } };
    await dynamo.send(new GetItemCommand({ TableName: mine, Key: key }));
    await dynamo.send(new GetItemCommand({ TableName: mine, Key: key }));
    await dynamo.send(new GetItemCommand({ TableName: other, Key: key }));
    counter.stop();
    await dynamo.send(new GetItemCommand({ TableName: mine, Key: key }));
    expect(counter.counts()).toMatchObject({ total: 2, byOperation: { GetItem: 2 } });
    // Two eventually consistent reads of a missing item: half a unit each.
    expect(counter.counts().capacity).toEqual({ read: 1, write: 0 });
  });

  it("a representative rollout makes at most 6 store calls per deploy step", async () => {
    const result = await simulate({
      pipeline: parsePipeline(rollout, "test"),
      fromVersion: "v1",
      version: "v2",
      start: START,
      dynamo: dynamoClient(),
    });
    expect(result.outcome).toBe("succeeded");
    // alpha 1, gamma 2, prod-1 one-box + 3 AZs, prod-2 2 × (one-box + 3 AZs).
    expect(result.stats.deploySteps).toBe(15);
    const { storeCalls, storeCallsPerStep } = result.stats;
    expect(storeCallsPerStep).toBeCloseTo(storeCalls.total / 15, 2);
    expect(
      storeCallsPerStep,
      `store calls: ${JSON.stringify(storeCalls.byOperation)}`,
    ).toBeLessThanOrEqual(6);
  });
});
