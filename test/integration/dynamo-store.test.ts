/**
 * The single-table store against the real DynamoDB Local: conditional writes never lose an
 * update, every scope change lands in history in the same transaction, runs are created once.
 */
import { describe, expect, it } from "vitest";
import { DynamoDeliveryStore, DynamoTriggerLog } from "../../src/adapters/aws/dynamo-triggers.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { describeStoreContract } from "../contract/state-store.ts";
import { dynamoClient, freshStore } from "../support/dynamo.ts";

describeStoreContract("DynamoStateStore on DynamoDB Local", async () => (await freshStore()).store);

describe("DynamoStateStore on DynamoDB Local", () => {
  it("writes optional fields left undefined, whatever other stores share the client", async () => {
    // The webhook and the local control plane build several stores on one DynamoDB client.
    const { store, table } = await freshStore();
    new DynamoDeliveryStore(dynamoClient(), table);
    new DynamoTriggerLog(dynamoClient(), table);
    const sparse = parsePipeline({
      name: "sparse",
      stages: [{ name: "beta", regions: ["us-east-1"], oneBox: undefined, bake: { minutes: 10 } }],
    } as never);
    await store.putPipeline(sparse);
    expect((await store.getPipeline("sparse"))?.stages[0]?.bake.minutes).toBe(10);
  });
});
