/**
 * Execution inputs as they go to Step Functions (both the AWS adapter and the local one).
 *
 * The run's snapshot (`ctx.definition`) rides as its JSON text, not as an object. Step
 * Functions — and the local interpreter — copy a state's whole input at every state, and every
 * task's input is parsed at the handler: as an object, a 1,000-scope pipeline's snapshot made
 * each step cost more than a 10-scope one's (issue 15 item 3). As text it is one value the
 * copies share and the handlers' cache (src/app/schemas.ts, `snapshotSchema`) knows at once.
 * The handlers accept either form, so executions started before 2026-12-03 still run.
 */
import type { RollbackExecutionInput, RollbackWavesInput, StageExecutionInput } from "./ports.ts";

export type WireStageContext = Omit<StageExecutionInput, "definition"> & { definition?: string };

/** A stage context with its snapshot as JSON text (unchanged when it carries none). */
export function wireStageInput(ctx: StageExecutionInput): WireStageContext {
  const { definition, ...rest } = ctx;
  return definition === undefined ? rest : { ...rest, definition: JSON.stringify(definition) };
}

export function wireRollbackInput(input: RollbackExecutionInput) {
  return { ...input, ctx: wireStageInput(input.ctx) };
}

export function wireRollbackWavesInput(input: RollbackWavesInput) {
  return {
    ...input,
    stages: input.stages.map((s) => ({
      ...s,
      regions: s.regions.map((r) => ({
        ...r,
        phases: r.phases.map((phase) =>
          phase.map((scope) => ({ ...scope, ctx: wireStageInput(scope.ctx) })),
        ),
      })),
    })),
  };
}
