/**
 * Counts the DynamoDB calls the control plane makes on one table, by operation (GetItem, Query,
 * TransactWriteItems, BatchGetItem, …): the figure behind `simulate --json`'s
 * `stats.storeCalls` and `npm run bench`. It counts at the client, below every store (state,
 * run requests, triggers, deliveries), so no store can make a call the count misses; one
 * `send` is one call however many attempts the SDK's retry makes.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";

/** The table names one DynamoDB request refers to (single-item, batch and transaction shapes). */
function tablesOf(input: unknown): string[] {
  if (!input || typeof input !== "object") return [];
  const i = input as {
    TableName?: unknown;
    RequestItems?: Record<string, unknown>;
    TransactItems?: Record<string, { TableName?: unknown } | undefined>[];
  };
  if (typeof i.TableName === "string") return [i.TableName];
  if (i.RequestItems) return Object.keys(i.RequestItems);
  if (Array.isArray(i.TransactItems)) {
    return i.TransactItems.flatMap((t) =>
      Object.values(t)
        .map((op) => op?.TableName)
        .filter((n): n is string => typeof n === "string"),
    );
  }
  return [];
}

export interface StoreCallCounts {
  /** Every call on the table. */
  total: number;
  /** Calls by DynamoDB operation (`GetItem`, `Query`, `TransactWriteItems`, …). */
  byOperation: Record<string, number>;
}

/**
 * Counts the calls on `table` made through `client` (and every document client wrapping it)
 * from now until `stop()`. Several counters may share a client (simulations running side by
 * side in tests): each counts only its own table.
 */
export function countStoreCalls(
  client: DynamoDBClient,
  table: string,
): { counts(): StoreCallCounts; stop(): void } {
  const byOperation = new Map<string, number>();
  const name = `breakwater-store-calls-${table}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (tablesOf(args.input).includes(table)) {
        const op = String(context.commandName ?? "unknown").replace(/Command$/, "");
        byOperation.set(op, (byOperation.get(op) ?? 0) + 1);
      }
      return next(args);
    },
    // Initialize runs once per `send`, before the retry middleware: one call, not one attempt.
    { step: "initialize", name, override: true },
  );
  return {
    counts() {
      const ops = Object.fromEntries([...byOperation].sort(([a], [b]) => a.localeCompare(b)));
      return { total: Object.values(ops).reduce((a, b) => a + b, 0), byOperation: ops };
    },
    stop() {
      client.middlewareStack.remove(name);
    },
  };
}
