/**
 * `breakwater pipelines apply|list|diff|history` end to end: the real CLI against a real
 * `serve` (DynamoDB Local, HTTP, the bearer token): a new pipeline is registered without
 * restarting anything, a change is shown before it is applied, a stale review is refused, and
 * every revision names who applied it.
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

const TOKEN = "test-token-pipelines-0123456789";
const dir = mkdtempSync(join(tmpdir(), "bw-pipelines-"));
const file = (name: string, body: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(body, null, 2));
  return path;
};
const ledger = (bake: number) => ({
  name: "ledger",
  stages: [
    { name: "alpha", regions: ["eu-west-1"], bake: { minutes: 20 } },
    // One region per production wave: apply lints (first-wave-too-wide is an error).
    { name: "prod-1", regions: ["eu-north-1"], bake: { minutes: bake } },
    { name: "prod-2", regions: ["eu-west-1"], bake: { minutes: 30 } },
  ],
});

const cli = (args: string[]) => runCli(args, { ops: { env: { BREAKWATER_TOKEN: TOKEN } } });

describe("breakwater pipelines", () => {
  let server: RunningServer;
  const at = () => ["--endpoint", server.url];
  beforeAll(async () => {
    server = await startServe({
      pipelines: [
        parsePipeline({
          name: "billing",
          stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } }],
        }),
      ],
      initialVersion: "v1",
      port: 0,
      speed: 60,
      dynamo: dynamoClient(),
      log: () => {},
      token: TOKEN,
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("registers, diffs, updates and lists pipelines in a running control plane", async () => {
    const first = file("ledger.json", ledger(60));
    const listed = await cli(["pipelines", "list", ...at()]);
    expect(listed.code, listed.stderr).toBe(EXIT.ok);
    expect(listed.stdout).toMatch(/^billing\s+from file\s+alpha\n$/);

    const noInitial = await cli([
      "pipelines",
      "apply",
      first,
      ...at(),
      "--actor",
      "ana",
      "--reason",
      "ledger joins",
    ]);
    expect(noInitial.code).toBe(2);
    expect(noInitial.stderr).toContain(
      "initialVersion: is required: 3 scopes of ledger hold no version yet",
    );

    const applied = await cli([
      "pipelines",
      "apply",
      first,
      ...at(),
      "--initial-version",
      "v7",
      "--actor",
      "ana",
      "--reason",
      "ledger joins",
    ]);
    expect(applied.code, applied.stderr).toBe(EXIT.ok);
    expect(applied.stdout).toContain("apply-pipeline: registered ledger revision 1");

    // It is served at once: status shows its scopes at the initial version.
    const status = await cli(["status", "--pipeline", "ledger", "--json", ...at()]);
    const report = JSON.parse(status.stdout) as StatusReport;
    expect(report.pipelines[0]?.scopes.map((s) => s.version)).toEqual(["v7", "v7", "v7"]);

    const changed = file("ledger-2.json", ledger(90));
    const diff = await cli(["pipelines", "diff", changed, ...at()]);
    expect(diff.code, diff.stderr).toBe(EXIT.ok);
    expect(diff.stdout).toBe(
      "ledger (applied revision 1): 1 change\n  ~ stages[prod-1].bake.minutes: 60 → 90\n",
    );
    const stale = await cli([
      "pipelines",
      "apply",
      changed,
      ...at(),
      "--expect-revision",
      "0",
      "--actor",
      "bo",
      "--reason",
      "longer bake",
    ]);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain("expectRevision: is 0, but the applied revision is 1");
    const second = await cli([
      "pipelines",
      "apply",
      changed,
      ...at(),
      "--expect-revision",
      "1",
      "--actor",
      "bo",
      "--reason",
      "longer bake",
    ]);
    expect(second.code, second.stderr).toBe(EXIT.ok);
    expect(second.stdout).toContain("applied ledger revision 2 (was 1; 1 change)");

    const list = await cli(["pipelines", "list", "--json", ...at()]);
    expect(
      JSON.parse(list.stdout).pipelines.map(
        (p: { name: string; source: string; revision?: number }) => [p.name, p.source, p.revision],
      ),
    ).toEqual([
      ["billing", "file", undefined],
      ["ledger", "apply", 2],
    ]);
    const history = await cli(["pipelines", "history", "ledger", ...at()]);
    expect(history.stdout).toMatch(
      new RegExp(
        `^ledger: revision 2\\n  r1  \\S+  ${LOCAL_PRINCIPAL} \\(ana\\): ledger joins\\n  r2  \\S+  ${LOCAL_PRINCIPAL} \\(bo\\): longer bake\\n$`,
      ),
    );
  });

  it("refuses a pipeline the control plane's folder registered, and a bad file before sending anything", async () => {
    const billing = file("billing.json", {
      name: "billing",
      stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 99 } }],
    });
    const folder = await cli([
      "pipelines",
      "apply",
      billing,
      ...at(),
      "--actor",
      "ana",
      "--reason",
      "take over",
    ]);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain(
      'definition.name: pipeline "billing" is registered from the control plane\'s pipelines/ folder',
    );
    const bad = file("bad.json", { name: "bad", stages: [] });
    const refused = await cli([
      "pipelines",
      "apply",
      bad,
      ...at(),
      "--actor",
      "ana",
      "--reason",
      "oops",
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("bad.json");
    const list = await cli(["pipelines", "list", "--json", ...at()]);
    expect(JSON.parse(list.stdout).pipelines.map((p: { name: string }) => p.name)).not.toContain(
      "bad",
    );
  });
});
