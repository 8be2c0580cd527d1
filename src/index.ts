/** Public API for pipeline files written in TypeScript. */
export {
  definePipeline,
  type Pipeline,
  type PipelineInput,
  parsePipeline,
  pipelineSchema,
} from "./domain/pipeline.ts";
export { planStage } from "./domain/planner.ts";
