/**
 * The safety properties (docs/design.md, "Safety rules" 1–6) as one registry, run by the vitest
 * property tests (test/property/*.test.ts) and by `npm run soak` (test/safety/soak.ts).
 *
 * Each property generates scenarios with fast-check (pipelines × fault, alarm, blocker and
 * arrival schedules), runs each through the real local control plane — the real stage and
 * rollback ASL in aws-local-stepfunctions, the real handlers, a simulated fleet, a virtual
 * clock — on the in-memory stores (MemoryStateStore and the in-memory run-request, trigger and
 * delivery stores, held to DynamoDB's semantics by the contract suites in test/contract/) or on
 * DynamoDB Local, and checks its rules on what the control plane recorded.
 *
 * A counterexample is shrunk (a scenario costs milliseconds on the memory stores) and reported
 * with the seed and path that replay it.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import { parseScopeId } from "../../src/domain/scope.ts";
import { arbBlockers, arbPipeline, checkBlockers } from "./blockers.ts";
import {
  describeRun,
  parallelScenarioArb,
  scenarioArb,
  simulateScenario,
  violations,
} from "./runs.ts";
import * as versions from "./versions.ts";

export type Rule = 1 | 2 | 3 | 4 | 5 | 6;
export const RULES: readonly Rule[] = [1, 2, 3, 4, 5, 6];
/** The in-memory stores, or a DynamoDB Local client. */
export type Stores = DynamoDBClient | "memory";

/** What one scenario did. */
export interface ScenarioResult {
  /** Every violated rule, each message starting "rule N". */
  problems: string[];
  /** The rules whose guarded situation this scenario reached (a rollback, a blocker held...). */
  exercised: Rule[];
  /** What the control plane recorded, as plain data: equal on both stores for one scenario. */
  recorded: unknown;
  /** The scenario and what happened, for a counterexample. */
  describe(): string;
}

export interface SafetyProperty<S> {
  name: string;
  title: string;
  /** The rules this property checks on every scenario. */
  rules: readonly Rule[];
  arbitrary: fc.Arbitrary<S>;
  run(scenario: S, stores: Stores): Promise<ScenarioResult>;
}

const property = <S>(p: SafetyProperty<S>): SafetyProperty<unknown> =>
  p as unknown as SafetyProperty<unknown>;

/** One run of one version: arbitrary pipelines, fault sets and deployment speeds. */
const runs = property({
  name: "runs",
  title: "rules 1, 2, 3 and 5 on arbitrary pipelines, fault sets and deployment speeds",
  rules: [1, 2, 3, 5],
  arbitrary: scenarioArb,
  async run(scenario, stores) {
    const r = await simulateScenario(scenario, stores);
    const deploys = r.timeline.filter((e) => e.event === "deploy-started");
    const perStage = new Map<string, number>();
    for (const e of deploys) perStage.set(e.stage, (perStage.get(e.stage) ?? 0) + 1);
    const exercised: Rule[] = [];
    if ([...perStage.values()].some((n) => n > 1)) exercised.push(1);
    if (perStage.size > 1) exercised.push(2);
    if (r.timeline.some((e) => e.event === "rollback-started")) exercised.push(3);
    if (deploys.length > 0) exercised.push(5);
    return {
      problems: violations(r),
      exercised,
      recorded: {
        run: r.run,
        timeline: r.timeline,
        scopes: [...r.scopes],
        history: [...r.history],
        serving: [...r.serving],
      },
      describe: () => `${JSON.stringify(scenario)}\n${describeRun(r)}`,
    };
  },
});

/** Regions deploying in parallel while one faulty scope rolls back: the halt races them. */
const parallelHalt = property({
  name: "parallel-halt",
  title: "rules 1, 3 and 5 when a rollback races regions deploying in parallel",
  rules: [1, 3, 5],
  arbitrary: parallelScenarioArb,
  async run(scenario, stores) {
    const r = await simulateScenario(scenario, stores);
    const problems = violations(r);
    // The faulty wave scope is always deployed (beta is healthy) and always seen (bake ≥ 8 min).
    if (r.run?.status !== "halted" || r.run.haltReason !== "rollback") {
      problems.push(`rule 3: the faulty wave scope did not halt the run: ${r.run?.status}`);
    }
    const wave = r.timeline.filter((e) => e.stage === "prod-3" && e.event === "deploy-started");
    const regions = new Set(wave.map((e) => parseScopeId(e.scope).region));
    return {
      problems,
      exercised: [...(regions.size > 1 ? [1 as const] : []), 3, 5],
      recorded: {
        run: r.run,
        timeline: r.timeline,
        scopes: [...r.scopes],
        history: [...r.history],
        serving: [...r.serving],
      },
      describe: () => `${JSON.stringify(scenario)}\n${describeRun(r)}`,
    };
  },
});

/** Several versions in flight: arrival schedules, per-version faults, an engineer's decision. */
const severalVersions = property({
  name: "versions",
  title:
    "rules 1 (rollback-all), 2, 3, 5 and 6 for arrival schedules, per-version fault sets and decisions",
  rules: [1, 2, 3, 5, 6],
  arbitrary: versions.scenarioArb,
  async run(scenario, stores) {
    const o = await versions.simulateScenario(scenario, stores);
    const problems = versions.violations(o);
    const exercised: Rule[] = [];
    const entered = (v: string) =>
      new Set(
        (o.timelines.get(v) ?? []).filter((e) => e.event === "deploy-started").map((e) => e.stage),
      );
    // Rule 1: a wave-by-wave rollback-all rolled back scopes of two stages, or two of one region.
    const spans = o.scenario.decision?.fast ? [] : versions.decisionSpans(o);
    if (
      new Set(spans.map((x) => x.stage)).size > 1 ||
      spans.some((a, i) =>
        spans.slice(i + 1).some((b) => b.stage === a.stage && b.region === a.region),
      )
    ) {
      exercised.push(1);
    }
    if (o.versions.some((v) => entered(v).size > 1)) exercised.push(2);
    if ([...o.runs.values()].some((r) => r.haltReason === "rollback")) exercised.push(3);
    if ([...o.history.values()].some((h) => h.length > 1)) exercised.push(5);
    const stagesOf = o.versions.map(entered);
    const shared = o.pipeline.stages.some(
      (s) => stagesOf.filter((set) => set.has(s.name)).length > 1,
    );
    if (shared || [...o.runs.values()].some((r) => r.status === "superseded")) exercised.push(6);
    return {
      problems,
      exercised,
      recorded: {
        runs: [...o.runs],
        timelines: [...o.timelines],
        history: [...o.history],
        serving: [...o.serving],
        decidedAt: o.decidedAt,
      },
      describe: () => versions.describeOutcome(o),
    };
  },
});

/** Blocker schedules: organisation and app alarms, manual blocks, time windows, freezes. */
const blockers = property({
  name: "blockers",
  title: "rule 4 for arbitrary pipelines and blocker schedules",
  rules: [4],
  arbitrary: fc.tuple(arbPipeline, arbBlockers),
  async run([input, schedule], stores) {
    const { result, violations: problems, blocked } = await checkBlockers(input, schedule, stores);
    const { wallMs: _wall, stats: _stats, ...recorded } = result;
    return {
      problems,
      exercised: blocked > 0 ? [4] : [],
      recorded,
      describe: () =>
        `pipeline: ${JSON.stringify(input)}\nblockers: ${JSON.stringify(schedule)}\noutcome: ${result.outcome}\n${result.timeline
          .map((e) => `  ${e.at} ${e.scope} ${e.step} ${e.event}${e.reason ? ` ${e.reason}` : ""}`)
          .join("\n")}`,
    };
  },
});

/** Every property, in the order the soak runs them. */
export const PROPERTIES: readonly SafetyProperty<unknown>[] = [
  runs,
  parallelHalt,
  severalVersions,
  blockers,
];

/**
 * How many scenarios `npm test` checks per property on the memory stores (1,100 in all), and how
 * many of those it also runs on DynamoDB Local beside the memory stores (25). The soak splits
 * its scenarios in the same proportions.
 */
export const SUITE_SCENARIOS: Readonly<Record<string, { memory: number; dynamodb: number }>> = {
  runs: { memory: 500, dynamodb: 11 },
  "parallel-halt": { memory: 150, dynamodb: 5 },
  versions: { memory: 250, dynamodb: 4 },
  blockers: { memory: 200, dynamodb: 5 },
};

/** The seed `npm test` uses unless SAFETY_SEED says (a fixed seed: the suite replays exactly). */
export const SUITE_SEED = 20261202;

export function propertyNamed(name: string): SafetyProperty<unknown> {
  const p = PROPERTIES.find((x) => x.name === name);
  if (!p) {
    throw new Error(
      `no safety property "${name}" (there are: ${PROPERTIES.map((x) => x.name).join(", ")})`,
    );
  }
  return p;
}

export interface CheckOptions {
  numRuns: number;
  seed: number;
  stores: Stores;
  /** Replays one counterexample: the path fast-check reported with the seed. */
  path?: string;
  /**
   * Also runs every scenario on the in-memory stores and requires the same record as on
   * `stores` (DynamoDB Local): the memory twins cannot drift unseen.
   */
  differential?: boolean;
}

export interface PropertyReport {
  name: string;
  rules: readonly Rule[];
  /** Scenarios checked (up to and including a failing one; shrink steps not counted). */
  scenarios: number;
  /** Scenarios that reached each rule's guarded situation. */
  exercised: Partial<Record<Rule, number>>;
  wallMs: number;
  seed: number;
  failure?: {
    /** Pass with `seed` to replay the shrunk counterexample alone. */
    path: string;
    shrinks: number;
    counterexample: string;
    problems: string;
  };
}

class SafetyViolation extends Error {
  override name = "SafetyViolation";
}

/** Runs one property over `numRuns` generated scenarios; shrinks and reports a counterexample. */
export async function checkProperty(
  p: SafetyProperty<unknown>,
  options: CheckOptions,
): Promise<PropertyReport> {
  const exercised: Partial<Record<Rule, number>> = {};
  let scenarios = 0;
  let failed = false;
  const started = performance.now();
  const details = await fc.check(
    fc.asyncProperty(p.arbitrary, async (scenario) => {
      const result = await p.run(scenario, options.stores);
      const problems = [...result.problems];
      if (options.differential && options.stores !== "memory") {
        const memory = await p.run(scenario, "memory");
        const a = canonicalJson(result.recorded);
        const b = canonicalJson(memory.recorded);
        if (a !== b) {
          const at = firstDifference(a, b);
          const around = (text: string) => text.slice(Math.max(0, at - 200), at + 300);
          problems.push(
            `store drift: DynamoDB Local and the memory stores recorded differently (from character ${at}):\n  dynamodb: ${around(a)}\n  memory:   ${around(b)}`,
          );
        }
      }
      if (!failed) {
        scenarios++;
        for (const rule of result.exercised) exercised[rule] = (exercised[rule] ?? 0) + 1;
      }
      if (problems.length > 0) {
        failed = true;
        throw new SafetyViolation(
          `${problems.length} violation(s):\n- ${problems.join("\n- ")}\n${result.describe()}`,
        );
      }
    }),
    {
      numRuns: options.numRuns,
      seed: options.seed,
      ...(options.path !== undefined ? { path: options.path } : {}),
    },
  );
  const report: PropertyReport = {
    name: p.name,
    rules: p.rules,
    scenarios,
    exercised,
    wallMs: Math.round(performance.now() - started),
    seed: options.seed,
  };
  if (details.failed) {
    const error = details.errorInstance;
    report.failure = {
      path: details.counterexamplePath ?? "",
      shrinks: details.numShrinks,
      counterexample: JSON.stringify(details.counterexample),
      problems: error instanceof Error ? error.message : String(error),
    };
  }
  return report;
}

/** JSON with every object's keys sorted: DynamoDB returns an item's attributes in any order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : v,
  );
}

function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return Math.max(0, i);
}

/** A failed report as text: the violations, the shrunk scenario and how to replay it. */
export function describeFailure(report: PropertyReport): string {
  const f = report.failure;
  if (!f) return `${report.name}: no counterexample in ${report.scenarios} scenarios`;
  return [
    `property ${report.name} failed after ${report.scenarios} scenario(s), shrunk ${f.shrinks} time(s)`,
    f.problems,
    `replay: npm run soak -- --property ${report.name} --seed ${report.seed} --path ${f.path}`,
  ].join("\n");
}

/**
 * Checks one property as `npm test` does: its suite share of scenarios (times
 * SAFETY_RUNS_SCALE) with SUITE_SEED (or SAFETY_SEED); on DynamoDB Local, each scenario also
 * on the memory stores, with the same record required. Throws the shrunk counterexample.
 */
export async function checkSuiteProperty(
  name: string,
  stores: Stores,
  env: Record<string, string | undefined> = process.env,
): Promise<PropertyReport> {
  const p = propertyNamed(name);
  const share = SUITE_SCENARIOS[name] ?? { memory: 100, dynamodb: 5 };
  const scale = Math.max(1, Number(env.SAFETY_RUNS_SCALE ?? 1) || 1);
  const report = await checkProperty(p, {
    numRuns: (stores === "memory" ? share.memory : share.dynamodb) * scale,
    seed: Number(env.SAFETY_SEED ?? SUITE_SEED),
    stores,
    differential: stores !== "memory",
  });
  if (report.failure) throw new SafetyViolation(describeFailure(report));
  return report;
}

/** One line: the scenarios checked and how many reached each rule's guarded case. */
export function summary(report: PropertyReport): string {
  const reached = report.rules.map((r) => `rule ${r} ${report.exercised[r] ?? 0}`).join(", ");
  return `${report.name}: ${report.scenarios} scenarios in ${(report.wallMs / 1000).toFixed(1)} s (reached: ${reached})`;
}
