/**
 * `breakwater serve` end to end, in process: the local control plane on the shared DynamoDB
 * Local (a table of its own), live on the virtual clock at high speed, driven over HTTP with
 * GitHub's real webhook payloads (signed like GitHub does), and inspected and steered with the
 * real `breakwater status`, `history` and `override` commands.
 */
import { randomUUID } from "node:crypto";
import { PassThrough } from "node:stream";
import { sign } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT, main } from "../../src/cli/main.ts";
import { parseInstallation } from "../../src/domain/installation.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { type RunningServer, startServe } from "../../src/local/serve.ts";
import type { HistoryReport, StatusReport } from "../../src/ops/status.ts";
import { dynamoClient } from "../support/dynamo.ts";
import { GITHUB_TOKEN, grant, startGitHubApi, writersEverywhere } from "../support/github-api.ts";
import { approvedReview, mergedPullRequest, WEBHOOK_SECRET } from "../support/github-examples.ts";

const SECRET = WEBHOOK_SECRET;
const MERGE_SHA = "c4295bd74fb0f4fda03689c3df3f2803b658fd85";

const approval = approvedReview("alice");
const merge = mergedPullRequest();

const pipeline = parsePipeline({
  name: "hello-api",
  stages: [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
    {
      name: "prod-1",
      regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }],
      bake: { minutes: 10 },
    },
  ],
});

async function postWebhook(url: string, event: string, payload: unknown, signature?: string) {
  const body = JSON.stringify(payload);
  return fetch(`${url}/webhooks/github`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": signature ?? (await sign(SECRET, body)),
    },
    body,
  });
}

/** serve's bearer token for the operator routes (POST /override, POST /events). */
const TOKEN = "test-token-0123456789abcdef";
const bearer = { authorization: `Bearer ${TOKEN}` };

async function cli(args: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d) => {
    stdout += d;
  });
  err.on("data", (d) => {
    stderr += d;
  });
  const code = await main(["node", "breakwater", ...args], { out, err });
  return { code, stdout, stderr };
}

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("breakwater serve", () => {
  let server: RunningServer;
  let github: Awaited<ReturnType<typeof writersEverywhere>>;
  const lines: string[] = [];
  const status = async (): Promise<StatusReport> => {
    const r = await cli(["status", "--endpoint", server.url, "--json"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    return JSON.parse(r.stdout) as StatusReport;
  };

  beforeAll(async () => {
    github = await writersEverywhere();
    server = await startServe({
      githubApiUrl: github.api.url,
      githubToken: GITHUB_TOKEN,
      pipelines: [pipeline],
      initialVersion: "v1",
      port: 0,
      // One virtual minute per 25 ms: the run lasts about a second of real time.
      speed: 2400,
      webhookSecret: SECRET,
      installation: parseInstallation({
        github: [{ repository: "Codertocat/Hello-World", branch: "main", pipeline: "hello-api" }],
      }),
      dynamo: dynamoClient(),
      log: (line) => lines.push(line),
      token: TOKEN,
    });
  });
  afterAll(async () => {
    await server?.close();
    await github?.api.close();
  });

  it("a bad signature gets 401 and starts nothing", async () => {
    const res = await postWebhook(server.url, "pull_request", merge, `sha256=${"0".repeat(64)}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ result: "invalid-signature" });
    const report = await status();
    expect(report.pipelines[0]?.runs).toEqual([]);
    expect(report.pipelines[0]?.scopes.map((s) => s.version)).toEqual(["v1", "v1", "v1"]);
  });

  it("a signed approval and merge start a run that goes through every stage", async () => {
    const review = await postWebhook(server.url, "pull_request_review", approval);
    expect(review.status).toBe(200);
    expect(await review.json()).toMatchObject({ result: "review-recorded" });
    const res = await postWebhook(server.url, "pull_request", merge);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      result: "run-requested",
      runs: [{ pipeline: "hello-api", version: MERGE_SHA, approvers: ["alice"] }],
    });

    // The run appears (the start-run rule is asynchronous, as in EventBridge) with its change facts.
    const first = await until("the run to appear", async () => {
      const run = (await status()).pipelines[0]?.runs[0];
      return run ? run : undefined;
    });
    expect(first).toMatchObject({
      version: MERGE_SHA,
      seq: 1,
      change: { trigger: "github", sha: MERGE_SHA, approvers: ["alice"] },
    });
    // It progresses: the deploy reaches prod-1 scopes, then the run succeeds.
    const seen = new Set<string>();
    const done = await until("the run to succeed", async () => {
      const p = (await status()).pipelines[0];
      const run = p?.runs[0];
      if (run?.inFlight) seen.add(`${run.status} ${run.currentStage}`);
      return run?.status === "succeeded" ? p : undefined;
    });
    expect([...seen]).toContain("running prod-1");
    expect(done.scopes.map((s) => [s.scope, s.version, s.status])).toEqual([
      ["alpha/us-east-1", MERGE_SHA, "stable"],
      ["prod-1/eu-north-1/eun1-az1", MERGE_SHA, "stable"],
      ["prod-1/eu-north-1/eun1-az2", MERGE_SHA, "stable"],
    ]);
    expect(done.runs[0]?.inFlight).toBe(false);
    // The console showed the progress as it happened.
    expect(lines.some((l) => l.includes("stage-started prod-1"))).toBe(true);
    expect(lines.some((l) => l.includes(`hello-api@${MERGE_SHA}  run-succeeded`))).toBe(true);

    // A redelivered merge starts nothing new.
    const human = await cli(["status", "--endpoint", server.url, "--pipeline", "hello-api"]);
    expect(human.code).toBe(EXIT.ok);
    expect(human.stdout).toContain("runs in flight: none");
    expect(human.stdout).toContain(`last finished: #1 ${MERGE_SHA} succeeded`);
    expect(human.stdout).toMatch(/prod-1\/eu-north-1\/eun1-az2\s+c4295bd7\w+\s+stable/);
  });

  it("history shows who changed a scope and why; override block and unblock are audited", async () => {
    const blocked = await cli([
      "override",
      "block",
      "--endpoint",
      server.url,
      "--token",
      TOKEN,
      "--level",
      "scope",
      "--pipeline",
      "hello-api",
      "--scopes",
      "prod-1/*",
      "--until",
      "+2h",
      "--actor",
      "alice",
      "--reason",
      "sev-2 in eu-north-1",
      "--json",
    ]);
    expect(blocked.code, blocked.stderr).toBe(EXIT.ok);
    expect(JSON.parse(blocked.stdout)).toMatchObject({
      action: "block",
      changed: true,
      effect: expect.stringMatching(/^blocked scopes hello-api:prod-1\/\* until /),
    });
    // The block is active (2 virtual hours is about 3 real seconds at this speed).
    const withBlock = await status();
    expect(withBlock.blocks).toMatchObject([
      {
        level: "scope",
        target: "hello-api:prod-1/*",
        actor: "alice",
        reason: "sev-2 in eu-north-1",
      },
    ]);

    const unblocked = await cli([
      "override",
      "unblock",
      "--endpoint",
      server.url,
      "--token",
      TOKEN,
      "--level",
      "scope",
      "--pipeline",
      "hello-api",
      "--scopes",
      "prod-1/*",
      "--actor",
      "alice",
      "--reason",
      "sev-2 resolved",
    ]);
    expect(unblocked.code, unblocked.stderr).toBe(EXIT.ok);
    expect(unblocked.stdout).toContain("unblock: unblocked scopes hello-api:prod-1/*");
    expect((await status()).blocks).toEqual([]);

    const history = await cli([
      "history",
      "hello-api:prod-1/eu-north-1/eun1-az1",
      "--endpoint",
      server.url,
      "--json",
    ]);
    expect(history.code, history.stderr).toBe(EXIT.ok);
    const report = JSON.parse(history.stdout) as HistoryReport;
    expect(report.entries[0]).toMatchObject({ toVersion: "v1", actor: "seed" });
    expect(report.entries.at(-1)).toMatchObject({ toVersion: MERGE_SHA, status: "stable" });
    expect(report.entries.map((e) => e.actor)).toContain("breakwater/deploy");
    expect(report.audit.map((a) => [a.action, a.actor, a.principal, a.reason])).toEqual([
      ["block", "alice", "local:token", "sev-2 in eu-north-1"],
      ["unblock", "alice", "local:token", "sev-2 resolved"],
    ]);
    const human = await cli([
      "history",
      "hello-api:prod-1/eu-north-1/eun1-az1",
      "--endpoint",
      server.url,
    ]);
    expect(human.stdout).toMatch(
      /unblock\s+scopes hello-api:prod-1\/\*\s+alice\s+sev-2 resolved\s+unblocked scopes hello-api:prod-1\/\*\s+local:token/,
    );
    // Another scope's history does not list overrides aimed elsewhere.
    const alpha = await cli(["history", "hello-api:alpha/us-east-1", "--endpoint", server.url]);
    expect(alpha.code).toBe(EXIT.ok);
    expect(alpha.stdout).toContain("overrides:\nnone");
    expect(alpha.stdout).toMatch(/v1 → c4295bd7\w+\s+deploying\s+breakwater\/deploy/);
  });

  it("refuses bad requests with the field named and exit code 2", async () => {
    const rejected = await cli([
      "override",
      "bypass",
      "--endpoint",
      server.url,
      "--token",
      TOKEN,
      "--pipeline",
      "hello-api",
      "--version",
      "v9",
      "--kinds",
      "manual,nonsense",
      "--expires-at",
      "+1h",
      "--actor",
      "alice",
      "--reason",
      "ship the fix",
    ]);
    expect(rejected.code).toBe(EXIT.badInput);
    expect(rejected.stderr).toContain(
      "kinds[1]: must be one of alarm, org-alarm, time-window, manual",
    );

    const unknown = await cli(["history", "hello-api:prod-9/xx", "--endpoint", server.url]);
    expect(unknown.code).toBe(EXIT.badInput);
    expect(unknown.stderr).toContain('scope "prod-9/xx" is not a scope of pipeline "hello-api"');

    const noPipeline = await cli(["status", "--pipeline", "nope", "--endpoint", server.url]);
    expect(noPipeline.code).toBe(EXIT.badInput);
    expect(noPipeline.stderr).toContain(
      'pipeline "nope" is not registered (registered: hello-api)',
    );

    const badEvent = await fetch(`${server.url}/events`, {
      method: "POST",
      headers: bearer,
      body: JSON.stringify({
        source: "breakwater",
        "detail-type": "Approved Change Merged",
        detail: { pipeline: "hello-api" },
      }),
    });
    expect(badEvent.status).toBe(400);
    expect(await badEvent.json()).toEqual({
      error: "invalid event: detail.version: is required; detail.requestId: is required",
      problems: [
        { path: "detail.version", message: "is required" },
        { path: "detail.requestId", message: "is required" },
      ],
    });
    const notJson = await fetch(`${server.url}/events`, {
      method: "POST",
      headers: bearer,
      body: "{",
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/^body: is not valid JSON/);
    const wrongMethod = await fetch(`${server.url}/status`, { method: "DELETE" });
    expect(wrongMethod.status).toBe(405);
  });

  it("the operator routes want the bearer token: 401 without it or with a wrong one, nothing changed", async () => {
    const block = JSON.stringify({
      action: "block",
      level: "org",
      actor: "eve",
      reason: "mine now",
    });
    const start = JSON.stringify({
      source: "breakwater",
      "detail-type": "Approved Change Merged",
      detail: { pipeline: "hello-api", version: "evil", cause: "no token" },
    });
    const before = (await status()).pipelines[0]?.runs.length;
    const attempts: Record<string, string>[] = [
      {},
      { authorization: "Bearer wrong-token-0123456789" },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: TOKEN },
    ];
    for (const headers of attempts) {
      for (const [path, body] of [
        ["/override", block],
        ["/events", start],
      ] as const) {
        const res = await fetch(`${server.url}${path}`, { method: "POST", headers, body });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(((await res.json()) as { error: string }).error).toMatch(/^authorization: /);
      }
    }
    const report = await status();
    expect(report.blocks).toEqual([]);
    expect(report.pipelines[0]?.runs.length).toBe(before);
    // Without --token the CLI says what to do; status and history stay open.
    const noToken = await cli([
      "override",
      "block",
      "--endpoint",
      server.url,
      "--level",
      "org",
      "--actor",
      "eve",
      "--reason",
      "mine now",
    ]);
    expect(noToken.code).toBe(EXIT.badInput);
    expect(noToken.stderr).toContain("pass --token <token> or set BREAKWATER_TOKEN");
    expect((await server.plane.store.listAudit()).map((a) => a.actor)).not.toContain("eve");
  });

  it("hostile input stays out (issue 10): 400 with the field named, nothing started, /health stays live", async () => {
    const before = server.plane.bus.log.length;
    const blocksBefore = (await status()).blocks;
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        headers: bearer,
        body: JSON.stringify(body),
      });

    // A 100 KB version got 202, then failed inside start-run.
    const hugeVersion = `v${"1".repeat(100_000)}`;
    const event = await post("/events", {
      source: "breakwater",
      "detail-type": "Approved Change Merged",
      detail: { pipeline: "hello-api", version: hugeVersion, requestId: "r-1" },
    });
    expect(event.status).toBe(400);
    expect(await event.json()).toMatchObject({
      problems: [
        {
          path: "detail.version",
          message:
            "must be 1-128 letters, digits, '.', '_', '+' or '-', starting with a letter or digit",
        },
      ],
    });

    // A 13-star glob froze the server for 35 s per scope; now it is refused at once, with the
    // same message as simulate's --fault, while /health answers.
    const glob = `${"*a".repeat(13)}b`;
    const started = performance.now();
    const [block, health] = await Promise.all([
      post("/override", {
        action: "block",
        level: "scope",
        pipeline: "hello-api",
        scopes: glob,
        actor: "alice",
        reason: "stop the line",
      }),
      fetch(`${server.url}/health`),
    ]);
    expect(health.status).toBe(200);
    expect(block.status).toBe(400);
    expect(await block.json()).toMatchObject({
      problems: [
        {
          path: "scopes",
          message: 'matches no scope of pipeline "hello-api" (scopes look like alpha/us-east-1)',
        },
      ],
    });
    expect(performance.now() - started).toBeLessThan(5000);

    const long = await post("/override", {
      action: "block",
      level: "scope",
      pipeline: "hello-api",
      scopes: `alpha/${"*".repeat(300)}`,
      actor: "alice",
      reason: "stop the line",
    });
    expect(long.status).toBe(400);
    expect(await long.json()).toMatchObject({
      problems: [{ path: "scopes", message: expect.stringContaining("at most 256 characters") }],
    });

    const decision = await post("/override", {
      action: "retry",
      pipeline: "hello-api",
      version: "v2;drop",
      actor: "alice",
      reason: "try again",
    });
    expect(decision.status).toBe(400);
    expect(await decision.json()).toMatchObject({
      problems: [{ path: "version", message: expect.stringContaining("must be 1-128 letters") }],
    });

    // Nothing reached the bus, nothing was blocked.
    expect(server.plane.bus.log.length).toBe(before);
    expect((await status()).blocks).toEqual(blocksBefore);
  });

  it("POST /events with an unbacked Approved Change Merged starts nothing; `override start` does", async () => {
    // A pointer at a run request nobody wrote (a PutEvents entry with Detail as a string): the
    // bus takes it, start-run refuses it and records why (the bus is not proof of approval).
    const res = await fetch(`${server.url}/events`, {
      method: "POST",
      headers: bearer,
      body: JSON.stringify({
        Source: "breakwater",
        DetailType: "Approved Change Merged",
        Detail: JSON.stringify({ pipeline: "hello-api", version: "v3", requestId: "made-up" }),
      }),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ result: "accepted", ids: [expect.any(String)] });
    const refused = await until("the refusal to be recorded", async () => {
      const records = await server.plane.triggers.list({ pipeline: "hello-api" });
      return records.find((r) => r.outcome === "refused" && r.version === "v3");
    });
    expect(refused).toMatchObject({
      trigger: "start-run",
      reason: expect.stringContaining("no run request"),
    });
    expect((await status()).pipelines[0]?.runs.find((x) => x.version === "v3")).toBeUndefined();

    // The operator's manual start: the request is written, audited, and the run starts.
    const start = await cli([
      "override",
      "start",
      "--pipeline",
      "hello-api",
      "--version",
      "v3",
      "--actor",
      "alice",
      "--reason",
      "manual start for INC-7",
      "--endpoint",
      server.url,
      "--token",
      TOKEN,
    ]);
    expect(start.code, start.stderr).toBe(EXIT.ok);
    expect(start.stdout).toContain("start: requested a run of hello-api@v3 (manual start)");
    const run = await until("the manual run to succeed", async () => {
      const r = (await status()).pipelines[0]?.runs.find((x) => x.version === "v3");
      return r?.status === "succeeded" ? r : undefined;
    });
    expect(run).toMatchObject({
      seq: 2,
      cause: expect.stringContaining("trigger=manual actor=alice"),
    });
  });
});

describe("breakwater serve (the command)", () => {
  it("starts, prints where it listens, serves until told to stop, and exits 0", async () => {
    let stdout = "";
    const out = new PassThrough();
    out.on("data", (d) => {
      stdout += d;
    });
    let health: unknown;
    const code = await main(
      [
        "node",
        "breakwater",
        "serve",
        "--pipeline",
        "examples/orders-api.json",
        "--port",
        "0",
        "--speed",
        "1000",
        "--initial-version",
        "v7",
      ],
      { out, err: new PassThrough() },
      undefined,
      {
        dynamo: dynamoClient(),
        env: {},
        serveUntil: async (s) => {
          health = await (await fetch(`${s.url}/health`)).json();
          const hook = await fetch(`${s.url}/webhooks/github`, { method: "POST", body: "{}" });
          expect(hook.status).toBe(503);
          const scopes = (await s.plane.store.listScopes("orders-api")).map((x) => x.version);
          expect(new Set(scopes)).toEqual(new Set(["v7"]));
        },
      },
    );
    expect(code).toBe(EXIT.ok);
    expect(health).toMatchObject({ ok: true, speed: 1000, pipelines: ["orders-api"] });
    expect(stdout).toMatch(/^Breakwater control plane on http:\/\/127\.0\.0\.1:\d+\n/);
    expect(stdout).toContain("(off: no --webhook-secret)");
    // No --token: serve makes one and prints it (whoever holds it may act).
    expect(stdout).toMatch(/export BREAKWATER_TOKEN=[A-Za-z0-9_-]{43}\n/);
  });
});

describe("breakwater serve: who may approve", () => {
  it("--github-api-url and $BREAKWATER_GITHUB_TOKEN: a reader's approval starts nothing, a writer's does", async () => {
    const api = await startGitHubApi();
    const results: unknown[] = [];
    try {
      const code = await main(
        [
          "node",
          "breakwater",
          "serve",
          "--pipeline",
          "examples/orders-api.json",
          "--port",
          "0",
          "--webhook-secret",
          SECRET,
          "--github-api-url",
          api.url,
          "--config",
          "test/fixtures/serve-github.json",
        ],
        { out: new PassThrough(), err: new PassThrough() },
        undefined,
        {
          dynamo: dynamoClient(),
          env: { BREAKWATER_GITHUB_TOKEN: GITHUB_TOKEN },
          serveUntil: async (s) => {
            const review = await postWebhook(s.url, "pull_request_review", approval);
            expect(review.status).toBe(200);
            const reader = await postWebhook(s.url, "pull_request", merge);
            results.push(await reader.json());
            grant(api, "Codertocat/Hello-World", "alice", "write");
            const writer = await postWebhook(s.url, "pull_request", merge);
            results.push(await writer.json());
          },
        },
      );
      expect(code).toBe(EXIT.ok);
    } finally {
      await api.close();
    }
    expect(results[0]).toMatchObject({ result: "rejected" });
    expect(JSON.stringify(results[0])).toContain("alice has no write access");
    expect(results[1]).toMatchObject({ result: "run-requested", runs: [{ approvers: ["alice"] }] });
    expect(api.requests[0]?.headers.authorization).toBe(`Bearer ${GITHUB_TOKEN}`);
  });
});

describe("breakwater serve flags", () => {
  it("refuses a GitHub API URL that would send the token in clear text", async () => {
    const r = await cli([
      "serve",
      "--pipeline",
      "examples/orders-api.json",
      "--github-api-url",
      "http://github.example.com",
    ]);
    expect(r.code).toBe(EXIT.badInput);
    expect(r.stderr).toContain('--github-api-url "http://github.example.com": must be https');
  });

  it("refuses bad flags before starting anything", async () => {
    const speed = await cli(["serve", "--pipeline", "examples/orders-api.json", "--speed", "0"]);
    expect(speed.code).toBe(EXIT.badInput);
    expect(speed.stderr).toContain('--speed "0": must be a number above 0');
    const file = await cli(["serve", "--pipeline", "no/such/file.json"]);
    expect(file.code).toBe(EXIT.badInput);
    expect(file.stderr).toContain("no/such/file.json");
    const missing = await cli(["serve"]);
    expect(missing.code).toBe(EXIT.badInput);
    expect(missing.stderr).toContain("--pipeline");
  });
});
