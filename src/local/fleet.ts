/**
 * A simulated fleet: the local twin of the deploy targets and of CloudWatch. Every scope
 * serves traffic (requests per minute) with a fault rate and a latency; a deployment takes
 * simulated minutes; a version can be made unhealthy in chosen scopes. Cells split the traffic
 * of their AZ (or region) evenly, as a cell-based service partitions its customers. Metrics are
 * deterministic functions of (scope, version, minute), so a simulation is repeatable.
 */

import { regionLayout } from "../domain/cells.ts";
import type { CanaryObservation, TestState } from "../domain/checks.ts";
import type { Pipeline } from "../domain/pipeline.ts";
import type {
  CanaryQuery,
  CanarySource,
  Deployer,
  DeploymentRequest,
  DeploymentStatus,
  MetricQuery,
  MetricSource,
  MinuteSample,
  TestRequest,
  TestRunner,
} from "../domain/ports.ts";
import { pipelineScopes, scopeId, scopeMatcher } from "../domain/scope.ts";
import { effectiveTarget, localSeconds, type TargetType } from "../domain/targets/index.ts";

/**
 * What is wrong with a version in a scope: its traffic (`faults`, `latency`, `traffic-drop`:
 * the fleet's metrics, and so its canaries, see it), only its tests (`tests`: the stage's tests
 * fail there), or only its canaries (`canary`: the canaries' checks fail, the traffic is fine).
 */
export type FaultKind = "faults" | "latency" | "traffic-drop" | "tests" | "canary";

/** The fault kinds the fleet's traffic (its metrics) shows. */
const TRAFFIC_FAULTS: readonly FaultKind[] = ["faults", "latency", "traffic-drop"];

/** Simulated tests take this long by default (seconds). */
export const DEFAULT_TEST_SECONDS = 120;

/**
 * The share of a canary's checks that fail on a version with each fault: a canary is a client
 * of the scope, so it fails where the fleet's requests fail (`faults`: like the fleet's fault
 * rate; `traffic-drop`: the version does not answer), while its timeouts are generous enough
 * for `latency`; `canary` breaks every check against the version.
 */
const CANARY_FAILURE: Partial<Record<FaultKind, (noise: number) => number>> = {
  faults: (noise) => 0.05 + 0.03 * noise,
  "traffic-drop": () => 0.98,
  canary: () => 1,
};

export interface FaultSpec {
  /** Scope glob (`*` matches anything, `/` included). */
  scopes: string;
  kind: FaultKind;
  /** The faulty version; when absent, every version but the fleet's initial one. */
  version?: string;
  /** The fault starts at this instant (a regression that shows mid-bake); default: always. */
  since?: Date;
}

export interface FleetOptions {
  pipeline: Pipeline;
  initialVersion: string;
  faults?: FaultSpec[];
  /**
   * Requests per minute per AZ (or per region without AZs), split evenly over its cells; a
   * function gets the scope and is taken as is. Default 1000.
   */
  requestsPerMinute?: number | ((scope: string) => number);
  /**
   * Per-scope traffic (first matching glob wins, taken as is: a cell scope gets what its glob
   * says), when `requestsPerMinute` is not given.
   */
  traffic?: { scopes: string; requestsPerMinute: number }[];
  /** Further pipelines served by the same fleet (several pipelines in one local control plane). */
  morePipelines?: Pipeline[];
  /**
   * Simulated deployment durations in seconds, for every target. A target's own `local` timings
   * come first; without either, each target type's defaults (src/domain/targets/types.ts).
   */
  durations?: { oneBox?: number; full?: number; rollback?: number; tests?: number };
  /** Healthy baselines. */
  baseline?: { faultRate?: number; p99Ms?: number };
  clock: { now(): Date };
}

interface Serving {
  stable: string;
  canary?: { version: string; percent: number };
}

interface Deployment {
  req: DeploymentRequest;
  startedAt: number;
  completesAt: number;
  applied: boolean;
  /** Cancelled while in progress (the control plane rolled the scope back): never applied. */
  cancelled?: boolean;
}

/** A small deterministic PRNG keyed by a string (FNV-1a hash, then mulberry32). */
export function unitNoise(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  let t = (h + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** The fleet's traffic per AZ (or per region) when nothing else is said. */
export const DEFAULT_REQUESTS_PER_MINUTE = 1000;

/**
 * Each scope's share of its AZ's (or region's) traffic: 1 for a scope without cells, 1/n for
 * each of n cells.
 *
 * @example
 * cellShares([pipeline]).get("prod-1/us-east-1/use1-az1/c2") // 0.5 when use1-az1 has two cells
 */
export function cellShares(pipelines: readonly Pipeline[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const pipeline of pipelines) {
    for (const stage of pipeline.stages) {
      for (const entry of stage.regions) {
        const { region, groups } = regionLayout(entry);
        for (const g of groups) {
          if (g.cells.length === 0) out.set(scopeId(stage.name, region, g.az), 1);
          for (const cell of g.cells) {
            out.set(scopeId(stage.name, region, g.az, cell), 1 / g.cells.length);
          }
        }
      }
    }
  }
  return out;
}

/** A stage's deploy target as the local mode runs it: its type and the seconds each step takes. */
export interface LocalTarget {
  stage: string;
  /** The stage's effective target type (`none` when the pipeline names no target). */
  type: TargetType;
  seconds: { oneBox: number; full: number; rollback: number };
}

/**
 * The simulated seconds of a stage's steps: the target's own `local` timings first, then the
 * fleet's `durations`, then the target type's defaults (src/domain/targets/types.ts).
 *
 * @example
 * stepSeconds(pipeline, "prod-1") // { oneBox: 600, full: 600, rollback: 900 } for a cloudformation target
 */
export function stepSeconds(
  pipeline: Pipeline,
  stage: string,
  durations: FleetOptions["durations"] = {},
): LocalTarget["seconds"] {
  return localSeconds(effectiveTarget(pipeline, stage), durations);
}

/** Every stage's target type and step durations, in stage order (what `simulate` shows). */
export function localTargets(
  pipeline: Pipeline,
  durations: FleetOptions["durations"] = {},
): LocalTarget[] {
  return pipeline.stages.map((s) => ({
    stage: s.name,
    type: effectiveTarget(pipeline, s.name)?.type ?? "none",
    seconds: stepSeconds(pipeline, s.name, durations),
  }));
}

export class SimulatedFleet implements Deployer, MetricSource, CanarySource {
  private readonly serving = new Map<string, Serving>();
  private readonly history = new Map<string, { from: number; serving: Serving }[]>();
  private readonly deployments = new Map<string, Deployment>();
  private readonly faults: {
    match: (s: string) => boolean;
    kind: FaultKind;
    version?: string;
    /** First minute (epoch minutes) the fault shows in; 0: always. */
    fromMinute: number;
  }[];
  private readonly traffic: { match: (s: string) => boolean; rpm: number }[];
  private readonly shares: Map<string, number>;
  private readonly durations: NonNullable<FleetOptions["durations"]>;
  private readonly tests = new Map<string, { req: TestRequest; completesAt: number }>();
  private readonly baseFaultRate: number;
  private readonly baseP99: number;
  /** Deployments started, for benchmarks and tests. */
  deploymentsStarted = 0;

  /** A fleet serving every one of `pipelines` (at least one), each at `initialVersion`. */
  static serving(
    pipelines: readonly Pipeline[],
    initialVersion: string,
    clock: FleetOptions["clock"],
  ): SimulatedFleet {
    const [pipeline, ...more] = pipelines;
    if (!pipeline) throw new Error("a simulated fleet serves at least one pipeline");
    return new SimulatedFleet({ pipeline, morePipelines: more, initialVersion, clock });
  }

  constructor(private readonly options: FleetOptions) {
    for (const pipeline of [options.pipeline, ...(options.morePipelines ?? [])]) {
      for (const scope of pipelineScopes(pipeline)) {
        this.serving.set(scope.id, { stable: options.initialVersion });
        // Served since long before the simulation starts: the pre-deploy baseline exists.
        this.history.set(scope.id, [{ from: 0, serving: { stable: options.initialVersion } }]);
      }
    }
    this.faults = (options.faults ?? []).map((f) => ({
      match: scopeMatcher(f.scopes),
      kind: f.kind,
      ...(f.version ? { version: f.version } : {}),
      fromMinute: f.since ? Math.floor(f.since.getTime() / 60_000) : 0,
    }));
    this.traffic = (options.traffic ?? []).map((t) => ({
      match: scopeMatcher(t.scopes),
      rpm: t.requestsPerMinute,
    }));
    this.shares = cellShares([options.pipeline, ...(options.morePipelines ?? [])]);
    this.durations = options.durations ?? {};
    this.baseFaultRate = options.baseline?.faultRate ?? 0.001;
    this.baseP99 = options.baseline?.p99Ms ?? 120;
  }

  /** What a scope serves right now (the fleet's truth, independent of the control plane's records). */
  servingIn(scope: string): Serving | undefined {
    const s = this.serving.get(scope);
    return s ? { ...s, ...(s.canary ? { canary: { ...s.canary } } : {}) } : undefined;
  }

  private now(): number {
    return this.options.clock.now().getTime();
  }

  async start(req: DeploymentRequest): Promise<{ pollSeconds: number }> {
    if (!this.serving.has(req.scope.id)) throw new Error(`fleet has no scope ${req.scope.id}`);
    const existing = this.deployments.get(req.deploymentId);
    if (existing)
      return { pollSeconds: Math.max(1, Math.ceil((existing.completesAt - this.now()) / 1000)) };
    const seconds = this.secondsOf(req);
    this.deployments.set(req.deploymentId, {
      req,
      startedAt: this.now(),
      completesAt: this.now() + seconds * 1000,
      applied: false,
    });
    this.deploymentsStarted++;
    return { pollSeconds: seconds };
  }

  /** How long a step takes: the target's `local` timings, the fleet's, then the type's defaults. */
  private secondsOf(req: DeploymentRequest): number {
    const seconds = stepSeconds(req.pipeline, req.scope.stage, this.durations);
    // A rolling step moves a share of the scope's traffic, as the one-box does.
    if (req.kind === "one-box" || req.kind === "rolling") return seconds.oneBox;
    return req.kind === "rollback" ? seconds.rollback : seconds.full;
  }

  async cancel(req: DeploymentRequest): Promise<void> {
    const d = this.deployments.get(req.deploymentId);
    // A finished deployment stays finished: only one still in progress is stopped.
    if (d && !d.applied && d.completesAt > this.now()) d.cancelled = true;
  }

  async status(req: DeploymentRequest): Promise<DeploymentStatus> {
    const d = this.deployments.get(req.deploymentId);
    if (!d) return { state: "failed", reason: `no deployment ${req.deploymentId}` };
    if (d.cancelled) return { state: "failed", reason: "cancelled" };
    const remaining = d.completesAt - this.now();
    if (remaining > 0)
      return { state: "in-progress", pollSeconds: Math.max(1, Math.ceil(remaining / 1000)) };
    if (!d.applied) {
      d.applied = true;
      const s = this.serving.get(req.scope.id) as Serving;
      const next: Serving =
        d.req.percent >= 100
          ? { stable: d.req.version }
          : { stable: s.stable, canary: { version: d.req.version, percent: d.req.percent } };
      this.serving.set(req.scope.id, next);
      // Metrics follow what was served when: the new serving applies from completion on.
      this.history.get(req.scope.id)?.push({ from: d.completesAt, serving: next });
    }
    return { state: "succeeded" };
  }

  /** The first fault of one of `kinds` the version has in the scope. */
  private faultFor(
    scope: string,
    version: string,
    kinds: readonly FaultKind[] = TRAFFIC_FAULTS,
    /** The minute (epoch minutes) asked about: a fault with `since` shows from then on. */
    minute = Number.POSITIVE_INFINITY,
  ): FaultKind | undefined {
    const applies = (f: (typeof this.faults)[number]) =>
      kinds.includes(f.kind) &&
      f.fromMinute <= minute &&
      f.match(scope) &&
      (version === this.options.initialVersion
        ? f.version === version
        : f.version === undefined || f.version === version);
    return this.faults.find(applies)?.kind;
  }

  /**
   * The simulated test runner: a test takes `durations.tests` seconds (default
   * {@link DEFAULT_TEST_SECONDS}), then fails where a `tests` fault is, else passes.
   */
  readonly testRunner: TestRunner = {
    start: (req) => this.startTest(req),
    status: (_req, handle) => this.testState(handle),
    stop: async (_req, handle) => {
      this.tests.delete(handle);
    },
  };

  private async startTest(req: TestRequest): Promise<{ handle: string; status: TestState }> {
    const seconds = this.durations.tests ?? DEFAULT_TEST_SECONDS;
    if (!this.tests.has(req.testId)) {
      this.tests.set(req.testId, { req, completesAt: this.now() + seconds * 1000 });
    }
    return { handle: req.testId, status: await this.testState(req.testId) };
  }

  private async testState(handle: string): Promise<TestState> {
    const t = this.tests.get(handle);
    if (!t) return { state: "failed", report: `no simulated test ${handle}` };
    const remaining = t.completesAt - this.now();
    if (remaining > 0) {
      return { state: "running", pollSeconds: Math.max(1, Math.ceil(remaining / 1000)) };
    }
    const { req } = t;
    if (this.faultFor(req.scope.id, req.version, ["tests"])) {
      return {
        state: "failed",
        report: `simulated ${req.test.kind} ${req.test.name}: 3 of 40 checks failed against ${req.version} in ${req.scope.id} (--fault ${req.scope.id}:tests)`,
      };
    }
    return { state: "passed", report: `simulated: 40 of 40 checks passed in ${req.scope.id}` };
  }

  /**
   * Simulated canaries: one run a minute against the scope, through whatever it served that
   * minute (during a one-box step, the mixed fleet), failing as {@link CANARY_FAILURE} says.
   * Every canary of the scope sees the same fleet. A window with no minute's start in it has
   * no run (a bake of at least a minute always has one).
   */
  async successPercent(q: CanaryQuery): Promise<CanaryObservation[]> {
    const first = Math.ceil(q.from.getTime() / 60_000);
    const last = Math.floor(q.to.getTime() / 60_000);
    let runs = 0;
    let success = 0;
    for (let m = first; m <= last; m++) {
      const s = this.servingAt(q.scope.id, m * 60_000);
      if (!s) continue;
      const share = s.canary ? s.canary.percent / 100 : 0;
      const parts: [string, number][] = [[s.stable, 1 - share]];
      if (s.canary) parts.push([s.canary.version, share]);
      let failed = 0;
      for (const [version, part] of parts) {
        const kind = this.faultFor(q.scope.id, version, ["faults", "traffic-drop", "canary"], m);
        const rate = kind ? CANARY_FAILURE[kind] : undefined;
        if (rate) failed += part * rate(unitNoise(`canary|${q.scope.id}|${version}|${m}`));
      }
      runs++;
      success += 100 * (1 - failed);
    }
    return q.names.map((name) => ({
      name,
      ...(runs > 0 ? { successPercent: success / runs } : {}),
    }));
  }

  private rpm(scope: string): number {
    const r = this.options.requestsPerMinute;
    if (typeof r === "function") return r(scope);
    const share = this.shares.get(scope) ?? 1;
    if (typeof r === "number") return r * share;
    const override = this.traffic.find((t) => t.match(scope));
    return override ? override.rpm : DEFAULT_REQUESTS_PER_MINUTE * share;
  }

  /** Metrics of the traffic `version` served in `scope` during one minute. */
  minute(scope: string, version: string, share: number, minute: number): MinuteSample {
    const fault = this.faultFor(scope, version, TRAFFIC_FAULTS, minute);
    const noise = unitNoise(`${scope}|${version}|${minute}`);
    const expected = this.rpm(scope) * share;
    const requests = Math.round(
      fault === "traffic-drop" ? expected * 0.02 * noise : expected * (0.9 + 0.2 * noise),
    );
    const rate = fault === "faults" ? 0.05 + 0.03 * noise : this.baseFaultRate * (0.5 + noise);
    const p99Ms = (fault === "latency" ? this.baseP99 * 3.5 : this.baseP99) * (0.9 + 0.2 * noise);
    return { requests, faults: Math.round(requests * rate), p99Ms };
  }

  /** What the scope served at an instant (the fleet keeps its serving history). */
  private servingAt(scope: string, ms: number): Serving | undefined {
    const history = this.history.get(scope);
    if (!history) return undefined;
    let found = history[0]?.serving;
    for (const h of history) {
      if (h.from <= ms) found = h.serving;
      else break;
    }
    return found;
  }

  /** Per-minute metrics of a scope (the local twin of CloudWatch metrics). */
  async minutes(q: MetricQuery): Promise<MinuteSample[] | undefined> {
    const first = Math.floor(q.from.getTime() / 60_000);
    const last = Math.ceil(q.to.getTime() / 60_000);
    const out: MinuteSample[] = [];
    for (let m = first; m < last; m++) {
      const s = this.servingAt(q.scope.id, m * 60_000);
      if (!s) return undefined;
      const canary = s.canary ? s.canary.percent / 100 : 0;
      const parts: [string, number][] = [[s.stable, 1 - canary]];
      if (s.canary) parts.push([s.canary.version, canary]);
      const chosen =
        q.select === "all"
          ? parts
          : parts.filter(([v]) => v === (q.select as { version: string }).version);
      let requests = 0;
      let faults = 0;
      let p99 = 0;
      for (const [version, share] of chosen) {
        if (share <= 0) continue;
        const x = this.minute(q.scope.id, version, share, m);
        requests += x.requests;
        faults += x.faults;
        p99 = Math.max(p99, x.p99Ms);
      }
      out.push({ requests, faults, p99Ms: p99 });
    }
    return out;
  }
}
