/** Deploy targets: schema, the facts of each type, template resolution, validation. */

export * from "./ecs-roles.ts";
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

/**
 * The role a stage's target names (`roleArn`): its alarms and metrics live in that account and
 * are read through that role (issue 12, item 7). Undefined: the control plane's own account.
 *
 * @example
 * targetRoleArn({ target: { type: "codebuild", project: "p", roleArn: "arn:aws:iam::210987654321:role/d" }, stages }, "prod") // "arn:aws:iam::210987654321:role/d"
 */
export function targetRoleArn(
  pipeline: Parameters<typeof effectiveTarget>[0],
  stage: string,
): string | undefined {
  const target = effectiveTarget(pipeline, stage);
  return target && "roleArn" in target ? target.roleArn : undefined;
}
