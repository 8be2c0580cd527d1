/**
 * What the live wave map shows, in one snapshot: the status report (`collectStatus`, the same
 * code path as `breakwater status`), the recent history, each version's path through the waves,
 * and the DORA figures. Read through the `StateStore` port only, so `serve` (the local table)
 * and `breakwater dashboard --aws` (the deployed table, read-only) answer alike.
 */
import { computeDora, DEFAULT_DORA_DAYS, type DoraReport, doraRun } from "../domain/dora.ts";
import type { HistoryEntry, Run } from "../domain/model.ts";
import type { Pipeline } from "../domain/pipeline.ts";
import type { StateStore } from "../domain/ports.ts";
import { stageScopes } from "../domain/scope.ts";
import { collectStatus, type StatusReport } from "./status.ts";

/** History entries shown, newest first, over every pipeline. */
export const DASHBOARD_HISTORY = 40;

/** How far one version got in one stage (wave). */
export interface StagePath {
  stage: string;
  scopes: number;
  /** Scopes serving the version now. */
  on: number;
  /** Scopes the version ever reached (history). */
  reached: number;
  /** Scopes rolled back from it. */
  rolledBack: number;
}

/** A version's path through the waves of its pipeline. */
export interface VersionPath {
  pipeline: string;
  version: string;
  status: Run["status"];
  stages: StagePath[];
}

export interface DashboardData {
  status: StatusReport;
  /** Newest first, at most {@link DASHBOARD_HISTORY}. */
  history: HistoryEntry[];
  paths: VersionPath[];
  dora: DoraReport;
}

/** The path of one run's version through its pipeline's stages, from the scopes' history. */
export function versionPath(
  pipeline: Pipeline,
  run: Pick<Run, "version" | "status" | "rolledBack">,
  history: HistoryEntry[],
  current: Map<string, string>,
): VersionPath {
  const reached = new Set(history.filter((h) => h.toVersion === run.version).map((h) => h.scope));
  const rolled = new Set(run.rolledBack ?? []);
  return {
    pipeline: pipeline.name,
    version: run.version,
    status: run.status,
    stages: pipeline.stages.map((stage) => {
      const ids = stageScopes(stage).map((s) => s.id);
      return {
        stage: stage.name,
        scopes: ids.length,
        on: ids.filter((id) => current.get(id) === run.version).length,
        reached: ids.filter((id) => reached.has(id)).length,
        rolledBack: ids.filter((id) => rolled.has(id)).length,
      };
    }),
  };
}

/**
 * The dashboard's snapshot at `now`.
 *
 * @example
 * await collectDashboard(store, { now: new Date() });
 * // → { status: { at, pipelines, blocks }, history: [...], paths: [...], dora: { overall, ... } }
 */
export async function collectDashboard(
  store: StateStore,
  options: { now: Date; sinceDays?: number },
): Promise<DashboardData> {
  const status = await collectStatus(store, { now: options.now });
  const definitions = await store.listPipelines();
  const per = await Promise.all(
    definitions.map(async (p) => ({
      pipeline: p,
      runs: await store.listRuns(p.name),
      history: await store.history(p.name),
    })),
  );
  const history = per
    .flatMap((p) => p.history)
    .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0))
    .slice(0, DASHBOARD_HISTORY);
  const paths = per.flatMap(({ pipeline, runs, history: h }) => {
    const shown = status.pipelines.find((s) => s.pipeline === pipeline.name);
    const current = new Map((shown?.scopes ?? []).map((s) => [s.scope, s.version]));
    const ids = new Set((shown?.runs ?? []).map((r) => r.runId));
    return runs.filter((r) => ids.has(r.runId)).map((r) => versionPath(pipeline, r, h, current));
  });
  const days = options.sinceDays ?? DEFAULT_DORA_DAYS;
  const dora = computeDora({
    pipelines: definitions.map((p) => ({ name: p.name, service: p.service })),
    runs: per.flatMap((p) => p.runs.map(doraRun)),
    history: per.flatMap((p) => p.history),
    from: new Date(options.now.getTime() - days * 86_400_000),
    to: options.now,
  });
  return { status, history, paths, dora };
}

/**
 * The DORA figures of `breakwater metrics`: every pipeline (or one), since an instant.
 *
 * @example
 * await collectMetrics(store, { now, since: new Date("2026-11-01T00:00:00Z"), pipeline: "orders-api" });
 */
export async function collectMetrics(
  store: StateStore,
  options: { now: Date; since: Date; pipeline?: string },
): Promise<DoraReport> {
  const all = await store.listPipelines();
  const chosen = options.pipeline ? all.filter((p) => p.name === options.pipeline) : all;
  if (options.pipeline && chosen.length === 0) {
    // The same refusal as status: a typo is a bad request, not an empty report.
    await collectStatus(store, { now: options.now, pipeline: options.pipeline });
  }
  const per = await Promise.all(
    chosen.map(async (p) => ({
      runs: await store.listRuns(p.name),
      history: await store.history(p.name),
    })),
  );
  return computeDora({
    pipelines: chosen.map((p) => ({ name: p.name, service: p.service })),
    runs: per.flatMap((p) => p.runs.map(doraRun)),
    history: per.flatMap((p) => p.history),
    from: options.since,
    to: options.now,
  });
}
