/**
 * The IAM roles an `ecs` target passes. Registering a task definition revision hands its task
 * role and execution role to ECS (`iam:PassRole`, to `ecs-tasks.amazonaws.com`), so the deploy
 * and rollback roles need PassRole on exactly those roles and nothing wider (least privilege).
 * Pure, so the stack's IAM (synth) and the driver (runtime) read the same answer.
 */
import type { TargetOf } from "./schema.ts";

/**
 * The role ARNs a resolved `ecs` target passes: its `taskRoleArn` and `executionRoleArn`, each
 * once, in that order. The stack grants `iam:PassRole` on them (condition
 * `iam:PassedToService = ecs-tasks.amazonaws.com`); the driver refuses to register a revision of
 * a task definition that names a role not listed here.
 *
 * @example
 * ecsPassedRoles({ type: "ecs", cluster: "prod", service: "orders", container: "app",
 *   image: "repo:v2", executionRoleArn: "arn:aws:iam::111122223333:role/orders-exec" })
 * // ["arn:aws:iam::111122223333:role/orders-exec"]
 */
export function ecsPassedRoles(target: TargetOf<"ecs">): string[] {
  const roles = [target.taskRoleArn, target.executionRoleArn].filter(
    (r): r is string => typeof r === "string" && r.length > 0,
  );
  return [...new Set(roles)];
}

/**
 * Whether a role as a task definition names it (an ARN, or the bare name ECS also accepts) is
 * `declared` (an ARN).
 */
export function sameRole(named: string, declared: string): boolean {
  if (named === declared) return true;
  // A bare name resolves to a role without a path in the task's own account.
  return !named.includes(":") && declared.endsWith(`:role/${named}`);
}
