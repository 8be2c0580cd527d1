/**
 * What an engineer asks the control plane: the version per scope, the runs in flight, the active
 * blockers and bypasses (`status`), and a scope's or pipeline's history with the override audit
 * entries that concern it (`history`). Read through the `StateStore` port only, so the same code
 * answers for the local control plane (`breakwater serve`) and for the deployed one (the CLI's
 * `--aws`, reading the table directly).
 */
import type { ManualBlock } from "../domain/blockers.ts";
import { BreakwaterError } from "../domain/errors.ts";
import type { HistoryEntry, Run, ScopeState } from "../domain/model.ts";
import { FINAL_RUN_STATUSES } from "../domain/model.ts";
import type { Bypass } from "../domain/override.ts";
import type { AuditEntry, StateStore } from "../domain/ports.ts";
import { pipelineScopes, scopeMatcher } from "../domain/scope.ts";
import { explainWait, type ScopeWait } from "../domain/waits.ts";

/** Finished runs shown beside the ones in flight, newest first. */
export const RECENT_FINISHED_RUNS = 3;

/** A run as `status` shows it (the definition snapshot and per-stage detail left out). */
export interface RunSummary {
  runId: string;
  version: string;
  seq: number;
  status: Run["status"];
  /** True while the run is not in a final status (waiting, running, or halted awaiting a decision). */
  inFlight: boolean;
  currentStage?: string;
  waitingFor?: string;
  /** While awaiting a stage's approval (and after it timed out): the stage, asked at, deadline. */
  approval?: Run["approval"];
  haltReason?: string;
  haltDetail?: string;
  haltedBy?: string;
  supersededBy?: string;
  rolledBack: string[];
  cause: string;
  change?: Run["change"];
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
}

export interface PipelineStatus {
  pipeline: string;
  stages: string[];
  /** Per scope its state and, while it is not done, what it waits for and until when. */
  scopes: (Omit<ScopeState, "pipeline" | "rev"> & { wait?: ScopeWait })[];
  /** Runs in flight (oldest first), then the latest finished ones. */
  runs: RunSummary[];
  /** Live bypasses of this pipeline's versions. */
  bypasses: Bypass[];
}

export interface StatusReport {
  /** The control plane's time (the virtual clock's, for a local control plane). */
  at: string;
  pipelines: PipelineStatus[];
  /** Manual blocks in force or scheduled (not yet ended) that concern the pipelines shown. */
  blocks: ManualBlock[];
}

export interface HistoryReport {
  target: string;
  pipeline: string;
  scope?: string;
  entries: HistoryEntry[];
  /** Override actions aimed at the target: its pipeline, matching scope globs, its versions, org. */
  audit: AuditEntry[];
}

/** An unknown pipeline or scope: a bad request (the message names it), not a fault. */
export class UnknownTargetError extends BreakwaterError {
  override name = "UnknownTargetError";
}

function summarize(run: Run): RunSummary {
  return {
    runId: run.runId,
    version: run.version,
    seq: run.seq,
    status: run.status,
    inFlight: !FINAL_RUN_STATUSES.includes(run.status),
    ...(run.currentStage ? { currentStage: run.currentStage } : {}),
    ...(run.waitingFor ? { waitingFor: run.waitingFor } : {}),
    ...(run.approval && !FINAL_RUN_STATUSES.includes(run.status) ? { approval: run.approval } : {}),
    ...(run.haltReason ? { haltReason: run.haltReason } : {}),
    ...(run.haltDetail ? { haltDetail: run.haltDetail } : {}),
    ...(run.haltedBy ? { haltedBy: run.haltedBy } : {}),
    ...(run.supersededBy ? { supersededBy: run.supersededBy } : {}),
    rolledBack: run.rolledBack ?? [],
    cause: run.cause,
    ...(run.change ? { change: run.change } : {}),
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
  };
}

function blockConcerns(block: ManualBlock, pipelines: Set<string>): boolean {
  if (block.level === "org") return true;
  const name = block.level === "pipeline" ? block.target : block.target.split(":")[0];
  return pipelines.has(name ?? "");
}

/**
 * The status of every registered pipeline (or of one).
 *
 * @example
 * await collectStatus(store, { now: new Date(), pipeline: "orders-api" });
 * // → { at, pipelines: [{ pipeline: "orders-api", scopes: [...], runs: [...], bypasses: [] }], blocks: [] }
 */
export async function collectStatus(
  store: StateStore,
  options: { now: Date; pipeline?: string },
): Promise<StatusReport> {
  // One pipeline's status reads only that pipeline's items (and the organisation's blocks).
  const one = options.pipeline ? await store.getPipeline(options.pipeline) : undefined;
  const chosen = options.pipeline ? (one ? [one] : []) : await store.listPipelines();
  if (options.pipeline && chosen.length === 0) {
    const known = (await store.listPipelines()).map((p) => p.name).join(", ") || "none";
    throw new UnknownTargetError(
      `pipeline "${options.pipeline}" is not registered (registered: ${known})`,
    );
  }
  const now = options.now.getTime();
  const pipelines = await Promise.all(
    chosen.map(async (pipeline): Promise<PipelineStatus> => {
      const [scopes, runs, bypasses] = await Promise.all([
        store.listScopes(pipeline.name),
        store.listRuns(pipeline.name),
        store.listBypasses(pipeline.name),
      ]);
      const order = new Map(pipelineScopes(pipeline).map((s, i) => [s.id, i]));
      scopes.sort((a, b) => (order.get(a.scope) ?? 0) - (order.get(b.scope) ?? 0));
      // The timelines of the runs in flight say why their scopes wait (bake extensions).
      const live = runs.filter((r) => !FINAL_RUN_STATUSES.includes(r.status));
      const timelines = new Map(
        await Promise.all(live.map(async (r) => [r.runId, await store.timeline(r.runId)] as const)),
      );
      const definitions = new Map(runs.map((r) => [r.runId, r.definition]));
      const summaries = runs.map(summarize);
      const inFlight = summaries.filter((r) => r.inFlight).sort((a, b) => a.seq - b.seq);
      const finished = summaries
        .filter((r) => !r.inFlight)
        .sort((a, b) => b.seq - a.seq)
        .slice(0, RECENT_FINISHED_RUNS);
      return {
        pipeline: pipeline.name,
        stages: pipeline.stages.map((s) => s.name),
        scopes: scopes.map(({ pipeline: _p, rev: _r, ...s }) => {
          const wait = explainWait(
            s,
            s.runId ? timelines.get(s.runId) : undefined,
            s.runId ? definitions.get(s.runId) : undefined,
          );
          return wait ? { ...s, wait } : s;
        }),
        runs: [...inFlight, ...finished],
        bypasses: bypasses.filter((b) => Date.parse(b.expiresAt) > now),
      };
    }),
  );
  const names = new Set(chosen.map((p) => p.name));
  const blocks = (await store.listBlocks())
    .filter((b) => !b.to || Date.parse(b.to) > now)
    .filter((b) => blockConcerns(b, names));
  return { at: options.now.toISOString(), pipelines, blocks };
}

/** Splits `pipeline` or `pipeline:scope` (the scope is everything after the first colon). */
export function parseTarget(target: string): { pipeline: string; scope?: string } {
  const i = target.indexOf(":");
  const pipeline = i < 0 ? target : target.slice(0, i);
  const scope = i < 0 ? undefined : target.slice(i + 1);
  if (!/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(pipeline) || scope === "") {
    throw new UnknownTargetError(
      `target "${target}": must be <pipeline> or <pipeline>:<scope> (for example orders-api:prod-1/eu-north-1/eun1-az1)`,
    );
  }
  return scope === undefined ? { pipeline } : { pipeline, scope };
}

/** Whether an audit entry's target (`org`, `pipeline p`, `scopes p:glob`, `p@version`) concerns the target. */
export function auditConcerns(entry: AuditEntry, pipeline: string, scope?: string): boolean {
  const t = entry.target;
  if (t === "org") return true;
  if (t === `pipeline ${pipeline}`) return true;
  if (t.startsWith(`${pipeline}@`)) return true;
  const prefix = `scopes ${pipeline}:`;
  if (t.startsWith(prefix))
    return scope === undefined || scopeMatcher(t.slice(prefix.length))(scope);
  return false;
}

/**
 * The history of a pipeline (every scope) or of one scope, oldest first, with the override audit
 * entries that concern it.
 *
 * @example
 * await collectHistory(store, "orders-api:prod-1/eu-north-1/eun1-az1");
 */
export async function collectHistory(store: StateStore, target: string): Promise<HistoryReport> {
  const { pipeline, scope } = parseTarget(target);
  const definition = await store.getPipeline(pipeline);
  if (!definition) throw new UnknownTargetError(`pipeline "${pipeline}" is not registered`);
  if (scope !== undefined && !pipelineScopes(definition).some((s) => s.id === scope)) {
    const example = pipelineScopes(definition)[0]?.id;
    throw new UnknownTargetError(
      `scope "${scope}" is not a scope of pipeline "${pipeline}"${example ? ` (scopes look like ${example})` : ""}`,
    );
  }
  const [entries, audit] = await Promise.all([store.history(pipeline, scope), store.listAudit()]);
  return {
    target,
    pipeline,
    ...(scope !== undefined ? { scope } : {}),
    entries,
    audit: audit.filter((a) => auditConcerns(a, pipeline, scope)),
  };
}
