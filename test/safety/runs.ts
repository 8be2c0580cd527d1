/**
 * Safety rules 1, 2, 3 and 5 (docs/design.md, "Safety rules") as properties of one run: arbitrary
 * pipelines, fault sets and deployment speeds go through the real local control plane (the
 * stage ASL in the local interpreter, the real handlers, a simulated fleet, a virtual clock, on
 * the in-memory stores or DynamoDB Local), and the rules are checked on what the control plane
 * recorded — the run's timeline, every scope's history and the final scope states — plus what
 * the fleet itself serves.
 *
 * The local runtime runs handlers one at a time in call order, so a case replays exactly; the
 * rules are nevertheless checked only on what was recorded, as they would be in AWS.
 */
import fc from "fast-check";
import { DEFAULT_ANOMALY_RULES, rulesForLook } from "../../src/domain/anomaly/index.ts";
import { azIdsOf } from "../../src/domain/aws-regions.ts";
import { bakeLooks, DEFAULT_CHECK_EVERY_MINUTES } from "../../src/domain/bake.ts";
import { regionLayout } from "../../src/domain/cells.ts";
import type { HistoryEntry, ScopeStatus, TimelineEvent } from "../../src/domain/model.ts";
import {
  oneBoxPercent,
  type Pipeline,
  type PipelineInput,
  parsePipeline,
} from "../../src/domain/pipeline.ts";
import { type DeployStep, planStage } from "../../src/domain/planner.ts";
import {
  parseScopeId,
  pipelineScopes,
  scopeId,
  scopeMatcher,
  stageScopes,
} from "../../src/domain/scope.ts";
import { cellShares, type FaultKind, type FaultSpec } from "../../src/local/fleet.ts";
import { type Durations, runSimulation, type SimOptions, type SimOutcome } from "../support/sim.ts";

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
const FAULT_KINDS: readonly FaultKind[] = ["faults", "latency", "traffic-drop", "tests", "canary"];
/** The tests and canaries a generated stage may have (issue 13): fault sources of their own. */
const STAGE_TESTS = [{ lambda: "it-{stage}-{region}" }];
const STAGE_CANARIES = ["home-{stage}-{region}"];

type StageInput = PipelineInput["stages"][number];

/** 1–3 distinct cell ids. */
const cellsArb = fc
  .uniqueArray(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 3 })
  .map((ns) => ns.map((n) => `c${n}`));

/** A region entry: the whole region, its AZs, its cells, or its AZs each with cells. */
const regionEntryArb = ([region, prefix]: readonly [string, string]) => {
  const azsArb = fc
    .uniqueArray(fc.integer({ min: 1, max: azIdsOf(region).length }), {
      minLength: 1,
      maxLength: 3,
    })
    .map((ns) => ns.map((n) => `${prefix}-az${n}`));
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant<StageInput["regions"][number]>(region) },
    { weight: 3, arbitrary: azsArb.map((azs) => ({ region, azs })) },
    { weight: 1, arbitrary: cellsArb.map((cells) => ({ region, cells })) },
    {
      weight: 1,
      arbitrary: azsArb
        .filter((azs) => azs.length <= 2)
        .chain((azs) => fc.tuple(...azs.map((az) => cellsArb.map((cells) => ({ az, cells })))))
        .map((azs) => ({ region, azs })),
    },
  );
};

/** The longest cell list of a stage's region entries (0: no cells). */
const largestCellGroup = (regions: StageInput["regions"]) =>
  Math.max(0, ...regions.flatMap((r) => regionLayout(r).groups.map((g) => g.cells.length)));

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
        cellsInParallel: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
        oneBox: fc.option(
          fc.oneof(
            fc.constant(false),
            fc.constant(true),
            fc.record({ percent: fc.integer({ min: 1, max: 50 }) }),
          ),
          { nil: undefined },
        ),
        minutes: fc.integer({ min: 1, max: 120 }),
        // Rolling steps in about one stage of three (each adds steps, so runs take longer).
        rolling: fc.oneof(
          { weight: 2, arbitrary: fc.constant(undefined) },
          {
            weight: 1,
            arbitrary: fc.record(
              {
                shares: fc.uniqueArray(fc.integer({ min: 1, max: 99 }), {
                  minLength: 1,
                  maxLength: 3,
                }),
                bakeMinutes: fc.integer({ min: 1, max: 30 }),
              },
              NP,
            ),
          },
        ),
        tests: fc.boolean(),
        canaries: fc.boolean(),
      },
      NP,
    )
    .map(
      ({
        minutes,
        regionsInParallel,
        azsInParallel,
        cellsInParallel,
        oneBox,
        regions,
        rolling,
        tests,
        canaries,
      }) => ({
        name,
        regions,
        // At most the stage's regions (the schema refuses more; more meant "all at once").
        ...(regionsInParallel !== undefined
          ? { regionsInParallel: Math.min(regionsInParallel, regions.length) }
          : {}),
        ...(azsInParallel !== undefined ? { azsInParallel } : {}),
        // Only with cells, and at most the largest cell list (the schema refuses the rest).
        ...(cellsInParallel !== undefined && largestCellGroup(regions) > 0
          ? { cellsInParallel: Math.min(cellsInParallel, largestCellGroup(regions)) }
          : {}),
        ...(oneBox !== undefined ? { oneBox } : {}),
        ...rollingOf(rolling, oneBox),
        bake: { minutes },
        ...(tests ? { tests: STAGE_TESTS } : {}),
        ...(canaries ? { canaries: STAGE_CANARIES } : {}),
      }),
    );

/** Rolling steps as the schema wants them: increasing, above the one-box's share, then 100. */
function rollingOf(
  rolling: { shares: number[]; bakeMinutes: number } | undefined,
  oneBox: boolean | { percent: number } | undefined,
): Pick<StageInput, "rolling"> {
  if (!rolling) return {};
  const box = oneBox === true ? 10 : oneBox ? oneBox.percent : 0;
  const shares = rolling.shares.filter((p) => p > box).sort((a, b) => a - b);
  if (shares.length === 0) return {};
  return { rolling: { percents: [...shares, 100], bakeMinutes: rolling.bakeMinutes } };
}

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

export interface Scenario {
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

export const scenarioArb: fc.Arbitrary<Scenario> = pipelineArb.chain((pipeline) =>
  fc.record(
    { pipeline: fc.constant(pipeline), faults: faultsArb(pipeline), speeds: speedsArb },
    NP,
  ),
);

/** One stage, 2–3 regions deploying at once, exactly one faulty scope: the halt races. */
export const parallelScenarioArb: fc.Arbitrary<Scenario> = fc
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
      // From 10 minutes on, the built-in detector is certain to see every fault kind at these
      // shares (see detectorSees), so the run always rolls back; shorter bakes, where a latency
      // fault goes unseen, are covered by the first property.
      minutes: fc.integer({ min: 10, max: 120 }),
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
          // Every fault kind is certain to be seen: tests faults by the tests, canary faults
          // by the canary (a one-box of at least 5% drops it to 95% at most).
          tests: STAGE_TESTS,
          canaries: STAGE_CANARIES,
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

/** Runs one scenario on the given stores (the in-memory twins, or DynamoDB Local). */
export async function simulateScenario(
  s: Scenario,
  dynamo: SimOptions["dynamo"],
): Promise<SimOutcome> {
  const index = new Map(REGIONS.map(([r], i) => [r, i]));
  const speeds = s.speeds;
  return runSimulation({
    dynamo,
    pipeline: s.pipeline,
    faults: s.faults,
    ...(speeds ? { durationsFor: (region: string) => speeds[index.get(region) ?? 0] } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// The rules, as checks on one finished run. Each returns the violations it found.
// ---------------------------------------------------------------------------------------------

export const ms = (at: string) => Date.parse(at);
/** A step of a scope: its kind, and for a rolling step (several per scope) its share. */
export const stepKey = (e: { scope: string; step: string; percent?: number | undefined }) =>
  `${e.scope} ${e.step}${e.step === "rolling" ? ` ${e.percent}%` : ""}`;
const planKey = (s: DeployStep) => stepKey({ scope: s.scope, step: s.kind, percent: s.percent });
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

/** The AZ (or the whole region) a scope belongs to: the group its cells share. */
const groupOfScope = (scope: string) => {
  const ref = parseScopeId(scope);
  return scopeId(ref.stage, ref.region, ref.az);
};
const scopeOfStep = (s: Interval) => s.label.split(" ")[0] as string;
const overlapping = (a: Interval, b: Interval) => a.start < b.end && b.start < a.end;

/**
 * Rule 1: at most regionsInParallel regions at once; AZs one at a time unless azsInParallel;
 * at most cellsInParallel cells of one AZ (or region) at once; the one-box step before the rest.
 */
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
    // Inside a region, the phases run one after the other: the one-box step ends before any
    // full step; with AZs one at a time no steps of two AZs overlap; inside one AZ (or a region
    // without AZs) at most cellsInParallel steps overlap (one when it has no cells).
    const cellLimit = stage.cellsInParallel ?? 1;
    // And every step of a phase (the one-box, each rolling share, 100%) ends before any step of
    // a later phase of its region starts.
    const phaseOf = new Map<string, number>();
    for (const rp of planStage(stage).regions) {
      rp.phases.forEach((phase, i) => {
        for (const step of phase) phaseOf.set(planKey(step), i);
      });
    }
    for (const region of regions.keys()) {
      const inRegion = stageSteps.filter(
        (s) => !Number.isNaN(s.end) && regionOfScope(scopeOfStep(s)) === region,
      );
      for (const ob of inRegion.filter((s) => s.label.endsWith(" one-box"))) {
        for (const full of inRegion.filter((s) => s.label.endsWith(" full"))) {
          if (full.start < ob.end) {
            problems.push(`rule 1: ${full.label} started before ${ob.label} finished`);
          }
        }
      }
      if (!stage.azsInParallel) {
        for (const a of inRegion) {
          for (const b of inRegion) {
            if (
              a.label < b.label &&
              groupOfScope(scopeOfStep(a)) !== groupOfScope(scopeOfStep(b)) &&
              overlapping(a, b)
            ) {
              problems.push(
                `rule 1: ${stage.name}/${region} deploys AZs one at a time but ${a.label} and ${b.label} overlapped`,
              );
            }
          }
        }
      }
      for (const before of inRegion) {
        for (const after of inRegion) {
          const a = phaseOf.get(before.label) ?? 0;
          const b = phaseOf.get(after.label) ?? 0;
          if (a < b && after.start < before.end) {
            problems.push(`rule 1: ${after.label} started before ${before.label} finished`);
          }
        }
      }
      for (const group of new Set(inRegion.map((s) => groupOfScope(scopeOfStep(s))))) {
        const w = maxOverlap(inRegion.filter((s) => groupOfScope(scopeOfStep(s)) === group));
        if (w.count > cellLimit) {
          problems.push(
            `rule 1: ${group} deploys ${cellLimit} cell${cellLimit === 1 ? "" : "s"} at a time but ${w.labels.join(" and ")} overlapped at ${new Date(w.at).toISOString()}`,
          );
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
  // Rolling steps: the scope stays at the largest share that baked Healthy.
  const rolled = events
    .filter((e) => e.event === "bake-finished" && e.step === "rolling" && e.outcome === "Healthy")
    .map((e) => e.percent ?? 0);
  if (rolled.length > 0) {
    return { version: r.version, status: "stable", percent: Math.max(...rolled) };
  }
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

/** The simulated fleet's traffic per scope without cells (its default) and its ±10% noise. */
const FLEET_RPM = 1000;
const FLEET_NOISE = 0.1;
/** evaluateStep's shortest pre-deploy baseline window (minutes). */
const BASELINE_MIN_MINUTES = 10;

/** The largest Mann–Whitney z for these sample sizes (every candidate minute slower). */
const mannWhitneyMaxZ = (n1: number, n2: number) => Math.sqrt((3 * n1 * n2) / (n1 + n2 + 1));

/**
 * Whether the built-in detector (src/domain/anomaly/, its thresholds at a bake's last look,
 * corrected for the bake's planned looks: `rulesForLook`) is certain to find a fault of this
 * kind in a bake of `minutes` at `share` of the simulated fleet's traffic. A
 * bake below its documented minimums gives an insufficient-data finding for that rule, and a
 * verdict of Healthy when another rule could judge — the fault then goes unseen, as it would
 * in AWS. Lower bounds of the traffic are used, so `true` means "must be rolled back".
 *
 * - latency: the Mann–Whitney test over per-minute p99s needs enough minutes for z to reach
 *   its threshold against the longest reference the bake has (the pre-deploy baseline, at
 *   least 10 minutes): a bake of 9 minutes or less cannot see a latency fault (8 and 9
 *   minutes are looked at twice, which lifts z's threshold from 3.5 to 3.68).
 * - faults: at least `minCandidateRequests` requests on the new version (a 1% one-box serves
 *   ~10 a minute: 23 minutes).
 * - traffic-drop: the reference must predict at least `minExpectedRequests` requests.
 */
function detectorSees(kind: FaultKind, share: number, minutes: number): boolean {
  const perMinute = FLEET_RPM * (1 - FLEET_NOISE) * share;
  const { planned } = bakeLooks({
    minutes,
    maxMinutes: minutes,
    onInsufficientTraffic: "halt",
    checkEveryMinutes: DEFAULT_CHECK_EVERY_MINUTES,
  });
  switch (kind) {
    case "latency": {
      const rule = rulesForLook({ planned, fraction: 1 }).latency;
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
    case "tests":
    case "canary":
      // Only the stage's tests or canaries see these (checksSee); the traffic is fine.
      return false;
  }
}

/**
 * Whether the stage's tests or canaries are certain to see a fault at `share` of the scope's
 * traffic: a `tests` fault fails every test there; the simulated canary fails every check
 * against the version with a `canary` fault (success 100 × (1 − share)) and a fraction of them
 * with a `faults` fault (at least 5%).
 */
function checksSee(kind: FaultKind, stage: Pipeline["stages"][number], share: number): boolean {
  if (kind === "tests") return (stage.tests ?? []).length > 0;
  if ((stage.canaries ?? []).length === 0) return false;
  const threshold = Math.min(
    ...(stage.canaries ?? []).map((c) =>
      typeof c === "string" ? 99 : (c.minSuccessPercent ?? 99),
    ),
  );
  if (kind === "canary") return 100 * (1 - share) < threshold;
  if (kind === "faults") return 100 * (1 - share * 0.05) < threshold;
  return false;
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
          (e.event === "tests-finished" && e.outcome === "failed") ||
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
      // Safety rule 3, tightened: at the first rollback's instant included (tie-breaking).
      if (e.event === "deploy-started" && ms(e.at) >= firstRollback) {
        problems.push(
          `rule 3: ${stepKey(e)} deploy started at ${e.at}, at or after the first rollback at ${new Date(firstRollback).toISOString()}`,
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
    // The last step that started there: its share (of its cell's share), and how long it bakes.
    const last = r.timeline.filter((e) => e.event === "deploy-started" && e.scope === scope).at(-1);
    const share =
      (started(scope, "full")
        ? 1
        : last?.step === "rolling"
          ? (last.percent ?? 100) / 100
          : (oneBoxPercent(stage) ?? 100) / 100) * (cellShares([r.pipeline]).get(scope) ?? 1);
    const minutes =
      last?.step === "rolling" && stage.rolling ? stage.rolling.bakeMinutes : stage.bake.minutes;
    const kind = faulty.get(scope) as FaultKind;
    return detectorSees(kind, share, minutes) || checksSee(kind, stage, share);
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
export function causalHistory(entries: HistoryEntry[]): HistoryEntry[] {
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
    // A step with tests: the scope bakes (status) from the deploy's end, its tests first.
    "tests-started": "baking",
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
    const tested = new Set(events.filter((e) => e.event === "tests-started").map(stepKey));
    const fromTimeline = events
      .filter((e) => !(e.event === "bake-started" && tested.has(stepKey(e))))
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

export function describeRun(r: SimOutcome): string {
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

export function violations(r: SimOutcome): string[] {
  return [...checkRule1(r), ...checkRule2(r), ...checkRule3(r), ...checkRule5(r)];
}

export function checkAll(r: SimOutcome): void {
  const problems = violations(r);
  if (problems.length > 0) {
    throw new Error(
      `${problems.length} safety violation(s):\n- ${problems.join("\n- ")}\n${describeRun(r)}`,
    );
  }
}
