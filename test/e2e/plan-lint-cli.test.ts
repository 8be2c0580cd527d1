/**
 * `breakwater plan`, `lint`, `--version`, "did you mean" and `completion`, end to end through
 * the real command (bin/breakwater.mjs, in a child process: its bundle, its exit codes).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const exec = promisify(execFile);
const START = "2026-01-05T09:00:00Z";
const work = mkdtempSync(join(tmpdir(), "breakwater-plan-lint-"));

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ["bin/breakwater.mjs", ...args], {
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function file(name: string, body: unknown): string {
  const path = join(work, name);
  writeFileSync(path, JSON.stringify(body));
  return path;
}

const target = { type: "lambda-alias", functionName: "orders", alias: "live" };

describe("breakwater plan", () => {
  it("prints every step with its start, deploy, bake and blast radius, and the expected end", async () => {
    const { code, stdout } = await cli(
      "plan",
      "--pipeline",
      "examples/orders-api.json",
      "--start",
      START,
    );
    expect(code).toBe(0);
    expect(stdout).toContain("Plan: orders-api, from 2026-01-05T09:00:00.000Z");
    // prod-1's one-box: 1 of 9 production regions, 1 of 6 AZs, 10% of a third of one region.
    expect(stdout).toMatch(
      /\+01:29 +prod-1\/eu-north-1\/eun1-az1 +one-box 10% +1 min +60 min +\+02:30 +1\/9 +1\/6 +0\.4%/,
    );
    expect(stdout).toMatch(/\+11:10 +prod-4\/eu-central-1 +full .* 9\/9 +6\/6 +100%/);
    expect(stdout).toContain("expected end: 2026-01-05T20:41:00.000Z (+11:41)");
    expect(stdout).toContain("total: 11 h 41 min (42060 s)");
  });

  it("--json: the schedule, with the waits for a time window from --start", async () => {
    const pipeline = file("windows.json", {
      name: "billing",
      target,
      timeWindows: { allowed: [{ days: ["mon"], from: "10:00", to: "17:00" }] },
      stages: [{ name: "prod-1", regions: ["eu-west-1"], bake: { minutes: 30 } }],
    });
    const { code, stdout } = await cli("plan", "--pipeline", pipeline, "--start", START, "--json");
    expect(code).toBe(0);
    const plan = JSON.parse(stdout);
    expect(plan.steps[0].waits[0]).toMatchObject({
      from: "2026-01-05T09:00:00.000Z",
      until: "2026-01-05T10:00:00.000Z",
    });
    expect(plan.steps[0].deployStartedAt).toBe("2026-01-05T10:00:00.000Z");
    expect(plan.totalSeconds).toBe(3600 + 60 + 30 * 60);
  });

  it("estimates a minRequests extension from --traffic, and says when it assumes none", async () => {
    const pipeline = file("traffic.json", {
      name: "quiet",
      target,
      stages: [
        {
          name: "prod-1",
          regions: ["us-east-1"],
          oneBox: true,
          bake: { minutes: 45, minRequests: 5000, maxMinutes: 200 },
        },
      ],
    });
    const bare = await cli("plan", "--pipeline", pipeline, "--start", START);
    expect(bare.stdout).toContain("bakes assumed to end at bake.minutes");
    const busy = await cli("plan", "--pipeline", pipeline, "--start", START, "--traffic", "*=1000");
    expect(busy.stdout).toMatch(/one-box 10% +1 min +45 min \+6 \(minRequests\)/);
  });

  it("refuses bad input with exit 2, naming the flag or the field", async () => {
    const bad = await cli("plan", "--pipeline", "examples/orders-api.json", "--start", "tomorrow");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--start "tomorrow": must be an ISO time/);
    const typo = file("typo.json", {
      name: "typo",
      stages: [{ name: "prod-1", regions: ["us-est-1"], bake: { minutes: 30 } }],
    });
    const invalid = await cli("plan", "--pipeline", typo);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain(
      'stages[0].regions[0]: unknown AWS region "us-est-1" (did you mean "us-east-1"?)',
    );
  });
});

describe("breakwater lint", () => {
  const wide = () =>
    file("wide.json", {
      name: "wide",
      target,
      alarms: ["wide-{region}-5xx"],
      stages: [
        { name: "gamma", regions: ["us-east-1", "eu-west-1"], oneBox: true, bake: { minutes: 60 } },
        {
          name: "prod-1",
          regions: ["us-east-1", "eu-west-1"],
          oneBox: true,
          bake: { minutes: 60 },
        },
      ],
    });

  it("exits 1 on an error, naming the file, the rule, the field and why", async () => {
    const path = wide();
    const { code, stdout } = await cli("lint", "--pipeline", path);
    expect(code).toBe(1);
    expect(stdout).toContain(
      `${path}: error first-wave-too-wide at stages[1].regions: the first production wave "prod-1" deploys to 2 regions; start with one`,
    );
    expect(stdout).toContain("1 file: 1 error, 0 warnings");
  });

  it("exits 0 on warnings only, and 1 with --strict", async () => {
    const plain = await cli("lint", "--pipeline", "examples/orders-web.json");
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/warning wave-without-one-box at stages\[2\]\.oneBox/);
    const strict = await cli("lint", "--strict", "--pipeline", "examples/orders-web.json");
    expect(strict.code).toBe(1);
  });

  it("lints several files at once, unknown regions with did you mean, as JSON", async () => {
    const typo = file("typo-az.json", {
      name: "typo",
      target,
      stages: [
        {
          name: "prod-1",
          regions: [{ region: "us-east-1", azs: ["use1-az1", "usw2-az1"] }],
          bake: { minutes: 30 },
        },
      ],
    });
    const { code, stdout } = await cli(
      "lint",
      "--json",
      "--pipeline",
      typo,
      "examples/orders-api.json",
    );
    expect(code).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.ok).toBe(false);
    expect(report.files.map((f: { file: string }) => f.file)).toEqual([
      typo,
      "examples/orders-api.json",
    ]);
    expect(report.files[0].findings).toContainEqual({
      rule: "az-not-in-region",
      severity: "error",
      path: "stages[0].regions[0].azs[1]",
      message:
        'Availability Zone "usw2-az1" is in us-west-2, not us-east-1 (us-east-1\'s ids are use1-az1..use1-az6)',
    });
    expect(
      report.files[1].findings.every((f: { severity: string }) => f.severity === "warning"),
    ).toBe(true);
  });

  it("pipelines apply runs the same rules: an error refuses the file before anything is sent", async () => {
    const path = wide();
    const { code, stderr } = await cli("pipelines", "apply", path, "--dry-run");
    expect(code).toBe(2);
    expect(stderr).toContain(
      'stages[1].regions: the first production wave "prod-1" deploys to 2 regions; start with one (lint first-wave-too-wide)',
    );
  });

  it("every bundled example and the control plane's own pipelines have no lint error", async () => {
    const { code, stdout } = await cli(
      "lint",
      "--pipeline",
      "examples/orders-api.json",
      "examples/orders-flags.json",
      "examples/orders-network.json",
      "examples/orders-web.json",
      "examples/orders-worker.json",
      "examples/typescript/orders-api.ts",
      "pipelines/orders-api.json",
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/7 files: 0 errors, \d+ warnings/);
  });
});

describe("breakwater --version, did you mean, completion", () => {
  it("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync("package.json", "utf8"));
    const { code, stdout } = await cli("--version");
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(version);
    // simulate's own --version (the version to deploy) is not the tool's.
    const sim = await cli("simulate", "--pipeline", "nowhere.json", "--version", "v2");
    expect(sim.stdout.trim()).not.toBe(version);
  });

  it("suggests the command or option meant", async () => {
    const cmd = await cli("pla");
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain("(Did you mean plan?)");
    const opt = await cli("lint", "--pipeline", "examples/orders-api.json", "--strcit");
    expect(opt.code).toBe(2);
    expect(opt.stderr).toContain("(Did you mean --strict?)");
  });

  it("bash completion completes commands, options and files in a real bash", async () => {
    const { stdout: script } = await cli("completion", "bash");
    const scriptFile = join(work, "breakwater.bash");
    writeFileSync(scriptFile, script);
    const complete = async (...words: string[]) => {
      const { stdout } = await exec(
        "bash",
        [
          "-c",
          `source ${scriptFile}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _breakwater; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { cwd: join(process.cwd(), "examples") },
      );
      return stdout.trim().split("\n").sort();
    };
    expect(await complete("breakwater", "pl")).toEqual(["plan"]);
    expect(await complete("breakwater", "lint", "--st")).toEqual(["--strict"]);
    expect(await complete("breakwater", "plan", "--pipeline", "orders-w")).toEqual([
      "orders-web.json",
      "orders-worker.json",
    ]);
    // Every command registered, including those of other modules.
    const all = await complete("breakwater", "");
    for (const c of ["simulate", "plan", "lint", "serve", "status", "completion", "--version"]) {
      expect(all).toContain(c);
    }
  });

  it("zsh completion names every command and its options", async () => {
    const { code, stdout } = await cli("completion", "zsh");
    expect(code).toBe(0);
    expect(stdout.startsWith("#compdef breakwater\n")).toBe(true);
    expect(stdout).toMatch(/'plan:Print the expected schedule of a healthy run/);
    expect(stdout).toMatch(
      /plan\)\n +_arguments '--pipeline\[pipeline definition \(\.json or \.ts\)\]:file:_files'/,
    );
    expect(stdout).toContain("'--strict[fail on warnings too]'");
    expect(stdout).toContain("compdef _breakwater breakwater");
  });

  it("refuses a shell it does not know", async () => {
    const { code, stderr } = await cli("completion", "fish");
    expect(code).toBe(2);
    expect(stderr).toContain('completion "fish": the shell must be bash or zsh');
  });
});
