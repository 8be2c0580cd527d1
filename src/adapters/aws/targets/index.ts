/**
 * The control plane's deploy targets in AWS: one {@link Deployer} that picks the stage's target
 * (its own, else the pipeline's), fills its name templates for the scope and version, assumes its
 * role, and hands the step to the driver of its type.
 */
import type { STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@aws-sdk/types";
import { InvalidInputError, TransientError } from "../../../domain/errors.ts";
import type { Deployer, DeploymentRequest, DeploymentStatus } from "../../../domain/ports.ts";
import { placementOf } from "../../../domain/scope.ts";
import {
  type DeployTarget,
  effectiveTarget,
  resolveTarget,
  type TemplateValues,
  targetAccount,
} from "../../../domain/targets/index.ts";
import { AssumedRoles } from "./credentials.ts";
import type { DriverContext, TargetDriver, TargetDrivers } from "./driver.ts";

/** Error names AWS services use for throttling and their own transient failures. */
const TRANSIENT_NAMES = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "InternalFailure",
  "InternalServerError",
  "InternalServerException",
  "ServerException",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
  "ECONNRESET",
  "ETIMEDOUT",
]);

/**
 * An AWS error that may succeed on retry becomes a {@link TransientError} (the state machine
 * retries that name with backoff); anything else is thrown as it is. Throttling, 5xx answers and
 * the SDK's own `$retryable` mark count.
 */
export function asTransient(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof TransientError) return error;
  const e = error as Error & {
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    code?: string;
  };
  const status = e.$metadata?.httpStatusCode ?? 0;
  if (
    TRANSIENT_NAMES.has(e.name) ||
    (e.code && TRANSIENT_NAMES.has(e.code)) ||
    e.$retryable ||
    status >= 500
  ) {
    return new TransientError(`deploy target: ${e.name}: ${e.message}`, { cause: error });
  }
  return error;
}

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

  start(req: DeploymentRequest): Promise<{ pollSeconds: number }> {
    return this.run(req, (driver, ctx) => driver.start(ctx));
  }

  status(req: DeploymentRequest): Promise<DeploymentStatus> {
    return this.run(req, (driver, ctx) => driver.status(ctx));
  }

  cancel(req: DeploymentRequest): Promise<void> {
    return this.run(req, (driver, ctx) => driver.cancel(ctx));
  }

  private async run<T>(
    req: DeploymentRequest,
    call: (driver: TargetDriver, ctx: DriverContext) => Promise<T>,
  ): Promise<T> {
    try {
      const { driver, ctx } = await this.prepare(req);
      return await call(driver, ctx);
    } catch (error) {
      throw asTransient(error);
    }
  }

  /**
   * A scope's target as written (the stage's, else the pipeline's), the values its name
   * templates resolve with for a version, its account, and its role's credentials. The deploy
   * steps and the target's own metrics (LambdaAliasMetrics) resolve names the same way.
   */
  async scopeContext(
    pipeline: DeploymentRequest["pipeline"],
    scope: DeploymentRequest["scope"],
    artifactDigest?: { version: string; digest: string },
  ): Promise<ScopeContext> {
    const target = effectiveTarget(pipeline, scope.stage);
    if (!target) {
      throw new InvalidInputError(
        `pipeline ${pipeline.name} has no deploy target for stage ${scope.stage} (set "target", or "target": { "type": "none" } for a dry run)`,
      );
    }
    const account = targetAccount(target, await this.options.account());
    const values = (version: string): TemplateValues => ({
      pipeline: pipeline.name,
      stage: scope.stage,
      region: scope.region,
      ...placementOf(scope),
      version,
      ...(artifactDigest && version === artifactDigest.version
        ? { digest: artifactDigest.digest }
        : {}),
      account,
    });
    const roleArn = "roleArn" in target ? target.roleArn : undefined;
    return {
      target,
      values,
      region: scope.region,
      account,
      // Assumed before the driver runs: a role that cannot be assumed fails the step here.
      ...(roleArn
        ? { credentials: await this.roles.credentials(roleArn, `breakwater-${pipeline.name}`) }
        : {}),
    };
  }

  private async prepare(
    req: DeploymentRequest,
  ): Promise<{ driver: TargetDriver; ctx: DriverContext }> {
    const { target, values, region, account, credentials } = await this.scopeContext(
      req.pipeline,
      req.scope,
      req.artifactDigest ? { version: req.version, digest: req.artifactDigest } : undefined,
    );
    const driver =
      target.type === "none"
        ? noneDriver
        : (this.options.drivers[target.type] as TargetDriver | undefined);
    if (!driver) {
      throw new InvalidInputError(`deploy target type ${target.type} is not available here`);
    }
    const ctx: DriverContext = {
      req,
      target: resolveTarget(target, values(req.version)),
      targetFor: (version) => resolveTarget(target, values(version)) as DeployTarget,
      region,
      account,
      ...(credentials ? { credentials } : {}),
    };
    return { driver, ctx };
  }
}

/** A scope's target before its names are resolved (see {@link TargetDeployer.scopeContext}). */
export interface ScopeContext {
  target: DeployTarget;
  values(version: string): TemplateValues;
  region: string;
  account: string;
  credentials?: AwsCredentialIdentity;
}
