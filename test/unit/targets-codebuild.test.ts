/**
 * The `codebuild` target passes the deploy target contract, and does what is specific to it:
 * the `BREAKWATER_*` environment of each build, a failed build's reason from its failed phase,
 * a retry that finds its build after CodeBuild's five-minute idempotency token has expired, a
 * bounded, paged search, StopBuild on cancel, a missing project, and the account's build limit.
 *
 * CodeBuild is a small stateful fake behind aws-sdk-client-mock, answering StartBuild,
 * ListBuildsForProject (newest first, pages of 100), BatchGetBuilds (at most 100 ids, in no
 * promised order) and StopBuild in the documented shapes
 * (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_Build.html), with the SDK's own
 * exception classes and throttling as CodeBuild reports it (`ThrottlingException`, unmodeled).
 */
import {
  AccountLimitExceededException,
  BatchGetBuildsCommand,
  type Build,
  CodeBuildClient,
  CodeBuildServiceException,
  type EnvironmentVariable,
  InvalidInputException,
  ListBuildsForProjectCommand,
  ResourceNotFoundException,
  StartBuildCommand,
  type StartBuildCommandInput,
  StopBuildCommand,
} from "@aws-sdk/client-codebuild";
import { STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { CodeBuildDriver } from "../../src/adapters/aws/targets/codebuild.ts";
import { TargetDeployer } from "../../src/adapters/aws/targets/index.ts";
import { deploymentToken } from "../../src/adapters/aws/targets/token.ts";
import { InvalidInputError, TransientError } from "../../src/domain/errors.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import type { DeploymentRequest } from "../../src/domain/ports.ts";
import { parseScopeId } from "../../src/domain/scope.ts";
import { deployTargetContract, type TargetWorld } from "../contract/deploy-target.ts";

const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" };
const ACCOUNT = "111122223333";
const TOKEN_LIFETIME_MS = 5 * 60_000;

/**
 * A CodeBuild project's builds, newest last. The build script is played by `complete`: a
 * successful build with BREAKWATER_PERCENT=100 puts BREAKWATER_VERSION on the scope.
 */
class FakeCodeBuild {
  readonly mock = mockClient(CodeBuildClient);
  builds: Build[] = [];
  projects = new Set<string>();
  /** StartBuild tokens: valid five minutes, then forgotten (documented). */
  private tokens = new Map<string, { buildId: string; at: number; input: string }>();
  now = 0;
  serving: string | undefined;
  mutations = 0;
  stops = 0;
  throttle = false;
  limitNext = false;

  reset(initial: string, projects: string[]) {
    this.builds = [];
    this.projects = new Set(projects);
    this.tokens.clear();
    this.now = Date.parse("2026-12-02T09:00:00Z");
    this.serving = initial;
    this.mutations = 0;
    this.stops = 0;
    this.throttle = false;
    this.limitNext = false;
    this.mock.reset();
    this.mock.on(StartBuildCommand).callsFake((input: StartBuildCommandInput) => {
      this.checkThrottle();
      if (this.limitNext) {
        this.limitNext = false;
        throw new AccountLimitExceededException({
          message: "Cannot have more than 60 active builds for the account",
          $metadata: { httpStatusCode: 400 },
        });
      }
      const project = this.project(input.projectName);
      const token = input.idempotencyToken;
      const same = JSON.stringify({ ...input, idempotencyToken: undefined });
      const held = token ? this.tokens.get(token) : undefined;
      if (held && this.now - held.at < TOKEN_LIFETIME_MS) {
        if (held.input !== same) {
          throw new InvalidInputException({
            message: "Idempotency token parameter mismatch",
            $metadata: { httpStatusCode: 400 },
          });
        }
        return { build: this.builds.find((b) => b.id === held.buildId) };
      }
      this.mutations++;
      const id = `${project}:${String(this.builds.length + 1).padStart(8, "0")}-uuid`;
      const build: Build = {
        id,
        arn: `arn:aws:codebuild:eu-north-1:${ACCOUNT}:build/${id}`,
        projectName: project,
        buildNumber: this.builds.length + 1,
        startTime: new Date(this.now),
        currentPhase: "BUILD",
        buildStatus: "IN_PROGRESS",
        buildComplete: false,
        phases: [
          { phaseType: "SUBMITTED", phaseStatus: "SUCCEEDED" },
          { phaseType: "PROVISIONING", phaseStatus: "SUCCEEDED" },
          { phaseType: "BUILD" },
        ],
        environment: {
          type: "LINUX_CONTAINER",
          image: "aws/codebuild/standard:7.0",
          computeType: "BUILD_GENERAL1_SMALL",
          environmentVariables: [
            { name: "PROJECT_OWN", value: "from-the-project", type: "PLAINTEXT" },
            ...(input.environmentVariablesOverride ?? []),
          ],
        },
      };
      this.builds.push(build);
      if (token) this.tokens.set(token, { buildId: id, at: this.now, input: same });
      return { build };
    });
    this.mock
      .on(ListBuildsForProjectCommand)
      .callsFake((input: { projectName: string; sortOrder?: string; nextToken?: string }) => {
        this.checkThrottle();
        const project = this.project(input.projectName);
        const ids = this.builds.filter((b) => b.projectName === project).map((b) => b.id as string);
        if (input.sortOrder !== "ASCENDING") ids.reverse();
        const from = input.nextToken ? Number(input.nextToken.slice("page-".length)) : 0;
        const next = from + 100;
        return {
          ids: ids.slice(from, next),
          ...(next < ids.length ? { nextToken: `page-${next}` } : {}),
        };
      });
    this.mock.on(BatchGetBuildsCommand).callsFake((input: { ids: string[] }) => {
      this.checkThrottle();
      if (input.ids.length > 100) {
        throw new InvalidInputException({
          message:
            "1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length less than or equal to 100",
          $metadata: { httpStatusCode: 400 },
        });
      }
      // Oldest first, unlike ListBuildsForProject's DESCENDING: the API promises no order.
      const found = this.builds.filter((b) => input.ids.includes(b.id as string));
      return {
        builds: found.map((b) => structuredClone(b)),
        buildsNotFound: input.ids.filter((id) => !found.some((b) => b.id === id)),
      };
    });
    this.mock.on(StopBuildCommand).callsFake((input: { id: string }) => {
      this.checkThrottle();
      const build = this.builds.find((b) => b.id === input.id);
      if (!build) {
        throw new ResourceNotFoundException({
          message: `Build ${input.id} not found`,
          $metadata: { httpStatusCode: 400 },
        });
      }
      if (build.buildStatus === "IN_PROGRESS") {
        this.stops++;
        this.mutations++;
        this.finish(build, "STOPPED");
      }
      return { build: structuredClone(build) };
    });
  }

  private checkThrottle() {
    if (!this.throttle) return;
    this.throttle = false;
    throw new CodeBuildServiceException({
      name: "ThrottlingException",
      $fault: "client",
      message: "Rate exceeded",
      $metadata: { httpStatusCode: 400 },
    });
  }

  private project(name: string | undefined): string {
    if (!name || !this.projects.has(name)) {
      throw new ResourceNotFoundException({
        message: `Project cannot be found: arn:aws:codebuild:eu-north-1:${ACCOUNT}:project/${name}`,
        $metadata: { httpStatusCode: 400 },
      });
    }
    return name;
  }

  env(build: Build, name: string): string | undefined {
    return build.environment?.environmentVariables?.find((v) => v.name === name)?.value;
  }

  finish(build: Build, status: "SUCCEEDED" | "FAILED" | "FAULT" | "TIMED_OUT" | "STOPPED") {
    build.buildStatus = status;
    build.buildComplete = true;
    build.currentPhase = "COMPLETED";
    build.endTime = new Date(this.now);
    const phase = build.phases?.find((p) => p.phaseType === "BUILD");
    if (phase) {
      phase.phaseStatus = status;
      if (status === "FAILED") {
        phase.contexts = [
          {
            statusCode: "COMMAND_EXECUTION_ERROR",
            message: "Error while executing command: ./deploy.sh. Reason: exit status 1",
          },
        ];
      }
      if (status === "TIMED_OUT") {
        phase.contexts = [{ statusCode: "BUILD_TIMED_OUT", message: "Build has timed out." }];
      }
    }
    build.phases?.push({ phaseType: "COMPLETED" });
    if (status === "SUCCEEDED" && this.env(build, "BREAKWATER_PERCENT") === "100") {
      this.serving = this.env(build, "BREAKWATER_VERSION");
    }
  }

  inProgress(): Build[] {
    return this.builds.filter((b) => b.buildStatus === "IN_PROGRESS");
  }
}

const PROJECT = "orders-deploy-{region}";

function requestFor(
  target: unknown,
  stage: Record<string, unknown> = { name: "prod-1", regions: ["eu-north-1"] },
  scope = "prod-1/eu-north-1",
) {
  const pipeline = parsePipeline({
    name: "orders-api",
    target,
    stages: [{ bake: { minutes: 10 }, ...stage }],
  });
  return (o: {
    kind: DeploymentRequest["kind"];
    version: string;
    percent?: number;
    deploymentId?: string;
    artifactDigest?: string;
  }): DeploymentRequest => ({
    deploymentId: o.deploymentId ?? `orders-api@${o.version}|${scope}|${o.kind}`,
    pipeline,
    scope: parseScopeId(scope),
    version: o.version,
    percent: o.percent ?? (o.kind === "one-box" ? 10 : 100),
    kind: o.kind,
    ...(o.artifactDigest ? { artifactDigest: o.artifactDigest } : {}),
  });
}

function deployer(options: ConstructorParameters<typeof CodeBuildDriver>[0] = {}) {
  return new TargetDeployer({
    sts: new STSClient({ region: "us-east-1", credentials }),
    account: async () => ACCOUNT,
    drivers: { codebuild: new CodeBuildDriver(options) },
  });
}

const fake = new FakeCodeBuild();

deployTargetContract("codebuild", () => {
  const world: TargetWorld = {
    deployer: deployer(),
    request: requestFor({ type: "codebuild", project: PROJECT }),
    complete() {
      for (const b of fake.inProgress()) fake.finish(b, "SUCCEEDED");
    },
    fail() {
      for (const b of fake.inProgress()) fake.finish(b, "FAILED");
    },
    throttleNext() {
      fake.throttle = true;
    },
    serving: () => fake.serving,
    mutations: () => fake.mutations,
    cancelled: () => fake.stops > 0,
    cancellable: true,
    splitsTraffic: true,
    reset(initial) {
      fake.reset(initial, ["orders-deploy-eu-north-1"]);
    },
  };
  return world;
});

describe("codebuild target", () => {
  const request = requestFor({ type: "codebuild", project: PROJECT });
  beforeEach(() => fake.reset("v1", ["orders-deploy-eu-north-1", "orders-deploy-eu-west-1"]));

  it("starts one build of the scope's project with the step's BREAKWATER_* variables and the deployment's token", async () => {
    const azRequest = requestFor(
      { type: "codebuild", project: "orders-{stage}-{region}" },
      { name: "prod", regions: [{ region: "eu-west-1", azs: ["euw1-az1", "euw1-az2"] }] },
      "prod/eu-west-1/euw1-az2",
    );
    fake.projects.add("orders-prod-eu-west-1");
    const req = azRequest({
      kind: "one-box",
      version: "3f9c2e1",
      percent: 10,
      artifactDigest: `sha256:${"a".repeat(64)}`,
    });
    expect(await deployer().start(req)).toEqual({ pollSeconds: 30 });
    const calls = fake.mock.commandCalls(StartBuildCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input as StartBuildCommandInput;
    expect(input.projectName).toBe("orders-prod-eu-west-1");
    expect(input.idempotencyToken).toBe(deploymentToken(req.deploymentId));
    expect(input.environmentVariablesOverride).toEqual<EnvironmentVariable[]>([
      { name: "BREAKWATER_PIPELINE", value: "orders-api", type: "PLAINTEXT" },
      { name: "BREAKWATER_STAGE", value: "prod", type: "PLAINTEXT" },
      { name: "BREAKWATER_SCOPE", value: "prod/eu-west-1/euw1-az2", type: "PLAINTEXT" },
      { name: "BREAKWATER_REGION", value: "eu-west-1", type: "PLAINTEXT" },
      { name: "BREAKWATER_AZ", value: "euw1-az2", type: "PLAINTEXT" },
      { name: "BREAKWATER_ACCOUNT", value: ACCOUNT, type: "PLAINTEXT" },
      { name: "BREAKWATER_VERSION", value: "3f9c2e1", type: "PLAINTEXT" },
      { name: "BREAKWATER_ARTIFACT_DIGEST", value: `sha256:${"a".repeat(64)}`, type: "PLAINTEXT" },
      { name: "BREAKWATER_PERCENT", value: "10", type: "PLAINTEXT" },
      { name: "BREAKWATER_KIND", value: "one-box", type: "PLAINTEXT" },
      { name: "BREAKWATER_DEPLOYMENT_ID", value: req.deploymentId, type: "PLAINTEXT" },
    ]);
  });

  it("a cell scope's build gets BREAKWATER_CELL (and its AZ) beside the scope", async () => {
    const cellRequest = requestFor(
      { type: "codebuild", project: "orders-{stage}-{region}" },
      {
        name: "prod",
        regions: [{ region: "eu-west-1", azs: [{ az: "euw1-az1", cells: ["c1", "c2"] }] }],
      },
      "prod/eu-west-1/euw1-az1/c2",
    );
    fake.projects.add("orders-prod-eu-west-1");
    await deployer().start(cellRequest({ kind: "full", version: "v2", percent: 100 }));
    const input = fake.mock.commandCalls(StartBuildCommand)[0]?.args[0]
      .input as StartBuildCommandInput;
    const byName = Object.fromEntries(
      (input.environmentVariablesOverride ?? []).map((v) => [v.name, v.value]),
    );
    expect(byName).toMatchObject({
      BREAKWATER_SCOPE: "prod/eu-west-1/euw1-az1/c2",
      BREAKWATER_AZ: "euw1-az1",
      BREAKWATER_CELL: "c2",
    });
  });

  it("a rollback is a build with BREAKWATER_KIND=rollback and the version to return to; no AZ or digest is sent empty", async () => {
    await deployer().start(request({ kind: "rollback", version: "v1" }));
    const env = fake.builds[0]?.environment?.environmentVariables ?? [];
    const byName = Object.fromEntries(env.map((v) => [v.name, v.value]));
    expect(byName).toMatchObject({
      BREAKWATER_KIND: "rollback",
      BREAKWATER_VERSION: "v1",
      BREAKWATER_PERCENT: "100",
      BREAKWATER_SCOPE: "prod-1/eu-north-1",
    });
    expect(byName).not.toHaveProperty("BREAKWATER_AZ");
    expect(byName).not.toHaveProperty("BREAKWATER_ARTIFACT_DIGEST");
    expect(env.every((v) => (v.value ?? "").length > 0)).toBe(true);
  });

  it("a failed build is a failed step whose reason names the failed phase and what CodeBuild said", async () => {
    const req = request({ kind: "full", version: "v2" });
    const d = deployer();
    await d.start(req);
    expect(await d.status(req)).toEqual({ state: "in-progress", pollSeconds: 30 });
    fake.finish(fake.builds[0] as Build, "FAILED");
    const status = await d.status(req);
    expect(status).toEqual({
      state: "failed",
      reason: `build ${fake.builds[0]?.id} FAILED in BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: ./deploy.sh. Reason: exit status 1`,
    });
    expect(fake.serving).toBe("v1");
  });

  it.each(["FAULT", "TIMED_OUT", "STOPPED"] as const)(
    "a build that ends %s is a failed step",
    async (end) => {
      const req = request({ kind: "full", version: "v2" });
      const d = deployer();
      await d.start(req);
      fake.finish(fake.builds[0] as Build, end);
      const status = await d.status(req);
      expect(status.state).toBe("failed");
      expect(status.state === "failed" && status.reason).toContain(` ${end}`);
    },
  );

  it("a start retried after the five-minute idempotency token expired finds its build and starts none", async () => {
    const req = request({ kind: "full", version: "v2" });
    const d = deployer();
    await d.start(req);
    fake.now += 20 * 60_000; // Step Functions retried the task much later
    await d.start(req);
    expect(fake.builds).toHaveLength(1);
    expect(fake.mutations).toBe(1);
  });

  it("two starts racing before either build is listed get one build (the token)", async () => {
    const req = request({ kind: "full", version: "v2" });
    const d = deployer();
    // Both searches answer before either StartBuild lands: the token dedupes them.
    await Promise.all([d.start(req), d.start(req)]);
    expect(fake.mock.commandCalls(StartBuildCommand)).toHaveLength(2);
    expect(fake.builds).toHaveLength(1);
  });

  it("finds a step's build on a later page, and follows the newer of two builds of one deployment", async () => {
    const req = request({ kind: "full", version: "v2" });
    const d = deployer();
    await d.start(req);
    fake.now += TOKEN_LIFETIME_MS + 1;
    // A second build of the same deployment (started outside Breakwater's retry, e.g. by hand).
    const cb = new CodeBuildClient({ region: "eu-north-1", credentials });
    await cb.send(
      new StartBuildCommand({
        projectName: "orders-deploy-eu-north-1",
        environmentVariablesOverride: [
          { name: "BREAKWATER_DEPLOYMENT_ID", value: req.deploymentId, type: "PLAINTEXT" },
        ],
      }),
    );
    fake.finish(fake.builds[0] as Build, "FAILED");
    fake.finish(fake.builds[1] as Build, "SUCCEEDED");
    // 150 other builds of the project since: the step's builds are on the second page.
    for (let i = 0; i < 150; i++) {
      await d.start(request({ kind: "full", version: `other-${i}`, deploymentId: `other-${i}` }));
    }
    expect(await d.status(req)).toEqual({ state: "succeeded" });
    const batches = fake.mock.commandCalls(BatchGetBuildsCommand).map((c) => c.args[0].input.ids);
    expect(batches.every((ids) => (ids?.length ?? 0) <= 100)).toBe(true);
  });

  it("the search is bounded: a build older than the newest `searchBuilds` is not found, and the step fails closed", async () => {
    const req = request({ kind: "full", version: "v2" });
    const d = deployer({ searchBuilds: 20 });
    await d.start(req);
    fake.finish(fake.builds[0] as Build, "SUCCEEDED");
    for (let i = 0; i < 25; i++) {
      await d.start(request({ kind: "full", version: `other-${i}`, deploymentId: `other-${i}` }));
    }
    const lists = fake.mock.commandCalls(ListBuildsForProjectCommand).length;
    const status = await d.status(req);
    expect(status).toEqual({
      state: "failed",
      reason: `no build of project orders-deploy-eu-north-1 carries BREAKWATER_DEPLOYMENT_ID=${req.deploymentId} (searched its 20 newest builds)`,
    });
    expect(fake.mock.commandCalls(ListBuildsForProjectCommand).length - lists).toBe(1);
  });

  it("cancel stops the step's build in progress once, and leaves other builds alone", async () => {
    const req = request({ kind: "full", version: "v2" });
    const other = request({ kind: "full", version: "v2", deploymentId: "another-scope" });
    const d = deployer();
    await d.start(other);
    await d.start(req);
    await d.cancel(req);
    await d.cancel(req);
    const stops = fake.mock.commandCalls(StopBuildCommand).map((c) => c.args[0].input.id);
    expect(stops).toEqual([fake.builds[1]?.id]);
    expect(fake.builds[0]?.buildStatus).toBe("IN_PROGRESS");
    expect((await d.status(req)).state).toBe("failed");
  });

  it("a project that does not exist is an InvalidInputError naming target.project", async () => {
    const missing = requestFor({ type: "codebuild", project: "nope-{region}" });
    const error = await deployer()
      .start(missing({ kind: "full", version: "v2" }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toBe(
      `target.project: CodeBuild project nope-eu-north-1 does not exist in eu-north-1 (account ${ACCOUNT})`,
    );
  });

  it("the account's concurrent build limit is a TransientError (retried), and the retry starts the build", async () => {
    const req = request({ kind: "full", version: "v2" });
    const d = deployer();
    fake.limitNext = true;
    const error = await d.start(req).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(fake.builds).toHaveLength(0);
    await d.start(req);
    expect(fake.builds).toHaveLength(1);
  });
});
