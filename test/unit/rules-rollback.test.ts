import { describe, expect, it } from "vitest";
import type { HistoryEntry, Run, ScopeState } from "../../src/domain/model.ts";
import { type Pipeline, parsePipeline } from "../../src/domain/pipeline.ts";
import {
  inRollbackAll,
  isRegionalTemplate,
  lastGoodVersion,
  lastKnownGood,
  scopesToRollBack,
} from "../../src/domain/rollback.ts";

const definition: Pipeline = parsePipeline({
  name: "orders-api",
  alarms: ["{pipeline}-{region}-faults"],
  oneBoxAlarms: ["{pipeline}-{region}-one-box-faults"],
  stages: [
    {
      name: "prod-1",
      regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2"] }, "eu-west-1"],
      oneBox: true,
      bake: { minutes: 60 },
    },
  ],
});

const scope = (id: string, s: Partial<ScopeState> = {}): ScopeState => ({
  pipeline: "orders-api",
  scope: id,
  version: "v7",
  previousVersion: "v6",
  percent: 100,
  status: "baking",
  since: "2026-12-01T10:00:00.000Z",
  cause: "test",
  runId: "run-v7",
  rev: 3,
  ...s,
});

const run = (version: string, seq: number): Run => ({
  runId: `run-${version}`,
  pipeline: "orders-api",
  version,
  status: "running",
  seq,
  definition,
  createdAt: "2026-12-01T09:00:00.000Z",
  updatedAt: "2026-12-01T09:00:00.000Z",
  stages: {},
  rolledBack: [],
  cause: "merged",
});

const hist = (id: string, ...versions: string[]): HistoryEntry[] =>
  versions.map((toVersion, i) => ({
    pipeline: "orders-api",
    scope: id,
    at: `2026-12-01T0${i}:00:00.000Z`,
    toVersion,
    status: "stable",
    percent: 100,
    actor: "breakwater/record",
    cause: "test",
  }));

const seqs: Record<string, number> = { v5: 1, v6: 2, v7: 3, v8: 4 };
const seqOf = (v: string) => seqs[v] ?? 0;

describe("scopesToRollBack: an unhealthy step", () => {
  const rows: [string, ScopeState, string | undefined, string[]][] = [
    ["to the previous version", scope("prod-1/eu-west-1"), undefined, ["v6"]],
    ["to an explicit target", scope("prod-1/eu-west-1"), "v5", ["v5"]],
    [
      "nothing to undo: the scope never took the run's version",
      scope("prod-1/eu-west-1", { version: "v6", previousVersion: "v5" }),
      undefined,
      [],
    ],
    [
      "nothing to undo: no previous version",
      scope("prod-1/eu-west-1", { previousVersion: undefined } as Partial<ScopeState>),
      undefined,
      [],
    ],
  ];
  it.each(rows)("%s", (_label, s, toVersion, expected) => {
    const out = scopesToRollBack({ kind: "unhealthy-step", scope: s, version: "v7", toVersion });
    expect(out.map((t) => t.toVersion)).toEqual(expected);
  });
});

describe("scopesToRollBack: an unhealthy step returns to the last known-good version", () => {
  const id = "prod-1/us-east-1/use1-az1";
  const rows: [string, HistoryEntry[], string[], string | undefined][] = [
    ["the previous version when its run did not roll back", hist(id, "v5", "v6", "v7"), [], "v6"],
    [
      "past a previous version that rolled back elsewhere",
      hist(id, "v5", "v6", "v7"),
      ["v6"],
      "v5",
    ],
    [
      "past every rolled-back version, to the seeded one",
      hist(id, "v4", "v5", "v6", "v7"),
      ["v5", "v6"],
      "v4",
    ],
    ["none good in the history: the previous version", hist(id, "v6", "v7"), ["v6"], "v6"],
  ];
  it.each(rows)("%s", (_label, history, bad, expected) => {
    const out = scopesToRollBack({
      kind: "unhealthy-step",
      scope: scope(id),
      version: "v7",
      known: { history, rolledBack: (v) => bad.includes(v) },
    });
    expect(out.map((t) => t.toVersion)).toEqual(expected ? [expected] : []);
  });

  it("lastKnownGood skips the version being rolled back and rolled-back ones", () => {
    expect(lastKnownGood(hist(id, "v5", "v6", "v7", "v7"), "v7", (v) => v === "v6")).toBe("v5");
    expect(lastKnownGood(hist(id, "v7"), "v7", () => false)).toBeUndefined();
  });

  it("an explicit target wins over the history", () => {
    const out = scopesToRollBack({
      kind: "unhealthy-step",
      scope: scope(id),
      version: "v7",
      toVersion: "v6",
      known: { history: hist(id, "v5", "v6", "v7"), rolledBack: (v) => v === "v6" },
    });
    expect(out.map((t) => t.toVersion)).toEqual(["v6"]);
  });
});

describe("scopesToRollBack: a regional alarm (no {az}/{cell} in its template)", () => {
  const v7 = run("v7", 3);
  const az = (n: number, s: Partial<ScopeState> = {}) => scope(`prod-1/us-east-1/use1-az${n}`, s);

  it("judges the region: every scope of the region on the run's version, stable ones included", () => {
    const out = scopesToRollBack({
      kind: "alarm",
      alarm: { name: "orders-api-us-east-1-faults", region: "us-east-1" },
      scopes: [
        { scope: az(1, { status: "stable" }) },
        { scope: az(2, { status: "baking" }), run: v7 },
        { scope: scope("prod-1/eu-west-1", { status: "stable" }) },
      ],
    });
    expect(out.map((t) => `${t.scope.scope} ${t.step.kind}`).sort()).toEqual([
      "prod-1/us-east-1/use1-az1 full",
      "prod-1/us-east-1/use1-az2 full",
    ]);
  });

  it("leaves the region's scopes on another version or of another run, and rolling-back ones", () => {
    const out = scopesToRollBack({
      kind: "alarm",
      alarm: { name: "orders-api-us-east-1-faults", region: "us-east-1" },
      scopes: [
        { scope: az(1, { status: "stable", version: "v6", runId: "run-v6" }) },
        { scope: az(2, { status: "baking" }), run: v7 },
        { scope: az(3, { status: "rolling-back" }) },
      ],
    });
    expect(out.map((t) => t.scope.scope)).toEqual(["prod-1/us-east-1/use1-az2"]);
  });

  it("an AZ's own alarm judges its AZ alone", () => {
    const perAz = parsePipeline({ ...definition, alarms: ["{pipeline}-{az}-faults"] });
    const run7 = { ...v7, definition: perAz };
    const out = scopesToRollBack({
      kind: "alarm",
      alarm: { name: "orders-api-use1-az2-faults", region: "us-east-1" },
      scopes: [
        { scope: az(1, { status: "stable" }) },
        { scope: az(2, { status: "baking" }), run: run7 },
      ],
    });
    expect(out.map((t) => t.scope.scope)).toEqual(["prod-1/us-east-1/use1-az2"]);
  });

  it.each([
    ["{pipeline}-{region}-faults", true],
    ["{pipeline}-{stage}-{region}", true],
    ["{pipeline}-{az}-faults", false],
    ["{pipeline}-{cell}-faults", false],
    ["{scope}-faults", false],
  ])("isRegionalTemplate(%s) is %s", (template, regional) => {
    expect(isRegionalTemplate(template)).toBe(regional);
  });
});

describe("scopesToRollBack: an alarm", () => {
  const v7 = run("v7", 3);
  const rows: [
    string,
    { name: string; region: string },
    { scope: ScopeState; run?: Run }[],
    string[],
  ][] = [
    [
      "the baking scope of the alarm's region only",
      { name: "orders-api-eu-west-1-faults", region: "eu-west-1" },
      [
        { scope: scope("prod-1/eu-west-1"), run: v7 },
        { scope: scope("prod-1/us-east-1/use1-az1"), run: v7 },
      ],
      ["prod-1/eu-west-1 full 100"],
    ],
    [
      "a one-box alarm judges a scope under 100% (a one-box step)",
      { name: "orders-api-us-east-1-one-box-faults", region: "us-east-1" },
      [
        { scope: scope("prod-1/us-east-1/use1-az1", { percent: 10 }), run: v7 },
        { scope: scope("prod-1/us-east-1/use1-az2"), run: v7 },
      ],
      ["prod-1/us-east-1/use1-az1 one-box 10"],
    ],
    [
      "stable and rolling-back scopes are not judged",
      { name: "orders-api-eu-west-1-faults", region: "eu-west-1" },
      [
        { scope: scope("prod-1/eu-west-1", { status: "stable" }), run: v7 },
        { scope: scope("prod-1/eu-west-1", { status: "rolling-back" }), run: v7 },
      ],
      [],
    ],
    [
      "a scope whose run deploys another version is not judged",
      { name: "orders-api-eu-west-1-faults", region: "eu-west-1" },
      [{ scope: scope("prod-1/eu-west-1", { status: "deploying" }), run: run("v8", 4) }],
      [],
    ],
    [
      "a scope without its run is not judged",
      { name: "orders-api-eu-west-1-faults", region: "eu-west-1" },
      [{ scope: scope("prod-1/eu-west-1") }],
      [],
    ],
    [
      "the local mode's single pseudo-region matches every region",
      { name: "orders-api-eu-west-1-faults", region: "local" },
      [{ scope: scope("prod-1/eu-west-1", { status: "deploying" }), run: v7 }],
      ["prod-1/eu-west-1 full 100"],
    ],
    [
      "another alarm name judges nothing",
      { name: "billing-eu-west-1-faults", region: "eu-west-1" },
      [{ scope: scope("prod-1/eu-west-1"), run: v7 }],
      [],
    ],
  ];
  it.each(rows)("%s", (_label, alarm, scopes, expected) => {
    const out = scopesToRollBack({ kind: "alarm", alarm, scopes });
    expect(out.map((t) => `${t.scope.scope} ${t.step.kind} ${t.step.percent}`)).toEqual(expected);
    for (const t of out) expect(t.run.version).toBe(t.scope.version);
  });

  it("the step carries the scope's AZ and the stage's bake", () => {
    const [t] = scopesToRollBack({
      kind: "alarm",
      alarm: { name: "orders-api-us-east-1-faults", region: "us-east-1" },
      scopes: [{ scope: scope("prod-1/us-east-1/use1-az2"), run: v7 }],
    });
    expect(t?.step).toEqual({
      scope: "prod-1/us-east-1/use1-az2",
      region: "us-east-1",
      az: "use1-az2",
      kind: "full",
      percent: 100,
      bakeSeconds: 3600,
    });
  });
});

describe("scopesToRollBack: rollback-all of v7 (seq 3)", () => {
  const rows: [string, ScopeState, HistoryEntry[], string[]][] = [
    [
      "a scope on the bad version returns to the last version before it",
      scope("prod-1/eu-west-1"),
      hist("prod-1/eu-west-1", "v5", "v6", "v7"),
      ["prod-1/eu-west-1 v7->v6"],
    ],
    [
      "a scope on a newer version returns past the bad one too",
      scope("prod-1/eu-west-1", { version: "v8" }),
      hist("prod-1/eu-west-1", "v5", "v7", "v8"),
      ["prod-1/eu-west-1 v8->v5"],
    ],
    [
      "a scope on an older version is left alone",
      scope("prod-1/eu-west-1", { version: "v6" }),
      hist("prod-1/eu-west-1", "v5", "v6"),
      [],
    ],
    [
      "a scope already rolling back is left alone",
      scope("prod-1/eu-west-1", { status: "rolling-back" }),
      hist("prod-1/eu-west-1", "v6", "v7"),
      [],
    ],
    [
      "a scope whose history shows no version before the bad one is left alone",
      scope("prod-1/eu-west-1"),
      hist("prod-1/eu-west-1", "v7"),
      [],
    ],
    [
      "the seeded initial version (no run) counts as older than every run",
      scope("prod-1/us-east-1/use1-az1"),
      hist("prod-1/us-east-1/use1-az1", "seed", "v7"),
      ["prod-1/us-east-1/use1-az1 v7->seed"],
    ],
    [
      "a scope of a stage the definition no longer has is left alone",
      scope("gone/eu-west-1"),
      hist("gone/eu-west-1", "v6", "v7"),
      [],
    ],
  ];
  it.each(rows)("%s", (_label, s, history, expected) => {
    const out = scopesToRollBack({
      kind: "rollback-all",
      badSeq: 3,
      seqOf,
      definition,
      scopes: [{ scope: s, history }],
    });
    expect(out.map((t) => `${t.scope.scope} ${t.scope.version}->${t.toVersion}`)).toEqual(expected);
    for (const t of out)
      expect([t.step.scope, t.step.kind, t.step.percent]).toEqual([s.scope, "full", 100]);
  });

  it("inRollbackAll and lastGoodVersion agree with the rule", () => {
    expect(inRollbackAll(scope("prod-1/eu-west-1"), seqOf, 3)).toBe(true);
    expect(inRollbackAll(scope("prod-1/eu-west-1", { version: "v6" }), seqOf, 3)).toBe(false);
    expect(lastGoodVersion(hist("s", "v5", "v7", "v6", "v8"), seqOf, 3)).toBe("v6");
    expect(lastGoodVersion([], seqOf, 3)).toBeUndefined();
  });
});
