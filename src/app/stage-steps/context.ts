/**
 * What the stage steps share: the stage context, the run and stage they act on, the deployment
 * id and the "superseded" test (a fast rollback took the scope out of the step's hands).
 */
import { NotFoundError } from "../../domain/errors.ts";
import type { Run, ScopeState } from "../../domain/model.ts";
import type { Pipeline } from "../../domain/pipeline.ts";
import type { DeployStep } from "../../domain/planner.ts";
import type { StageExecutionInput } from "../../domain/ports.ts";
import type { Deps } from "../deps.ts";

export type StageContext = StageExecutionInput;

/** The run a step belongs to; a step of a run that does not exist is a bug, not an outcome. */
export async function loadRun(deps: Deps, runId: string): Promise<Run> {
  const run = await deps.store.getRun(runId);
  if (!run) throw new NotFoundError(`run ${runId} does not exist`);
  return run;
}

/** The run's immutable snapshot: the pipeline definition it deploys and its artifact digest. */
export interface RunSnapshot {
  pipeline: string;
  definition: Pipeline;
  artifactDigest?: string;
}

/**
 * The run's snapshot from the execution input, where the stage's start put it; an execution
 * started before it was carried (2026-12-02) reads the run instead.
 */
export async function snapshotOf(deps: Deps, ctx: StageContext): Promise<RunSnapshot> {
  if (ctx.definition) {
    return {
      pipeline: ctx.pipeline,
      definition: ctx.definition,
      ...(ctx.artifactDigest ? { artifactDigest: ctx.artifactDigest } : {}),
    };
  }
  const run = await loadRun(deps, ctx.runId);
  return {
    pipeline: run.pipeline,
    definition: run.definition,
    ...(run.change?.artifactDigest ? { artifactDigest: run.change.artifactDigest } : {}),
  };
}

/** The definition of the stage `name` in the run's pipeline. */
export function stageOf(run: Pick<Run, "pipeline" | "definition">, name: string) {
  const stage = run.definition.stages.find((s) => s.name === name);
  if (!stage) throw new NotFoundError(`pipeline ${run.pipeline} has no stage ${name}`);
  return stage;
}

/** One id per deployment: a retried stage (attempt 2, 3, …) deploys afresh. */
export function deploymentId(ctx: StageContext, step: DeployStep, kind: string): string {
  return `${ctx.runId}|${step.scope}|${kind}${ctx.attempt ? `|attempt-${ctx.attempt}` : ""}`;
}

/** The scope left this step's hands (an alarm event rolled it back): the branch ends quietly. */
export function supersededBy(
  current: ScopeState | undefined,
  ctx: StageContext,
): string | undefined {
  if (!current) return "scope has no state";
  if (
    current.runId === ctx.runId &&
    (current.status === "rolling-back" || current.status === "rolled-back")
  ) {
    return `scope ${current.status} (fast rollback on an alarm)`;
  }
  return undefined;
}
