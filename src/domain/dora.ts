/**
 * The four DORA figures, computed from what Breakwater already records: runs (when the change
 * merged, when the run finished, whether a scope rolled back) and the scopes' append-only
 * history (when a rollback started and when the scope was healthy again). Pure: the caller
 * reads the runs and the history and passes them in, with the window to judge.
 *
 * - lead time: merge (the change's `mergedAt`, else the run's creation) to fully deployed
 *   (the run `succeeded`), for runs that succeeded inside the window;
 * - deployment frequency: those successful runs per day of the window;
 * - change-failure rate: of the runs created in the window that deployed something and have
 *   ended (or halted, awaiting a decision), the share in which a scope rolled back;
 * - time to restore: a scope's `rolling-back` to its next `rolled-back` or `stable` entry,
 *   for rollbacks that started inside the window.
 */
import type { HistoryEntry, Run } from "./model.ts";

/** The default window of `breakwater metrics` and the dashboard: the last 30 days. */
export const DEFAULT_DORA_DAYS = 30;

const DAY_MS = 86_400_000;

/** The few facts of a run the figures need (a `Run` has them all). */
export type DoraRun = Pick<
  Run,
  "pipeline" | "version" | "status" | "createdAt" | "finishedAt" | "rolledBack" | "haltReason"
> & {
  change?: Pick<NonNullable<Run["change"]>, "mergedAt"> | undefined;
  /** Whether the run entered any stage (a run superseded while waiting deployed nothing). */
  deployed: boolean;
};

export interface DoraInput {
  pipelines: { name: string; service?: string | undefined }[];
  runs: DoraRun[];
  history: HistoryEntry[];
  from: Date;
  to: Date;
}

/** A duration summary in minutes (absent figures: no sample in the window). */
export interface DurationFigure {
  samples: number;
  medianMinutes?: number;
  p90Minutes?: number;
}

export interface DoraFigures {
  /** Runs that reached `succeeded` in the window. */
  deployments: number;
  deploymentsPerDay: number;
  leadTime: DurationFigure;
  changeFailureRate: { failed: number; total: number; rate?: number };
  timeToRestore: DurationFigure;
}

export interface DoraReport {
  from: string;
  to: string;
  overall: DoraFigures;
  pipelines: ({ pipeline: string; service?: string } & DoraFigures)[];
  services: ({ service: string; pipelines: string[] } & DoraFigures)[];
}

/** The value at quantile q (nearest rank) of sorted numbers. */
function quantile(sorted: number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}

function durations(ms: number[]): DurationFigure {
  const minutes = ms.map((m) => m / 60_000).sort((a, b) => a - b);
  const round = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 10) / 10);
  const median = round(quantile(minutes, 0.5));
  const p90 = round(quantile(minutes, 0.9));
  return {
    samples: minutes.length,
    ...(median !== undefined ? { medianMinutes: median } : {}),
    ...(p90 !== undefined ? { p90Minutes: p90 } : {}),
  };
}

const inWindow = (at: string | undefined, from: number, to: number): boolean => {
  if (at === undefined) return false;
  const t = Date.parse(at);
  return t >= from && t <= to;
};

/** Whether a run counts as a change failure: a scope of it rolled back. */
export function runFailed(run: DoraRun): boolean {
  return run.rolledBack.length > 0 || run.status === "rolled-back" || run.haltReason === "rollback";
}

/** Rollback episodes (start and restore times, ms) from a pipeline's history. */
export function restoreEpisodes(history: HistoryEntry[]): { startedAt: number; ms: number }[] {
  const byScope = new Map<string, HistoryEntry[]>();
  for (const h of history) byScope.set(h.scope, [...(byScope.get(h.scope) ?? []), h]);
  const out: { startedAt: number; ms: number }[] = [];
  for (const entries of byScope.values()) {
    let started: number | undefined;
    for (const h of entries) {
      if (h.status === "rolling-back") started ??= Date.parse(h.at);
      else if (started !== undefined && (h.status === "rolled-back" || h.status === "stable")) {
        out.push({ startedAt: started, ms: Date.parse(h.at) - started });
        started = undefined;
      }
    }
  }
  return out;
}

function figures(runs: DoraRun[], history: HistoryEntry[], from: number, to: number): DoraFigures {
  const succeeded = runs.filter(
    (r) => r.status === "succeeded" && inWindow(r.finishedAt, from, to),
  );
  const lead = succeeded.map(
    (r) => Date.parse(r.finishedAt as string) - Date.parse(r.change?.mergedAt ?? r.createdAt),
  );
  const judged = runs.filter(
    (r) =>
      r.deployed &&
      inWindow(r.createdAt, from, to) &&
      r.status !== "waiting" &&
      r.status !== "running",
  );
  const failed = judged.filter(runFailed).length;
  const restores = restoreEpisodes(history).filter((e) => e.startedAt >= from && e.startedAt <= to);
  const days = Math.max((to - from) / DAY_MS, 1 / 1440);
  return {
    deployments: succeeded.length,
    deploymentsPerDay: Math.round((succeeded.length / days) * 100) / 100,
    leadTime: durations(lead.filter((ms) => ms >= 0)),
    changeFailureRate: {
      failed,
      total: judged.length,
      ...(judged.length ? { rate: Math.round((failed / judged.length) * 1000) / 1000 } : {}),
    },
    timeToRestore: durations(restores.map((e) => e.ms)),
  };
}

/**
 * The DORA figures over [from, to], overall, per pipeline and per service (pipelines that
 * name a `service`).
 *
 * @example
 * computeDora({ pipelines: [{ name: "orders-api" }], runs, history, from, to }).overall.leadTime
 * // → { samples: 3, medianMinutes: 412, p90Minutes: 590 }
 */
export function computeDora(input: DoraInput): DoraReport {
  const from = input.from.getTime();
  const to = input.to.getTime();
  const of = (names: Set<string>) =>
    figures(
      input.runs.filter((r) => names.has(r.pipeline)),
      input.history.filter((h) => names.has(h.pipeline)),
      from,
      to,
    );
  const services = new Map<string, string[]>();
  for (const p of input.pipelines) {
    if (p.service) services.set(p.service, [...(services.get(p.service) ?? []), p.name]);
  }
  return {
    from: input.from.toISOString(),
    to: input.to.toISOString(),
    overall: of(new Set(input.pipelines.map((p) => p.name))),
    pipelines: input.pipelines.map((p) => ({
      pipeline: p.name,
      ...(p.service ? { service: p.service } : {}),
      ...of(new Set([p.name])),
    })),
    services: [...services].map(([service, names]) => ({
      service,
      pipelines: names,
      ...of(new Set(names)),
    })),
  };
}

/** A run's DORA facts. */
export function doraRun(run: Run): DoraRun {
  return {
    pipeline: run.pipeline,
    version: run.version,
    status: run.status,
    createdAt: run.createdAt,
    ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
    rolledBack: run.rolledBack ?? [],
    ...(run.haltReason ? { haltReason: run.haltReason } : {}),
    ...(run.change
      ? { change: { ...(run.change.mergedAt ? { mergedAt: run.change.mergedAt } : {}) } }
      : {}),
    deployed: Object.keys(run.stages ?? {}).length > 0,
  };
}

/** "6h 52m", "45m", "2d 3h": a duration in minutes for people. */
export function formatMinutes(minutes: number | undefined): string {
  if (minutes === undefined) return "–";
  const total = Math.round(minutes);
  const d = Math.floor(total / 1440);
  const h = Math.floor((total % 1440) / 60);
  const m = total % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  return `${m}m`;
}
