/**
 * Safety rules 1, 2, 3 and 5 (docs/design.md, "Safety rules") as properties of whole runs: arbitrary
 * pipelines and fault sets go through the real local control plane (DynamoDB Local, the stage
 * ASL in the local interpreter, the real handlers, a simulated fleet, a virtual clock), and the
 * rules are checked on what the control plane recorded — the run's timeline, every scope's
 * history and the final scope states — plus what the fleet itself serves.
 *
 * Each simulation takes a fraction of a second of wall time, so the properties run a few dozen
 * cases. A failing case stops at once (no shrinking: every shrink step is a full simulation)
 * and prints the pipeline, the faults and every violated rule with the timeline.
 *
 * The local runtime runs handlers one at a time in call order, so a case replays exactly; the
 * rules are nevertheless checked only on what was recorded, as they would be in AWS.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readStageAsl } from "../../src/app/asl.ts";
import { DEFAULT_ANOMALY_RULES } from "../../src/domain/anomaly/index.ts";
import type { HistoryEntry, ScopeStatus, TimelineEvent } from "../../src/domain/model.ts";
import {
  oneBoxPercent,
  type Pipeline,
  type PipelineInput,
  parsePipeline,
} from "../../src/domain/pipeline.ts";
import { type DeployStep, planStage } from "../../src/domain/planner.ts";
import { parseScopeId, pipelineScopes, scopeMatcher, stageScopes } from "../../src/domain/scope.ts";
import type { FaultKind, FaultSpec } from "../../src/local/fleet.ts";
import { dynamoClient } from "../support/dynamo.ts";
import { type Durations, runSimulation, type SimOutcome } from "../support/sim.ts";

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/** Real region names with the prefix of their AZ ids (use1-az1 ...). */
const REGIONS: readonly (readonly [string, string])[] = [
  ["us-east-1", "use1"],
  ["us-west-2", "usw2"],
  ["eu-west-1", "euw1"],
  ["eu-central-1", "euc1"],
  ["eu-north-1", "eun1"],
  ["ap-southeast-2", "apse2"],
  ["ap-northeast-1", "apne1"],
  ["sa-east-1", "sae1"],
  ["ca-central-1", "cac1"],
];
/** Plain objects, so counterexamples print as JSON. */
const NP = { noNullPrototype: true } as const;
const STAGE_NAMES = ["gamma", "prod-1", "prod-2"] as const;
const FAULT_KINDS: readonly FaultKind[] = ["faults", "latency", "traffic-drop"];

type StageInput = PipelineInput["stages"][number];

const regionEntryArb = ([region, prefix]: readonly [string, string]) =>
  fc
    .option(fc.uniqueArray(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }), {
      nil: undefined,
    })
    .map((azs) => (azs ? { region, azs: azs.map((n) => `${prefix}-az${n}`) } : region));

const stageArb = (name: string): fc.Arbitrary<StageInput> =>
  fc
    .record(
      {
        regions: fc
          .uniqueArray(fc.constantFrom(...REGIONS), {
            minLength: 1,
            maxLength: 3,
            selector: (r) => r[0],
          })
          .chain((rs) => fc.tuple(...rs.map(regionEntryArb))),
        regionsInParallel: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
        azsInParallel: fc.option(fc.boolean(), { nil: undefined }),
        oneBox: fc.option(
          fc.oneof(
            fc.constant(false),
            fc.constant(true),
            fc.record({ percent: fc.integer({ min: 1, max: 50 }) }),
          ),
          { nil: undefined },
        ),
        minutes: fc.integer({ min: 1, max: 120 }),
      },
      NP,
    )
    .map(({ minutes, regionsInParallel, azsInParallel, oneBox, regions }) => ({
      name,
      regions,
      // At most the stage's regions (the schema refuses more; more meant "all at once").
      ...(regionsInParallel !== undefined
        ? { regionsInParallel: Math.min(regionsInParallel, regions.length) }
        : {}),
      ...(azsInParallel !== undefined ? { azsInParallel } : {}),
      ...(oneBox !== undefined ? { oneBox } : {}),
      bake: { minutes },
    }));

const pipelineArb: fc.Arbitrary<Pipeline> = fc
  .integer({ min: 1, max: 3 })
  .chain((n) => fc.tuple(...STAGE_NAMES.slice(0, n).map(stageArb)))
  .map((stages) => parsePipeline({ name: "orders-api", stages }, "generated pipeline"));

const durationsArb: fc.Arbitrary<Durations> = fc.record(
  {
    oneBox: fc.integer({ min: 30, max: 900 }),
    full: fc.integer({ min: 30, max: 1800 }),
    rollback: fc.integer({ min: 30, max: 600 }),
  },
  NP,
);

interface Scenario {
  pipeline: Pipeline;
  faults: FaultSpec[];
  /** Deployment speed per region (index into REGIONS); undefined = the fleet's defaults. */
  speeds: Durations[] | undefined;
}

/** Faults: none (a quarter of the cases) or 1–3 distinct scopes of the pipeline, each with a kind. */
const faultsArb = (pipeline: Pipeline, max = 3): fc.Arbitrary<FaultSpec[]> => {
  const scopes = pipelineScopes(pipeline).map((s) => s.id);
  return fc
    .oneof(
      { weight: 1, arbitrary: fc.constant<string[]>([]) },
      {
        weight: 3,
        arbitrary: fc.subarray(scopes, { minLength: 1, maxLength: Math.min(max, scopes.length) }),
      },
    )
    .chain((chosen) =>
      fc.tuple(
        ...chosen.map((scope) =>
          fc.constantFrom(...FAULT_KINDS).map((kind): FaultSpec => ({ scopes: scope, kind })),
        ),
      ),
    );
};

const speedsArb = fc.option(
  fc.array(durationsArb, { minLength: REGIONS.length, maxLength: REGIONS.length }),
  { nil: undefined, freq: 3 },
);

const scenarioArb: fc.Arbitrary<Scenario> = pipelineArb.chain((pipeline) =>
  fc.record(
    { pipeline: fc.constant(pipeline), faults: faultsArb(pipeline), speeds: speedsArb },
    NP,
  ),
);

/** One stage, 2–3 regions deploying at once, exactly one faulty scope: the halt races. */
const parallelScenarioArb: fc.Arbitrary<Scenario> = fc
  .record(
    {
      regions: fc
        .uniqueArray(fc.constantFrom(...REGIONS), {
          minLength: 2,
          maxLength: 3,
          selector: (r) => r[0],
        })
        .chain((rs) => fc.tuple(...rs.map(regionEntryArb))),
      azsInParallel: fc.boolean(),
      oneBox: fc.oneof(fc.constant(true), fc.record({ percent: fc.integer({ min: 5, max: 50 }) })),
      // From 8 minutes on, the built-in detector is certain to see every fault kind at these
      // shares (see detectorSees), so the run always rolls back; shorter bakes, where a latency
      // fault goes unseen, are covered by the first property.
      minutes: fc.integer({ min: 8, max: 120 }),
    },
    NP,
  )
  .map(({ regions, azsInParallel, oneBox, minutes }) =>
    parsePipeline({
      name: "orders-api",
      stages: [
        { name: "beta", regions: ["us-east-1"], bake: { minutes: 5 } },
        {
          name: "prod-3",
          regions,
          regionsInParallel: regions.length,
          azsInParallel,
          oneBox,
          bake: { minutes },
        },
      ],
    }),
  )
  .chain((pipeline) => {
    const wave = stageScopes(pipeline.stages[1] as Pipeline["stages"][number]).map((s) => s.id);
    return fc.record(
      {
        pipeline: fc.constant(pipeline),
        faults: fc
          .tuple(fc.constantFrom(...wave), fc.constantFrom(...FAULT_KINDS))
          .map(([scope, kind]): FaultSpec[] => [{ scopes: scope, kind }]),
        speeds: speedsArb,
      },
      NP,
    );
  });

async function simulateScenario(s: Scenario): Promise<SimOutcome> {
  const index = new Map(REGIONS.map(([r], i) => [r, i]));
  const speeds = s.speeds;
  return runSimulation({
    dynamo: dynamoClient(),
    pipeline: s.pipeline,
    faults: s.faults,
    ...(speeds ? { durationsFor: (region: string) => speeds[index.get(region) ?? 0] } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// The rules, as checks on one finished run. Each returns the violations it found.
// ---------------------------------------------------------------------------------------------

const ms = (at: string) => Date.parse(at);
const stepKey = (e: { scope: string; step: string }) => `${e.scope} ${e.step}`;
const planKey = (s: DeployStep) => `${s.scope} ${s.kind}`;
const regionOfScope = (scope: string) => parseScopeId(scope).region;
const isEnd = (e: TimelineEvent) => e.event === "bake-finished" || e.event === "rollback-finished";

interface Interval {
  label: string;
  start: number;
  end: number;
}

/** Step intervals of a run: deploy-started → its last bake-finished/rollback-finished. */
function stepIntervals(
  r: SimOutcome,
  problems: string[],
): Map<string, Interval & { stage: string }> {
  const steps = new Map<string, Interval & { stage: string }>();
  for (const e of r.timeline) {
    if (e.event !== "deploy-started") continue;
    const key = stepKey(e);
    if (steps.has(key)) problems.push(`rule 1: step ${key} started twice`);
    steps.set(key, { label: key, stage: e.stage, start: ms(e.at), end: Number.NaN });
  }
  for (const e of r.timeline) {
    if (!isEnd(e)) continue;
    const step = steps.get(stepKey(e));
    if (!step) {
      problems.push(`rule 1: ${e.event} of ${stepKey(e)} without a deploy-started`);
      continue;
    }
    step.end = Number.isNaN(step.end) ? ms(e.at) : Math.max(step.end, ms(e.at));
  }
  for (const step of steps.values()) {
    if (Number.isNaN(step.end)) problems.push(`rule 1: step ${step.label} never finished`);
  }
  return steps;
}

/** Highest number of half-open intervals [start, end) covering one instant, and where. */
function maxOverlap(intervals: Interval[]): { count: number; at: number; labels: string[] } {
  const points = intervals.flatMap((i) => [
    { t: i.start, d: 1, i },
    { t: i.end, d: -1, i },
  ]);
  // An interval ending at T and another starting at T do not overlap: ends first.
  points.sort((a, b) => a.t - b.t || a.d - b.d);
  const open = new Set<Interval>();
  let best = { count: 0, at: 0, labels: [] as string[] };
  for (const p of points) {
    if (p.d < 0) open.delete(p.i);
    else open.add(p.i);
    if (open.size > best.count) {
      best = { count: open.size, at: p.t, labels: [...open].map((i) => i.label) };
    }
  }
  return best;
}

/** Rule 1: at most regionsInParallel regions at once; AZs one at a time unless azsInParallel. */
function checkRule1(r: SimOutcome): string[] {
  const problems: string[] = [];
  const steps = stepIntervals(r, problems);
  for (const stage of r.pipeline.stages) {
    const limit = stage.regionsInParallel ?? 1;
    const stageSteps = [...steps.values()].filter((s) => s.stage === stage.name);
    const regions = new Map<string, Interval>();
    for (const s of stageSteps) {
      if (Number.isNaN(s.end)) continue;
      const region = regionOfScope(s.label.split(" ")[0] as string);
      const cur = regions.get(region);
      if (!cur) regions.set(region, { label: region, start: s.start, end: s.end });
      else {
        cur.start = Math.min(cur.start, s.start);
        cur.end = Math.max(cur.end, s.end);
      }
    }
    const worst = maxOverlap([...regions.values()]);
    if (worst.count > limit) {
      problems.push(
        `rule 1: stage ${stage.name} (regionsInParallel ${limit}) had ${worst.count} regions in deployment at ${new Date(worst.at).toISOString()}: ${worst.labels.join(", ")}`,
      );
    }
    // Inside a region, the phases run one after the other: with AZs one at a time no two steps
    // overlap at all; with AZs in parallel the one-box step still ends before any full step.
    for (const region of regions.keys()) {
      const inRegion = stageSteps.filter(
        (s) => !Number.isNaN(s.end) && regionOfScope(s.label.split(" ")[0] as string) === region,
      );
      if (!stage.azsInParallel) {
        const w = maxOverlap(inRegion);
        if (w.count > 1) {
          problems.push(
            `rule 1: ${stage.name}/${region} deploys AZs one at a time but ${w.labels.join(" and ")} overlapped at ${new Date(w.at).toISOString()}`,
          );
        }
      } else {
        for (const ob of inRegion.filter((s) => s.label.endsWith(" one-box"))) {
          for (const full of inRegion.filter((s) => s.label.endsWith(" full"))) {
            if (full.start < ob.end) {
              problems.push(`rule 1: ${full.label} started before ${ob.label} finished`);
            }
          }
        }
      }
    }
  }
  return problems;
}

/** Rule 2: stage N+1 only after all of stage N, bakes included, baked Healthy. */
function checkRule2(r: SimOutcome): string[] {
  const problems: string[] = [];
  const stages = r.pipeline.stages;
  const byStage = (name: string) => r.timeline.filter((e) => e.stage === name);
  for (let i = 1; i < stages.length; i++) {
    const prev = stages[i - 1] as (typeof stages)[number];
    const next = stages[i] as (typeof stages)[number];
    const nextEvents = byStage(next.name);
    if (nextEvents.length === 0 && !r.run?.stages[next.name]) continue;
    const prevEvents = byStage(prev.name);
    const prevLast = Math.max(...prevEvents.map((e) => ms(e.at)));
    const nextFirst = Math.min(...nextEvents.map((e) => ms(e.at)));
    if (prevEvents.length === 0)
      problems.push(`rule 2: ${next.name} ran but ${prev.name} never did`);
    if (nextFirst < prevLast) {
      problems.push(
        `rule 2: ${next.name} started at ${new Date(nextFirst).toISOString()}, before ${prev.name}'s last event at ${new Date(prevLast).toISOString()}`,
      );
    }
    // Every planned step of the previous stage ran and baked Healthy; nothing there rolled back.
    const healthy = new Set(
      prevEvents.filter((e) => e.event === "bake-finished" && e.outcome === "Healthy").map(stepKey),
    );
    for (const phase of planStage(prev).regions.flatMap((rp) => rp.phases)) {
      for (const step of phase) {
        if (!healthy.has(planKey(step))) {
          problems.push(
            `rule 2: ${next.name} ran although step ${planKey(step)} of ${prev.name} did not bake Healthy`,
          );
        }
      }
    }
    for (const e of prevEvents) {
      if (
        (e.event === "bake-finished" && e.outcome !== "Healthy") ||
        e.event === "rollback-started"
      ) {
        problems.push(`rule 2: ${next.name} ran after ${e.event} ${e.outcome ?? ""} in ${e.scope}`);
      }
    }
    const p = r.run?.stages[prev.name];
    const n = r.run?.stages[next.name];
    if (n && p?.status !== "succeeded") {
      problems.push(
        `rule 2: run record shows ${next.name} started while ${prev.name} is ${p?.status}`,
      );
    }
    if (n && p?.finishedAt && n.startedAt < p.finishedAt) {
      problems.push(
        `rule 2: run record: ${next.name} started ${n.startedAt} before ${prev.name} finished ${p.finishedAt}`,
      );
    }
  }
  if (r.run?.status === "succeeded") {
    const planned = stages.flatMap((s) => planStage(s).regions.flatMap((rp) => rp.phases.flat()));
    const healthy = new Set(
      r.timeline.filter((e) => e.event === "bake-finished" && e.outcome === "Healthy").map(stepKey),
    );
    const missing = planned.filter((s) => !healthy.has(planKey(s)));
    if (missing.length > 0) {
      problems.push(`rule 2: run succeeded without baking ${missing.map(planKey).join(", ")}`);
    }
  }
  return problems;
}

/** Where each scope should end, from what its steps did. */
function expectedFinal(
  r: SimOutcome,
  scope: string,
): { version: string; status: ScopeStatus; percent: number } {
  const events = r.timeline.filter((e) => e.scope === scope);
  if (events.some((e) => e.event === "rollback-started")) {
    return { version: r.fromVersion, status: "rolled-back", percent: 100 };
  }
  const baked = (step: string) =>
    events.some((e) => e.event === "bake-finished" && e.step === step && e.outcome === "Healthy");
  if (baked("full")) return { version: r.version, status: "stable", percent: 100 };
  if (baked("one-box")) {
    const stage = r.pipeline.stages.find((s) => s.name === parseScopeId(scope).stage);
    return {
      version: r.version,
      status: "stable",
      percent: stage ? (oneBoxPercent(stage) ?? 100) : 100,
    };
  }
  return { version: r.fromVersion, status: "stable", percent: 100 };
}

/** The simulated fleet's traffic per scope (its default) and its ±10% noise. */
const FLEET_RPM = 1000;
const FLEET_NOISE = 0.1;
/** evaluateStep's shortest pre-deploy baseline window (minutes). */
const BASELINE_MIN_MINUTES = 10;

/** The largest Mann–Whitney z for these sample sizes (every candidate minute slower). */
const mannWhitneyMaxZ = (n1: number, n2: number) => Math.sqrt((3 * n1 * n2) / (n1 + n2 + 1));

/**
 * Whether the built-in detector (src/domain/anomaly.ts, default thresholds) is certain to find
 * a fault of this kind in a bake of `minutes` at `share` of the simulated fleet's traffic. A
 * bake below its documented minimums gives an insufficient-data finding for that rule, and a
 * verdict of Healthy when another rule could judge — the fault then goes unseen, as it would
 * in AWS. Lower bounds of the traffic are used, so `true` means "must be rolled back".
 *
 * - latency: the Mann–Whitney test over per-minute p99s needs enough minutes for z to reach
 *   its threshold against the longest reference the bake has (the pre-deploy baseline, at
 *   least 10 minutes): a bake of 7 minutes or less cannot see a latency fault.
 * - faults: at least `minCandidateRequests` requests on the new version (a 1% one-box serves
 *   ~10 a minute: 23 minutes).
 * - traffic-drop: the reference must predict at least `minExpectedRequests` requests.
 */
function detectorSees(kind: FaultKind, share: number, minutes: number): boolean {
  const perMinute = FLEET_RPM * (1 - FLEET_NOISE) * share;
  switch (kind) {
    case "latency": {
      const rule = DEFAULT_ANOMALY_RULES.latency;
      const reference = Math.max(minutes, BASELINE_MIN_MINUTES);
      return (
        minutes >= rule.minCandidateMinutes && mannWhitneyMaxZ(minutes, reference) >= rule.minZ
      );
    }
    case "faults":
      return (
        Math.round(perMinute) * minutes >= DEFAULT_ANOMALY_RULES.faultRate.minCandidateRequests
      );
    case "traffic-drop":
      return perMinute * minutes >= DEFAULT_ANOMALY_RULES.trafficDrop.minExpectedRequests;
  }
}

/**
 * Rule 3: rollback exactly where alarms (or the detector) fired, then the run halts; everything
 * else is intact.
 */
function checkRule3(r: SimOutcome): string[] {
  const problems: string[] = [];
  const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();
  const rollbackStarts = r.timeline.filter((e) => e.event === "rollback-started");
  const rolledBack = sorted(rollbackStarts.map((e) => e.scope));
  const unhealthy = sorted(
    r.timeline
      .filter(
        (e) =>
          (e.event === "bake-finished" && e.outcome !== "Healthy") ||
          (e.event === "deploy-finished" && e.outcome === "failed"),
      )
      .map((e) => e.scope),
  );
  const recorded = sorted(r.run?.rolledBack ?? []);
  if (rolledBack.join() !== unhealthy.join()) {
    problems.push(
      `rule 3: rolled back [${rolledBack}] but unhealthy scopes were [${unhealthy}] (a rollback must revert exactly the scopes that alarmed)`,
    );
  }
  if (recorded.join() !== rolledBack.join()) {
    problems.push(
      `rule 3: run.rolledBack [${recorded}] differs from the timeline's [${rolledBack}]`,
    );
  }
  if (rollbackStarts.length !== rolledBack.length) {
    problems.push("rule 3: a scope has more than one rollback-started event");
  }
  if (rollbackStarts.length > 0) {
    const firstRollback = Math.min(...rollbackStarts.map((e) => ms(e.at)));
    for (const e of r.timeline) {
      if (e.event === "deploy-started" && ms(e.at) > firstRollback) {
        problems.push(
          `rule 3: ${stepKey(e)} deploy started at ${e.at}, after the first rollback at ${new Date(firstRollback).toISOString()}`,
        );
      }
    }
    if (r.run?.status !== "halted" || r.run.haltReason !== "rollback") {
      problems.push(
        `rule 3: a scope rolled back but the run is ${r.run?.status}/${r.run?.haltReason}`,
      );
    } else if (!r.run.haltedBy || !rolledBack.includes(r.run.haltedBy)) {
      problems.push(`rule 3: run halted by ${r.run.haltedBy}, which did not roll back`);
    }
  } else if (r.run?.status !== "succeeded") {
    problems.push(`rule 3: nothing rolled back but the run is ${r.run?.status}`);
  }

  // Which scopes carry a fault of the new version, and how far each got.
  const faulty = new Map<string, FaultKind>();
  for (const scope of pipelineScopes(r.pipeline)) {
    const f = r.faults.find((x) => scopeMatcher(x.scopes)(scope.id));
    if (f) faulty.set(scope.id, f.kind);
  }
  const started = (scope: string, step?: string) =>
    r.timeline.some(
      (e) => e.event === "deploy-started" && e.scope === scope && (!step || e.step === step),
    );
  const faultyDeployed = [...faulty.keys()].filter((s) => started(s));
  // A fault the built-in detector is certain to see in the last step that baked there.
  const mustSee = (scope: string) => {
    const stage = r.pipeline.stages.find((s) => s.name === parseScopeId(scope).stage);
    if (!stage) return true;
    const share = started(scope, "full") ? 1 : (oneBoxPercent(stage) ?? 100) / 100;
    return detectorSees(faulty.get(scope) as FaultKind, share, stage.bake.minutes);
  };
  const mustRollBack = faultyDeployed.filter(mustSee);
  const outcomeRolledBack = r.run?.status === "halted" && r.run.haltReason === "rollback";
  if (mustRollBack.length > 0 && !outcomeRolledBack) {
    problems.push(
      `rule 3: outcome ${r.run?.status}/${r.run?.haltReason} but faulty scopes deployed: [${mustRollBack}]`,
    );
  }
  if (outcomeRolledBack && faultyDeployed.length === 0) {
    problems.push(
      `rule 3: outcome ${r.run?.status}/${r.run?.haltReason} but no faulty scope was deployed`,
    );
  }
  for (const scope of rolledBack) {
    if (!faulty.has(scope)) problems.push(`rule 3: healthy scope ${scope} was rolled back`);
  }
  for (const scope of mustRollBack) {
    if (!rolledBack.includes(scope)) {
      problems.push(`rule 3: faulty scope ${scope} was deployed and kept`);
    }
  }

  // Final states, in the store and in the fleet.
  for (const scope of pipelineScopes(r.pipeline)) {
    const want = expectedFinal(r, scope.id);
    const got = r.scopes.get(scope.id);
    if (
      !got ||
      got.version !== want.version ||
      got.status !== want.status ||
      got.percent !== want.percent
    ) {
      problems.push(
        `rule 3: ${scope.id} ends ${got?.version} ${got?.status} ${got?.percent}%, expected ${want.version} ${want.status} ${want.percent}%`,
      );
    }
    const serving = r.serving.get(scope.id);
    const fleetVersion =
      want.percent < 100
        ? serving?.canary?.version
        : serving?.canary
          ? "(canary)"
          : serving?.stable;
    const fleetPercent = want.percent < 100 ? serving?.canary?.percent : 100;
    if (fleetVersion !== want.version || fleetPercent !== want.percent) {
      problems.push(
        `rule 3: the fleet serves ${JSON.stringify(serving)} in ${scope.id}, the store says ${want.version} at ${want.percent}%`,
      );
    }
  }
  return problems;
}

/**
 * History of a scope as the store returns it: ordered by the scope's rev, which must run
 * 1, 2, 3… with no gap or repeat (a gap is a lost change, a repeat a double-applied one).
 */
function causalHistory(entries: HistoryEntry[]): HistoryEntry[] {
  return entries;
}

function revProblems(where: string, entries: HistoryEntry[]): string[] {
  const revs = entries.map((e) => e.rev);
  const expected = entries.map((_, i) => i + 1);
  return JSON.stringify(revs) === JSON.stringify(expected)
    ? []
    : [`${where}: history revs ${JSON.stringify(revs)}, expected ${JSON.stringify(expected)}`];
}

/** Rule 5: every change of a scope's version (and status) is in its history, with who and why. */
function checkRule5(r: SimOutcome): string[] {
  const problems: string[] = [];
  const statusOf: Partial<Record<TimelineEvent["event"], ScopeStatus>> = {
    "deploy-started": "deploying",
    "bake-started": "baking",
    "rollback-started": "rolling-back",
    "rollback-finished": "rolled-back",
  };
  for (const scope of pipelineScopes(r.pipeline)) {
    const entries = causalHistory(r.history.get(scope.id) ?? []);
    problems.push(...revProblems(`rule 5 ${scope.id}`, entries));
    const where = `rule 5: ${scope.id}`;
    const seed = entries[0];
    if (seed?.actor !== "seed" || seed.toVersion !== r.fromVersion) {
      problems.push(`${where}: history does not start with the seed of ${r.fromVersion}`);
      continue;
    }
    if (entries.filter((e) => e.actor === "seed").length !== 1) {
      problems.push(`${where}: more than one seed entry`);
    }
    let versionChanges = 1;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as HistoryEntry;
      if (!e.actor?.trim() || !e.cause?.trim()) {
        problems.push(`${where}: entry at ${e.at} (${e.status}) has no actor or cause`);
      }
      if (i === 0) continue;
      const prev = entries[i - 1] as HistoryEntry;
      // Only the writes that (re)assign the scope to a run carry `runId`; every entry names the
      // run in its cause.
      if ((e.runId !== undefined && e.runId !== r.runId) || !e.cause.includes(`run ${r.runId}`)) {
        problems.push(`${where}: entry at ${e.at} is not attributed to run ${r.runId}`);
      }
      if (e.fromVersion !== undefined) {
        if (e.fromVersion !== prev.toVersion) {
          problems.push(
            `${where}: entry at ${e.at} changes from ${e.fromVersion}, but the scope was on ${prev.toVersion}`,
          );
        }
        if (e.toVersion === e.fromVersion)
          problems.push(`${where}: no-op version change at ${e.at}`);
      } else if (e.toVersion !== prev.toVersion) {
        problems.push(
          `${where}: version changed ${prev.toVersion} -> ${e.toVersion} at ${e.at} without a recorded fromVersion`,
        );
      }
      if (e.fromStatus !== undefined && e.fromStatus !== prev.status) {
        problems.push(
          `${where}: entry at ${e.at} from ${e.fromStatus}, but the scope was ${prev.status}`,
        );
      }
      if (e.toVersion !== prev.toVersion) versionChanges++;
    }
    const last = entries[entries.length - 1] as HistoryEntry;
    const final = r.scopes.get(scope.id);
    if (
      !final ||
      final.version !== last.toVersion ||
      final.status !== last.status ||
      final.percent !== last.percent
    ) {
      problems.push(
        `${where}: last history entry ${last.toVersion} ${last.status} ${last.percent}% but the scope is ${final?.version} ${final?.status} ${final?.percent}%`,
      );
    }
    // Version changes: the seed, the first deploy of the new version, each rollback.
    const events = r.timeline.filter((e) => e.scope === scope.id);
    const deployed = events.some((e) => e.event === "deploy-started");
    const rollbacks = events.filter((e) => e.event === "rollback-started").length;
    const wanted = 1 + (deployed ? 1 : 0) + rollbacks;
    if (versionChanges !== wanted) {
      problems.push(`${where}: ${versionChanges} version changes in history, expected ${wanted}`);
    }
    // Every state change the timeline shows is a history entry at the same instant (a Healthy
    // bake is recorded `stable` at its verdict), and the history holds nothing else.
    const fromTimeline = events
      .map((e) => {
        const status =
          e.event === "bake-finished" && e.outcome === "Healthy" ? "stable" : statusOf[e.event];
        return status ? `${e.at} ${status}` : undefined;
      })
      .filter((x): x is string => x !== undefined)
      .sort();
    const fromHistory = entries
      .slice(1)
      .map((e) => `${e.at} ${e.status}`)
      .sort();
    if (fromTimeline.join() !== fromHistory.join()) {
      problems.push(
        `${where}: history [${fromHistory.join("; ")}] does not match the timeline [${fromTimeline.join("; ")}]`,
      );
    }
  }
  return problems;
}

function describeRun(r: SimOutcome): string {
  const lines = r.timeline.map(
    (e) =>
      `  ${e.at.slice(5, 16)} ${e.scope.padEnd(28)} ${e.step.padEnd(7)} ${e.event}${e.outcome ? ` ${e.outcome}` : ""}`,
  );
  return [
    `run ${r.run?.status} ${r.run?.haltReason ?? ""} rolledBack=[${r.run?.rolledBack ?? []}]`,
    `faults: ${JSON.stringify(r.faults)}`,
    "timeline:",
    ...lines,
  ].join("\n");
}

function violations(r: SimOutcome): string[] {
  return [...checkRule1(r), ...checkRule2(r), ...checkRule3(r), ...checkRule5(r)];
}

function checkAll(r: SimOutcome): void {
  const problems = violations(r);
  if (problems.length > 0) {
    throw new Error(
      `${problems.length} safety violation(s):\n- ${problems.join("\n- ")}\n${describeRun(r)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const assertOptions = { endOnFailure: true, verbose: 1 } as const;
/** `SAFETY_RUNS_SCALE=10 npx vitest run test/property` explores ten times as many cases. */
const scale = Math.max(1, Number(process.env.SAFETY_RUNS_SCALE ?? 1) || 1);

describe("safety rules hold for any pipeline and any faults (local control plane)", () => {
  it("rules 1, 2, 3 and 5 on arbitrary pipelines and fault sets", {
    timeout: 120_000 * scale,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        checkAll(await simulateScenario(scenario));
      }),
      { ...assertOptions, numRuns: 20 * scale },
    );
  });

  it("rules 1, 3 and 5 when a rollback races regions deploying in parallel", {
    timeout: 120_000 * scale,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(parallelScenarioArb, async (scenario) => {
        const r = await simulateScenario(scenario);
        checkAll(r);
        // The faulty wave scope was deployed (beta is healthy), so the run rolled back.
        expect(r.run?.status).toBe("halted");
        expect(r.run?.haltReason).toBe("rollback");
      }),
      { ...assertOptions, numRuns: 8 * scale },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------------------------

const at = (r: SimOutcome, scope: string, step: string, event: TimelineEvent["event"]) =>
  r.timeline.find((e) => e.scope === scope && e.step === step && e.event === event);

describe("scoped rollback, examples", () => {
  it("three regions in parallel: a one-box fault halts the run, in-flight steps elsewhere finish and bake, nothing new starts", async () => {
    const pipeline = parsePipeline({
      name: "orders-api",
      stages: [
        {
          name: "prod-3",
          regions: [
            "us-west-2",
            { region: "eu-west-1", azs: ["euw1-az1", "euw1-az2"] },
            "ap-southeast-2",
          ],
          regionsInParallel: 3,
          oneBox: true,
          bake: { minutes: 60 },
        },
        { name: "prod-4", regions: ["sa-east-1"], bake: { minutes: 30 } },
      ],
    });
    // us-west-2's one-box deploys in 1 min and alarms at the end of its bake (61 min); the
    // others' one-box deploys take 70 min, so they are still deploying when the run halts.
    const r = await runSimulation({
      dynamo: dynamoClient(),
      pipeline,
      faults: [{ scopes: "prod-3/us-west-2", kind: "faults" }],
      durationsFor: (region) =>
        region === "us-west-2"
          ? { oneBox: 60, full: 300, rollback: 180 }
          : { oneBox: 4200, full: 300, rollback: 180 },
    });
    checkAll(r);
    expect(r.run?.status).toBe("halted");
    expect(r.run?.haltReason).toBe("rollback");
    expect(r.run?.rolledBack).toEqual(["prod-3/us-west-2"]);

    const rollback = at(r, "prod-3/us-west-2", "one-box", "rollback-started");
    expect(rollback?.at).toBe("2025-03-03T10:01:00.000Z");
    for (const scope of ["prod-3/eu-west-1/euw1-az1", "prod-3/ap-southeast-2"]) {
      const finished = at(r, scope, "one-box", "deploy-finished");
      const baked = at(r, scope, "one-box", "bake-finished");
      // The step in flight at the halt completes and is judged after it...
      expect(finished?.at).toBe("2025-03-03T10:10:00.000Z");
      expect(baked?.outcome).toBe("Healthy");
      expect(ms(baked?.at ?? "")).toBeGreaterThan(ms(rollback?.at ?? ""));
      // ...and the scope keeps the new version at its one-box share.
      expect(r.scopes.get(scope)).toMatchObject({ version: "v2", status: "stable", percent: 10 });
      expect(r.serving.get(scope)).toEqual({
        stable: "v1",
        canary: { version: "v2", percent: 10 },
      });
    }
    // No deploy step started after the rollback: only the three one-box steps ever started.
    expect(r.timeline.filter((e) => e.event === "deploy-started").map((e) => stepKey(e))).toEqual([
      "prod-3/ap-southeast-2 one-box",
      "prod-3/eu-west-1/euw1-az1 one-box",
      "prod-3/us-west-2 one-box",
    ]);
    expect(r.scopes.get("prod-3/us-west-2")).toMatchObject({
      version: "v1",
      status: "rolled-back",
      percent: 100,
    });
    expect(r.scopes.get("prod-3/eu-west-1/euw1-az2")).toMatchObject({
      version: "v1",
      status: "stable",
    });
    expect(r.scopes.get("prod-4/sa-east-1")).toMatchObject({ version: "v1", status: "stable" });
    expect(r.timeline.some((e) => e.stage === "prod-4")).toBe(false);
  });

  it("a fault only in the second AZ: AZ1 keeps the new version, AZ2 rolls back, AZ3 is untouched", async () => {
    const pipeline = parsePipeline({
      name: "orders-api",
      stages: [
        { name: "beta", regions: ["us-east-1"], bake: { minutes: 15 } },
        {
          name: "prod-2",
          regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2", "use1-az4"] }],
          oneBox: true,
          bake: { minutes: 60 },
        },
        { name: "prod-3", regions: ["eu-west-1"], bake: { minutes: 30 } },
      ],
    });
    const r = await runSimulation({
      dynamo: dynamoClient(),
      pipeline,
      faults: [{ scopes: "prod-2/us-east-1/use1-az2", kind: "latency" }],
    });
    checkAll(r);
    expect(r.run?.rolledBack).toEqual(["prod-2/us-east-1/use1-az2"]);
    expect(r.scopes.get("beta/us-east-1")).toMatchObject({
      version: "v2",
      status: "stable",
      percent: 100,
    });
    expect(r.scopes.get("prod-2/us-east-1/use1-az1")).toMatchObject({
      version: "v2",
      status: "stable",
      percent: 100,
    });
    expect(r.scopes.get("prod-2/us-east-1/use1-az2")).toMatchObject({
      version: "v1",
      previousVersion: "v2",
      status: "rolled-back",
      percent: 100,
    });
    expect(r.scopes.get("prod-2/us-east-1/use1-az4")).toMatchObject({
      version: "v1",
      status: "stable",
      percent: 100,
    });
    expect(r.scopes.get("prod-3/eu-west-1")).toMatchObject({ version: "v1", status: "stable" });
    // AZ3 and the next wave: the seed is their whole history.
    expect(r.history.get("prod-2/us-east-1/use1-az4")?.map((h) => h.actor)).toEqual(["seed"]);
    expect(r.history.get("prod-3/eu-west-1")?.map((h) => h.actor)).toEqual(["seed"]);
    // AZ2's history: seed, deploy, bake, rollback (who and why), rolled back.
    const az2 = causalHistory(r.history.get("prod-2/us-east-1/use1-az2") ?? []);
    expect(az2.map((h) => [h.toVersion, h.status, h.actor])).toEqual([
      ["v1", "stable", "seed"],
      ["v2", "deploying", "breakwater/deploy"],
      ["v2", "baking", "breakwater/deploy"],
      ["v1", "rolling-back", "breakwater/rollback"],
      ["v1", "rolled-back", "breakwater/rollback"],
    ]);
    // The rollback names the detector's finding, with its numbers.
    expect(az2[3]?.cause).toMatch(
      /^run orders-api@v2: rolling back v2 -> v1: unhealthy: detector latency: median p99 \d+ ms vs \d+ ms /,
    );
  });

  it("regions one at a time: a fault in the second region leaves the third and the next stage untouched", async () => {
    const pipeline = parsePipeline({
      name: "orders-api",
      stages: [
        {
          name: "prod-4",
          regions: ["ap-northeast-1", "sa-east-1", "ca-central-1"],
          oneBox: { percent: 5 },
          bake: { minutes: 30 },
        },
        { name: "prod-5", regions: ["eu-central-1"], bake: { minutes: 30 } },
      ],
    });
    const r = await runSimulation({
      dynamo: dynamoClient(),
      pipeline,
      faults: [{ scopes: "prod-4/sa-east-*", kind: "traffic-drop" }],
    });
    checkAll(r);
    expect(r.run?.rolledBack).toEqual(["prod-4/sa-east-1"]);
    // The one-box step alarmed (5% share, traffic dropped), so the full step never ran there.
    expect(at(r, "prod-4/sa-east-1", "one-box", "bake-finished")?.outcome).toBe("Unhealthy");
    expect(at(r, "prod-4/sa-east-1", "full", "deploy-started")).toBeUndefined();
    expect(r.scopes.get("prod-4/ap-northeast-1")).toMatchObject({ version: "v2", percent: 100 });
    expect(r.scopes.get("prod-4/ca-central-1")).toMatchObject({ version: "v1", status: "stable" });
    expect(r.scopes.get("prod-5/eu-central-1")).toMatchObject({ version: "v1", status: "stable" });
    expect(r.timeline.filter((e) => e.scope === "prod-4/ca-central-1")).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The checks themselves: a control plane broken on purpose must fail them.
// ---------------------------------------------------------------------------------------------

type AslNode = { States?: Record<string, AslNode>; ItemProcessor?: AslNode } & Record<
  string,
  unknown
>;

/** The stage ASL with one state edited (found by name at any depth). */
function brokenAsl(stateName: string, edit: (state: AslNode) => void): string {
  const definition = JSON.parse(readStageAsl()) as AslNode;
  const visit = (node: AslNode | undefined): boolean => {
    if (!node?.States) return false;
    for (const [name, state] of Object.entries(node.States)) {
      if (name === stateName) {
        edit(state);
        return true;
      }
      if (visit(state.ItemProcessor)) return true;
    }
    return false;
  };
  if (!visit(definition)) throw new Error(`no state ${stateName} in the stage ASL`);
  return JSON.stringify(definition);
}

describe("the safety checks catch a broken control plane", () => {
  const wave = parsePipeline({
    name: "orders-api",
    stages: [
      { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } },
      {
        name: "prod-1",
        regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }, "eu-west-1"],
        oneBox: true,
        bake: { minutes: 30 },
      },
      { name: "prod-2", regions: ["us-west-2"], bake: { minutes: 30 } },
    ],
  });

  it("rule 1: regions and AZs deployed all at once", async () => {
    const asl = brokenAsl("Regions", (s) => {
      delete s.MaxConcurrencyPath;
      s.MaxConcurrency = 0;
    });
    const regions = violations(
      await runSimulation({ dynamo: dynamoClient(), pipeline: wave, asl: { stage: asl } }),
    );
    expect(
      regions.some((p) => p.includes("rule 1: stage prod-1 (regionsInParallel 1) had 2 regions")),
    ).toBe(true);
    const phases = brokenAsl("Phases", (s) => {
      s.MaxConcurrency = 0;
    });
    // Without a one-box step, each phase is one AZ's full step: all phases at once overlap.
    const azWave = parsePipeline({
      name: "orders-api",
      stages: [
        {
          name: "prod-1",
          regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }],
          bake: { minutes: 30 },
        },
      ],
    });
    const azs = violations(
      await runSimulation({ dynamo: dynamoClient(), pipeline: azWave, asl: { stage: phases } }),
    );
    expect(azs.some((p) => p.includes("rule 1: prod-1/eu-north-1 deploys AZs one at a time"))).toBe(
      true,
    );
  });

  it("rule 3: an unhealthy scope kept instead of rolled back", async () => {
    // Unhealthy ends the branch as if all were well (sent to RecordStep it would no longer do:
    // Record takes only a Healthy verdict, and its error is rolled back).
    const asl = brokenAsl("Healthy?", (s) => {
      s.Choices = [
        { Variable: "$.health.phase", StringEquals: "Unhealthy", Next: "StepSuperseded" },
        ...(s.Choices as unknown[]),
      ];
    });
    const problems = violations(
      await runSimulation({
        dynamo: dynamoClient(),
        pipeline: wave,
        faults: [{ scopes: "prod-1/eu-north-1/eun1-az2", kind: "faults" }],
        asl: { stage: asl },
      }),
    );
    expect(problems).toContain(
      "rule 3: rolled back [] but unhealthy scopes were [prod-1/eu-north-1/eun1-az2] (a rollback must revert exactly the scopes that alarmed)",
    );
    expect(problems).toContain(
      "rule 3: faulty scope prod-1/eu-north-1/eun1-az2 was deployed and kept",
    );
  });

  it("rules 2, 3 and 5: a tampered record of a good run", async () => {
    const r = await runSimulation({
      dynamo: dynamoClient(),
      pipeline: wave,
      faults: [{ scopes: "prod-1/eu-west-1", kind: "latency" }],
    });
    expect(violations(r)).toEqual([]);
    const shift = (e: TimelineEvent, minutes: number) => ({
      ...e,
      at: new Date(ms(e.at) + minutes * 60_000).toISOString(),
    });
    // Rule 2: prod-1's first step moved before beta's bake ended.
    const early = {
      ...r,
      timeline: r.timeline.map((e) =>
        e.stage === "prod-1" &&
        e.event === "deploy-started" &&
        e.step === "one-box" &&
        e.scope.includes("eun1-az1")
          ? shift(e, -5)
          : e,
      ),
    };
    expect(violations(early).some((p) => p.startsWith("rule 2: prod-1 started at"))).toBe(true);
    // Rule 3: a deploy step after the rollback.
    const rollbackAt = at(r, "prod-1/eu-west-1", "one-box", "rollback-started")?.at ?? "";
    const late = {
      ...r,
      timeline: [
        ...r.timeline,
        {
          ...r.timeline[0],
          scope: "prod-2/us-west-2",
          stage: "prod-2",
          step: "full",
          event: "deploy-started",
          at: new Date(ms(rollbackAt) + 1000).toISOString(),
        } as TimelineEvent,
      ],
    };
    expect(violations(late).some((p) => p.includes("after the first rollback"))).toBe(true);
    // Rule 5: a version change missing from a scope's history.
    const history = new Map(r.history);
    history.set(
      "prod-1/eu-west-1",
      (history.get("prod-1/eu-west-1") ?? []).filter((h) => h.status !== "rolling-back"),
    );
    const forgotten = violations({ ...r, history });
    expect(forgotten.some((p) => p.startsWith("rule 5: prod-1/eu-west-1"))).toBe(true);
  });
});
