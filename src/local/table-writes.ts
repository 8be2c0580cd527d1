/**
 * Calls back after every successful write to one DynamoDB table made through a client (and
 * every document client wrapping it): PutItem, UpdateItem, DeleteItem, BatchWriteItem and
 * TransactWriteItems. `serve` uses it to know when what it reports has changed, so it can answer
 * reads from the last report until then (status-cache.ts) instead of reading the table again.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";

const WRITES = new Set([
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
]);

function touches(input: unknown, table: string): boolean {
  const i = input as {
    TableName?: unknown;
    RequestItems?: Record<string, unknown>;
    TransactItems?: Record<string, { TableName?: unknown } | undefined>[];
  };
  if (i?.TableName === table) return true;
  if (i?.RequestItems && table in i.RequestItems) return true;
  return (
    Array.isArray(i?.TransactItems) &&
    i.TransactItems.some((t) => Object.values(t).some((op) => op?.TableName === table))
  );
}

/**
 * Registers the callback; `stop()` removes it. The callback also runs when a write failed
 * (a transaction cancelled half-way writes nothing, but a timed-out call may have written):
 * a spurious change notice costs a recomputation, a missed one a stale answer.
 */
export function watchTableWrites(
  client: DynamoDBClient,
  table: string,
  onWrite: () => void,
): { stop(): void } {
  const name = `breakwater-table-writes-${table}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const write = WRITES.has(String(context.commandName)) && touches(args.input, table);
      try {
        return await next(args);
      } finally {
        if (write) onWrite();
      }
    },
    { step: "initialize", name, override: true },
  );
  return { stop: () => client.middlewareStack.remove(name) };
}
