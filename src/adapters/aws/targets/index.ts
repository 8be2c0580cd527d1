/**
 * The control plane's deploy targets in AWS: one {@link Deployer} that picks the stage's target
 * (its own, else the pipeline's), fills its name templates for the scope and version, assumes its
 * role, and hands the step to the driver of its type.
 */
import type { STSClient } from "@aws-sdk/client-sts";
import { InvalidInputError } from "../../../domain/errors.ts";
import type { Deployer, DeploymentRequest, DeploymentStatus } from "../../../domain/ports.ts";
import {
  type DeployTarget,
  effectiveTarget,
  resolveTarget,
  type TemplateValues,
  targetAccount,
} from "../../../domain/targets/index.ts";
import { AssumedRoles } from "./credentials.ts";
import type { DriverContext, TargetDriver, TargetDrivers } from "./driver.ts";

/** A dry run: every step succeeds at once and changes nothing. */
const noneDriver: TargetDriver = {
  start: async () => ({ pollSeconds: 0 }),
  status: async () => ({ state: "succeeded" }),
  cancel: async () => {},
};

export interface TargetDeployerOptions {
  sts: STSClient;
  /** The control plane's own account (for `{account}` when a target names no role). */
  account: () => Promise<string>;
  drivers: TargetDrivers;
}

export class TargetDeployer implements Deployer {
  private readonly roles: AssumedRoles;

  constructor(private readonly options: TargetDeployerOptions) {
    this.roles = new AssumedRoles(options.sts);
  }

  async start(req: DeploymentRequest): Promise<{ pollSeconds: number }> {
    const { driver, ctx } = await this.prepare(req);
    return driver.start(ctx);
  }

  async status(req: DeploymentRequest): Promise<DeploymentStatus> {
    const { driver, ctx } = await this.prepare(req);
    return driver.status(ctx);
  }

  async cancel(req: DeploymentRequest): Promise<void> {
    const { driver, ctx } = await this.prepare(req);
    return driver.cancel(ctx);
  }

  private async prepare(
    req: DeploymentRequest,
  ): Promise<{ driver: TargetDriver; ctx: DriverContext }> {
    const target = effectiveTarget(req.pipeline, req.scope.stage);
    if (!target) {
      throw new InvalidInputError(
        `pipeline ${req.pipeline.name} has no deploy target for stage ${req.scope.stage} (set "target", or "target": { "type": "none" } for a dry run)`,
      );
    }
    const driver =
      target.type === "none"
        ? noneDriver
        : (this.options.drivers[target.type] as TargetDriver | undefined);
    if (!driver) {
      throw new InvalidInputError(`deploy target type ${target.type} is not available here`);
    }
    const account = targetAccount(target, await this.options.account());
    const values = (version: string): TemplateValues => ({
      pipeline: req.pipeline.name,
      stage: req.scope.stage,
      region: req.scope.region,
      ...(req.scope.az ? { az: req.scope.az } : {}),
      version,
      ...(req.artifactDigest && version === req.version ? { digest: req.artifactDigest } : {}),
      account,
    });
    const roleArn = "roleArn" in target ? target.roleArn : undefined;
    const ctx: DriverContext = {
      req,
      target: resolveTarget(target, values(req.version)),
      targetFor: (version) => resolveTarget(target, values(version)) as DeployTarget,
      region: req.scope.region,
      account,
      // Assumed before the driver runs: a role that cannot be assumed fails the step here.
      ...(roleArn
        ? { credentials: await this.roles.credentials(roleArn, `breakwater-${req.pipeline.name}`) }
        : {}),
    };
    return { driver, ctx };
  }
}
