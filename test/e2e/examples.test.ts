/**
 * The bundled examples (one pipeline per kind and target type) through `breakwater simulate`,
 * and what the local mode does with each target type: the stage's type and step durations in
 * the output, each type's own timings in simulated time, and the target checks at the boundary
 * (exit 2 naming the field, nothing started).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { EXIT, main, type Simulator } from "../../src/cli/main.ts";
import { simulate } from "../../src/local/simulate.ts";
import { dynamoClient } from "../support/dynamo.ts";

const START = "2026-01-05T09:00:00Z";

/** The real simulator, on the shared DynamoDB Local instead of a fresh one per call. */
const shared: Simulator = (options) => simulate({ ...options, dynamo: dynamoClient() });

async function cli(args: string[], simulator: Simulator = shared) {
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
  const code = await main(["node", "breakwater", ...args], { out, err }, simulator);
  return { code, stdout, stderr };
}

interface Shown {
  outcome: string;
  scopes: Record<string, { version: string }>;
  targets: { stage: string; type: string; seconds: Record<string, number> }[];
  timeline: { stage: string; scope: string; step: string; event: string; at: string }[];
  simulatedSeconds: number;
}

const dir = mkdtempSync(join(tmpdir(), "breakwater-examples-"));
function pipelineFile(name: string, pipeline: unknown): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(pipeline));
  return file;
}

/** Each deploy step and how long it took, from its deploy-started to its deploy-finished event. */
function stepsOf(result: Shown): { stage: string; scope: string; step: string; seconds: number }[] {
  const started = new Map<string, string>();
  const out: { stage: string; scope: string; step: string; seconds: number }[] = [];
  for (const e of result.timeline) {
    const key = `${e.scope}|${e.step}`;
    if (e.event === "deploy-started") started.set(key, e.at);
    if (e.event === "deploy-finished") {
      const seconds = (Date.parse(e.at) - Date.parse(started.get(key) as string)) / 1000;
      out.push({ stage: e.stage, scope: e.scope, step: e.step, seconds });
    }
  }
  return out;
}

const stepSecondsOf = (result: Shown) => stepsOf(result).map((s) => s.seconds);

describe("the examples: one pipeline per kind, each runs through simulate", () => {
  it.each([
    ["examples/orders-api.json", "app", "lambda-alias"],
    ["examples/orders-worker.json", "app", "ecs"],
    ["examples/orders-network.json", "infrastructure", "cloudformation"],
    ["examples/orders-flags.json", "config", "appconfig"],
    ["examples/orders-web.json", "static-assets", "codebuild"],
  ])("%s (%s on %s) deploys v2 everywhere", async (file, _kind, type) => {
    const { code, stdout, stderr } = await cli([
      "simulate",
      "--pipeline",
      file,
      "--start",
      START,
      "--json",
    ]);
    expect(stderr).toBe("");
    expect(code).toBe(EXIT.ok);
    const result = JSON.parse(stdout) as Shown;
    expect(result.outcome).toBe("succeeded");
    expect(Object.values(result.scopes).every((s) => s.version === "v2")).toBe(true);
    // Every stage deploys with the example's target type, at that type's step durations.
    expect(new Set(result.targets.map((t) => t.type))).toEqual(new Set([type]));
    const seconds = new Map(result.targets.map((t) => [t.stage, t.seconds]));
    const steps = stepsOf(result);
    expect(steps.length).toBeGreaterThan(0);
    for (const s of steps) {
      expect(s.seconds, `${s.scope} ${s.step}`).toBe(
        seconds.get(s.stage)?.[s.step === "one-box" ? "oneBox" : "full"],
      );
    }
  });
});

describe("simulate shows what each target type does", () => {
  const stages = [
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } },
    { name: "prod", regions: ["us-west-2", "eu-west-1"], bake: { minutes: 10 } },
  ];
  const cfn = pipelineFile("cfn", {
    name: "network",
    kind: "infrastructure",
    target: {
      type: "cloudformation",
      stackName: "network-{stage}",
      templateUrl: "https://templates.s3.amazonaws.com/{version}/network.json",
    },
    stages,
  });
  const appconfig = pipelineFile("appconfig", {
    name: "network",
    kind: "config",
    target: {
      type: "appconfig",
      application: "network",
      environment: "{stage}",
      configurationProfile: "flags",
    },
    stages,
  });

  it("a cloudformation pipeline takes its type's longer steps: 600 s per step against appconfig's 60 s", async () => {
    const a = JSON.parse(
      (await cli(["simulate", "--pipeline", cfn, "--start", START, "--json"])).stdout,
    ) as Shown;
    const b = JSON.parse(
      (await cli(["simulate", "--pipeline", appconfig, "--start", START, "--json"])).stdout,
    ) as Shown;
    expect(a.outcome).toBe("succeeded");
    expect(b.outcome).toBe("succeeded");
    expect(a.targets).toEqual([
      { stage: "beta", type: "cloudformation", seconds: { oneBox: 600, full: 600, rollback: 900 } },
      { stage: "prod", type: "cloudformation", seconds: { oneBox: 600, full: 600, rollback: 900 } },
    ]);
    expect(b.targets.map((t) => [t.type, t.seconds.full])).toEqual([
      ["appconfig", 60],
      ["appconfig", 60],
    ]);
    // Three deploy steps each (beta, then prod's two regions one after the other).
    expect(stepSecondsOf(a)).toEqual([600, 600, 600]);
    expect(stepSecondsOf(b)).toEqual([60, 60, 60]);
    expect(a.simulatedSeconds - b.simulatedSeconds).toBe(3 * (600 - 60));
  });

  it("a target's own local timings win over its type's", async () => {
    const tuned = pipelineFile("tuned", {
      name: "network",
      target: {
        type: "cloudformation",
        stackName: "network-{stage}",
        templateUrl: "https://templates.s3.amazonaws.com/{version}/network.json",
        local: { fullSeconds: 120 },
      },
      stages,
    });
    const r = JSON.parse(
      (await cli(["simulate", "--pipeline", tuned, "--start", START, "--json"])).stdout,
    ) as Shown;
    expect(r.targets[0]).toEqual({
      stage: "beta",
      type: "cloudformation",
      seconds: { oneBox: 600, full: 120, rollback: 900 },
    });
    expect(stepSecondsOf(r)).toEqual([120, 120, 120]);
  });

  it("the live view names each stage's target type and step durations", async () => {
    const { code, stdout } = await cli([
      "simulate",
      "--pipeline",
      "examples/orders-network.json",
      "--start",
      START,
    ]);
    expect(code).toBe(EXIT.ok);
    expect(stdout).toContain(
      "targets: beta, prod-1, prod-2, prod-3 cloudformation (one-box 10 min, full 10 min, rollback 15 min)\n",
    );
    const none = pipelineFile("none", { name: "dry", stages });
    const dry = await cli(["simulate", "--pipeline", none, "--start", START]);
    expect(dry.stdout).toContain(
      "targets: beta, prod none (one-box 2 min, full 5 min, rollback 3 min)",
    );
  });
});

describe("target checks at the boundary: exit 2, the field named, nothing started", () => {
  it.each([
    [
      "a cloudformation stage with oneBox",
      {
        name: "network",
        target: {
          type: "cloudformation",
          stackName: "network-{stage}",
          templateUrl: "https://templates.s3.amazonaws.com/{version}/network.json",
        },
        stages: [{ name: "prod", regions: ["us-east-1"], oneBox: true, bake: { minutes: 10 } }],
      },
      ["stages[0].oneBox: a cloudformation target cannot split a scope's traffic"],
    ],
    [
      "an AZ stage whose target names lack {az}",
      {
        name: "orders",
        target: { type: "lambda-alias", functionName: "orders-{region}", alias: "live" },
        stages: [
          { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } },
          {
            name: "prod",
            regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }],
            bake: { minutes: 10 },
          },
        ],
      },
      [
        'target.functionName: must use {az}: stage "prod" deploys Availability Zone by Availability Zone',
      ],
    ],
    [
      "a stage's own target without {az} in an AZ stage",
      {
        name: "worker",
        target: {
          type: "ecs",
          cluster: "c",
          service: "worker-{az}",
          container: "app",
          image: "repo:{version}",
        },
        stages: [
          {
            name: "prod",
            regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }],
            bake: { minutes: 10 },
            target: {
              type: "ecs",
              cluster: "c",
              service: "worker",
              container: "app",
              image: "repo:{version}",
            },
          },
        ],
      },
      ["stages[0].target.service: must use {az}"],
    ],
  ])("%s", async (name, pipeline, messages) => {
    const file = pipelineFile(name.replaceAll(/\W+/g, "-"), pipeline);
    const spy = vi.fn<Simulator>(shared);
    const { code, stderr } = await cli(["simulate", "--pipeline", file, "--start", START], spy);
    expect(code).toBe(EXIT.badInput);
    expect(stderr).toContain(`${file}: invalid pipeline`);
    for (const m of messages) expect(stderr).toContain(m);
    expect(spy).not.toHaveBeenCalled();
  });
});
