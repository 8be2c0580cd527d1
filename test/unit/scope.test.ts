import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parsePipeline, stageSchema } from "../../src/domain/pipeline.ts";
import {
  globMatches,
  MAX_SCOPE_GLOB_LENGTH,
  parseScopeId,
  pipelineScopes,
  regionOf,
  scopeGlobProblem,
  scopeId,
  scopeMatcher,
  stageScopes,
} from "../../src/domain/scope.ts";

describe("scopeId / parseScopeId", () => {
  it.each([
    ["prod-1", "eu-north-1", "eun1-az1", "prod-1/eu-north-1/eun1-az1"],
    ["prod-3", "us-west-2", undefined, "prod-3/us-west-2"],
    ["alpha", "us-east-1", "", "alpha/us-east-1"],
  ])("scopeId(%j, %j, %j) is %j and parses back", (stage, region, az, id) => {
    expect(scopeId(stage, region, az)).toBe(id);
    const ref = parseScopeId(id);
    expect(ref).toEqual(az ? { id, stage, region, az } : { id, stage, region });
    expect(scopeId(ref.stage, ref.region, ref.az)).toBe(id);
  });

  it("a region scope has no az field at all", () => {
    expect("az" in parseScopeId("prod-3/us-west-2")).toBe(false);
  });

  it.each(["", "prod-1", "/us-east-1", "prod-1/", "prod-1//use1-az1", "a/b/c/d", "a/b/c/"])(
    "rejects %j with an error naming the id and the expected shape",
    (id) => {
      expect(() => parseScopeId(id)).toThrow(
        `"${id}" is not a scope id (expected stage/region, stage/region/az, stage/region/cell or stage/region/az/cell)`,
      );
    },
  );
});

describe("stageScopes / pipelineScopes", () => {
  const gamma = stageSchema.parse({
    name: "gamma",
    regions: [
      "us-east-1",
      { region: "eu-north-1", azs: ["eun1-az3", "eun1-az1", "eun1-az2"] },
      { region: "eu-west-1" },
    ],
    bake: { minutes: 30 },
  });

  it("lists every scope in deployment order: regions as listed, AZs as listed", () => {
    expect(stageScopes(gamma)).toEqual([
      { id: "gamma/us-east-1", stage: "gamma", region: "us-east-1" },
      { id: "gamma/eu-north-1/eun1-az3", stage: "gamma", region: "eu-north-1", az: "eun1-az3" },
      { id: "gamma/eu-north-1/eun1-az1", stage: "gamma", region: "eu-north-1", az: "eun1-az1" },
      { id: "gamma/eu-north-1/eun1-az2", stage: "gamma", region: "eu-north-1", az: "eun1-az2" },
      { id: "gamma/eu-west-1", stage: "gamma", region: "eu-west-1" },
    ]);
  });

  it("every scope id round-trips through parseScopeId", () => {
    for (const ref of stageScopes(gamma)) expect(parseScopeId(ref.id)).toEqual(ref);
  });

  it.each([
    ["us-east-1", { region: "us-east-1", azs: [] }],
    [{ region: "us-east-1" }, { region: "us-east-1", azs: [] }],
    [
      { region: "us-east-1", azs: ["use1-az1"] },
      { region: "us-east-1", azs: ["use1-az1"] },
    ],
  ])("regionOf(%j)", (entry, expected) => {
    expect(regionOf(entry)).toEqual(expected);
  });

  it("pipelineScopes lists the scopes stage by stage", () => {
    const pipeline = parsePipeline({
      name: "orders-api",
      stages: [
        { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
        {
          name: "prod-1",
          regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }],
          bake: { minutes: 60 },
        },
      ],
    });
    expect(pipelineScopes(pipeline).map((s) => s.id)).toEqual([
      "alpha/us-east-1",
      "prod-1/eu-north-1/eun1-az1",
      "prod-1/eu-north-1/eun1-az2",
    ]);
  });
});

describe("scopeMatcher", () => {
  type Row = [glob: string, scope: string, matches: boolean];
  const rows: Row[] = [
    // exact
    ["prod-1/eu-north-1/eun1-az1", "prod-1/eu-north-1/eun1-az1", true],
    ["prod-1/eu-north-1", "prod-1/eu-north-1", true],
    // no partial matches: the whole id must match
    ["prod-1/eu-north-1", "prod-1/eu-north-1/eun1-az1", false],
    ["eu-north-1", "prod-1/eu-north-1", false],
    ["prod-1", "prod-11/us-east-1", false],
    ["prod-1/us-east-1", "xprod-1/us-east-1", false],
    // `*` matches any run of characters, `/` included
    ["*", "prod-2/us-east-1/use1-az2", true],
    ["prod-*", "prod-2/us-east-1/use1-az2", true],
    ["prod-*/us-east-1/*", "prod-2/us-east-1/use1-az2", true],
    ["prod-*/us-east-1/*", "prod-2/us-east-1", false],
    ["prod-*/us-east-1*", "prod-2/us-east-1", true],
    ["*/eu-west-1", "prod-3/eu-west-1", true],
    ["*/eu-west-1", "prod-3/eu-west-1/euw1-az1", false],
    ["*az2", "prod-2/us-east-1/use1-az2", true],
    ["*az2", "prod-2/us-east-1/use1-az1", false],
    ["prod-*", "gamma/us-east-1", false],
    ["prod-*", "prod-", true],
    // regex metacharacters in the glob are literal
    ["prod-1.x/us-east-1", "prod-1ax/us-east-1", false],
    ["prod-1.x/us-east-1", "prod-1.x/us-east-1", true],
    ["a+/b", "aa/b", false],
    ["a+/b", "a+/b", true],
    ["a?/b", "a/b", false],
    ["a?/b", "a?/b", true],
    ["(a|b)/c", "a/c", false],
    ["(a|b)/c", "(a|b)/c", true],
    ["[ab]/c", "a/c", false],
    ["[ab]/c", "[ab]/c", true],
    ["a{2}/c", "aa/c", false],
    ["a{2}/c", "a{2}/c", true],
    ["^a$/c", "^a$/c", true],
    ["a\\d/c", "a1/c", false],
    ["a\\d/c", "a\\d/c", true],
  ];

  it.each(rows)("%j matches %j: %s", (glob, scope, matches) => {
    expect(scopeMatcher(glob)(scope)).toBe(matches);
  });
});

describe("scopeMatcher in linear time (issue 10, finding 6)", () => {
  /** The old compilation, kept only as the reference semantics: `*` is `.*`, the rest literal. */
  const reference = (glob: string) =>
    new RegExp(
      `^${glob
        .split("*")
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*")}$`,
    );

  it("agrees with the reference regex on small inputs", () => {
    const char = fc.constantFrom("a", "b", "/", "-", "*", ".");
    fc.assert(
      fc.property(
        fc.array(char, { maxLength: 8 }).map((c) => c.join("")),
        fc
          .array(
            char.filter((c) => c !== "*"),
            { maxLength: 10 },
          )
          .map((c) => c.join("")),
        (glob, text) => {
          expect(scopeMatcher(glob)(text)).toBe(reference(glob).test(text));
          expect(globMatches(glob, text)).toBe(reference(glob).test(text));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("a 13-star glob against a long non-matching scope takes at most glob × scope steps", () => {
    const glob = `${"*a".repeat(13)}b`;
    const scope = "a".repeat(200);
    const counter = { steps: 0 };
    expect(globMatches(glob, scope, counter)).toBe(false);
    // The regex form backtracked through C(200, 13) ≈ 10^20 splits; this is bounded by n·m.
    expect(counter.steps).toBeLessThanOrEqual(glob.length * scope.length);
    const started = performance.now();
    expect(scopeMatcher(glob)(scope)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  const pipeline = parsePipeline({
    name: "orders-api",
    stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } }],
  });

  it("scopeGlobProblem: a glob that matches no scope, or is too long, is named", () => {
    expect(scopeGlobProblem("alpha/*", pipeline)).toBeUndefined();
    expect(scopeGlobProblem("prod-9/*", pipeline)).toBe(
      'matches no scope of pipeline "orders-api" (scopes look like alpha/us-east-1)',
    );
    expect(scopeGlobProblem(`alpha/${"*".repeat(MAX_SCOPE_GLOB_LENGTH)}`, pipeline)).toBe(
      `must be at most ${MAX_SCOPE_GLOB_LENGTH} characters (it has ${MAX_SCOPE_GLOB_LENGTH + 6})`,
    );
  });
});
