/**
 * `breakwater simulate` end to end: the CLI parses flags and the pipeline file, runs the whole
 * local control plane, prints JSON or a live view, and exits with the documented codes.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { promisify } from "node:util";
import { describe, expect, it, vi } from "vitest";
import { EXIT, main, type Simulator } from "../../src/cli/main.ts";
import { simulate } from "../../src/local/simulate.ts";
import { dynamoClient } from "../support/dynamo.ts";

const START = "2026-01-05T09:00:00Z";

function capture() {
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
  return { io: { out, err }, text: () => ({ stdout, stderr }) };
}

/** The real simulator, on the shared DynamoDB Local instead of a fresh one per call. */
const shared: Simulator = (options) => simulate({ ...options, dynamo: dynamoClient() });

async function cli(args: string[], simulator: Simulator = shared) {
  const c = capture();
  const code = await main(["node", "breakwater", ...args], c.io, simulator);
  return { code, ...c.text() };
}

describe("breakwater simulate", () => {
  it("prints one JSON object and exits 3 when a faulty AZ is rolled back", async () => {
    const { code, stdout } = await cli([
      "simulate",
      "--pipeline",
      "examples/orders-api.json",
      "--from-version",
      "v1",
      "--version",
      "v2",
      "--fault",
      "prod-2/us-east-1/use1-az2",
      "--start",
      START,
      "--json",
    ]);
    expect(code).toBe(EXIT.rolledBack);
    const result = JSON.parse(stdout);
    expect(result).toMatchObject({
      pipeline: "orders-api",
      version: "v2",
      outcome: "rolled-back",
      rolledBack: ["prod-2/us-east-1/use1-az2"],
    });
    expect(result.scopes["prod-2/us-east-1/use1-az1"]).toEqual({ version: "v2", status: "stable" });
    expect(result.scopes["prod-2/us-east-1/use1-az2"]).toEqual({
      version: "v1",
      status: "rolled-back",
    });
    expect(result.scopes["prod-2/us-east-1/use1-az4"]).toEqual({ version: "v1", status: "stable" });
    expect(result.scopes["prod-3/us-west-2"]).toEqual({ version: "v1", status: "stable" });
    expect(typeof result.simulatedSeconds).toBe("number");
    expect(typeof result.wallMs).toBe("number");
    expect(result.timeline[0]).toMatchObject({
      at: "2026-01-05T09:00:00.000Z",
      scope: "alpha/us-east-1",
      step: "full",
      event: "deploy-started",
    });
    const last = result.timeline.at(-1);
    expect(last).toMatchObject({
      scope: "prod-2/us-east-1/use1-az2",
      event: "rollback-finished",
      toVersion: "v1",
    });
    // Nothing of the run touched a later wave.
    expect(result.timeline.some((e: { stage: string }) => e.stage === "prod-3")).toBe(false);
    expect(result.simulatedSeconds).toBe((Date.parse(last.at) - Date.parse(START)) / 1000);
  });

  it("exits 0 when the run succeeds, and a TypeScript pipeline gives the same run as its JSON twin", async () => {
    const json = await cli([
      "simulate",
      "--pipeline",
      "examples/orders-api.json",
      "--start",
      START,
      "--json",
    ]);
    const ts = await cli([
      "simulate",
      "--pipeline",
      "examples/typescript/orders-api.ts",
      "--start",
      START,
      "--json",
    ]);
    expect(json.code).toBe(EXIT.ok);
    expect(ts.code).toBe(EXIT.ok);
    const a = JSON.parse(json.stdout);
    const b = JSON.parse(ts.stdout);
    expect(a.outcome).toBe("succeeded");
    expect(Object.values(a.scopes).every((s) => (s as { version: string }).version === "v2")).toBe(
      true,
    );
    expect(b.timeline).toEqual(a.timeline);
    expect(b.scopes).toEqual(a.scopes);
  });

  it("shows a live view and a version-per-scope table without --json", async () => {
    const { code, stdout } = await cli([
      "simulate",
      "--pipeline",
      "examples/orders-api.json",
      "--fault",
      "prod-1/*/eun1-az1:latency",
      "--start",
      START,
    ]);
    expect(code).toBe(EXIT.rolledBack);
    expect(stdout).toContain("── v2 enters prod-1 ──");
    expect(stdout).toMatch(/prod-1\/eu-north-1\/eun1-az1\s+one-box\s+deploy v2 to 10% of traffic/);
    expect(stdout).toMatch(/one-box\s+unhealthy: detector latency: median p99 \d+ ms vs \d+ ms /);
    expect(stdout).toMatch(/prod-1\/eu-north-1\/eun1-az1\s+v1\s+rolled-back/);
    expect(stdout).toContain("outcome: rolled-back");
  });

  it("with --expect, exits 0 when the outcome is the expected one and 5 when not", async () => {
    const args = ["simulate", "--pipeline", "examples/orders-api.json", "--start", START, "--json"];
    expect(
      (await cli([...args, "--fault", "gamma/eu-west-1", "--expect", "rolled-back"])).code,
    ).toBe(EXIT.ok);
    expect((await cli([...args, "--expect", "rolled-back"])).code).toBe(EXIT.unexpected);
  });

  it("several versions in flight: v2 rolls back, v3 stops behind it, rollback-all returns every scope to v1", async () => {
    const { code, stdout } = await cli([
      "simulate",
      "--pipeline",
      "examples/orders-api.json",
      "--version",
      "v2",
      "--version",
      "v3@+90m",
      "--fault",
      "v2:prod-1/eu-north-1/eun1-az2",
      "--decide",
      "rollback-all@+12h",
      "--start",
      START,
      "--json",
    ]);
    const result = JSON.parse(stdout);
    expect(result.runs).toEqual([
      expect.objectContaining({
        version: "v2",
        outcome: "rolled-back",
        arrivedAt: "2026-01-05T09:00:00.000Z",
      }),
      expect.objectContaining({
        version: "v3",
        outcome: "rolled-back",
        arrivedAt: "2026-01-05T10:30:00.000Z",
      }),
    ]);
    expect(result.decisions).toEqual([
      expect.objectContaining({
        action: "rollback-all",
        version: "v2",
        at: "2026-01-05T21:00:00.000Z",
      }),
    ]);
    expect(result.decisions[0].effect).toContain("ended v2, v3");
    for (const [scope, state] of Object.entries(result.scopes)) {
      expect(`${scope} ${(state as { version: string }).version}`).toBe(`${scope} v1`);
    }
    // v3 never entered prod-1, where v2 halted.
    expect(
      result.timeline.some(
        (e: { version: string; stage: string; event: string }) =>
          e.version === "v3" && e.stage === "prod-1" && e.event === "deploy-started",
      ),
    ).toBe(false);
    expect(code).toBe(EXIT.rolledBack);
  });

  it("several versions: the newest supersedes an older one waiting for the same stage", async () => {
    const { code, stdout } = await cli([
      "simulate",
      "--pipeline",
      "examples/orders-api.json",
      "--version",
      "v2",
      "--version",
      "v3@+20m",
      "--version",
      "v4@+50m",
      "--start",
      START,
      "--json",
      "--expect",
      "succeeded",
    ]);
    const result = JSON.parse(stdout);
    expect(code).toBe(EXIT.ok);
    const byVersion = Object.fromEntries(
      result.runs.map((r: { version: string; outcome: string }) => [r.version, r]),
    );
    expect(byVersion.v2.outcome).toBe("succeeded");
    expect(byVersion.v3).toMatchObject({ outcome: "superseded", supersededBy: "v4" });
    expect(byVersion.v4.outcome).toBe("succeeded");
    expect(
      new Set(Object.values(result.scopes).map((s) => (s as { version: string }).version)),
    ).toEqual(new Set(["v4"]));
  });

  describe("bad input: exit 2, a message naming the file, field and problem, nothing started", () => {
    const dir = mkdtempSync(join(tmpdir(), "breakwater-cli-"));
    const bad = join(dir, "bad.json");
    writeFileSync(
      bad,
      JSON.stringify({
        name: "orders-api",
        stages: [
          { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
          { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 }, oneBx: true },
          { name: "gamma", regions: ["us-east-1"], bake: { minutes: 0 } },
        ],
      }),
    );

    it.each([
      [
        "every problem of a malformed pipeline, with its path",
        ["--pipeline", bad],
        [
          `${bad}: invalid pipeline`,
          "stages[1].oneBx: unknown field",
          "stages[2].bake.minutes: must be a positive integer",
        ],
      ],
      [
        "a missing pipeline file",
        ["--pipeline", join(dir, "nope.json")],
        ["nope.json", "cannot read file (ENOENT)"],
      ],
      [
        "an unknown fault kind",
        ["--pipeline", "examples/orders-api.json", "--fault", "prod-1/*:boom"],
        ['unknown fault kind "boom"'],
      ],
      [
        "a fault glob that matches no scope",
        ["--pipeline", "examples/orders-api.json", "--fault", "prod-9/*"],
        ['--fault "prod-9/*": matches no scope'],
      ],
      [
        "a malformed start time",
        ["--pipeline", "examples/orders-api.json", "--start", "yesterday"],
        ['--start "yesterday"'],
      ],
      [
        "the same version twice",
        ["--pipeline", "examples/orders-api.json", "--version", "v1"],
        ["must differ from --from-version"],
      ],
      ["a missing required flag", [], ["required option '--pipeline <file>' not specified"]],
      [
        "a version given twice",
        ["--pipeline", "examples/orders-api.json", "--version", "v2", "--version", "v2@+1h"],
        ['--version "v2": given twice'],
      ],
      [
        "a malformed arrival time",
        ["--pipeline", "examples/orders-api.json", "--version", "v2", "--version", "v3@soon"],
        ['--version "v3@soon": "soon" must be an ISO time'],
      ],
      [
        "an unknown decision",
        ["--pipeline", "examples/orders-api.json", "--decide", "undo@+1h"],
        [
          '--decide "undo@+1h": the action must be one of rollback-all, retry, roll-forward, cancel, approve, reject',
        ],
      ],
      [
        "a decision about a version that never arrives",
        ["--pipeline", "examples/orders-api.json", "--decide", "retry:v7@+1h"],
        ['--decide: version "v7" is not one of the --version values'],
      ],
    ])("%s", async (_name, args, messages) => {
      const spy = vi.fn<Simulator>(shared);
      const { code, stderr } = await cli(["simulate", ...args], spy);
      expect(code).toBe(EXIT.badInput);
      for (const m of messages) expect(stderr).toContain(m);
      expect(spy).not.toHaveBeenCalled();
    });
  });

  describe("hostile input stays out (issue 10, findings 6 and 9): exit 2, the field named, nothing started", () => {
    const dir = mkdtempSync(join(tmpdir(), "breakwater-hostile-"));
    const file = (name: string, content: string) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    };
    const stage = (extra: Record<string, unknown>) =>
      JSON.stringify({
        name: "orders-api",
        stages: [
          { name: "alpha", regions: ["us-east-1", "us-west-2"], bake: { minutes: 10 }, ...extra },
        ],
      });
    const hugeBake = file("huge-bake.json", stage({ bake: { minutes: 1e9 } }));
    const wideParallel = file("wide.json", stage({ regionsInParallel: 1e9 }));
    const duplicate = file(
      "duplicate.json",
      '{\n  "name": "orders-api",\n  "stages": [\n    { "name": "alpha", "regions": ["us-east-1"],\n      "bake": { "minutes": 10, "minutes": 0 } }\n  ]\n}\n',
    );
    // 40,000 problems in well under the size bound: 10,000 stages with four problems each.
    const manyProblems = file(
      "many.json",
      JSON.stringify({
        name: "orders-api",
        stages: Array.from({ length: 10_000 }, () => ({ n: 1, bake: 0 })),
      }),
    );
    const tooLarge = file(
      "large.json",
      `{"name":"orders-api","description":"${"x".repeat(2_000_000)}"}`,
    );
    const longVersion = `v${"1".repeat(128)}`;
    const thirteenStars = `${"*a".repeat(13)}b`;

    it.each([
      [
        "a 13-star glob that matches no scope, in --block",
        ["--pipeline", "examples/orders-api.json", "--block", thirteenStars],
        [
          `--block "${thirteenStars}": matches no scope of pipeline "orders-api" (scopes look like alpha/us-east-1)`,
        ],
      ],
      [
        "a --block glob that matches no scope",
        ["--pipeline", "examples/orders-api.json", "--block", "prod-9/*@+1h"],
        ['--block "prod-9/*@+1h": matches no scope of pipeline "orders-api"'],
      ],
      [
        "a --traffic glob longer than 256 characters",
        ["--pipeline", "examples/orders-api.json", "--traffic", `${"*".repeat(300)}=10`],
        ["must be at most 256 characters (it has 300)"],
      ],
      [
        "--traffic with an absurd rate",
        ["--pipeline", "examples/orders-api.json", "--traffic", "*=1e300"],
        [
          '--traffic "*=1e300": must be <scope-glob>=<requests per minute, a whole number from 0 to 1000000>',
        ],
      ],
      [
        "bake.minutes beyond what Step Functions can wait",
        ["--pipeline", hugeBake],
        ["stages[0].bake.minutes: must be at most 525600 minutes"],
      ],
      [
        "regionsInParallel beyond the stage's regions",
        ["--pipeline", wideParallel],
        ["stages[0].regionsInParallel: must be at most the stage's 2 regions"],
      ],
      [
        "a version over 128 characters",
        ["--pipeline", "examples/orders-api.json", "--version", longVersion],
        ['--version "v1111', "must be 1-128 letters, digits, '.', '_', '+' or '-'"],
      ],
      [
        "a version with characters outside [A-Za-z0-9._+-]",
        ["--pipeline", "examples/orders-api.json", "--version", "v2;rm"],
        ['--version "v2;rm": must be 1-128 letters'],
      ],
      [
        "an impossible date",
        ["--pipeline", "examples/orders-api.json", "--start", "2026-02-30T09:00:00Z"],
        [
          '--start "2026-02-30T09:00:00Z": must be an ISO time such as 2026-01-05T09:00:00Z, with a date that exists',
        ],
      ],
      [
        "a start that leaves no room for the horizon before the year 10000",
        ["--pipeline", "examples/orders-api.json", "--start", "9999-12-31T23:00:00Z"],
        ['--start "9999-12-31T23:00:00Z": the simulation would run past the end of the year 9999'],
      ],
      [
        "a year before 1970",
        ["--pipeline", "examples/orders-api.json", "--start", "1969-07-20T20:17:00Z"],
        ['--start "1969-07-20T20:17:00Z": must be in the years 1970 to 9999'],
      ],
      [
        "an offset that overflows",
        [
          "--pipeline",
          "examples/orders-api.json",
          "--version",
          "v2",
          "--version",
          "v3@+99999999999d",
        ],
        ['--version "v3@+99999999999d": "+99999999999d" must be'],
      ],
      [
        "an offset over a year",
        ["--pipeline", "examples/orders-api.json", "--decide", "retry@+366d"],
        ['--decide "retry@+366d": "+366d" must be an offset of at most 365 days'],
      ],
      [
        "an impossible date in an interval",
        ["--pipeline", "examples/orders-api.json", "--alarm", "org-sev1@2026-04-31T00:00:00Z"],
        [
          '--alarm "org-sev1@2026-04-31T00:00:00Z": "2026-04-31T00:00:00Z" must be an ISO time with a date that exists',
        ],
      ],
      [
        "a horizon over a year",
        ["--pipeline", "examples/orders-api.json", "--horizon", "400d"],
        ['--horizon "400d": must be a duration such as 3d or 36h, at most 365d'],
      ],
      [
        "a key given twice in a JSON pipeline",
        ["--pipeline", duplicate],
        [
          `${duplicate}: invalid pipeline`,
          'stages[0].bake.minutes: duplicate key "minutes" at line 5, column 32',
        ],
      ],
      [
        "a missing --config file",
        ["--pipeline", "examples/orders-api.json", "--config", join(dir, "nope.config.json")],
        ["nope.config.json: invalid installation config", "cannot read file (ENOENT)"],
      ],
      [
        "a pipeline file over 1 MB",
        ["--pipeline", tooLarge],
        ["large.json: invalid pipeline", "larger than the 1048576 bytes a definition may have"],
      ],
    ])("%s", async (_name, args, messages) => {
      const spy = vi.fn<Simulator>(shared);
      const started = performance.now();
      const { code, stderr } = await cli(["simulate", "--start", START, ...args], spy);
      expect(code, stderr).toBe(EXIT.badInput);
      for (const m of messages) expect(stderr).toContain(m);
      expect(spy).not.toHaveBeenCalled();
      // A glob check is linear: the 13-star one took 35 s per scope with the regex.
      expect(performance.now() - started).toBeLessThan(10_000);
    });

    it("40,000 problems: the first 50 and a count, not 1.5 MB", async () => {
      const spy = vi.fn<Simulator>(shared);
      const { code, stderr } = await cli(["simulate", "--pipeline", manyProblems], spy);
      expect(code).toBe(EXIT.badInput);
      expect(stderr).toContain(`${manyProblems}: invalid pipeline`);
      expect(stderr).toContain("stages[0].n: unknown field");
      expect(stderr).toContain("… and 39950 more problems");
      expect(stderr.split("\n").length).toBeLessThan(60);
      expect(spy).not.toHaveBeenCalled();
    });

    /** The real command (a child process): what a module does can only end its loader. */
    async function bin(pipeline: string) {
      try {
        const r = await promisify(execFile)(
          process.execPath,
          ["bin/breakwater.mjs", "simulate", "--pipeline", pipeline, "--start", START, "--json"],
          { timeout: 60_000 },
        );
        return { code: 0, stdout: r.stdout, stderr: r.stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    }
    const valid =
      'export default { name: "orders-api", stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } }] };';

    it.each([
      [
        "calls process.exit(0) while loading",
        `process.exit(0);\n${valid}\n`,
        "the module called process.exit(0)",
      ],
      [
        "throws while being validated (a getter)",
        'export default { get name(): string { throw new Error("no name today"); }, stages: [] };\n',
        "cannot load module: no name today",
      ],
      [
        "throws later, from a timer",
        `setTimeout(() => { throw new Error("later"); }, 10);\n${valid}\n`,
        "cannot load module: later",
      ],
      [
        "exits later, from a timer",
        `setTimeout(() => process.exit(0), 10);\n${valid}\n`,
        "the module called process.exit(0)",
      ],
    ])(
      "a TypeScript pipeline that %s: exit 2, the file named, no stack trace",
      async (_name, source, message) => {
        const path = file(`hostile-${randomUUID()}.ts`, source);
        const { code, stdout, stderr } = await bin(path);
        expect(code, stderr).toBe(EXIT.badInput);
        expect(stderr).toContain(`error: ${path}: invalid pipeline`);
        expect(stderr).toContain(message);
        expect(stderr).not.toMatch(/\n\s+at /);
        expect(stdout).toBe("");
      },
      60_000,
    );
  });

  it("prints notifications and posts them to a Slack-compatible URL", async () => {
    const received: { text: string; blocks: { type: string }[] }[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        received.push(JSON.parse(body));
        res.writeHead(200).end("ok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    try {
      const { code, stderr } = await cli([
        "simulate",
        "--pipeline",
        "examples/orders-api.json",
        "--fault",
        "prod-1/*/eun1-az2",
        "--start",
        START,
        "--json",
        "--notifications",
        "--slack-url",
        `http://127.0.0.1:${port}/services/T000/B000/XXX`,
      ]);
      expect(code).toBe(EXIT.rolledBack);
      expect(stderr).toContain("[critical] orders-api: rolling back prod-1/eu-north-1/eun1-az2");
      expect(stderr).toContain("[critical] orders-api: v2 halted, decision needed");
      const texts = received.map((m) => m.text);
      expect(texts.some((t) => t.includes("rolling back prod-1/eu-north-1/eun1-az2"))).toBe(true);
      expect(received.every((m) => m.blocks[0]?.type === "header")).toBe(true);
      // Routine steps (deploy, bake) are not notified: a handful of messages, not hundreds.
      expect(received.length).toBeLessThan(12);
    } finally {
      server.close();
    }
  });

  it("rejects a --slack-url that is not an http(s) URL", async () => {
    const { code, stderr } = await cli([
      "simulate",
      "--pipeline",
      "examples/orders-api.json",
      "--slack-url",
      "file:///etc/passwd",
    ]);
    expect(code).toBe(EXIT.badInput);
    expect(stderr).toContain('--slack-url "file:///etc/passwd": must be an http(s) URL');
  });

  it("exits 1 on an internal error", async () => {
    const { code, stderr } = await cli(
      ["simulate", "--pipeline", "examples/orders-api.json"],
      async () => {
        throw new Error("DynamoDB Local crashed");
      },
    );
    expect(code).toBe(EXIT.internal);
    expect(stderr).toContain("internal error: Error: DynamoDB Local crashed");
  });

  it("runs as `npm start` does: the bin, its own DynamoDB Local, the bundled example", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        "bin/breakwater.mjs",
        "simulate",
        "--pipeline",
        "examples/orders-api.json",
        "--fault",
        "prod-2/us-east-1/use1-az2",
        "--start",
        START,
        "--expect",
        "rolled-back",
      ],
      { timeout: 120_000 },
    );
    expect(stdout).toContain("── v2 enters prod-2 ──");
    expect(stdout).toMatch(/use1-az2\s+full\s+rolling back to v1/);
    // The outcome names the scope and why it rolled back (the detector's finding).
    expect(stdout).toContain(
      "outcome: rolled-back (prod-2/us-east-1/use1-az2 rolled back (detector fault-rate: fault rate ",
    );
  }, 120_000);
});
