/**
 * A simulated fleet: the local twin of the deploy targets and of CloudWatch. Every scope
 * serves traffic (requests per minute) with a fault rate and a latency; a deployment takes
 * simulated minutes; a version can be made unhealthy in chosen scopes. Metrics are
 * deterministic functions of (scope, version, minute), so a simulation is repeatable.
 */
import type { Pipeline } from "../domain/pipeline.ts";
import type {
  AlarmObservation,
  AlarmSource,
  Deployer,
  DeploymentRequest,
  DeploymentStatus,
  HealthQuery,
} from "../domain/ports.ts";
import { pipelineScopes, scopeMatcher } from "../domain/scope.ts";

export type FaultKind = "faults" | "latency" | "traffic-drop";

export interface FaultSpec {
  /** Scope glob (`*` matches anything, `/` included). */
  scopes: string;
  kind: FaultKind;
  /** The faulty version; when absent, every version but the fleet's initial one. */
  version?: string;
}

export interface FleetOptions {
  pipeline: Pipeline;
  initialVersion: string;
  faults?: FaultSpec[];
  /** Requests per minute per scope; default 1000. */
  requestsPerMinute?: number | ((scope: string) => number);
  /** Simulated deployment durations in seconds. */
  durations?: { oneBox?: number; full?: number; rollback?: number };
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
}

export interface MinuteMetrics {
  requests: number;
  faults: number;
  p99Ms: number;
}

/** Thresholds of the simulated alarms (documented in README, "Local mode"). */
export const SIMULATED_ALARMS = {
  faultRate: 0.01,
  latencyFactor: 2,
  minTrafficShare: 0.1,
} as const;

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

export class SimulatedFleet implements Deployer, AlarmSource {
  private readonly serving = new Map<string, Serving>();
  private readonly deployments = new Map<string, Deployment>();
  private readonly faults: { match: (s: string) => boolean; kind: FaultKind; version?: string }[];
  private readonly durations: { oneBox: number; full: number; rollback: number };
  private readonly baseFaultRate: number;
  private readonly baseP99: number;
  /** Deployments started, for benchmarks and tests. */
  deploymentsStarted = 0;

  constructor(private readonly options: FleetOptions) {
    for (const scope of pipelineScopes(options.pipeline)) {
      this.serving.set(scope.id, { stable: options.initialVersion });
    }
    this.faults = (options.faults ?? []).map((f) => ({
      match: scopeMatcher(f.scopes),
      kind: f.kind,
      ...(f.version ? { version: f.version } : {}),
    }));
    this.durations = {
      oneBox: options.durations?.oneBox ?? 120,
      full: options.durations?.full ?? 300,
      rollback: options.durations?.rollback ?? 180,
    };
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
    const seconds =
      req.kind === "one-box"
        ? this.durations.oneBox
        : req.kind === "rollback"
          ? this.durations.rollback
          : this.durations.full;
    this.deployments.set(req.deploymentId, {
      req,
      startedAt: this.now(),
      completesAt: this.now() + seconds * 1000,
      applied: false,
    });
    this.deploymentsStarted++;
    return { pollSeconds: seconds };
  }

  async status(req: DeploymentRequest): Promise<DeploymentStatus> {
    const d = this.deployments.get(req.deploymentId);
    if (!d) return { state: "failed", reason: `no deployment ${req.deploymentId}` };
    const remaining = d.completesAt - this.now();
    if (remaining > 0)
      return { state: "in-progress", pollSeconds: Math.max(1, Math.ceil(remaining / 1000)) };
    if (!d.applied) {
      d.applied = true;
      const s = this.serving.get(req.scope.id) as Serving;
      if (d.req.percent >= 100) {
        this.serving.set(req.scope.id, { stable: d.req.version });
      } else {
        this.serving.set(req.scope.id, {
          stable: s.stable,
          canary: { version: d.req.version, percent: d.req.percent },
        });
      }
    }
    return { state: "succeeded" };
  }

  private faultFor(scope: string, version: string): FaultKind | undefined {
    if (version === this.options.initialVersion) {
      return this.faults.find((f) => f.version === version && f.match(scope))?.kind;
    }
    return this.faults.find(
      (f) => (f.version === undefined || f.version === version) && f.match(scope),
    )?.kind;
  }

  private rpm(scope: string): number {
    const r = this.options.requestsPerMinute;
    return typeof r === "function" ? r(scope) : (r ?? 1000);
  }

  /** Metrics of the traffic `version` served in `scope` during one minute. */
  minute(scope: string, version: string, share: number, minute: number): MinuteMetrics {
    const fault = this.faultFor(scope, version);
    const noise = unitNoise(`${scope}|${version}|${minute}`);
    const expected = this.rpm(scope) * share;
    const requests = Math.round(
      fault === "traffic-drop" ? expected * 0.02 * noise : expected * (0.9 + 0.2 * noise),
    );
    const rate = fault === "faults" ? 0.05 + 0.03 * noise : this.baseFaultRate * (0.5 + noise);
    const p99Ms = (fault === "latency" ? this.baseP99 * 3.5 : this.baseP99) * (0.9 + 0.2 * noise);
    return { requests, faults: Math.round(requests * rate), p99Ms };
  }

  /** The simulated alarms of a scope over a window: fault rate, p99 latency, request count. */
  async alarmsFor(q: HealthQuery): Promise<AlarmObservation[]> {
    const share = (q.kind === "one-box" ? this.shareOf(q.scope.id, q.version) : 1) || 1;
    const first = Math.floor(q.from.getTime() / 60_000);
    const last = Math.max(first + 1, Math.ceil(q.to.getTime() / 60_000));
    let requests = 0;
    let faults = 0;
    let p99 = 0;
    for (let m = first; m < last; m++) {
      const x = this.minute(q.scope.id, q.version, share, m);
      requests += x.requests;
      faults += x.faults;
      p99 = Math.max(p99, x.p99Ms);
    }
    const minutes = last - first;
    const expected = this.rpm(q.scope.id) * share * minutes;
    const faultRate = requests > 0 ? faults / requests : 0;
    const prefix = `${q.scope.id}${q.kind === "one-box" ? " one-box" : ""}`;
    const state = (bad: boolean): AlarmObservation["state"] => (bad ? "ALARM" : "OK");
    return [
      {
        name: `${prefix} FaultRate`,
        state: state(faultRate > SIMULATED_ALARMS.faultRate),
        reason: `fault rate ${(faultRate * 100).toFixed(2)}% (threshold ${SIMULATED_ALARMS.faultRate * 100}%)`,
      },
      {
        name: `${prefix} LatencyP99`,
        state: state(p99 > this.baseP99 * SIMULATED_ALARMS.latencyFactor),
        reason: `p99 ${Math.round(p99)} ms (threshold ${this.baseP99 * SIMULATED_ALARMS.latencyFactor} ms)`,
      },
      {
        name: `${prefix} RequestCount`,
        state: state(requests < expected * SIMULATED_ALARMS.minTrafficShare),
        reason: `${requests} requests (expected about ${Math.round(expected)})`,
      },
    ];
  }

  private shareOf(scope: string, version: string): number {
    const s = this.serving.get(scope);
    if (!s) return 0;
    if (s.canary?.version === version) return s.canary.percent / 100;
    return s.stable === version ? 1 : 0;
  }
}
