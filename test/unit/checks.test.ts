/**
 * Tests and canaries of a stage (issue 13, items 2 and 3): the schema's fields and limits, the
 * names they resolve to for a scope, and the rules that judge their answers.
 */
import { describe, expect, it } from "vitest";
import {
  judgeCanaries,
  judgeTests,
  MAX_REPORT_CHARS,
  resolveCanaries,
  resolveTests,
  type TestRun,
} from "../../src/domain/checks.ts";
import {
  type Pipeline,
  PipelineValidationError,
  parsePipeline,
} from "../../src/domain/pipeline.ts";
import { parseScopeId } from "../../src/domain/scope.ts";
import { checkSimulationInput } from "../../src/local/simulate.ts";

function pipelineWith(stage: Record<string, unknown>): Pipeline {
  return parsePipeline({
    name: "orders-api",
    stages: [{ name: "beta", regions: ["us-east-1"], bake: { minutes: 10 }, ...stage }],
  });
}

function problems(stage: Record<string, unknown>): string[] {
  try {
    pipelineWith(stage);
  } catch (e) {
    if (e instanceof PipelineValidationError) {
      return e.problems.map((p) => `${p.path}: ${p.message}`);
    }
    throw e;
  }
  return [];
}

describe("stages[].tests and stages[].canaries in the pipeline schema", () => {
  it("accepts Lambda and CodeBuild tests and canary names, with and without thresholds", () => {
    const p = pipelineWith({
      tests: [
        { lambda: "orders-it-{stage}-{region}" },
        { codebuild: "orders-e2e", timeoutMinutes: 45 },
      ],
      canaries: ["orders-{region}", { name: "orders-checkout", minSuccessPercent: 95 }],
    });
    expect(p.stages[0]?.tests).toHaveLength(2);
    expect(p.stages[0]?.canaries).toHaveLength(2);
  });

  it.each([
    [{ tests: [{ lambda: "it-*" }] }, "stages[0].tests[0].lambda: must be a Lambda function name"],
    [
      { tests: [{ lambda: "it-{scope}" }] },
      "stages[0].tests[0].lambda: must be a Lambda function name",
    ],
    [
      { tests: [{ codebuild: "p", timeoutMinutes: 0 }] },
      "stages[0].tests[0].timeoutMinutes: must be a whole number of minutes from 1 to 480",
    ],
    [
      { tests: [{ codebuild: "p", timeoutMinutes: 481 }] },
      "stages[0].tests[0].timeoutMinutes: must be a whole number of minutes from 1 to 480",
    ],
    [{ tests: [{ codebuild: "p", lambda: "f" }] }, "stages[0].tests[0].codebuild: unknown field"],
    [
      { tests: [{ lambda: "x".repeat(65) }] },
      "stages[0].tests[0].lambda: must be at most 64 characters",
    ],
    [
      { tests: Array.from({ length: 11 }, (_, i) => ({ lambda: `t${i}` })) },
      "stages[0].tests: must list at most 10 tests",
    ],
    [
      { canaries: ["Orders"] },
      "stages[0].canaries[0]: must be a CloudWatch Synthetics canary name",
    ],
    [
      { canaries: [{ name: "c", minSuccessPercent: 101 }] },
      "stages[0].canaries[0].minSuccessPercent: must be a percentage from 0 to 100",
    ],
    [
      { canaries: Array.from({ length: 11 }, (_, i) => `c${i}`) },
      "stages[0].canaries: must list at most 10 canaries",
    ],
  ])("refuses %j, naming the field", (stage, expected) => {
    expect(problems(stage).join("\n")).toContain(expected);
  });

  it("counts the tests' longest timeout in the stage's longest run (one year at most)", () => {
    // 365 regions' worth is not needed: one step whose bake and tests exceed a year.
    expect(
      problems({
        bake: { minutes: 365 * 24 * 60 - 10 },
        tests: [{ lambda: "t", timeoutMinutes: 30 }],
      }).join("\n"),
    ).toContain("stages[0].bake: this stage's bakes");
    expect(problems({ bake: { minutes: 365 * 24 * 60 - 10 } })).toEqual([]);
  });
});

describe("resolveTests / resolveCanaries", () => {
  const stage = pipelineWith({
    tests: [{ lambda: "it-{stage}-{region}" }, { codebuild: "e2e-{az}", timeoutMinutes: 5 }],
    canaries: ["home-{region}", { name: "checkout-{region}-{az}", minSuccessPercent: 90 }],
  }).stages[0] as Pipeline["stages"][number];

  it("names one function per scope; a {az} template names nothing in a regional scope", () => {
    expect(resolveTests(stage, parseScopeId("beta/us-east-1"))).toEqual([
      { kind: "lambda", name: "it-beta-us-east-1", timeoutMinutes: 30 },
    ]);
    expect(resolveTests(stage, parseScopeId("beta/us-east-1/use1-az1"))).toEqual([
      { kind: "lambda", name: "it-beta-us-east-1", timeoutMinutes: 30 },
      { kind: "codebuild", name: "e2e-use1-az1", timeoutMinutes: 5 },
    ]);
  });

  it("gives each canary its threshold (default 99)", () => {
    expect(resolveCanaries(stage, parseScopeId("beta/us-east-1/use1-az1"))).toEqual([
      { name: "home-us-east-1", minSuccessPercent: 99 },
      { name: "checkout-us-east-1-use1-az1", minSuccessPercent: 90 },
    ]);
  });
});

describe("judgeTests", () => {
  const run = (over: Partial<TestRun> = {}): TestRun => ({
    kind: "lambda",
    name: "it",
    timeoutMinutes: 30,
    handle: "h",
    state: "running",
    ...over,
  });

  it("polls while a test runs, never past its timeout", () => {
    expect(judgeTests([run()], 29 * 60_000, [300])).toEqual({ done: false, pollSeconds: 60 });
    expect(judgeTests([run()], 0, [20])).toEqual({ done: false, pollSeconds: 20 });
  });

  it("fails a test that did not answer within timeoutMinutes", () => {
    const v = judgeTests([run()], 30 * 60_000, []);
    expect(v).toEqual({
      done: true,
      passed: false,
      reason: "test lambda it did not answer within 30 minutes (timeoutMinutes)",
    });
  });

  it("fails at the first failed test, with its own report, even while others run", () => {
    const v = judgeTests(
      [run({ state: "failed", report: "2 of 9 failed" }), run({ name: "b" })],
      0,
      [5],
    );
    expect(v).toMatchObject({
      done: true,
      passed: false,
      reason: "test lambda it failed: 2 of 9 failed",
    });
  });

  it("passes when every test passed", () => {
    expect(
      judgeTests(
        [run({ state: "passed" }), run({ name: "b", state: "passed", report: "ok" })],
        0,
        [],
      ),
    ).toEqual({
      done: true,
      passed: true,
      summary: "lambda it passed; lambda b passed: ok",
    });
  });

  it("bounds the reason however long the reports", () => {
    const v = judgeTests([run({ state: "failed", report: "x".repeat(5000) })], 0, []);
    expect(v.done && !v.passed && v.reason.length).toBeLessThanOrEqual(MAX_REPORT_CHARS + 30);
  });
});

describe("judgeCanaries", () => {
  const canaries = [
    { name: "a", minSuccessPercent: 99 },
    { name: "b", minSuccessPercent: 90 },
  ];

  it("is healthy at or above each threshold", () => {
    expect(
      judgeCanaries(canaries, [
        { name: "a", successPercent: 99 },
        { name: "b", successPercent: 90 },
      ]),
    ).toEqual({
      phase: "Healthy",
      reasons: [],
    });
  });

  it("is unhealthy below a threshold, naming the canary and its rate", () => {
    expect(
      judgeCanaries(canaries, [
        { name: "a", successPercent: 98.5 },
        { name: "b", successPercent: 100 },
      ]),
    ).toEqual({
      phase: "Unhealthy",
      reasons: ["canary a: 98.5% success (below 99%)"],
    });
  });

  it("is inconclusive when a canary reported no run (fail closed)", () => {
    expect(judgeCanaries(canaries, [{ name: "a", successPercent: 100 }, { name: "b" }])).toEqual({
      phase: "Inconclusive",
      reasons: ["canary b: no run reported during the bake"],
    });
    expect(judgeCanaries(canaries, [{ name: "a", successPercent: 100 }]).phase).toBe(
      "Inconclusive",
    );
  });
});

describe("simulate --fault <glob>:tests|canary", () => {
  const p = parsePipeline({
    name: "orders-api",
    stages: [
      { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 }, tests: [{ lambda: "it" }] },
      { name: "gamma", regions: ["us-east-1"], bake: { minutes: 10 }, canaries: ["home"] },
    ],
  });
  const check = (scopes: string, kind: "tests" | "canary") =>
    checkSimulationInput({
      pipeline: p,
      fromVersion: "v1",
      version: "v2",
      faults: [{ scopes, kind }],
    });

  it("is accepted where a matched stage has tests (or canaries)", () => {
    expect(() => check("beta/*", "tests")).not.toThrow();
    expect(() => check("*", "canary")).not.toThrow();
  });

  it("is refused where no matched stage could see it, naming what is missing", () => {
    expect(() => check("gamma/*", "tests")).toThrow(
      '--fault "gamma/*": a tests fault needs stages[].tests, and no stage it matches (gamma) has any',
    );
    expect(() => check("beta/us-east-1", "canary")).toThrow(
      '--fault "beta/us-east-1": a canary fault needs stages[].canaries, and no stage it matches (beta) has any',
    );
  });
});
