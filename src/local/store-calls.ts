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
  /**
   * Capacity units the calls consumed, as DynamoDB reports them (`ReturnConsumedCapacity`):
   * what an on-demand table bills as read and write request units.
   */
  capacity: { read: number; write: number };
  /** The calls' latencies added up, ms (calls of parallel branches overlap in wall time). */
  latencyMs: number;
}

type Consumed = { ReadCapacityUnits?: number; WriteCapacityUnits?: number; CapacityUnits?: number };

/** Read and write units of one response's `ConsumedCapacity` (one object, or one per table). */
function unitsOf(consumed: Consumed | Consumed[] | undefined, op: string): [number, number] {
  let read = 0;
  let write = 0;
  for (const c of Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) {
    const r = c.ReadCapacityUnits;
    const w = c.WriteCapacityUnits;
    if (r !== undefined || w !== undefined) {
      read += r ?? 0;
      write += w ?? 0;
    } else if (/Write|Put|Update|Delete/.test(op)) write += c.CapacityUnits ?? 0;
    else read += c.CapacityUnits ?? 0;
  }
  return [read, write];
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
  const capacity = { read: 0, write: 0 };
  let latencyMs = 0;
  const name = `breakwater-store-calls-${table}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!tablesOf(args.input).includes(table)) return next(args);
      const op = String(context.commandName ?? "unknown").replace(/Command$/, "");
      byOperation.set(op, (byOperation.get(op) ?? 0) + 1);
      // Asking for the consumed capacity changes nothing else about the call.
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = "TOTAL";
      const t0 = performance.now();
      const out = await next(args);
      latencyMs += performance.now() - t0;
      const [read, write] = unitsOf(
        (out.output as { ConsumedCapacity?: Consumed | Consumed[] }).ConsumedCapacity,
        op,
      );
      capacity.read += read;
      capacity.write += write;
      return out;
    },
    // Initialize runs once per `send`, before the retry middleware: one call, not one attempt.
    { step: "initialize", name, override: true },
  );
  return {
    counts() {
      const ops = Object.fromEntries([...byOperation].sort(([a], [b]) => a.localeCompare(b)));
      return {
        total: Object.values(ops).reduce((a, b) => a + b, 0),
        byOperation: ops,
        capacity: { read: capacity.read, write: capacity.write },
        latencyMs: Math.round(latencyMs),
      };
    },
    stop() {
      client.middlewareStack.remove(name);
    },
  };
}
