/**
 * The operator commands without a control plane: argument parsing (which backend, the override
 * request built from flags), the tables, the /events body parser, and the `--aws` paths against
 * mocked AWS clients (SSM lookup, the table read with DynamoDB queries), and the override
 * function URL played by a local HTTP server that checks the request's SigV4 signature.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Sha256 } from "@aws-crypto/sha256-js";
import { GetParametersCommand, SSMClient } from "@aws-sdk/client-ssm";
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { pipelineItem } from "../../src/adapters/aws/dynamo-store.ts";
import { EXIT, main } from "../../src/cli/main.ts";
import {
  backendFor,
  buildOverrideRequest,
  OPS_EXIT,
  renderHistory,
  renderStatus,
  renderTable,
  resolveRelative,
} from "../../src/cli/ops.ts";
import { AwsOpsBackend, HttpOpsBackend } from "../../src/cli/ops-client.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { parseLocalEvents } from "../../src/local/serve.ts";
import type { HistoryReport, StatusReport } from "../../src/ops/status.ts";

const NOW = new Date("2026-01-05T09:00:00Z");

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
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
    { env },
  );
  return { code, stdout, stderr };
}

describe("exit codes", () => {
  it("are the documented ones, shared with main's", () => {
    expect(OPS_EXIT).toEqual({ ok: 0, internal: 1, badInput: 2, unreachable: 6 });
    expect(EXIT.unreachable).toBe(6);
    expect(EXIT.badInput).toBe(OPS_EXIT.badInput);
  });
});

describe("backendFor", () => {
  it("defaults to the local control plane on port 8787, or $BREAKWATER_ENDPOINT", () => {
    expect(backendFor({}, {}).where).toBe("http://127.0.0.1:8787/");
    expect(backendFor({}, { BREAKWATER_ENDPOINT: "http://127.0.0.1:9000" }).where).toBe(
      "http://127.0.0.1:9000/",
    );
    expect(backendFor({ endpoint: "http://localhost:1234" }, {})).toBeInstanceOf(HttpOpsBackend);
  });

  it("--aws needs --stage and excludes --endpoint; AWS-only flags need --aws", () => {
    expect(backendFor({ aws: true, stage: "prod", region: "eu-west-1" }, {})).toBeInstanceOf(
      AwsOpsBackend,
    );
    expect(() => backendFor({ aws: true }, {})).toThrow("--aws needs --stage <stage>");
    expect(() => backendFor({ aws: true, stage: "prod", endpoint: "http://x" }, {})).toThrow(
      "--endpoint and --aws: choose one",
    );
    expect(() => backendFor({ stage: "prod" }, {})).toThrow("--stage is only for --aws");
    expect(() => backendFor({ table: "t" }, {})).toThrow("--table is only for --aws");
    expect(() => backendFor({ aws: true, stage: "pr od" }, {})).toThrow(
      '--stage "pr od": must be letters, digits and hyphens',
    );
    expect(() => backendFor({ endpoint: "ftp://x" }, {})).toThrow("must be an http URL");
  });
});

describe("buildOverrideRequest", () => {
  it("passes the action and fields through, splits --kinds, resolves +offsets on the given clock", () => {
    expect(
      buildOverrideRequest(
        "bypass",
        {
          pipeline: "orders-api",
          version: "3f9c2e1",
          kinds: "manual, time-window",
          expiresAt: "+2h",
          actor: "alice",
          reason: "ship the fix",
          endpoint: "http://ignored",
          json: true,
        },
        NOW,
      ),
    ).toEqual({
      action: "bypass",
      pipeline: "orders-api",
      version: "3f9c2e1",
      kinds: ["manual", "time-window"],
      expiresAt: "2026-01-05T11:00:00.000Z",
      actor: "alice",
      reason: "ship the fix",
    });
  });

  it("does not know the list of actions: a future one goes through as given", () => {
    expect(
      buildOverrideRequest(
        "roll-forward",
        { pipeline: "orders-api", version: "v3", actor: "bob", reason: "fixed" },
        NOW,
      ),
    ).toEqual({
      action: "roll-forward",
      pipeline: "orders-api",
      version: "v3",
      actor: "bob",
      reason: "fixed",
    });
  });

  it("leaves times that are not +offsets for the function to judge", () => {
    const r = buildOverrideRequest("block", { level: "org", until: "tomorrow" }, NOW);
    expect(r).toEqual({ action: "block", level: "org", until: "tomorrow" });
    expect(resolveRelative("+1d2h30m", NOW)).toBe("2026-01-06T11:30:00.000Z");
    expect(resolveRelative("+", NOW)).toBeUndefined();
    expect(resolveRelative("2h", NOW)).toBeUndefined();
  });

  it("--dry-run prints the request without reaching any control plane", async () => {
    const r = await cli([
      "override",
      "cancel",
      "--pipeline",
      "orders-api",
      "--version",
      "v2",
      "--actor",
      "alice",
      "--reason",
      "wrong build",
      "--dry-run",
      "--endpoint",
      "http://127.0.0.1:1",
    ]);
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(r.stdout)).toEqual({
      action: "cancel",
      pipeline: "orders-api",
      version: "v2",
      actor: "alice",
      reason: "wrong build",
    });
  });

  it("a command without its argument, or a flag that needs --aws, exits 2", async () => {
    expect((await cli(["override"])).code).toBe(EXIT.badInput);
    expect((await cli(["history"])).code).toBe(EXIT.badInput);
    const r = await cli(["status", "--stage", "prod"]);
    expect(r.code).toBe(EXIT.badInput);
    expect(r.stderr).toContain("--stage is only for --aws");
  });

  it("nothing listening: exit 6 with what to do", async () => {
    const r = await cli(["status", "--endpoint", "http://127.0.0.1:9"]);
    expect(r.code).toBe(EXIT.unreachable);
    expect(r.stderr).toContain("no control plane answers at http://127.0.0.1:9/");
    expect(r.stderr).toContain("breakwater serve --pipeline <file>");
  });
});

const status: StatusReport = {
  at: "2026-01-05T12:00:00.000Z",
  pipelines: [
    {
      pipeline: "orders-api",
      stages: ["alpha", "prod-1"],
      scopes: [
        {
          scope: "alpha/us-east-1",
          version: "v2",
          previousVersion: "v1",
          percent: 100,
          status: "stable",
          since: "2026-01-05T10:00:00.000Z",
          cause: "run orders-api@v2",
        },
        {
          scope: "prod-1/eu-north-1/eun1-az1",
          version: "v2",
          previousVersion: "v1",
          percent: 10,
          status: "baking",
          since: "2026-01-05T11:00:00.000Z",
          cause: "run orders-api@v2",
        },
        {
          scope: "prod-1/eu-north-1/eun1-az2",
          version: "v1",
          percent: 100,
          status: "stable",
          since: "2026-01-05T09:00:00.000Z",
          cause: "seed",
          blocked: {
            reason: "manual block: sev-2",
            since: "2026-01-05T11:30:00Z",
            kinds: ["manual"],
          },
        },
      ],
      runs: [
        {
          runId: "orders-api@v2",
          version: "v2",
          seq: 2,
          status: "halted",
          inFlight: true,
          currentStage: "prod-1",
          haltReason: "rollback",
          haltedBy: "prod-1/eu-north-1/eun1-az1",
          haltDetail: "errors alarm",
          rolledBack: [],
          cause: "merge",
          createdAt: "2026-01-05T09:00:00.000Z",
          updatedAt: "2026-01-05T11:00:00.000Z",
        },
        {
          runId: "orders-api@v3",
          version: "v3",
          seq: 3,
          status: "waiting",
          inFlight: true,
          waitingFor: "alpha",
          rolledBack: [],
          cause: "merge",
          createdAt: "2026-01-05T10:00:00.000Z",
          updatedAt: "2026-01-05T10:00:00.000Z",
        },
        {
          runId: "orders-api@v1b",
          version: "v1b",
          seq: 1,
          status: "superseded",
          inFlight: false,
          supersededBy: "orders-api@v2",
          rolledBack: [],
          cause: "merge",
          createdAt: "2026-01-05T08:00:00.000Z",
          updatedAt: "2026-01-05T09:00:00.000Z",
        },
      ],
      bypasses: [
        {
          pipeline: "orders-api",
          version: "v2",
          kinds: ["manual"],
          expiresAt: "2026-01-05T18:00:00.000Z",
          actor: "alice",
          reason: "the fix",
          createdAt: "2026-01-05T11:00:00.000Z",
        },
      ],
    },
  ],
  blocks: [
    {
      level: "scope",
      target: "orders-api:prod-1/*",
      reason: "sev-2",
      actor: "bob",
      createdAt: "2026-01-05T11:30:00.000Z",
      from: "2026-01-05T11:30:00.000Z",
    },
  ],
};

describe("tables", () => {
  it("renderTable pads columns to their widest cell", () => {
    expect(
      renderTable(
        ["a", "bb"],
        [
          ["xxx", "y"],
          ["z", ""],
        ],
      ),
    ).toBe(["a    bb", "───  ──", "xxx  y", "z"].join("\n"));
  });

  it("status: versions per scope, runs in flight with stage, waiting and halt, blockers, bypasses", () => {
    const text = renderStatus(status);
    expect(text).toContain("control plane time 2026-01-05T12:00:00.000Z");
    expect(text).toMatch(/prod-1\/eu-north-1\/eun1-az1\s+v2 \(10%\)\s+baking\s+\S+\s+previous v1/);
    expect(text).toMatch(
      /prod-1\/eu-north-1\/eun1-az2\s+v1\s+stable\s+\S+\s+blocked: manual block: sev-2/,
    );
    expect(text).toMatch(
      /2\s+v2\s+halted\s+prod-1\s+rollback at prod-1\/eu-north-1\/eun1-az1: errors alarm/,
    );
    expect(text).toMatch(/3\s+v3\s+waiting\s+alpha/);
    expect(text).toContain("last finished: #1 v1b superseded (by orders-api@v2)");
    expect(text).toContain(
      "bypasses: v2 ignores manual until 2026-01-05T18:00:00.000Z (alice: the fix)",
    );
    expect(text).toMatch(
      /scopes orders-api:prod-1\/\*\s+2026-01-05T11:30:00.000Z\s+removed by unblock\s+bob\s+sev-2/,
    );
  });

  it("history: each change with actor and cause, then the overrides", () => {
    const report: HistoryReport = {
      target: "orders-api:alpha/us-east-1",
      pipeline: "orders-api",
      scope: "alpha/us-east-1",
      entries: [
        {
          pipeline: "orders-api",
          scope: "alpha/us-east-1",
          at: "2026-01-05T09:00:00.000Z",
          toVersion: "v1",
          status: "stable",
          percent: 100,
          actor: "seed",
          cause: "initial version v1",
        },
        {
          pipeline: "orders-api",
          scope: "alpha/us-east-1",
          at: "2026-01-05T09:05:00.000Z",
          fromVersion: "v1",
          toVersion: "v2",
          status: "deploying",
          percent: 100,
          actor: "breakwater/deploy",
          cause: "run orders-api@v2: full deploy",
        },
      ],
      audit: [
        {
          at: "2026-01-05T10:00:00.000Z",
          id: "a1",
          actor: "alice",
          action: "block",
          reason: "sev-2",
          target: "pipeline orders-api",
          effect: "blocked pipeline orders-api",
        },
      ],
    };
    const text = renderHistory(report);
    expect(text).toMatch(/2026-01-05T09:00:00.000Z\s+v1\s+stable\s+seed\s+initial version v1/);
    expect(text).toMatch(
      /v1 → v2\s+deploying\s+breakwater\/deploy\s+run orders-api@v2: full deploy/,
    );
    expect(text).toMatch(
      /block\s+pipeline orders-api\s+alice\s+sev-2\s+blocked pipeline orders-api/,
    );
    expect(text).not.toContain("scope  "); // one scope: no scope column
  });
});

describe("parseLocalEvents (POST /events)", () => {
  it("takes an envelope, a PutEvents entry (Detail as a JSON string) or a list", () => {
    expect(
      parseLocalEvents([
        { source: "ci", "detail-type": "Custom", detail: { a: 1 } },
        { Source: "ci", DetailType: "Custom", Detail: '{"b":2}', EventBusName: "x" },
      ]),
    ).toEqual([
      { source: "ci", "detail-type": "Custom", detail: { a: 1 }, resources: [] },
      { source: "ci", "detail-type": "Custom", detail: { b: 2 }, resources: [] },
    ]);
  });

  it("names every problem with its path; known events are checked against their schema", () => {
    expect(() =>
      parseLocalEvents([
        { source: "", "detail-type": "X", detail: [] },
        { Source: "ci", DetailType: "Y", Detail: "{nope" },
        {
          source: "ci",
          "detail-type": "Artifact Published",
          detail: { pipeline: "orders-api", commitSha: "abc", artifactDigest: "x", approvals: [] },
        },
      ]),
    ).toThrow(
      /\[0\]\.source: must not be empty.*\[0\]\.detail: must be a JSON object.*\[1\]\.Detail: is not valid JSON.*\[2\]\.detail\.commitSha: must be a 40-character hex commit SHA.*\[2\]\.detail\.artifactDigest/,
    );
    expect(() => parseLocalEvents([])).toThrow("must hold 1 to 10 events");
    expect(() =>
      parseLocalEvents({
        source: "breakwater",
        "detail-type": "Approved Change Merged",
        detail: {},
      }),
    ).toThrow("detail.pipeline");
  });
});

// ---- --aws, against mocked AWS --------------------------------------------------------------

const pipeline = parsePipeline({
  name: "orders-api",
  stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } }],
});
const TABLE = "prod-breakwater-Breakwater-StateABC";
const OVERRIDE_URL = "https://abcdefghij0123456789klmnop.lambda-url.eu-west-1.on.aws/";
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
    status: "baking",
    since: "2026-01-05T09:10:00.000Z",
    cause: "run orders-api@3f9c2e1",
    rev: 3,
  },
  {
    pk: "RUN#orders-api@3f9c2e1",
    sk: "RUN",
    gsi1pk: "PIPELINE#orders-api",
    gsi1sk: "RUN#2026-01-05T09:00:00.000Z#orders-api@3f9c2e1",
    runId: "orders-api@3f9c2e1",
    pipeline: "orders-api",
    version: "3f9c2e1",
    status: "running",
    seq: 1,
    definition: pipeline,
    createdAt: "2026-01-05T09:00:00.000Z",
    updatedAt: "2026-01-05T09:10:00.000Z",
    currentStage: "alpha",
    stages: {},
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
  {
    pk: "BLOCKS",
    sk: "org#",
    level: "org",
    target: "",
    reason: "sev-1 open",
    actor: "alice",
    createdAt: "2026-01-05T09:30:00.000Z",
    from: "2026-01-05T09:30:00.000Z",
  },
  {
    pk: "AUDIT",
    sk: "SEQ#0000000001",
    at: "2026-01-05T09:30:00.000Z",
    id: "a1",
    actor: "alice",
    action: "block",
    reason: "sev-1 open",
    target: "org",
    effect: "blocked org",
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

describe("--aws (mocked AWS)", () => {
  const ssm = mockClient(SSMClient);
  const ddb = mockClient(DynamoDBDocumentClient);
  const aws = ["--aws", "--stage", "prod", "--region", "eu-west-1"];

  beforeEach(() => {
    ssm.reset();
    ddb.reset();
    ssm.on(GetParametersCommand).resolves({
      Parameters: [
        { Name: "/breakwater/prod/table-name", Value: TABLE },
        { Name: "/breakwater/prod/override-url", Value: OVERRIDE_URL },
      ],
      InvalidParameters: [],
    });
    ddb.on(QueryCommand).callsFake(answer);
    ddb.on(GetCommand).callsFake(answer);
  });
  afterEach(() => {
    ssm.reset();
    ddb.reset();
  });

  it("status reads the stage's table, found through SSM", async () => {
    const r = await cli(["status", ...aws, "--json"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(ssm.commandCalls(GetParametersCommand)[0]?.args[0].input).toEqual({
      Names: ["/breakwater/prod/table-name", "/breakwater/prod/override-url"],
    });
    const report = JSON.parse(r.stdout) as StatusReport;
    expect(report.pipelines).toMatchObject([
      {
        pipeline: "orders-api",
        scopes: [{ scope: "alpha/us-east-1", version: "3f9c2e1", status: "baking" }],
        runs: [{ version: "3f9c2e1", status: "running", currentStage: "alpha", inFlight: true }],
      },
    ]);
    expect(report.blocks).toMatchObject([{ level: "org", reason: "sev-1 open" }]);
  });

  it("history reads the scope's history and the audit log", async () => {
    const r = await cli(["history", "orders-api:alpha/us-east-1", ...aws]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/v1 → 3f9c2e1\s+deploying\s+breakwater\/deploy/);
    expect(r.stdout).toMatch(/block\s+org\s+alice\s+sev-1 open\s+blocked org/);
  });

  it("a stage that is not deployed exits 2; AWS out of reach exits 6", async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: [],
      InvalidParameters: ["/breakwater/qa/table-name", "/breakwater/qa/override-url"],
    });
    const missing = await cli(["status", "--aws", "--stage", "qa", "--region", "eu-west-1"]);
    expect(missing.code).toBe(EXIT.badInput);
    expect(missing.stderr).toContain(
      'stage "qa": SSM parameter /breakwater/qa/table-name, /breakwater/qa/override-url does not exist in eu-west-1',
    );
    const offline = Object.assign(new Error("getaddrinfo ENOTFOUND ssm.eu-west-1.amazonaws.com"), {
      name: "Error",
    });
    ssm.on(GetParametersCommand).rejects(offline);
    const unreachable = await cli(["status", ...aws]);
    expect(unreachable.code).toBe(EXIT.unreachable);
    expect(unreachable.stderr).toContain("ENOTFOUND");
    ssm.on(GetParametersCommand).resolves({
      Parameters: [
        { Name: "/breakwater/prod/table-name", Value: TABLE },
        { Name: "/breakwater/prod/override-url", Value: OVERRIDE_URL },
      ],
    });
    ddb.on(QueryCommand).rejects(
      Object.assign(new Error("User is not authorized to perform: dynamodb:Query"), {
        name: "AccessDeniedException",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const denied = await cli(["status", ...aws]);
    expect(denied.code).toBe(EXIT.unreachable);
    expect(denied.stderr).toContain(`could not read table ${TABLE}: AccessDeniedException`);
  });
});

/** The caller's AWS credentials, as the SDK's provider chain finds them in the environment. */
const CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};

/**
 * Checks a request's SigV4 signature as the function URL front end does: the request is
 * signed again from the headers it says it signed, at the time it says, and must match.
 */
async function verifySigV4(req: IncomingMessage, body: string): Promise<string | undefined> {
  const auth = req.headers.authorization ?? "";
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z]+)\/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$/.exec(
      auth,
    );
  if (!m) return "no SigV4 Authorization header";
  const [, keyId, , region, service, signedHeaders] = m as unknown as string[];
  if (keyId !== CREDENTIALS.accessKeyId) return "unknown access key";
  if (service !== "lambda") return `signed for service ${service}`;
  const amzDate = String(req.headers["x-amz-date"]);
  const signingDate = new Date(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"),
  );
  const headers: Record<string, string> = {};
  for (const h of (signedHeaders as string).split(";")) headers[h] = String(req.headers[h]);
  const url = new URL(req.url ?? "/", `http://${req.headers.host}`);
  const again = await new SignatureV4({
    service: "lambda",
    region: region as string,
    credentials: CREDENTIALS,
    sha256: Sha256,
  }).sign(
    new HttpRequest({
      method: req.method ?? "POST",
      protocol: "http:",
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      headers,
      body,
    }),
    { signingDate },
  );
  return again.headers.authorization === auth ? undefined : "signature does not match";
}

describe("--aws override: a signed request to the function URL", () => {
  let server: Server;
  let url: string;
  const received: { body: unknown; region?: string }[] = [];
  /** What the "function" answers next (after the signature passed). */
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  const ssm = mockClient(SSMClient);

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", async () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const problem = await verifySigV4(req, body);
        // Lambda's front end refuses a bad signature before the function runs.
        if (!problem) received.push({ body: JSON.parse(body) });
        const reply = problem ? { status: 403, body: { Message: "Forbidden" } } : answer;
        res.writeHead(reply.status, { "content-type": "application/json" });
        res.end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    received.length = 0;
    ssm.reset();
    vi.stubEnv("AWS_ACCESS_KEY_ID", CREDENTIALS.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secretAccessKey);
    vi.stubEnv("AWS_SESSION_TOKEN", "");
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    ssm.reset();
  });

  const unblock = [
    "override",
    "unblock",
    "--level",
    "org",
    "--actor",
    "alice",
    "--reason",
    "sev-1 closed",
  ];

  it("signs with the caller's credentials (service lambda); --override-url skips SSM", async () => {
    answer = {
      status: 200,
      body: {
        action: "unblock",
        changed: true,
        effect: "unblocked org",
        audit: { at: "2026-01-05T10:00:00.000Z", id: "a2" },
      },
    };
    const r = await cli([
      ...unblock,
      "--aws",
      "--stage",
      "prod",
      "--region",
      "eu-west-1",
      "--table",
      TABLE,
      "--override-url",
      url,
    ]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(r.stdout).toContain("unblock: unblocked org");
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(0);
    expect(received.map((x) => x.body)).toEqual([
      { action: "unblock", level: "org", actor: "alice", reason: "sev-1 closed" },
    ]);
  });

  it("start, approve and reject --aws send their override request, signed, to the function URL", async () => {
    const aws = ["--aws", "--stage", "prod", "--region", "eu-west-1", "--table", TABLE];
    const target = ["--pipeline", "orders-api", "--version", "v7", "--actor", "alice"];
    for (const [command, effect] of [
      ["start", "requested a run of orders-api@v7 (manual start)"],
      ["approve", "approved v7 into prod-1; the stage starts"],
      ["reject", "rejected v7 before prod-1; the run ends"],
    ] as const) {
      answer = {
        status: 200,
        body: {
          action: command,
          changed: true,
          effect,
          audit: { at: "2026-01-05T10:00:00.000Z", id: command },
        },
      };
      const extra = command === "reject" ? ["--reason", "CAB said no"] : [];
      const r = await cli([command, ...target, ...extra, ...aws, "--override-url", url]);
      expect(r.code, r.stderr).toBe(EXIT.ok);
      expect(r.stdout).toContain(`${command}: ${effect}`);
    }
    expect(received.map((x) => x.body)).toEqual([
      {
        action: "start",
        pipeline: "orders-api",
        version: "v7",
        actor: "alice",
        reason: "manual start",
      },
      {
        action: "approve",
        pipeline: "orders-api",
        version: "v7",
        actor: "alice",
        reason: "approved",
      },
      {
        action: "reject",
        pipeline: "orders-api",
        version: "v7",
        actor: "alice",
        reason: "CAB said no",
      },
    ]);
  });

  it("finds the URL in SSM (/breakwater/<stage>/override-url)", async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: [
        { Name: "/breakwater/prod/table-name", Value: TABLE },
        { Name: "/breakwater/prod/override-url", Value: url },
      ],
      InvalidParameters: [],
    });
    answer = {
      status: 200,
      body: {
        action: "unblock",
        changed: false,
        effect: "unchanged (no such block)",
        audit: { at: "2026-01-05T10:00:00.000Z", id: "a3" },
      },
    };
    const r = await cli([...unblock, "--aws", "--stage", "prod", "--region", "eu-west-1"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    expect(ssm.commandCalls(GetParametersCommand)[0]?.args[0].input).toEqual({
      Names: ["/breakwater/prod/table-name", "/breakwater/prod/override-url"],
    });
    expect(received).toHaveLength(1);
  });

  it("a rejection exits 2 with its problems; IAM refusing the caller exits 2 and says why; a crash exits 1", async () => {
    const aws = ["--aws", "--stage", "prod", "--region", "eu-west-1", "--table", TABLE];
    answer = {
      status: 400,
      body: {
        error: "override rejected: version: pipeline has no run of version v9",
        problems: [{ path: "version", message: "pipeline has no run of version v9" }],
      },
    };
    const rejected = await cli([...unblock, ...aws, "--override-url", url]);
    expect(rejected.code).toBe(EXIT.badInput);
    expect(rejected.stderr).toContain("version: pipeline has no run of version v9");

    // Signed with other credentials: the front end answers 403 before the function runs.
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    const forbidden = await cli([...unblock, ...aws, "--override-url", url]);
    expect(forbidden.code).toBe(EXIT.badInput);
    expect(forbidden.stderr).toContain("needs lambda:InvokeFunctionUrl");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", CREDENTIALS.secretAccessKey);

    answer = { status: 502, body: { Message: "Internal Server Error" } };
    const crashed = await cli([...unblock, ...aws, "--override-url", url]);
    expect(crashed.code).toBe(EXIT.internal);
    expect(crashed.stderr).toContain("502: Internal Server Error");
  });

  it("the region comes from the URL of a real function URL; --token is refused with --aws", async () => {
    const r = await cli([
      ...unblock,
      "--aws",
      "--stage",
      "prod",
      "--table",
      TABLE,
      "--override-url",
      url,
    ]);
    expect(r.code).toBe(EXIT.badInput);
    expect(r.stderr).toContain("name the stage's region with --region");
    expect(received).toHaveLength(0);
    const token = await cli([...unblock, "--aws", "--stage", "prod", "--token", "x".repeat(20)]);
    expect(token.code).toBe(EXIT.badInput);
    expect(token.stderr).toContain("--token is only for the local control plane");
    expect(OVERRIDE_URL).toMatch(/\.lambda-url\.eu-west-1\.on\.aws\/$/);
  });
});
