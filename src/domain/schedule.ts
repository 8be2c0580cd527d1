/**
 * The expected schedule of a healthy run, computed without running anything: `breakwater plan`
 * prints it and the dashboard can show "expected end" from it. It follows the stage machine
 * exactly as the local mode runs it (statemachines/stage.asl.json, src/local/fleet.ts):
 *
 * - stages one after another, each starting the instant the previous one finished (promotion
 *   takes no time);
 * - the regions of a stage through a pool of `regionsInParallel` slots (the Map's
 *   MaxConcurrency: a region starts as soon as a slot frees), the phases of a region one after
 *   another, the steps of a phase together;
 * - each step: the time-window gate (a closed window waits exactly until it opens, as
 *   `recheckSeconds` does), the deploy (the target's local seconds: one Wait, then one check),
 *   the bake (`minutes`), extended for `minRequests` by the same rule the bake uses
 *   ({@link judgeBake}) when the scope's traffic is known.
 *
 * Blockers other than time windows (alarms, manual blocks, scope locks) cannot be known ahead
 * and are not modelled: the schedule is the run with none of them.
 */
import { judgeBake } from "./bake.ts";
import { groupPlacements, regionLayout } from "./cells.ts";
import type { Pipeline, Stage } from "./pipeline.ts";
import { type DeployStep, planStage, type StepKind } from "./planner.ts";
import { scopeId } from "./scope.ts";
import { effectiveTarget, localSeconds } from "./targets/index.ts";
import { checkTimeWindows, type RegionOverrides } from "./time-windows/index.ts";

export interface ScheduleOptions {
  /** When the run starts (the version arrives). */
  start: Date;
  /** Fleet-wide step durations in seconds (the local fleet's `durations`), after the target's own. */
  durations?: { oneBox?: number; full?: number; rollback?: number };
  /** The installation's per-region time zones and calendars. */
  regionOverrides?: RegionOverrides;
  /** A scope's requests per minute when known (for `minRequests` and the traffic share). */
  requestsPerMinute?: (scope: string) => number | undefined;
  /** Give up on a step still waiting for a window past this instant (default: start + 60 days). */
  horizon?: Date;
}

/** A wait before a step could start: a time window closed, or a holiday. */
export interface ScheduledWait {
  from: string;
  until?: string;
  reason: string;
}

/** Share of the pipeline's production exposed to the new version once a step has deployed. */
export interface BlastRadius {
  regions: { exposed: number; total: number };
  azs: { exposed: number; total: number };
  /** Percent of production traffic served by the new version (0-100, one decimal). */
  trafficPercent: number;
}

export interface ScheduledStep {
  stage: string;
  scope: string;
  region: string;
  az?: string;
  kind: StepKind;
  percent: number;
  /** When the step could first start (its phase's turn came). */
  readyAt: string;
  waits: ScheduledWait[];
  deployStartedAt?: string;
  deployedAt?: string;
  bakeEndsAt?: string;
  deploySeconds: number;
  bakeMinutes: number;
  /** Set when minRequests made the bake longer than `minutes` (an estimate from the traffic). */
  bakeExtendedMinutes?: number;
  /** The bake's expected verdict when it is not Healthy (too little traffic under `halt`). */
  bakeOutcome?: string;
  /** After this step: the share of production exposed (production stages only). */
  blast?: BlastRadius;
}

export interface ScheduledStage {
  stage: string;
  production: boolean;
  startedAt: string;
  finishedAt?: string;
}

export interface Schedule {
  pipeline: string;
  startedAt: string;
  /** Undefined when a step waits past the horizon or the run would halt. */
  finishedAt?: string;
  totalSeconds?: number;
  stages: ScheduledStage[];
  /** In the order they start deploying. */
  steps: ScheduledStep[];
  /** Why the schedule stops short (a window that never opens, an inconclusive bake). */
  stoppedAt?: { scope: string; reason: string };
  /** What the schedule assumes (no blockers but windows; bakes ending at `minutes`, ...). */
  assumptions: string[];
}

/**
 * Production stages: named `prod…` (prod, prod-1, production-eu). Pre-production stages are
 * the others (alpha, beta, gamma, zeta). The schema has no field for it; the AWS article's
 * vocabulary is the convention the examples and the lint rules follow.
 */
export function isProductionStage(stage: Pick<Stage, "name">): boolean {
  return /^prod/i.test(stage.name);
}

/** Whether any time-window policy of the pipeline judges holidays (load the calendars first). */
export function usesHolidays(pipeline: Pipeline): boolean {
  return [pipeline.timeWindows, ...pipeline.stages.map((s) => s.timeWindows)].some(
    (p) => p?.holidays === true,
  );
}

const MAX_BAKE_EXTENSIONS = 1000;
const DEFAULT_HORIZON_DAYS = 60;

/** A production scope's weight in the traffic share, and the AZ it counts as. */
interface ProdScope {
  region: string;
  az?: string;
  weight: number;
}

/**
 * Production scopes and their traffic weights: requests per minute when every production
 * scope's traffic is known; otherwise each region weighs the same, split evenly over its AZs
 * and their cells.
 */
function productionScopes(
  pipeline: Pipeline,
  rpm: ScheduleOptions["requestsPerMinute"],
): Map<string, ProdScope> {
  const prodStages = pipeline.stages.filter(isProductionStage);
  const stages = prodStages.length > 0 ? prodStages : pipeline.stages;
  const out = new Map<string, ProdScope>();
  for (const stage of stages) {
    for (const entry of stage.regions) {
      // Each AZ (or the whole region) weighs the same, and its cells split its weight evenly.
      const { region, groups } = regionLayout(entry);
      for (const group of groups) {
        for (const { az, cell } of groupPlacements(group)) {
          const weight = 1 / groups.length / Math.max(1, group.cells.length);
          out.set(scopeId(stage.name, region, az, cell), { region, ...(az ? { az } : {}), weight });
        }
      }
    }
  }
  const known = [...out.keys()].map((id) => rpm?.(id));
  if (known.every((r): r is number => r !== undefined)) {
    [...out.values()].forEach((s, i) => {
      s.weight = known[i] as number;
    });
  }
  return out;
}

/** Tracks what production has been exposed to as steps deploy. */
class Exposure {
  private readonly percent = new Map<string, number>();
  private readonly regions: Set<string>;
  private readonly azs: Set<string>;
  private readonly totalWeight: number;
  constructor(private readonly scopes: Map<string, ProdScope>) {
    this.regions = new Set([...scopes.values()].map((s) => s.region));
    this.azs = new Set([...scopes.values()].filter((s) => s.az).map((s) => `${s.region}/${s.az}`));
    this.totalWeight = [...scopes.values()].reduce((n, s) => n + s.weight, 0);
  }
  add(scope: string, percent: number): BlastRadius | undefined {
    if (!this.scopes.has(scope)) return undefined;
    this.percent.set(scope, Math.max(this.percent.get(scope) ?? 0, percent));
    const exposed = [...this.percent.keys()].map((id) => this.scopes.get(id) as ProdScope);
    const weight = [...this.percent].reduce(
      (n, [id, p]) => n + (this.scopes.get(id) as ProdScope).weight * (p / 100),
      0,
    );
    return {
      regions: { exposed: new Set(exposed.map((s) => s.region)).size, total: this.regions.size },
      azs: {
        exposed: new Set(exposed.filter((s) => s.az).map((s) => `${s.region}/${s.az}`)).size,
        total: this.azs.size,
      },
      trafficPercent:
        this.totalWeight > 0 ? Math.round((weight / this.totalWeight) * 1000) / 10 : 0,
    };
  }
}

/** The bake's length in minutes, extended for minRequests when the traffic is known. */
function bakeOf(
  stage: Stage,
  step: DeployStep,
  rpm: number | undefined,
): { minutes: number; extended?: number; outcome?: string } {
  // A rolling share bakes its own minutes with no traffic minimum (bake-policy.ts).
  if (step.kind === "rolling") return { minutes: step.bakeSeconds / 60 };
  const { minutes, minRequests } = stage.bake;
  if (minRequests === undefined || rpm === undefined) return { minutes };
  const policy = {
    minutes,
    minRequests,
    maxMinutes: stage.bake.maxMinutes ?? minutes * 4,
    onInsufficientTraffic: stage.onInsufficientTraffic ?? "halt",
  };
  // The candidate serves its share of the scope's traffic at a steady rate.
  const perMinute = rpm * (step.percent / 100);
  let elapsedMs = minutes * 60_000;
  for (let i = 0; i < MAX_BAKE_EXTENSIONS; i++) {
    const decision = judgeBake({
      alarms: [],
      policy,
      candidate: [{ requests: perMinute * (elapsedMs / 60_000), faults: 0, p99Ms: 0 }],
      elapsedMs,
    });
    if (decision.kind === "extend") {
      elapsedMs += decision.seconds * 1000;
      continue;
    }
    const total = elapsedMs / 60_000;
    return {
      minutes: total,
      ...(total > minutes ? { extended: total - minutes } : {}),
      ...(decision.verdict !== "Healthy" ? { outcome: decision.verdict } : {}),
    };
  }
  return { minutes: elapsedMs / 60_000 };
}

interface GateResult {
  at: number;
  waits: ScheduledWait[];
  stopped?: string;
}

/** Waits out closed time windows from `ready`, as the gate's recheck does. */
function passWindows(
  pipeline: Pipeline,
  stage: Stage,
  region: string,
  ready: number,
  options: ScheduleOptions,
  horizon: number,
): GateResult {
  const policy = stage.timeWindows ?? pipeline.timeWindows;
  const waits: ScheduledWait[] = [];
  let at = ready;
  for (;;) {
    let verdict: ReturnType<typeof checkTimeWindows>;
    try {
      verdict = checkTimeWindows(policy, region, new Date(at), options.regionOverrides);
    } catch (err) {
      const reason = `cannot evaluate time windows: ${(err as Error).message}`;
      waits.push({ from: new Date(at).toISOString(), reason });
      return { at, waits, stopped: reason };
    }
    if (verdict.allowed) return { at, waits };
    const until = verdict.until?.getTime();
    const wait: ScheduledWait = {
      from: new Date(at).toISOString(),
      reason: verdict.reason,
      ...(until !== undefined ? { until: new Date(until).toISOString() } : {}),
    };
    waits.push(wait);
    if (until === undefined || until > horizon) {
      return { at, waits, stopped: `${verdict.reason}; no opening before the horizon` };
    }
    // recheckSeconds: exactly until the window opens, in whole seconds, at least one.
    at += Math.max(1, Math.ceil((until - at) / 1000)) * 1000;
  }
}

/**
 * The expected schedule of a healthy run of `pipeline` from `options.start`.
 *
 * @example
 * planSchedule(pipeline, { start: new Date("2026-01-05T09:00:00Z") }).totalSeconds // 42060 for examples/orders-api.json
 */
export function planSchedule(pipeline: Pipeline, options: ScheduleOptions): Schedule {
  const start = options.start.getTime();
  const horizon = options.horizon?.getTime() ?? start + DEFAULT_HORIZON_DAYS * 86_400_000;
  const exposure = new Exposure(productionScopes(pipeline, options.requestsPerMinute));
  const steps: ScheduledStep[] = [];
  const stages: ScheduledStage[] = [];
  const assumptions = [
    "a healthy run: no alarm, manual block or scope lock holds any step (time windows and holidays are counted)",
  ];
  if (pipeline.stages.some((s) => s.bake.minRequests !== undefined)) {
    assumptions.push(
      options.requestsPerMinute
        ? "bake.minRequests: bakes extended as the bake rule would at the given traffic (steady, no noise); scopes with no traffic given end at bake.minutes"
        : "bake.minRequests: bakes assumed to end at bake.minutes (give --traffic to estimate extensions)",
    );
  }
  if (!pipeline.stages.some(isProductionStage)) {
    assumptions.push("no stage is named prod…: the blast radius counts every stage");
  }
  let stoppedAt: Schedule["stoppedAt"];
  let t = start;
  for (const stage of pipeline.stages) {
    const seconds = localSeconds(effectiveTarget(pipeline, stage.name), options.durations);
    const plan = planStage(stage);
    const stageStart = t;
    // The Map's pool: each slot is free from this instant.
    const slots: number[] = Array.from({ length: Math.max(1, plan.regionsInParallel) }, () => t);
    let stageEnd = t;
    for (const region of plan.regions) {
      slots.sort((a, b) => a - b);
      let regionT = slots[0] as number;
      for (const phase of region.phases) {
        let phaseEnd = regionT;
        for (const step of phase) {
          const gate = passWindows(pipeline, stage, step.region, regionT, options, horizon);
          // A share below 100% (one-box, a rolling step) deploys as the fleet times it: oneBox.
          const deploySeconds = step.kind === "full" ? seconds.full : seconds.oneBox;
          const scheduled: ScheduledStep = {
            stage: stage.name,
            scope: step.scope,
            region: step.region,
            ...(step.az ? { az: step.az } : {}),
            kind: step.kind,
            percent: step.percent,
            readyAt: new Date(regionT).toISOString(),
            waits: gate.waits,
            deploySeconds,
            // The planner's bake for the step (a rolling share bakes rolling.bakeMinutes).
            bakeMinutes: step.bakeSeconds / 60,
          };
          steps.push(scheduled);
          if (gate.stopped) {
            stoppedAt ??= { scope: step.scope, reason: gate.stopped };
            continue;
          }
          const bake = bakeOf(stage, step, options.requestsPerMinute?.(step.scope));
          const deployed = gate.at + deploySeconds * 1000;
          const bakeEnd = deployed + Math.round(bake.minutes * 60_000);
          Object.assign(scheduled, {
            deployStartedAt: new Date(gate.at).toISOString(),
            deployedAt: new Date(deployed).toISOString(),
            bakeEndsAt: new Date(bakeEnd).toISOString(),
            ...(bake.extended ? { bakeExtendedMinutes: Math.round(bake.extended * 10) / 10 } : {}),
            ...(bake.outcome ? { bakeOutcome: bake.outcome } : {}),
          });
          if (bake.outcome) {
            stoppedAt ??= {
              scope: step.scope,
              reason: `the bake would be ${bake.outcome} (bake.minRequests not served by maxMinutes) and the run halts`,
            };
          }
          phaseEnd = Math.max(phaseEnd, bakeEnd);
        }
        regionT = phaseEnd;
      }
      slots[0] = regionT;
      stageEnd = Math.max(stageEnd, regionT);
    }
    stages.push({
      stage: stage.name,
      production: isProductionStage(stage),
      startedAt: new Date(stageStart).toISOString(),
      ...(stoppedAt ? {} : { finishedAt: new Date(stageEnd).toISOString() }),
    });
    if (stoppedAt) break;
    t = stageEnd;
  }
  // Blast radius accumulates in the order steps start deploying.
  const order = steps
    .map((s, i) => ({ s, i }))
    .sort(
      (a, b) => (a.s.deployStartedAt ?? "~").localeCompare(b.s.deployStartedAt ?? "~") || a.i - b.i,
    )
    .map(({ s }) => s);
  for (const s of order) {
    if (!s.deployStartedAt) continue;
    const blast = exposure.add(s.scope, s.percent);
    if (blast) s.blast = blast;
  }
  return {
    pipeline: pipeline.name,
    startedAt: options.start.toISOString(),
    ...(stoppedAt
      ? { stoppedAt }
      : { finishedAt: new Date(t).toISOString(), totalSeconds: Math.round((t - start) / 1000) }),
    stages,
    steps: order,
    assumptions,
  };
}
