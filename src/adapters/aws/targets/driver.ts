/**
 * What one deploy target type implements in AWS. The {@link TargetDeployer} picks the driver by
 * `target.type`, resolves the target's name templates for the request's scope and version, and
 * assumes `roleArn` when one is set; the driver then only speaks its service's API.
 */
import type { AwsCredentialIdentity } from "@aws-sdk/types";
import type { DeploymentRequest, DeploymentStatus } from "../../../domain/ports.ts";
import type { DeployTarget, TargetType } from "../../../domain/targets/index.ts";

export interface DriverContext<T extends DeployTarget = DeployTarget> {
  req: DeploymentRequest;
  /** The stage's target with every name template filled for this scope and `req.version`. */
  target: T;
  /** The same target's names for another version (a rollback's "version it had before"). */
  targetFor(version: string): T;
  /** The scope's region: every client of the driver is made in it. */
  region: string;
  /** The account the target runs in (its role's, else the control plane's). */
  account: string;
  /** The assumed role's credentials when the target names `roleArn`, else the function's own. */
  credentials?: AwsCredentialIdentity;
}

/**
 * One target type. Every method is idempotent per `req.deploymentId` (client tokens, change-set
 * names, labels): Step Functions retries a task after a timeout or a crash, and a retried start
 * must not deploy twice.
 */
export interface TargetDriver<T extends DeployTarget = DeployTarget> {
  start(ctx: DriverContext<T>): Promise<{ pollSeconds: number }>;
  status(ctx: DriverContext<T>): Promise<DeploymentStatus>;
  cancel(ctx: DriverContext<T>): Promise<void>;
}

export type TargetDrivers = {
  [K in TargetType]?: TargetDriver<Extract<DeployTarget, { type: K }>>;
};

export { deploymentToken } from "./token.ts";
