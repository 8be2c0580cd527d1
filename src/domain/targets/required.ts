/**
 * The synth's rule that a pipeline says what it deploys (issue 12): a pipeline without a
 * target would synthesize and then fail at its first step in AWS, so the synth refuses it unless
 * it asks for a dry run with `"target": { "type": "none" }`. The local mode does not apply it
 * (simulate and serve run a pipeline without a target as a dry run).
 */

/** A problem with its path, as the pipeline schema reports them (pipeline.ts imports this folder). */
export interface MissingTargetProblem {
  path: string;
  message: string;
}

const HOW =
  'name what each step changes (a target of type lambda-alias, ecs, cloudformation, appconfig, codebuild or lambda-function; README, "Deploy targets"), or say "target": { "type": "none" } for a dry run that deploys nothing';

interface PipelineLike {
  target?: unknown;
  stages: ReadonlyArray<{ name: string; target?: unknown }>;
}

/**
 * The stages that would deploy with no target at all: `target` when none has one, else each
 * stage without its own (the pipeline names none).
 *
 * @example
 * missingTargetProblems({ stages: [{ name: "beta" }] })
 * // [{ path: "target", message: "is required to deploy: name what each step changes …" }]
 */
export function missingTargetProblems(pipeline: PipelineLike): MissingTargetProblem[] {
  if (pipeline.target !== undefined) return [];
  const without = pipeline.stages.flatMap((s, i) => (s.target === undefined ? [i] : []));
  if (without.length === 0) return [];
  if (without.length === pipeline.stages.length) {
    return [{ path: "target", message: `is required to deploy: ${HOW}` }];
  }
  return without.map((i) => ({
    path: `stages[${i}].target`,
    message: `is required to deploy: stage "${pipeline.stages[i]?.name}" has no target and the pipeline names none; ${HOW}`,
  }));
}
