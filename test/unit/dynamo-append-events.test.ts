/**
 * `appendEvents` against DynamoDB's documented TransactWriteItems failures (aws-sdk-client-mock):
 * only a cancellation caused by duplicates (every reason ConditionalCheckFailed or None) is
 * "already recorded"; a throttled or conflicting transaction wrote nothing and must throw.
 * The duplicate case itself runs on DynamoDB Local in test/integration/dynamo-store.test.ts.
 */
import { DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { DynamoStateStore } from "../../src/adapters/aws/dynamo-store.ts";
import type { TimelineEvent } from "../../src/domain/model.ts";

const doc = mockClient(DynamoDBDocumentClient);
afterEach(() => doc.reset());

const event = (n: number): TimelineEvent => ({
  at: `2026-01-05T10:00:0${n}.000Z`,
  runId: "orders-api@v2",
  pipeline: "orders-api",
  version: "v2",
  stage: "prod-1",
  scope: "prod-1/eu-north-1",
  step: "full",
  event: "deploy-started",
  percent: 100,
});

/** The exception as DynamoDB returns it: one reason per item, in request order. */
const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(", ")}]`,
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: codes.map((Code) =>
      Code === "None"
        ? { Code }
        : Code === "ConditionalCheckFailed"
          ? { Code, Message: "The conditional request failed" }
          : Code === "ThrottlingError"
            ? { Code, Message: "Throughput exceeds the current capacity of your table or index." }
            : { Code, Message: "Transaction is ongoing for the item" },
    ),
  });

const store = () => new DynamoStateStore(new DynamoDBClient({ region: "eu-north-1" }), "t");
const sentKeys = () =>
  doc
    .commandCalls(TransactWriteCommand)
    .map((c) => (c.args[0].input.TransactItems ?? []).map((i) => i.Put?.Item?.at));

describe("DynamoStateStore.appendEvents on cancelled transactions", () => {
  it.each([
    ["ThrottlingError", ["ThrottlingError", "None"]],
    ["TransactionConflict", ["None", "TransactionConflict"]],
    ["a conflict next to a duplicate", ["ConditionalCheckFailed", "TransactionConflict"]],
    ["ValidationError", ["ValidationError", "None"]],
  ])("throws on %s (nothing was written)", async (_, codes) => {
    doc.on(TransactWriteCommand).rejects(cancelled(...codes));
    await expect(store().appendEvents([event(1), event(2)])).rejects.toBeInstanceOf(
      TransactionCanceledException,
    );
  });

  it("treats an all-duplicate batch as recorded", async () => {
    doc
      .on(TransactWriteCommand)
      .rejects(cancelled("ConditionalCheckFailed", "ConditionalCheckFailed"));
    await expect(store().appendEvents([event(1), event(2)])).resolves.toBeUndefined();
    expect(sentKeys()).toHaveLength(1);
  });

  it("re-sends only the new events of a batch with duplicates", async () => {
    doc
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled("ConditionalCheckFailed", "None", "None"))
      .resolves({});
    await store().appendEvents([event(1), event(2), event(3)]);
    expect(sentKeys()).toEqual([
      [event(1).at, event(2).at, event(3).at],
      [event(2).at, event(3).at],
    ]);
  });

  it("throws a cancellation without reasons (it cannot be shown to be a duplicate)", async () => {
    doc
      .on(TransactWriteCommand)
      .rejects(
        new TransactionCanceledException({ message: "Transaction cancelled", $metadata: {} }),
      );
    await expect(store().appendEvents([event(1)])).rejects.toBeInstanceOf(
      TransactionCanceledException,
    );
  });
});
