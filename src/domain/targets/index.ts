/** Deploy targets: schema, the facts of each type, template resolution, validation. */
export * from "./function-contract.ts";
export * from "./required.ts";
export * from "./resolve.ts";
export * from "./schema.ts";
export * from "./types.ts";
export * from "./validate.ts";

import type { DeployTarget } from "./schema.ts";

/**
 * The target a stage deploys with: its own `target`, else the pipeline's.
 *
 * @example
 * effectiveTarget({ target: prodTarget, stages: [{ name: "alpha", target: devAccountTarget }] }, "alpha") // devAccountTarget
 */
export function effectiveTarget(
  pipeline: {
    target?: DeployTarget | undefined;
    stages: ReadonlyArray<{ name: string; target?: DeployTarget | undefined }>;
  },
  stage: string,
): DeployTarget | undefined {
  return pipeline.stages.find((s) => s.name === stage)?.target ?? pipeline.target;
}
