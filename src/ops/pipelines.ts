/**
 * What `breakwater pipelines list` and `pipelines diff` read: the registered pipelines with
 * where each came from (the control plane's folder, or `pipelines apply` with its revision and
 * who applied it), and one pipeline's current definition with its applied revisions. Through the
 * `StateStore` port only: the same code answers for `serve` and for a deployed stage (`--aws`).
 */
import type { Pipeline } from "../domain/pipeline.ts";
import type { PipelineRecord, PipelineRevision } from "../domain/pipeline-registry.ts";
import type { StateStore } from "../domain/ports.ts";

export interface PipelineSummary {
  name: string;
  source: PipelineRecord["source"];
  revision?: number;
  digest?: string;
  appliedAt?: string;
  appliedBy?: string;
  stages: string[];
}

export interface PipelinesReport {
  pipelines: PipelineSummary[];
}

export interface PipelineReport {
  name: string;
  /** Absent: no pipeline of that name is registered. */
  current?: PipelineRecord;
  /** Applied revisions, oldest first (their definitions left out). */
  revisions: Omit<PipelineRevision, "definition">[];
}

function summary(r: PipelineRecord): PipelineSummary {
  return {
    name: r.name,
    source: r.source,
    ...(r.revision !== undefined ? { revision: r.revision } : {}),
    ...(r.digest ? { digest: r.digest } : {}),
    ...(r.appliedAt ? { appliedAt: r.appliedAt } : {}),
    ...(r.appliedBy ? { appliedBy: r.appliedBy } : {}),
    stages: r.definition.stages.map((s) => s.name),
  };
}

export async function collectPipelines(store: StateStore): Promise<PipelinesReport> {
  return { pipelines: (await store.listPipelineRecords()).map(summary) };
}

export async function collectPipeline(store: StateStore, name: string): Promise<PipelineReport> {
  const [record, revisions] = await Promise.all([
    store.getPipelineRecord(name),
    store.listPipelineRevisions(name),
  ]);
  const current = record && (({ rev: _rev, ...r }) => r)(record);
  return {
    name,
    ...(current ? { current } : {}),
    revisions: revisions.map(({ definition: _d, ...r }) => r),
  };
}

/** The definition the control plane uses now for `name`, if any. */
export function currentDefinition(report: PipelineReport): Pipeline | undefined {
  return report.current?.definition;
}
