/**
 * The `codebuild` target: one build of the named project per step, told what to do by
 * `BREAKWATER_*` environment variables (README, "Deploy targets", `codebuild`). The escape hatch
 * for anything Breakwater does not drive itself (kubectl, terraform, cdk deploy, an S3 sync).
 *
 * Idempotent per deployment id: every build carries `BREAKWATER_DEPLOYMENT_ID`, and `start`
 * first looks for a build that carries it (CodeBuild's `idempotencyToken` only lasts five
 * minutes, while Step Functions may retry a task later than that); the token covers the window
 * where two starts race before either build is listed.
 */
import {
  AccountLimitExceededException,
  BatchGetBuildsCommand,
  type Build,
  CodeBuildClient,
  type EnvironmentVariable,
  ListBuildsForProjectCommand,
  ResourceNotFoundException,
  StartBuildCommand,
  StopBuildCommand,
} from "@aws-sdk/client-codebuild";
import { InvalidInputError, TransientError } from "../../../domain/errors.ts";
import type { DeploymentStatus } from "../../../domain/ports.ts";
import type { TargetOf } from "../../../domain/targets/index.ts";
import type { DriverContext, TargetDriver } from "./driver.ts";
import { deploymentToken } from "./token.ts";

type Ctx = DriverContext<TargetOf<"codebuild">>;

/** The variable every Breakwater build carries: how a retried step finds its build. */
export const DEPLOYMENT_ID_VARIABLE = "BREAKWATER_DEPLOYMENT_ID";

/** A build's states that are final and not a success (CodeBuild's `StatusType`). */
const FAILED_STATES = new Set(["FAILED", "FAULT", "TIMED_OUT", "STOPPED"]);

/** Builds take minutes: poll every 30 seconds. */
const POLL_SECONDS = 30;

/** ListBuildsForProject and BatchGetBuilds both take (and answer) at most 100 ids at a time. */
const PAGE = 100;

export interface CodeBuildDriverOptions {
  /**
   * How many of the project's newest builds are searched for a step's build (default 200). A
   * project shared by many scopes and pipelines needs more; the search stops at the first match.
   */
  searchBuilds?: number;
}

/**
 * The environment of a step's build. Absent values (no AZ, no cell, no artifact digest) are left out
 * rather than sent empty. A rollback is `BREAKWATER_KIND=rollback` with `BREAKWATER_VERSION` the
 * version to return to.
 */
export function buildEnvironment(ctx: Ctx): EnvironmentVariable[] {
  const { req } = ctx;
  const vars: Record<string, string | undefined> = {
    BREAKWATER_PIPELINE: req.pipeline.name,
    BREAKWATER_STAGE: req.scope.stage,
    BREAKWATER_SCOPE: req.scope.id,
    BREAKWATER_REGION: req.scope.region,
    BREAKWATER_AZ: req.scope.az,
    BREAKWATER_CELL: req.scope.cell,
    BREAKWATER_ACCOUNT: ctx.account,
    BREAKWATER_VERSION: req.version,
    BREAKWATER_ARTIFACT_DIGEST: req.artifactDigest,
    BREAKWATER_PERCENT: String(req.percent),
    BREAKWATER_KIND: req.kind,
    [DEPLOYMENT_ID_VARIABLE]: req.deploymentId,
  };
  return Object.entries(vars).flatMap(([name, value]) =>
    value === undefined ? [] : [{ name, value, type: "PLAINTEXT" as const }],
  );
}

/** Why a finished build failed: its status, and the failed phase's own words. */
export function failureReason(build: Build): string {
  const phase = build.phases?.find((p) => p.phaseStatus && FAILED_STATES.has(p.phaseStatus));
  const said = (phase?.contexts ?? [])
    .map((c) => [c.statusCode, c.message].filter(Boolean).join(": "))
    .filter(Boolean)
    .join("; ");
  return `build ${build.id ?? "?"} ${build.buildStatus}${phase?.phaseType ? ` in ${phase.phaseType}` : ""}${said ? `: ${said}` : ""}`;
}

export class CodeBuildDriver implements TargetDriver<TargetOf<"codebuild">> {
  /** Clients by region, for the function's own role (assumed-role clients are not cached). */
  private readonly clients = new Map<string, CodeBuildClient>();
  private readonly searchBuilds: number;

  constructor(options: CodeBuildDriverOptions = {}) {
    this.searchBuilds = options.searchBuilds ?? 2 * PAGE;
  }

  async start(ctx: Ctx): Promise<{ pollSeconds: number }> {
    // A retry finds the build the first start made (however long ago) and starts nothing.
    if (await this.find(ctx)) return { pollSeconds: POLL_SECONDS };
    try {
      await this.client(ctx).send(
        new StartBuildCommand({
          projectName: ctx.target.project,
          idempotencyToken: deploymentToken(ctx.req.deploymentId),
          environmentVariablesOverride: buildEnvironment(ctx),
        }),
      );
    } catch (error) {
      throw this.explain(ctx, error);
    }
    return { pollSeconds: POLL_SECONDS };
  }

  async status(ctx: Ctx): Promise<DeploymentStatus> {
    const build = await this.find(ctx);
    if (!build) {
      // Fail closed: a step whose build cannot be found is not reported as done.
      return {
        state: "failed",
        reason: `no build of project ${ctx.target.project} carries ${DEPLOYMENT_ID_VARIABLE}=${ctx.req.deploymentId} (searched its ${this.searchBuilds} newest builds)`,
      };
    }
    if (build.buildStatus === "SUCCEEDED") return { state: "succeeded" };
    if (build.buildStatus && FAILED_STATES.has(build.buildStatus)) {
      return { state: "failed", reason: failureReason(build) };
    }
    return { state: "in-progress", pollSeconds: POLL_SECONDS };
  }

  async cancel(ctx: Ctx): Promise<void> {
    const build = await this.find(ctx);
    // A finished (or never started) build is left as it is.
    if (build?.id && build.buildStatus === "IN_PROGRESS") {
      await this.client(ctx).send(new StopBuildCommand({ id: build.id }));
    }
  }

  private client(ctx: Ctx): CodeBuildClient {
    if (ctx.credentials)
      return new CodeBuildClient({ region: ctx.region, credentials: ctx.credentials });
    let client = this.clients.get(ctx.region);
    if (!client) {
      client = new CodeBuildClient({ region: ctx.region });
      this.clients.set(ctx.region, client);
    }
    return client;
  }

  /** The newest build of the project that carries the step's deployment id, if any. */
  private async find(ctx: Ctx): Promise<Build | undefined> {
    const client = this.client(ctx);
    let nextToken: string | undefined;
    let searched = 0;
    try {
      do {
        const page = await client.send(
          new ListBuildsForProjectCommand({
            projectName: ctx.target.project,
            sortOrder: "DESCENDING",
            ...(nextToken ? { nextToken } : {}),
          }),
        );
        const ids = (page.ids ?? []).slice(0, this.searchBuilds - searched);
        searched += ids.length;
        for (let i = 0; i < ids.length; i += PAGE) {
          const { builds } = await client.send(
            new BatchGetBuildsCommand({ ids: ids.slice(i, i + PAGE) }),
          );
          // BatchGetBuilds does not promise the order of its answer: read it in the list's
          // order (newest first), so a step with two builds follows the newer one.
          const byId = new Map((builds ?? []).map((b) => [b.id, b]));
          for (const id of ids.slice(i, i + PAGE)) {
            const build = byId.get(id);
            if (build && this.carries(build, ctx.req.deploymentId)) return build;
          }
        }
        nextToken = page.nextToken;
      } while (nextToken && searched < this.searchBuilds);
    } catch (error) {
      throw this.explain(ctx, error);
    }
    return undefined;
  }

  private carries(build: Build, deploymentId: string): boolean {
    return (build.environment?.environmentVariables ?? []).some(
      (v) => v.name === DEPLOYMENT_ID_VARIABLE && v.value === deploymentId,
    );
  }

  /** A missing project is the pipeline's mistake; the account's build limit passes. */
  private explain(ctx: Ctx, error: unknown): unknown {
    if (error instanceof ResourceNotFoundException) {
      return new InvalidInputError(
        `target.project: CodeBuild project ${ctx.target.project} does not exist in ${ctx.region} (account ${ctx.account})`,
      );
    }
    if (error instanceof AccountLimitExceededException) {
      return new TransientError(
        `CodeBuild: concurrent build limit reached in ${ctx.region}: ${error.message}`,
        { cause: error },
      );
    }
    return error;
  }
}
