/** Public API for pipeline files written in TypeScript. */

/**
 * The contract of a Lambda test function (`stages[].tests`, README "Tests and canaries"): the
 * request it is invoked with after each deploy step and the answer it gives.
 */
export {
  type TestFunctionAnswer,
  type TestFunctionRequest,
  testFunctionAnswer,
} from "./domain/checks.ts";
export {
  definePipeline,
  type Pipeline,
  type PipelineInput,
  parsePipeline,
  pipelineSchema,
} from "./domain/pipeline.ts";
export { planStage } from "./domain/planner.ts";
/**
 * The contract of a `lambda-function` deploy target (a function you write): the request it is
 * invoked with and the answers it gives (README, "Deploy targets"; an example:
 * examples/deployers/lambda-alias-deployer.ts).
 */
export {
  type DeployTarget,
  TARGET_FUNCTION_ACTIONS,
  TARGET_PLACEHOLDERS,
  TARGET_TYPES,
  type TargetFunctionAction,
  type TargetFunctionAnswer,
  type TargetFunctionCancelAnswer,
  type TargetFunctionHandler,
  type TargetFunctionRequest,
  type TargetFunctionStartAnswer,
  type TargetFunctionStatusAnswer,
  type TargetType,
  targetFunctionStartAnswer,
  targetFunctionStatusAnswer,
} from "./domain/targets/index.ts";
