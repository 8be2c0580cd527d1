/** The DynamoDB trigger stores on DynamoDB Local, against the shared contract. */

import { PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { DynamoRunRequestStore } from "../../src/adapters/aws/dynamo-run-requests.ts";
import { documentClient } from "../../src/adapters/aws/dynamo-store.ts";
import {
  DynamoDeliveryStore,
  DynamoReviewStore,
  DynamoTriggerLog,
  TRIGGER_SHARDS,
} from "../../src/adapters/aws/dynamo-triggers.ts";
import type { TriggerRecord } from "../../src/triggers/ports.ts";
import { describeTriggerStoresContract } from "../contract/trigger-stores.ts";
import { dynamoClient, freshStore } from "../support/dynamo.ts";

describeTriggerStoresContract("DynamoDB trigger stores", async (now) => {
  const { table } = await freshStore();
  return {
    reviews: new DynamoReviewStore(dynamoClient(), table),
    deliveries: new DynamoDeliveryStore(dynamoClient(), table, now),
    log: new DynamoTriggerLog(dynamoClient(), table, { now }),
    runRequests: new DynamoRunRequestStore(dynamoClient(), table, () => new Date(now())),
  };
});

describe("DynamoDB trigger log: sharded partitions (issue 15 item 3)", () => {
  const start = Date.parse("2026-12-02T10:00:00Z");
  const at = (m: number) => new Date(start + m * 60_000).toISOString();
  const record = (m: number, over: Partial<TriggerRecord> = {}): TriggerRecord => ({
    at: at(m),
    trigger: "github",
    outcome: "rejected",
    reason: `r${m}`,
    ...over,
  });
  const scan = async (table: string) => {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await documentClient(dynamoClient()).send(
        new ScanCommand({ TableName: table, ExclusiveStartKey: startKey, ConsistentRead: true }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  };
  /** An item as a release before sharding (or a shard) holds it, written directly. */
  const putRaw = (table: string, pk: string, m: number, over: Record<string, unknown> = {}) => {
    const sk = `TRIG#${at(m)}#${String(m).padStart(15, "0")}#0000000000#raw0000${m % 10}`;
    return documentClient(dynamoClient()).send(
      new PutCommand({
        TableName: table,
        Item: { pk, sk, ...record(m), ...over, ...(over.pipeline ? { gsi1sk: sk } : {}) },
      }),
    );
  };

  it("spreads the records over many partitions, none of them the legacy TRIGGERS one", async () => {
    const { table } = await freshStore();
    const log = new DynamoTriggerLog(dynamoClient(), table);
    for (let i = 0; i < 64; i++) await log.record(record(i % 8));
    const pks = new Set((await scan(table)).map((item) => String(item.pk)));
    expect(pks.size).toBeGreaterThanOrEqual(8);
    expect(pks.size).toBeLessThanOrEqual(TRIGGER_SHARDS);
    for (const pk of pks) expect(pk).toMatch(/^TRIGGERS#\d{2}$/);
  });

  it("lists across every shard and the legacy partition newest first, up to the limit", async () => {
    const { table } = await freshStore();
    const log = new DynamoTriggerLog(dynamoClient(), table);
    // Odd minutes through the log (its shards); even minutes as stored before sharding (the
    // legacy partition) and one directly in a shard.
    for (let m = 1; m < 40; m += 2) {
      await log.record(record(m, m % 3 === 0 ? { pipeline: "orders-api" } : {}));
    }
    for (let m = 2; m < 40; m += 2) {
      await putRaw(
        table,
        "TRIGGERS",
        m,
        m % 3 === 0 ? { gsi1pk: "PIPELINE#orders-api", pipeline: "orders-api" } : {},
      );
    }
    await putRaw(table, "TRIGGERS#07", 40);
    const all = Array.from({ length: 40 }, (_, i) => `r${40 - i}`);
    expect((await log.list({ limit: 100 })).map((r) => r.reason)).toEqual(all);
    expect((await log.list()).map((r) => r.reason)).toEqual(all);
    expect((await log.list({ limit: 7 })).map((r) => r.reason)).toEqual(all.slice(0, 7));
    expect((await log.list({ limit: 1 })).map((r) => r.reason)).toEqual(["r40"]);
    const perPipeline = all.filter((r) => Number(r.slice(1)) % 3 === 0);
    expect((await log.list({ pipeline: "orders-api", limit: 100 })).map((r) => r.reason)).toEqual(
      perPipeline,
    );
    expect((await log.list({ pipeline: "orders-api", limit: 4 })).map((r) => r.reason)).toEqual(
      perPipeline.slice(0, 4),
    );
  });

  it("keeps the default limit of 50 over many shards", async () => {
    const { table } = await freshStore();
    const log = new DynamoTriggerLog(dynamoClient(), table);
    await Promise.all(Array.from({ length: 64 }, (_, i) => log.record(record(i))));
    const listed = (await log.list()).map((r) => r.reason);
    expect(listed).toEqual(Array.from({ length: 50 }, (_, i) => `r${63 - i}`));
  });

  it("pages through a partition larger than one Query response (1 MB)", async () => {
    const { table } = await freshStore();
    const log = new DynamoTriggerLog(dynamoClient(), table);
    const big = "x".repeat(200_000);
    // 8 items of 200 KB in the legacy partition: two or more Query pages.
    for (let m = 0; m < 8; m++) await putRaw(table, "TRIGGERS", m, { reason: `${big}${m}` });
    await log.record(record(8));
    const listed = await log.list({ limit: 100 });
    expect(listed.map((r) => r.reason.slice(-2))).toEqual([
      "r8",
      ...Array.from({ length: 8 }, (_, i) => `x${7 - i}`),
    ]);
    expect((await log.list({ limit: 6 })).map((r) => r.reason.slice(-2))).toEqual([
      "r8",
      "x7",
      "x6",
      "x5",
      "x4",
      "x3",
    ]);
  });
});
