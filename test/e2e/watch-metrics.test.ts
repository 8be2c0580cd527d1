/**
 * `breakwater status --watch` and `breakwater metrics` end to end, through the real CLI (in
 * process, and the `bin` as a child process), against a real `breakwater serve` (DynamoDB Local,
 * the real state machines and handlers, the virtual clock at high speed): the live view redraws
 * as the rollout moves, says why each scope waits, and exits when the runs end; the DORA figures
 * count what happened.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../src/cli/main.ts";
import type { DoraReport } from "../../src/domain/dora.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { type RunningServer, startServe } from "../../src/local/serve.ts";
import { runCli } from "../support/cli.ts";
import { dynamoClient } from "../support/dynamo.ts";

const TOKEN = "watch-metrics-token-0123456789";

const good = parsePipeline({
  name: "good-api",
  stages: [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
    {
      name: "prod-1",
      regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }],
      bake: { minutes: 10 },
    },
  ],
});
const bad = parsePipeline({
  name: "bad-api",
  stages: [
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } },
    { name: "wave-1", regions: ["eu-west-1", "us-west-2"], bake: { minutes: 10 } },
  ],
});

const cli = (args: string[]) => runCli(args);

describe("status --watch and metrics against serve", () => {
  let server: RunningServer;
  const at = () => ["--endpoint", server.url];

  beforeAll(async () => {
    server = await startServe({
      pipelines: [good, bad],
      initialVersion: "v1",
      port: 0,
      // Ten virtual minutes per real second: a bake lasts a second.
      speed: 600,
      dynamo: dynamoClient(),
      log: () => {},
      token: TOKEN,
      faults: [{ scopes: "wave-1/eu-west-1", kind: "faults", version: "v2" }],
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("watch follows both rollouts, says why each scope waits, and exits when they end", async () => {
    for (const pipeline of ["good-api", "bad-api"]) {
      const r = await cli([
        "override",
        "start",
        "--pipeline",
        pipeline,
        "--version",
        "v2",
        "--actor",
        "alice",
        "--reason",
        "watch test",
        ...at(),
        "--token",
        TOKEN,
      ]);
      expect(r.code, r.stderr).toBe(EXIT.ok);
    }
    // The start is asynchronous (a run request, then its event): watch once both runs exist.
    for (let i = 0; i < 400; i++) {
      const r = await cli(["status", "--json", ...at()]);
      const report = JSON.parse(r.stdout) as { pipelines: { runs: unknown[] }[] };
      if (report.pipelines.every((p) => p.runs.length > 0)) break;
      await new Promise((done) => setTimeout(done, 25));
    }
    const watched = await cli(["status", "--watch", ...at()]);
    expect(watched.code, watched.stderr).toBe(EXIT.ok);
    const frames = watched.stdout.split(/^control plane time /m).filter(Boolean);
    // Redrawn as the state changed (not once, not on a timer: only changed frames are written).
    expect(frames.length).toBeGreaterThan(4);
    expect(new Set(frames).size).toBe(frames.length);
    // Every wait said why: a bake with its minutes and end, a deploy in progress.
    // (Which scopes are caught mid-bake depends on the machine's speed; some always are: four
    // bakes of a second or more each, one frame per change.)
    expect(watched.stdout).toMatch(/\/\S+: baking 10 min \(until \d{4}-\d\d-\d\d \d\d:\d\dZ\)/);
    // The last frame: good-api done everywhere, bad-api halted with its faulty scope rolled back.
    const last = frames.at(-1) ?? "";
    expect(last).toMatch(/alpha\s+us-east-1 v2\n/);
    expect(last).toMatch(/prod-1\s+eu-north-1\/eun1-az1 v2 {2}eu-north-1\/eun1-az2 v2\n/);
    expect(last).toMatch(/wave-1\s+eu-west-1 v1✗/);
    expect(last).toMatch(/run #1 v2 halted wave-1 \(rollback at wave-1\/eu-west-1/);
  });

  it("watch exits at once when nothing is in flight, and refuses an unknown pipeline", async () => {
    const quiet = await cli(["status", "--watch", "--pipeline", "good-api", ...at()]);
    expect(quiet.code, quiet.stderr).toBe(EXIT.ok);
    expect(quiet.stdout.match(/^control plane time /gm)).toHaveLength(1);
    const unknown = await cli(["status", "--watch", "--pipeline", "nope", ...at()]);
    expect(unknown.code).toBe(EXIT.badInput);
    expect(unknown.stderr).toContain('pipeline "nope" is not registered');
  });

  it("metrics counts the deployment, the change failure and the restore (the bin, --json)", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["bin/breakwater.mjs", "metrics", "--json", ...at()],
      { env: { ...process.env, NO_COLOR: "1" } },
    );
    const report = JSON.parse(stdout) as DoraReport;
    const goodFigures = report.pipelines.find((p) => p.pipeline === "good-api");
    const badFigures = report.pipelines.find((p) => p.pipeline === "bad-api");
    expect(goodFigures).toMatchObject({
      deployments: 1,
      leadTime: { samples: 1 },
      changeFailureRate: { failed: 0, total: 1, rate: 0 },
      timeToRestore: { samples: 0 },
    });
    expect(goodFigures?.leadTime.medianMinutes).toBeGreaterThan(30);
    expect(badFigures).toMatchObject({
      deployments: 0,
      changeFailureRate: { failed: 1, total: 1, rate: 1 },
      timeToRestore: { samples: 1 },
    });
    expect(report.overall.changeFailureRate).toEqual({ failed: 1, total: 2, rate: 0.5 });
  });

  it("metrics for people, and bad input named by its field", async () => {
    const human = await cli(["metrics", "--pipeline", "bad-api", "--since", "7d", ...at()]);
    expect(human.code, human.stderr).toBe(EXIT.ok);
    expect(human.stdout).toMatch(/^DORA figures from \S+ to \S+/);
    expect(human.stdout).toMatch(/bad-api .* 100% \(1 of 1\)/);
    const since = await cli(["metrics", "--since", "last tuesday", ...at()]);
    expect(since.code).toBe(EXIT.badInput);
    expect(since.stderr).toContain("since: must be a duration back from now");
    const pipeline = await cli(["metrics", "--pipeline", "nope", ...at()]);
    expect(pipeline.code).toBe(EXIT.badInput);
    expect(pipeline.stderr).toContain('pipeline "nope" is not registered');
  });
});
