/**
 * `breakwater dashboard --aws` and `metrics --aws` against mocked AWS (SSM and DynamoDB answer
 * as the documented APIs do; the CLI, the server and the stores are the real ones): the wave map
 * is served on 127.0.0.1, read-only (Query and GetItem only; SSM asked for the table's name
 * alone); and the wave map's stream hub reads once per burst of changes, not once per change or
 * per client.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pipelineItem } from "../../src/adapters/aws/dynamo-store.ts";
import { EXIT, main } from "../../src/cli/main.ts";
import { readSnapshots } from "../../src/cli/ops-client.ts";
import type { DoraReport } from "../../src/domain/dora.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import type { DashboardData } from "../../src/ops/dashboard.ts";
import { createDashboardRoutes } from "../../src/ops/dashboard-http.ts";

const pipeline = parsePipeline({
  name: "orders-api",
  stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } }],
});
const TABLE = "prod-breakwater-Breakwater-StateABC";
/** Two days ago (inside the dashboard's 30-day window), to the minute. */
const BASE = Math.floor((Date.now() - 2 * 86_400_000) / 60_000) * 60_000;
const t = (minutes: number) => new Date(BASE + minutes * 60_000).toISOString();
const items: Record<string, unknown>[] = [
  pipelineItem(pipeline),
  {
    pk: "PIPELINE#orders-api",
    sk: "SCOPE#alpha/us-east-1",
    pipeline: "orders-api",
    scope: "alpha/us-east-1",
    version: "3f9c2e1",
    previousVersion: "v1",
    percent: 100,
    status: "stable",
    since: "2026-01-05T09:20:00.000Z",
    cause: "run orders-api@3f9c2e1: baked healthy",
    rev: 4,
  },
  {
    pk: "RUN#orders-api@3f9c2e1",
    sk: "RUN",
    gsi1pk: "PIPELINE#orders-api",
    gsi1sk: "RUN#2026-01-05T09:00:00.000Z#orders-api@3f9c2e1",
    runId: "orders-api@3f9c2e1",
    pipeline: "orders-api",
    version: "3f9c2e1",
    status: "succeeded",
    seq: 1,
    definition: pipeline,
    change: { trigger: "github", approvers: ["bob"], mergedAt: t(0) },
    createdAt: t(30),
    updatedAt: t(50),
    finishedAt: t(50),
    stages: { alpha: { status: "succeeded", startedAt: t(30) } },
    rolledBack: [],
    cause: "merge #42",
  },
  {
    pk: "PIPELINE#orders-api",
    sk: "HIST#alpha/us-east-1#0000000001",
    pipeline: "orders-api",
    scope: "alpha/us-east-1",
    at: "2026-01-05T09:05:00.000Z",
    rev: 1,
    fromVersion: "v1",
    toVersion: "3f9c2e1",
    status: "deploying",
    percent: 100,
    actor: "breakwater/deploy",
    cause: "run orders-api@3f9c2e1: full deploy",
  },
];

/** The table, as DynamoDB would answer the store's queries (key conditions only). */
function answer(input: {
  TableName?: string;
  IndexName?: string;
  ExpressionAttributeValues?: Record<string, unknown>;
  Key?: Record<string, unknown>;
}) {
  expect(input.TableName).toBe(TABLE);
  const v = input.ExpressionAttributeValues ?? {};
  if (input.Key) {
    return { Item: items.find((i) => i.pk === input.Key?.pk && i.sk === input.Key?.sk) };
  }
  if (input.IndexName) {
    const prefix = String(v[":r"] ?? "");
    return {
      Items: items.filter((i) => i.gsi1pk === v[":p"] && String(i.gsi1sk).startsWith(prefix)),
    };
  }
  const prefix = String(v[":p"] ?? "");
  return { Items: items.filter((i) => i.pk === v[":pk"] && String(i.sk).startsWith(prefix)) };
}

async function cli(args: string[], dashboardUntil?: (url: string) => Promise<void>) {
  let stdout = "";
  let stderr = "";
  const sink = (write: (s: string) => void) =>
    ({
      write: (s: string) => {
        write(String(s));
        return true;
      },
    }) as unknown as NodeJS.WritableStream;
  const code = await main(
    ["node", "breakwater", ...args],
    { out: sink((s) => (stdout += s)), err: sink((s) => (stderr += s)) },
    undefined,
    { env: {}, ...(dashboardUntil ? { dashboardUntil } : {}) },
  );
  return { code, stdout, stderr };
}

describe("dashboard and metrics --aws (mocked AWS)", () => {
  const ssm = mockClient(SSMClient);
  const ddb = mockClient(DynamoDBDocumentClient);
  const aws = ["--aws", "--stage", "prod", "--region", "eu-west-1"];

  beforeEach(() => {
    ssm.reset();
    ddb.reset();
    ssm.on(GetParametersCommand).resolves({
      Parameters: [{ Name: "/breakwater/prod/table-name", Value: TABLE }],
      InvalidParameters: [],
    });
    ddb.on(QueryCommand).callsFake(answer);
    ddb.on(GetCommand).callsFake(answer);
  });
  afterEach(() => {
    ssm.reset();
    ddb.reset();
  });

  it("dashboard serves the wave map of the deployed table on 127.0.0.1, read-only", async () => {
    let page = "";
    let csp = "";
    let data: DashboardData | undefined;
    let streamed: DashboardData | undefined;
    const r = await cli(["dashboard", ...aws, "--port", "0"], async (url) => {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${url}/`);
      page = await res.text();
      csp = res.headers.get("content-security-policy") ?? "";
      data = (await (await fetch(`${url}/dashboard/data`)).json()) as DashboardData;
      const stop = new AbortController();
      const stream = await fetch(`${url}/dashboard/stream`, { signal: stop.signal });
      for await (const s of readSnapshots(stream.body as ReadableStream<Uint8Array>)) {
        streamed = s as DashboardData;
        break;
      }
      stop.abort();
      expect((await fetch(`${url}/override`, { method: "POST" })).status).toBe(404);
    });
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toContain("(read-only; Ctrl-C stops it)");
    expect(page).toContain("Breakwater wave map (stage prod in eu-west-1)");
    expect(csp).toContain("default-src 'none'");
    expect(data?.status.pipelines[0]?.scopes).toMatchObject([
      { scope: "alpha/us-east-1", version: "3f9c2e1", status: "stable" },
    ]);
    expect(streamed?.status.pipelines).toEqual(data?.status.pipelines);
    // Merged at 0, fully deployed at +50 minutes.
    expect(data?.dora.pipelines[0]?.leadTime).toMatchObject({ samples: 1, medianMinutes: 50 });
    // The table name only (never the override URL), and only reads.
    for (const call of ssm.commandCalls(GetParametersCommand)) {
      expect(call.args[0].input).toEqual({ Names: ["/breakwater/prod/table-name"] });
    }
    const kinds = new Set(ddb.calls().map((c) => c.args[0].constructor.name));
    expect(kinds.size).toBeGreaterThan(0);
    for (const kind of kinds) expect(["GetCommand", "QueryCommand"]).toContain(kind);
  });

  it("metrics --aws reads the figures from the table", async () => {
    const since = t(-60);
    const r = await cli(["metrics", ...aws, "--since", since, "--json"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const report = JSON.parse(r.stdout) as DoraReport;
    expect(report.from).toBe(since);
    expect(report.pipelines[0]).toMatchObject({
      pipeline: "orders-api",
      deployments: 1,
      changeFailureRate: { failed: 0, total: 1, rate: 0 },
    });
  });

  it("status --watch --aws draws the waves from the table and ends when nothing moves", async () => {
    const r = await cli(["status", "--watch", ...aws]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout.match(/^control plane time /gm)).toHaveLength(1);
    expect(r.stdout).toMatch(/alpha\s+us-east-1 3f9c2e1\n/);
    expect(r.stdout).toContain("runs in flight: none");
  });

  it("dashboard without --aws says where the local wave map is", async () => {
    const r = await cli(["dashboard"]);
    expect(r.code).toBe(EXIT.badInput);
    expect(r.stderr).toContain("dashboard needs --aws --stage <stage>");
  });
});

describe("the wave map's stream hub", () => {
  it("reads once per burst of changes and pushes only what changed, to every stream", async () => {
    let loads = 0;
    let version = "v1";
    const routes = createDashboardRoutes({
      title: "t",
      throttleMs: 30,
      load: async () => {
        loads++;
        return { version } as unknown as DashboardData;
      },
    });
    const server = createServer((req, res) => {
      void routes.handle(req, res, new URL(req.url ?? "/", "http://x"));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const stop = new AbortController();
    try {
      // Nobody watching: changes cost nothing.
      for (let i = 0; i < 10; i++) routes.changed();
      await new Promise((r) => setTimeout(r, 90));
      expect(loads).toBe(0);
      const streams = await Promise.all(
        [1, 2, 3].map(() => fetch(`${url}/dashboard/stream`, { signal: stop.signal })),
      );
      const readers = streams.map((s) =>
        readSnapshots(s.body as ReadableStream<Uint8Array>)[Symbol.asyncIterator](),
      );
      for (const r of readers) expect((await r.next()).value).toEqual({ version: "v1" });
      const before = loads;
      // A burst of 50 state changes: one read (throttled), one push per stream.
      version = "v2";
      for (let i = 0; i < 50; i++) routes.changed();
      for (const r of readers) expect((await r.next()).value).toEqual({ version: "v2" });
      expect(loads - before).toBe(1);
      // Nothing new: read, but nothing pushed.
      routes.changed();
      await new Promise((r) => setTimeout(r, 120));
      version = "v3";
      routes.changed();
      for (const r of readers) expect((await r.next()).value).toEqual({ version: "v3" });
      expect(loads - before).toBe(3);
      expect(routes.clients()).toBe(3);
    } finally {
      stop.abort();
      routes.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
