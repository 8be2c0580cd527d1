/**
 * `breakwater start`, `approve` and `reject` end to end, through the real CLI against a real
 * local `serve` (DynamoDB Local, the real ASL, live on the virtual clock over HTTP, its bearer
 * token), and `simulate --decide approve@…` on a pipeline whose stage asks for approval.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../src/cli/main.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { LOCAL_PRINCIPAL, type RunningServer, startServe } from "../../src/local/serve.ts";
import type { StatusReport } from "../../src/ops/status.ts";
import { runCli } from "../support/cli.ts";
import { dynamoClient } from "../support/dynamo.ts";

const TOKEN = "test-token-approvals-0123456789";

const definition = {
  name: "hello-api",
  stages: [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
    {
      name: "prod-1",
      regions: ["eu-north-1"],
      approval: { timeoutMinutes: 600 },
      bake: { minutes: 10 },
    },
  ],
};

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCli(args, { ops: { env: { BREAKWATER_ACTOR: "alice", ...env } } });

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("breakwater start / approve / reject against serve", () => {
  let server: RunningServer;
  const target = () => ["--endpoint", server.url, "--token", TOKEN];
  const run = async (version: string) => {
    const r = await cli(["status", "--endpoint", server.url, "--json"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    const report = JSON.parse(r.stdout) as StatusReport;
    return report.pipelines[0]?.runs.find((x) => x.version === version);
  };

  beforeAll(async () => {
    server = await startServe({
      pipelines: [parsePipeline(definition)],
      initialVersion: "v1",
      port: 0,
      speed: 2400,
      dynamo: dynamoClient(),
      log: () => {},
      token: TOKEN,
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("start writes an audited manual run request; the run waits for approval; approve starts prod-1", async () => {
    const start = await cli([
      "start",
      "--pipeline",
      "hello-api",
      "--version",
      "v2",
      "--artifact-digest",
      `sha256:${"a".repeat(64)}`,
      "--reason",
      "hotfix INC-9",
      ...target(),
    ]);
    expect(start.code, start.stderr).toBe(EXIT.ok);
    expect(start.stdout).toContain("start: requested a run of hello-api@v2 (manual start)");

    const waiting = await until("v2 to await approval", async () => {
      const r = await run("v2");
      return r?.status === "awaiting-approval" ? r : undefined;
    });
    expect(waiting).toMatchObject({ currentStage: "prod-1", approval: { stage: "prod-1" } });
    const text = await cli(["status", "--endpoint", server.url]);
    expect(text.stdout).toMatch(/v2\s+awaiting-approval\s+prod-1\s+approval \(until /);

    // Without the token nothing is decided.
    const anonymous = await cli([
      "approve",
      "--pipeline",
      "hello-api",
      "--version",
      "v2",
      "--endpoint",
      server.url,
      "--token",
      "wrong-token-0123456789",
    ]);
    expect(anonymous.code).not.toBe(EXIT.ok);
    expect((await run("v2"))?.status).toBe("awaiting-approval");

    const approve = await cli([
      "approve",
      "--pipeline",
      "hello-api",
      "--version",
      "v2",
      ...target(),
    ]);
    expect(approve.code, approve.stderr).toBe(EXIT.ok);
    expect(approve.stdout).toContain("approve: approved v2 into prod-1; the stage starts");
    await until("v2 to succeed", async () =>
      (await run("v2"))?.status === "succeeded" ? true : undefined,
    );
    const stored = await server.plane.store.getRun("hello-api@v2");
    expect(stored?.change?.artifactDigest).toBe(`sha256:${"a".repeat(64)}`);
    expect(stored?.approvals?.["prod-1"]).toMatchObject({
      action: "approve",
      actor: "alice",
      principal: LOCAL_PRINCIPAL,
      reason: "approved",
    });
    const audit = (await server.plane.store.listAudit()).filter((a) => a.target === "hello-api@v2");
    expect(audit.map((a) => `${a.action} ${a.actor} ${a.principal}`)).toEqual([
      `start alice ${LOCAL_PRINCIPAL}`,
      `approve alice ${LOCAL_PRINCIPAL}`,
    ]);
    const history = await cli(["history", "hello-api", "--endpoint", server.url]);
    expect(history.stdout).toContain("approve");
  });

  it("reject ends a run awaiting approval; approve on a run not awaiting one is refused (exit 2)", async () => {
    const start = await cli(["start", "--pipeline", "hello-api", "--version", "v3", ...target()]);
    expect(start.code, start.stderr).toBe(EXIT.ok);
    await until("v3 to await approval", async () =>
      (await run("v3"))?.status === "awaiting-approval" ? true : undefined,
    );
    const noReason = await cli([
      "reject",
      "--pipeline",
      "hello-api",
      "--version",
      "v3",
      ...target(),
    ]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain("reason");

    const reject = await cli([
      "reject",
      "--pipeline",
      "hello-api",
      "--version",
      "v3",
      "--reason",
      "CAB said no",
      ...target(),
    ]);
    expect(reject.code, reject.stderr).toBe(EXIT.ok);
    expect(reject.stdout).toContain("reject: rejected v3 before prod-1; the run ends");
    expect(await run("v3")).toMatchObject({ status: "cancelled" });
    const scopes = await server.plane.store.listScopes("hello-api");
    expect(scopes.find((s) => s.scope === "prod-1/eu-north-1")?.version).toBe("v2");

    const late = await cli(["approve", "--pipeline", "hello-api", "--version", "v3", ...target()]);
    expect(late.code).toBe(2);
    expect(late.stderr).toContain("v3 is cancelled: approve decides a run awaiting approval");
  });

  it("--dry-run prints the request, with the typed actor from $BREAKWATER_ACTOR", async () => {
    const dry = await cli(
      ["approve", "--pipeline", "hello-api", "--version", "v9", "--dry-run", ...target()],
      { BREAKWATER_ACTOR: "bob" },
    );
    expect(dry.code, dry.stderr).toBe(EXIT.ok);
    expect(JSON.parse(dry.stdout)).toEqual({
      action: "approve",
      pipeline: "hello-api",
      version: "v9",
      actor: "bob",
      reason: "approved",
    });
  });
});

describe("breakwater simulate --decide approve@…", () => {
  const file = join(mkdtempSync(join(tmpdir(), "bw-approval-")), "hello-api.json");
  writeFileSync(file, JSON.stringify(definition));
  const simulateWith = (decide: string[]) =>
    cli([
      "simulate",
      "--pipeline",
      file,
      "--version",
      "v2",
      ...decide.flatMap((d) => ["--decide", d]),
      "--start",
      "2026-01-05T09:00:00Z",
      "--json",
    ]);

  it("approve@+2h: the run waits for prod-1 until the scripted approval, then succeeds", async () => {
    const { code, stdout, stderr } = await simulateWith(["approve@+2h"]);
    expect(code, stderr).toBe(EXIT.ok);
    const result = JSON.parse(stdout);
    expect(result.outcome).toBe("succeeded");
    expect(result.decisions).toEqual([
      expect.objectContaining({ action: "approve", version: "v2", at: "2026-01-05T11:00:00.000Z" }),
    ]);
    const prod = result.timeline.filter(
      (e: { stage: string; step: string }) => e.stage === "prod-1" && e.step !== "approval",
    );
    expect(prod[0]).toMatchObject({ event: "deploy-started", at: "2026-01-05T11:00:00.000Z" });
    expect(
      result.timeline
        .filter((e: { step: string }) => e.step === "approval")
        .map((e: { event: string }) => e.event),
    ).toEqual(["approval-requested", "approved"]);
  });

  it("reject@+2h ends it as cancelled; no decision at all halts it at the timeout", async () => {
    const rejected = JSON.parse((await simulateWith(["reject@+2h"])).stdout);
    expect(rejected.outcome).toBe("cancelled");
    expect(rejected.reason).toContain("reject by simulate");
    const timedOut = JSON.parse((await simulateWith([])).stdout);
    expect(timedOut.outcome).toBe("halted");
    expect(timedOut.reason).toContain("nobody approved or rejected prod-1 within 600 minutes");
  });
});
