/**
 * The `lambda-alias` target: a Lambda function whose callers invoke an alias. A step moves the
 * alias: one-box and rolling steps = weighted routing (`AdditionalVersionWeights`) to the new
 * version at the step's percent, full = the alias on the new version alone, rollback = the
 * alias back on the version before. With `code`, the version's zip is first loaded
 * (UpdateFunctionCode) and published (PublishVersion, its description naming the Breakwater
 * version); without it, the published version whose description names the Breakwater version
 * is used.
 *
 * Stateless: start and status both reconcile the function toward the step's desired state from
 * what Lambda reports (ListVersionsByFunction, GetFunctionConfiguration, GetAlias), so a retried
 * start, a repeated status and a crashed task all converge without a second publish or move.
 */
import {
  type AliasConfiguration,
  type FunctionConfiguration,
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
} from "@aws-sdk/client-lambda";
import { TransientError } from "../../../domain/errors.ts";
import type { DeploymentStatus, MetricQuery } from "../../../domain/ports.ts";
import {
  effectiveTarget,
  resolveTemplate,
  type TargetOf,
  targetRoleArn,
} from "../../../domain/targets/index.ts";
import type { TargetMetricLocation, TargetMetrics } from "../cloudwatch-metrics.ts";
import type { DriverContext, TargetDriver } from "./driver.ts";
import type { TargetDeployer } from "./index.ts";
import { deploymentToken } from "./token.ts";

type Target = TargetOf<"lambda-alias">;
type Ctx = DriverContext<Target>;

/** How often to poll while Lambda is still applying a code update (it takes seconds). */
const UPDATE_POLL_SECONDS = 5;

const DESCRIPTION = /^Breakwater version (\S+)(?: |$)/;
/** Characters a Breakwater version may hold (src/domain/version.ts): anything else separates. */
const NOT_VERSION_CHAR = /[^A-Za-z0-9._+-]+/;

/**
 * The description Breakwater gives a version it publishes: the Breakwater version, then the
 * deployment token (which deployment published it), at most 19 + 128 + 46 characters (Lambda
 * allows 256).
 *
 * @example
 * publishedDescription("v2", "orders-api@v2|prod-1/eu-north-1|full") // "Breakwater version v2 (bw-…)"
 */
export function publishedDescription(version: string, deploymentId: string): string {
  return `Breakwater version ${version} (${deploymentToken(deploymentId)})`;
}

/**
 * Does a published version's description name this Breakwater version? Breakwater's own
 * descriptions (`Breakwater version <v> (…)`) name exactly the version after the prefix; any
 * other description names it when it holds the version as a whole word (`v2`, `orders v2`,
 * `release=v2`, but not `v20`).
 */
export function descriptionNames(description: string | undefined, version: string): boolean {
  if (!description) return false;
  const ours = DESCRIPTION.exec(description);
  if (ours) return ours[1] === version;
  return description
    .split(NOT_VERSION_CHAR)
    .some((word) => word === version || word.replace(/\.+$/, "") === version);
}

type Lookup = { found: string } | { found: undefined } | { ambiguous: string[] };

/**
 * The published Lambda version whose description names the Breakwater version (every page of
 * ListVersionsByFunction; `$LATEST` is not a published version). Two different versions naming
 * it are ambiguous: the caller fails rather than guess which code it would put in front of
 * callers.
 */
export async function findPublishedVersion(
  lambda: LambdaClient,
  functionName: string,
  version: string,
): Promise<Lookup> {
  const matches: string[] = [];
  let marker: string | undefined;
  do {
    const out = await lambda.send(
      new ListVersionsByFunctionCommand({
        FunctionName: functionName,
        Marker: marker,
        MaxItems: 50,
      }),
    );
    for (const v of out.Versions ?? []) {
      if (v.Version && v.Version !== "$LATEST" && descriptionNames(v.Description, version)) {
        matches.push(v.Version);
      }
    }
    marker = out.NextMarker;
  } while (marker);
  if (matches.length > 1) return { ambiguous: matches };
  return { found: matches[0] };
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

const inProgress = (pollSeconds: number): DeploymentStatus => ({
  state: "in-progress",
  pollSeconds,
});
const failed = (reason: string): DeploymentStatus => ({ state: "failed", reason });

/** The alias as a step wants it. */
interface DesiredAlias {
  functionVersion: string;
  weights: Record<string, number>;
}

function sameWeights(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (Math.abs((a[k] ?? 0) - (b[k] ?? 0)) > 1e-9) return false;
  }
  return true;
}

export class LambdaAliasDriver implements TargetDriver<Target> {
  /** Clients by region, for the function's own role (assumed-role clients are not cached). */
  private readonly clients = new Map<string, LambdaClient>();

  async start(ctx: Ctx): Promise<{ pollSeconds: number }> {
    const s = await this.reconcile(ctx, "start");
    // Done at once (the alias moved) or failed (no published version, a failed update): the
    // first status reports it.
    return { pollSeconds: s.state === "in-progress" ? s.pollSeconds : 0 };
  }

  status(ctx: Ctx): Promise<DeploymentStatus> {
    return this.reconcile(ctx, "status");
  }

  /**
   * Nothing to stop: UpdateAlias moves the alias atomically, so a step has no in-flight state
   * in Lambda (a code update in progress finishes by itself and changes only `$LATEST`, which the
   * alias does not serve). The rollback that follows a cancel moves the alias back.
   */
  async cancel(_ctx: Ctx): Promise<void> {}

  /** A Lambda client in the scope's region, with the target role's credentials when it has one. */
  client(region: string, credentials: Ctx["credentials"]): LambdaClient {
    if (credentials) return new LambdaClient({ region, credentials });
    let client = this.clients.get(region);
    if (!client) {
      client = new LambdaClient({ region });
      this.clients.set(region, client);
    }
    return client;
  }

  private async reconcile(ctx: Ctx, phase: "start" | "status"): Promise<DeploymentStatus> {
    const { functionName, alias } = ctx.target;
    const lambda = this.client(ctx.region, ctx.credentials);
    try {
      const lookup = await findPublishedVersion(lambda, functionName, ctx.req.version);
      if ("ambiguous" in lookup) {
        return failed(
          `published versions ${lookup.ambiguous.join(", ")} of ${functionName} all name Breakwater version ${ctx.req.version} in their description: delete or re-describe all but one`,
        );
      }
      let published = lookup.found;
      if (!published) {
        if (!ctx.target.code) {
          return failed(
            `no published version of ${functionName} names Breakwater version ${ctx.req.version} in its description: publish one whose description holds "${ctx.req.version}", or give the target "code" (an S3 zip per version)`,
          );
        }
        const step = await this.publish(ctx, lambda, phase);
        if ("state" in step) return step;
        published = step.version;
      }
      return await this.route(ctx, lambda, published);
    } catch (error) {
      if (errorName(error) === "ResourceNotFoundException") {
        return failed(
          `${functionName} (alias ${alias}) not found in ${ctx.region}: ${(error as Error).message}`,
        );
      }
      throw error;
    }
  }

  /**
   * Loads the version's code and publishes it. Lambda applies a code update asynchronously
   * (`LastUpdateStatus` InProgress, then Successful or Failed), and refuses a second update or a
   * publish meanwhile with ResourceConflictException: both mean "in progress, poll again".
   */
  private async publish(
    ctx: Ctx,
    lambda: LambdaClient,
    phase: "start" | "status",
  ): Promise<{ version: string } | DeploymentStatus> {
    const code = ctx.target.code;
    if (!code) throw new Error("publish without code");
    const { functionName } = ctx.target;
    let config: FunctionConfiguration = await lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: functionName }),
    );
    const updating = config.LastUpdateStatus === "InProgress" || config.State === "Pending";
    if (updating && phase === "start" && ctx.req.kind === "rollback") {
      // Likely the update of the deploy this rollback replaces: adopting it would publish that
      // version's code as the version before (safety rule 3: a rollback returns the scope to the
      // version before). Wait until Lambda takes an update of our own.
      throw new TransientError(
        `an update of ${functionName} is in progress: the rollback loads its own code after it`,
      );
    }
    if (updating) return inProgress(UPDATE_POLL_SECONDS);
    if (phase === "status" && config.LastUpdateStatus === "Failed") {
      return failed(
        `Lambda could not update ${functionName} to ${code.s3Bucket}/${code.s3Key}: ${config.LastUpdateStatusReasonCode ?? "Failed"}: ${config.LastUpdateStatusReason ?? "no reason given"}`,
      );
    }
    if (phase === "start" && !codeIsLoaded(config, ctx.req.artifactDigest)) {
      try {
        config = await lambda.send(
          new UpdateFunctionCodeCommand({
            FunctionName: functionName,
            S3Bucket: code.s3Bucket,
            S3Key: code.s3Key,
          }),
        );
      } catch (error) {
        if (errorName(error) === "ResourceConflictException") {
          if (ctx.req.kind === "rollback") {
            throw new TransientError(
              `an update of ${functionName} is in progress: the rollback loads its own code after it`,
              { cause: error },
            );
          }
          return inProgress(UPDATE_POLL_SECONDS);
        }
        throw error;
      }
      if (config.LastUpdateStatus !== "Successful") return inProgress(UPDATE_POLL_SECONDS);
    }
    try {
      const out = await lambda.send(
        new PublishVersionCommand({
          FunctionName: functionName,
          // Publish exactly the code loaded: if $LATEST changed since, Lambda refuses.
          ...(config.CodeSha256 ? { CodeSha256: config.CodeSha256 } : {}),
          Description: publishedDescription(ctx.req.version, ctx.req.deploymentId),
        }),
      );
      if (!out.Version)
        throw new TransientError(`PublishVersion of ${functionName} named no version`);
      // When neither code nor configuration changed since the last publish, Lambda answers that
      // version (with its own description) instead of a new one: the same code, so it serves.
      return { version: out.Version };
    } catch (error) {
      const name = errorName(error);
      if (name === "ResourceConflictException" || name === "PreconditionFailedException") {
        return inProgress(UPDATE_POLL_SECONDS);
      }
      throw error;
    }
  }

  /** Moves the alias to the step's desired state, unless it is there already. */
  private async route(ctx: Ctx, lambda: LambdaClient, version: string): Promise<DeploymentStatus> {
    const { functionName, alias } = ctx.target;
    const current = await lambda.send(
      new GetAliasCommand({ FunctionName: functionName, Name: alias }),
    );
    const desired = desiredAlias(ctx, current, version);
    if ("state" in desired) return desired;
    if (
      current.FunctionVersion === desired.functionVersion &&
      sameWeights(current.RoutingConfig?.AdditionalVersionWeights ?? {}, desired.weights)
    ) {
      return { state: "succeeded" };
    }
    try {
      await lambda.send(
        new UpdateAliasCommand({
          FunctionName: functionName,
          Name: alias,
          FunctionVersion: desired.functionVersion,
          RoutingConfig: { AdditionalVersionWeights: desired.weights },
          // Compare-and-set: a concurrent change of the alias since GetAlias fails this move.
          ...(current.RevisionId ? { RevisionId: current.RevisionId } : {}),
        }),
      );
    } catch (error) {
      const name = errorName(error);
      if (name === "ResourceConflictException" || name === "PreconditionFailedException") {
        throw new TransientError(
          `alias ${alias} of ${functionName} is being changed (${name}): retrying`,
          { cause: error },
        );
      }
      throw error;
    }
    // UpdateAlias is atomic: once it answers, the alias serves the desired state.
    return { state: "succeeded" };
  }
}

/**
 * The alias a step wants. One-box and rolling steps keep the alias's version and send
 * `percent`% to the new one (a rolling step after a one-box only raises the weight); full and
 * rollback put the alias on the version alone, routing cleared.
 */
function desiredAlias(
  ctx: Ctx,
  current: AliasConfiguration,
  version: string,
): DesiredAlias | DeploymentStatus {
  const { req } = ctx;
  const share = req.kind === "one-box" || req.kind === "rolling";
  if (!share || req.percent >= 100 || current.FunctionVersion === version) {
    return { functionVersion: version, weights: {} };
  }
  const primary = current.FunctionVersion;
  if (!primary || primary === "$LATEST") {
    return failed(
      `alias ${ctx.target.alias} of ${ctx.target.functionName} points at ${primary ?? "nothing"}: weighted routing needs a published version on both sides; point the alias at a published version first`,
    );
  }
  return { functionVersion: primary, weights: { [version]: Math.max(0, req.percent) / 100 } };
}

/**
 * `$LATEST` already holds the version's zip when the run's artifact digest is the zip's SHA-256
 * (Lambda's CodeSha256 is the same hash in base64): then a retried start loads nothing again.
 * Without a digest, or a digest of something else, the code is loaded (the same zip again is
 * harmless).
 */
function codeIsLoaded(config: FunctionConfiguration, digest: string | undefined): boolean {
  const hex = digest?.match(/^sha256:([0-9a-f]{64})$/)?.[1];
  if (!hex || !config.CodeSha256 || config.LastUpdateStatus !== "Successful") return false;
  return Buffer.from(hex, "hex").toString("base64") === config.CodeSha256;
}

/**
 * Where a `lambda-alias` target's per-version metrics are, with no `metrics` section: Lambda's
 * own `AWS/Lambda` Invocations, Errors and Duration by FunctionName, Resource (`function:alias`)
 * and ExecutedVersion, the Lambda version published for the Breakwater version.
 */
export class LambdaAliasMetrics implements TargetMetrics {
  /** Published versions are immutable: a Breakwater version's Lambda version, once found, stays. */
  private readonly versions = new Map<string, string>();

  constructor(
    private readonly deployer: Pick<TargetDeployer, "scopeContext">,
    private readonly driver: Pick<LambdaAliasDriver, "client">,
  ) {}

  async locate(q: MetricQuery): Promise<TargetMetricLocation | undefined> {
    if (effectiveTarget(q.pipeline, q.scope.stage)?.type !== "lambda-alias") return undefined;
    const ctx = await this.deployer.scopeContext(q.pipeline, q.scope);
    const t = ctx.target as Target;
    const version = q.select === "all" ? undefined : q.select.version;
    // Only the function and alias are resolved: the code's {version}/{digest} do not matter here.
    const values = ctx.values(version ?? "");
    const functionName = resolveTemplate(t.functionName, values);
    const alias = resolveTemplate(t.alias, values);
    const dimensions = [
      { Name: "FunctionName", Value: functionName },
      { Name: "Resource", Value: `${functionName}:${alias}` },
    ];
    if (version !== undefined) {
      const key = [ctx.account, ctx.region, functionName, version].join("|");
      let executed = this.versions.get(key);
      if (!executed) {
        const lookup = await findPublishedVersion(
          this.driver.client(ctx.region, ctx.credentials),
          functionName,
          version,
        );
        // Nothing (or two things) published for the version: nothing of it to read.
        if (!("found" in lookup) || !lookup.found) return undefined;
        executed = lookup.found;
        this.versions.set(key, executed);
      }
      dimensions.push({ Name: "ExecutedVersion", Value: executed });
    }
    return {
      namespace: "AWS/Lambda",
      dimensions,
      requests: "Invocations",
      faults: "Errors",
      latency: "Duration",
      // The function's metrics are in its own account: read them through the target's role.
      ...(targetRoleArn(q.pipeline, q.scope.stage)
        ? { roleArn: targetRoleArn(q.pipeline, q.scope.stage) }
        : {}),
    };
  }
}
