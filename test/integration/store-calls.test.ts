/**
 * Round trips per deploy step (issue 15, item 1): the local control plane's DynamoDB calls,
 * counted at the client below every store, over a rollout shaped like the benchmark's (a
 * pre-production stage, then production waves with one-box, AZs one at a time, regions in
 * parallel, 1-hour bakes). The count is deterministic (the virtual clock orders every step), so
 * this is a test, not a timing.
 */
import { GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, inject, it } from "vitest";
import { DynamoStateStore } from "../../src/adapters/aws/dynamo-store.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { createTable, localDynamoClient } from "../../src/local/dynamodb-local.ts";
import { simulate } from "../../src/local/simulate.ts";
import { countStoreCalls } from "../../src/local/store-calls.ts";
import { dynamoClient } from "../support/dynamo.ts";

const START = new Date("2026-01-05T09:00:00Z");

/** Three stages of one wave shape each (pre-production, then two production waves of 4 regions). */
const wave = (name: string, regions: [string, string][]) => ({
  name,
  regions: regions.map(([region, prefix]) => ({
    region,
    azs: [1, 2, 3].map((n) => `${prefix}-az${n}`),
  })),
  regionsInParallel: regions.length,
  oneBox: true,
  bake: { minutes: 60 },
});

const rollout: PipelineInput = {
  name: "orders-api",
  stages: [
    {
      name: "gamma",
      regions: ["us-east-1", "eu-west-1"],
      regionsInParallel: 2,
      bake: { minutes: 60 },
    },
    wave("prod-1", [
      ["eu-west-1", "euw1"],
      ["ap-northeast-1", "apne1"],
      ["ca-central-1", "cac1"],
      ["sa-east-1", "sae1"],
    ]),
    wave("prod-2", [
      ["us-east-1", "use1"],
      ["eu-central-1", "euc1"],
      ["ap-southeast-1", "apse1"],
      ["ap-south-1", "aps1"],
    ]),
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
    // gamma 2, then each wave 4 regions × (one-box + 3 AZs).
    expect(result.stats.deploySteps).toBe(34);
    const { storeCalls, storeCallsPerStep } = result.stats;
    expect(storeCallsPerStep).toBeCloseTo(storeCalls.total / 34, 2);
    expect(
      storeCallsPerStep,
      `store calls: ${JSON.stringify(storeCalls.byOperation)}`,
    ).toBeLessThanOrEqual(6);
  });

  it("reads a stage slot once per move: never again right after its own compare-and-set write", async () => {
    const dynamo = localDynamoClient(inject("dynamoEndpoint"), inject("dynamoCredentials"));
    const reads = new Map<string, number>();
    dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        // A document client's command (plain key) or the client's own (attribute values).
        const key = (args.input as { Key?: { sk?: string | { S?: string } } }).Key?.sk;
        const sk = typeof key === "string" ? key : key?.S;
        if (/^Get(Item)?Command$/.test(String(context.commandName)) && sk?.startsWith("SLOT#")) {
          reads.set(sk, (reads.get(sk) ?? 0) + 1);
        }
        return next(args);
      },
      { step: "initialize", name: "slot-reads" },
    );
    try {
      const result = await simulate({
        pipeline: parsePipeline(rollout, "test"),
        fromVersion: "v1",
        version: "v2",
        start: START,
        dynamo,
      });
      expect(result.outcome).toBe("succeeded");
    } finally {
      dynamo.destroy();
    }
    // Each stage's slot: one read to ask for it, one to leave it.
    expect(Object.fromEntries(reads)).toEqual({
      "SLOT#gamma": 2,
      "SLOT#prod-1": 2,
      "SLOT#prod-2": 2,
    });
  });

  it("seeds a 76-scope pipeline's scopes in 2 writes, not one per scope", async () => {
    const dynamo = dynamoClient();
    const table = `calls-${Date.now()}-seed`;
    await createTable(dynamo, table);
    const store = new DynamoStateStore(dynamo, table);
    const scopes = Array.from({ length: 76 }, (_, i) => `prod-${1 + (i % 6)}/r${i}`);
    const counter = countStoreCalls(dynamo, table);
    const seeded = await store.seedScopes(
      scopes.map((scope) => ({
        pipeline: "orders-api",
        scope,
        version: "v1",
        percent: 100,
        status: "stable",
        since: START.toISOString(),
        cause: "initial version v1",
      })),
      "seed",
    );
    counter.stop();
    expect(seeded).toHaveLength(76);
    expect(counter.counts().byOperation).toEqual({ TransactWriteItems: 2 });
    expect(await store.listScopes("orders-api")).toHaveLength(76);
  });

  it("reads no blocks partition while the blocks' index says there are none, and never misses one", async () => {
    const dynamo = dynamoClient();
    const table = `calls-${Date.now()}-blocks`;
    await createTable(dynamo, table);
    const store = new DynamoStateStore(dynamo, table);
    // A table written before the index existed: a block the index never counted.
    await dynamo.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          pk: { S: "BLOCKS" },
          sk: { S: "pipeline#orders-api#" },
          level: { S: "pipeline" },
          target: { S: "orders-api" },
          reason: { S: "incident" },
          actor: { S: "ana" },
          createdAt: { S: "2026-01-05T09:00:00.000Z" },
        },
      }),
    );
    const counted = async () => {
      const counter = countStoreCalls(dynamo, table);
      const { blocks } = await store.readMany({ blocks: true });
      counter.stop();
      return { blocks, ops: counter.counts().byOperation };
    };
    const first = await counted();
    expect(first.blocks).toHaveLength(1);
    // No index yet: the partition is read, and the index repaired from that read.
    expect(first.ops).toEqual({ BatchGetItem: 1, Query: 1, UpdateItem: 1 });
    // Trusted now, and it counts one block: read, no repair.
    expect((await counted()).ops).toEqual({ BatchGetItem: 1, Query: 1 });
    const audit = {
      at: "2026-01-05T10:00:00.000Z",
      id: "a1",
      actor: "ana",
      action: "unblock",
      reason: "resolved",
      target: "pipeline orders-api",
      effect: "unblocked",
    };
    const was = (first.blocks ?? [])[0];
    expect(
      await store.commitOverride(
        [
          {
            kind: "block",
            level: "pipeline",
            target: "orders-api",
            ...(was ? { was } : {}),
            set: null,
          },
        ],
        audit,
      ),
    ).toBe(true);
    // None left: the batch alone answers.
    expect(await counted()).toEqual({ blocks: [], ops: { BatchGetItem: 1 } });
    // A seeded block leaves the index for the next reader to count: seen at once.
    await store.putBlock({
      level: "org",
      target: "",
      reason: "freeze",
      actor: "ana",
      createdAt: "2026-01-05T11:00:00.000Z",
    });
    expect((await counted()).blocks).toHaveLength(1);
  });
});
