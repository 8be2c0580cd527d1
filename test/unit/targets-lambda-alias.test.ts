/**
 * The `lambda-alias` target passes the deploy target contract, and its own paths: one-box as the
 * alias's weighted routing, full and rollback as the alias alone on a version, code loaded and
 * published once per version (a retry finds the published version by its description), a code
 * update in progress, a failed code update, ResourceConflictException on the alias, a version
 * that was never published, and Lambda's own per-version metrics for the anomaly detector.
 *
 * Lambda is played by a small stateful fake behind aws-sdk-client-mock, answering in the
 * documented shapes: GetFunctionConfiguration (LastUpdateStatus InProgress → Successful/Failed),
 * UpdateFunctionCode, PublishVersion (no new version when nothing changed since the last one;
 * CodeSha256 as a precondition), ListVersionsByFunction (paged by Marker/NextMarker, `$LATEST`
 * first), GetAlias and UpdateAlias (RevisionId as a precondition), and its exception classes.
 */
import { createHash } from "node:crypto";
import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
} from "@aws-sdk/client-cloudwatch";
import {
  type FunctionConfiguration,
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  PreconditionFailedException,
  PublishVersionCommand,
  ResourceConflictException,
  ResourceNotFoundException,
  ServiceException,
  TooManyRequestsException,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
} from "@aws-sdk/client-lambda";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { CloudWatchMetricSource } from "../../src/adapters/aws/cloudwatch-metrics.ts";
import type { TargetDeployer } from "../../src/adapters/aws/targets/index.ts";
import {
  descriptionNames,
  LambdaAliasDriver,
  LambdaAliasMetrics,
  publishedDescription,
} from "../../src/adapters/aws/targets/lambda-alias.ts";
import { TransientError } from "../../src/domain/errors.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import type { DeploymentRequest, DeploymentStatus } from "../../src/domain/ports.ts";
import { parseScopeId } from "../../src/domain/scope.ts";
import {
  deployTargetContract,
  type TargetWorld,
  testTargetDeployer,
} from "../contract/deploy-target.ts";

const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" };
const REGION = "eu-north-1";
const FUNCTION = `orders-api-${REGION}`;
const ARN = `arn:aws:lambda:${REGION}:111122223333:function:${FUNCTION}`;
const BUCKET = "orders-builds";

const CODE_TARGET = {
  type: "lambda-alias",
  functionName: "orders-api-{region}",
  alias: "live",
  code: { s3Bucket: BUCKET, s3Key: "orders-api/{version}.zip" },
};
const PUBLISHED_TARGET = {
  type: "lambda-alias",
  functionName: "orders-api-{region}",
  alias: "live",
};

/** Lambda's CodeSha256: the base64 SHA-256 of the zip (here: of its S3 location). */
const shaOf = (key: string) => createHash("sha256").update(`${BUCKET}/${key}`).digest("base64");
const keyOf = (version: string) => `orders-api/${version}.zip`;

function pipelineWith(target: unknown) {
  return parsePipeline({
    name: "orders-api",
    target,
    stages: [{ name: "prod-1", regions: [REGION], bake: { minutes: 10 } }],
  });
}

function requestFor(target: unknown) {
  const pipeline = pipelineWith(target);
  return (o: {
    kind: DeploymentRequest["kind"];
    version: string;
    percent?: number;
    deploymentId?: string;
    artifactDigest?: string;
  }): DeploymentRequest => ({
    deploymentId: o.deploymentId ?? `orders-api@${o.version}|prod-1/${REGION}|${o.kind}`,
    pipeline,
    scope: parseScopeId(`prod-1/${REGION}`),
    version: o.version,
    percent: o.percent ?? (o.kind === "one-box" ? 10 : 100),
    kind: o.kind,
    ...(o.artifactDigest ? { artifactDigest: o.artifactDigest } : {}),
  });
}

const conflict = (message: string) =>
  new ResourceConflictException({ message, $metadata: { httpStatusCode: 409 } });

/** One function with one alias, as Lambda keeps them. */
class FakeLambda {
  readonly mock = mockClient(LambdaClient);
  latest!: {
    sha: string;
    status: "Successful" | "InProgress" | "Failed";
    reason?: string;
    revision: number;
  };
  versions!: { Version: string; Description: string; CodeSha256: string }[];
  alias!: { version: string; weights: Record<string, number>; revision: number };
  mutations = 0;
  throttle = false;
  /** Throws this once from the next UpdateAlias (before changing anything). */
  aliasError: Error | undefined;
  /** PublishVersion creates the version, then its answer is lost (a 5xx). */
  loseNextPublishAnswer = false;
  pageSize = 2;
  /** Another update of $LATEST starts right after the next GetFunctionConfiguration answers. */
  racingUpdate = false;

  /** A function whose version 1 carries `initial` (published with `description`). */
  reset(initial: string, description = publishedDescription(initial, "seed")) {
    this.latest = { sha: shaOf(keyOf(initial)), status: "Successful", revision: 1 };
    this.versions = [{ Version: "1", Description: description, CodeSha256: this.latest.sha }];
    this.alias = { version: "1", weights: {}, revision: 1 };
    this.mutations = 0;
    this.throttle = false;
    this.aliasError = undefined;
    this.loseNextPublishAnswer = false;
    this.racingUpdate = false;
    this.mock.reset();
    const fake = <I, O>(f: (input: I) => O) => {
      return (input: I) => {
        if (this.throttle) {
          this.throttle = false;
          throw new TooManyRequestsException({
            message: "Rate exceeded",
            Reason: "CallerRateLimitExceeded",
            $metadata: { httpStatusCode: 429 },
          });
        }
        return f(input);
      };
    };
    const notFound = (name: string | undefined) => {
      if (name !== FUNCTION && name !== ARN) {
        throw new ResourceNotFoundException({
          message: `Function not found: ${name}`,
          $metadata: { httpStatusCode: 404 },
        });
      }
    };
    this.mock.on(GetFunctionConfigurationCommand).callsFake(
      fake((input: { FunctionName: string }) => {
        notFound(input.FunctionName);
        const config = this.config();
        if (this.racingUpdate) {
          this.racingUpdate = false;
          this.latest.status = "InProgress";
        }
        return config;
      }),
    );
    this.mock.on(UpdateFunctionCodeCommand).callsFake(
      fake((input: { FunctionName: string; S3Bucket: string; S3Key: string }) => {
        notFound(input.FunctionName);
        if (this.latest.status === "InProgress") {
          throw conflict(
            `The operation cannot be performed at this time. An update is in progress for resource: ${ARN}`,
          );
        }
        this.mutations++;
        this.latest = {
          sha: createHash("sha256").update(`${input.S3Bucket}/${input.S3Key}`).digest("base64"),
          status: "InProgress",
          revision: this.latest.revision + 1,
        };
        return this.config();
      }),
    );
    this.mock.on(PublishVersionCommand).callsFake(
      fake((input: { FunctionName: string; CodeSha256?: string; Description?: string }) => {
        notFound(input.FunctionName);
        if (this.latest.status === "InProgress") {
          throw conflict(
            `The operation cannot be performed at this time. An update is in progress for resource: ${ARN}`,
          );
        }
        if (input.CodeSha256 && input.CodeSha256 !== this.latest.sha) {
          throw new PreconditionFailedException({
            message: "CodeSHA256 does not match the function's $LATEST code",
            $metadata: { httpStatusCode: 412 },
          });
        }
        const last = this.versions.at(-1);
        // "Lambda doesn't publish a version if the function's configuration and code haven't
        // changed since the last version": it answers that version.
        let v = last && last.CodeSha256 === this.latest.sha ? last : undefined;
        if (!v) {
          this.mutations++;
          v = {
            Version: String(Number(last?.Version ?? "0") + 1),
            Description: input.Description ?? "",
            CodeSha256: this.latest.sha,
          };
          this.versions.push(v);
        }
        if (this.loseNextPublishAnswer) {
          this.loseNextPublishAnswer = false;
          throw new ServiceException({
            message: "Internal error",
            $metadata: { httpStatusCode: 500 },
          });
        }
        return { ...this.config(), ...v };
      }),
    );
    this.mock.on(ListVersionsByFunctionCommand).callsFake(
      fake((input: { FunctionName: string; Marker?: string; MaxItems?: number }) => {
        notFound(input.FunctionName);
        const all: FunctionConfiguration[] = [
          { ...this.config(), Version: "$LATEST" },
          ...this.versions.map((v) => ({ ...this.config(), ...v })),
        ];
        const from = Number(input.Marker ?? "0");
        const size = Math.min(input.MaxItems ?? 50, this.pageSize);
        const page = all.slice(from, from + size);
        const next = from + size < all.length ? String(from + size) : undefined;
        return { Versions: page, ...(next ? { NextMarker: next } : {}) };
      }),
    );
    this.mock.on(GetAliasCommand).callsFake(
      fake((input: { FunctionName: string; Name: string }) => {
        notFound(input.FunctionName);
        if (input.Name !== "live") {
          throw new ResourceNotFoundException({
            message: `Alias not found: ${ARN}:${input.Name}`,
            $metadata: { httpStatusCode: 404 },
          });
        }
        return this.aliasConfig();
      }),
    );
    this.mock.on(UpdateAliasCommand).callsFake(
      fake(
        (input: {
          FunctionName: string;
          Name: string;
          FunctionVersion?: string;
          RoutingConfig?: { AdditionalVersionWeights?: Record<string, number> };
          RevisionId?: string;
        }) => {
          notFound(input.FunctionName);
          if (this.aliasError) {
            const e = this.aliasError;
            this.aliasError = undefined;
            throw e;
          }
          if (input.RevisionId && input.RevisionId !== `alias-rev-${this.alias.revision}`) {
            throw new PreconditionFailedException({
              message: "The Revision Id provided does not match the latest Revision Id.",
              $metadata: { httpStatusCode: 412 },
            });
          }
          const version = input.FunctionVersion ?? this.alias.version;
          const weights = input.RoutingConfig?.AdditionalVersionWeights ?? this.alias.weights;
          for (const [v, w] of Object.entries(weights)) {
            if (v === version || w < 0 || w > 1 || !this.versions.some((x) => x.Version === v)) {
              throw new Error(`InvalidParameterValueException: bad routing ${v}=${w}`);
            }
          }
          if (!this.versions.some((x) => x.Version === version)) {
            throw new ResourceNotFoundException({
              message: `Function not found: ${ARN}:${version}`,
              $metadata: { httpStatusCode: 404 },
            });
          }
          this.mutations++;
          this.alias = { version, weights: { ...weights }, revision: this.alias.revision + 1 };
          return this.aliasConfig();
        },
      ),
    );
  }

  config(): FunctionConfiguration {
    return {
      FunctionName: FUNCTION,
      FunctionArn: ARN,
      Version: "$LATEST",
      CodeSha256: this.latest.sha,
      State: "Active",
      LastUpdateStatus: this.latest.status,
      ...(this.latest.status === "Failed"
        ? {
            LastUpdateStatusReason: this.latest.reason,
            LastUpdateStatusReasonCode: "InvalidZipFileException",
          }
        : {}),
      RevisionId: `rev-${this.latest.revision}`,
    };
  }

  aliasConfig() {
    const weighted = Object.keys(this.alias.weights).length > 0;
    return {
      AliasArn: `${ARN}:live`,
      Name: "live",
      FunctionVersion: this.alias.version,
      ...(weighted ? { RoutingConfig: { AdditionalVersionWeights: this.alias.weights } } : {}),
      RevisionId: `alias-rev-${this.alias.revision}`,
    };
  }

  /** The Breakwater version the alias's primary Lambda version carries. */
  serving(): string | undefined {
    const v = this.versions.find((x) => x.Version === this.alias.version);
    return v?.Description.match(/^Breakwater version (\S+)/)?.[1] ?? v?.Description;
  }

  complete() {
    if (this.latest.status === "InProgress") this.latest.status = "Successful";
  }

  fail() {
    if (this.latest.status === "InProgress") {
      this.latest.status = "Failed";
      this.latest.reason = "Could not unpack the deployment package: not a valid zip file";
    }
  }

  calls(command: unknown) {
    return this.mock.commandCalls(command as never).length;
  }
}

function deployer(): TargetDeployer {
  return testTargetDeployer({ "lambda-alias": new LambdaAliasDriver() });
}

/** Polls status, completing Lambda's in-flight update before each poll. */
async function finish(
  d: TargetDeployer,
  fake: FakeLambda,
  req: DeploymentRequest,
): Promise<DeploymentStatus> {
  for (let i = 0; i < 5; i++) {
    fake.complete();
    const s = await d.status(req);
    if (s.state !== "in-progress") return s;
  }
  return d.status(req);
}

/** One fake for the file: aws-sdk-client-mock stubs LambdaClient's prototype once. */
const fake = new FakeLambda();

deployTargetContract("lambda-alias", () => {
  const world: TargetWorld = {
    deployer: deployer(),
    request: requestFor(CODE_TARGET),
    complete: () => fake.complete(),
    fail: () => fake.fail(),
    throttleNext() {
      fake.throttle = true;
    },
    serving: () => fake.serving(),
    mutations: () => fake.mutations,
    // An alias moves atomically: there is never anything in flight to stop.
    cancelled: () => false,
    cancellable: false,
    splitsTraffic: true,
    reset: (initial) => fake.reset(initial),
  };
  return world;
});

describe("lambda-alias target", () => {
  const d = deployer();
  const request = requestFor(CODE_TARGET);
  const published = requestFor(PUBLISHED_TARGET);
  beforeEach(() => fake.reset("v1"));

  const lastInput = <T>(command: unknown) =>
    fake.mock.commandCalls(command as never).at(-1)?.args[0].input as T;

  it("with code: loads the version's zip, publishes it described with the Breakwater version and deployment, then moves the alias", async () => {
    const req = request({ kind: "full", version: "v2" });
    expect(await d.start(req)).toEqual({ pollSeconds: 5 });
    expect(lastInput(UpdateFunctionCodeCommand)).toEqual({
      FunctionName: FUNCTION,
      S3Bucket: BUCKET,
      S3Key: "orders-api/v2.zip",
    });
    // Lambda is still applying the update: nothing published, the alias untouched.
    expect(await d.status(req)).toEqual({ state: "in-progress", pollSeconds: 5 });
    expect(fake.calls(PublishVersionCommand)).toBe(0);
    expect(fake.versions).toHaveLength(1);
    expect(await finish(d, fake, req)).toEqual({ state: "succeeded" });
    const publish = lastInput<{ Description: string; CodeSha256: string }>(PublishVersionCommand);
    expect(publish.Description).toBe(publishedDescription("v2", req.deploymentId));
    expect(publish.Description).toMatch(/^Breakwater version v2 \(bw-[0-9a-f]{40}\)$/);
    expect(publish.CodeSha256).toBe(shaOf("orders-api/v2.zip"));
    expect(fake.alias).toMatchObject({ version: "2", weights: {} });
    expect(fake.serving()).toBe("v2");
  });

  it("one-box: weighted routing to the new version at the step's percent, the alias's version kept; full then moves it alone, without loading or publishing again", async () => {
    const oneBox = request({ kind: "one-box", version: "v2", percent: 10 });
    await d.start(oneBox);
    expect(await finish(d, fake, oneBox)).toEqual({ state: "succeeded" });
    expect(lastInput(UpdateAliasCommand)).toEqual({
      FunctionName: FUNCTION,
      Name: "live",
      FunctionVersion: "1",
      RoutingConfig: { AdditionalVersionWeights: { "2": 0.1 } },
      RevisionId: "alias-rev-1",
    });
    expect(fake.alias).toMatchObject({ version: "1", weights: { "2": 0.1 } });

    const full = request({ kind: "full", version: "v2" });
    expect(await d.start(full)).toEqual({ pollSeconds: 0 });
    expect(await d.status(full)).toEqual({ state: "succeeded" });
    expect(lastInput(UpdateAliasCommand)).toMatchObject({
      FunctionVersion: "2",
      RoutingConfig: { AdditionalVersionWeights: {} },
    });
    expect(fake.alias).toMatchObject({ version: "2", weights: {} });
    expect(fake.calls(UpdateFunctionCodeCommand)).toBe(1);
    expect(fake.versions.map((v) => v.Version)).toEqual(["1", "2"]);
  });

  it("rolling steps raise the new version's weight step by step, the alias's version kept; a rollback clears it", async () => {
    const oneBox = request({ kind: "one-box", version: "v2", percent: 10 });
    await d.start(oneBox);
    expect(await finish(d, fake, oneBox)).toEqual({ state: "succeeded" });
    for (const percent of [25, 50]) {
      const step = request({ kind: "rolling", version: "v2", percent });
      await d.start(step);
      expect(await finish(d, fake, step)).toEqual({ state: "succeeded" });
      expect(fake.alias).toMatchObject({ version: "1", weights: { "2": percent / 100 } });
    }
    expect(fake.calls(UpdateFunctionCodeCommand)).toBe(1);
    const rollback = request({ kind: "rollback", version: "v1" });
    await d.start(rollback);
    expect(await finish(d, fake, rollback)).toEqual({ state: "succeeded" });
    expect(fake.alias).toMatchObject({ version: "1", weights: {} });
  });

  it("a rollback of a one-box puts the alias back on the version before, weights cleared", async () => {
    const oneBox = request({ kind: "one-box", version: "v2", percent: 25 });
    await d.start(oneBox);
    expect(await finish(d, fake, oneBox)).toEqual({ state: "succeeded" });
    expect(fake.alias.weights).toEqual({ "2": 0.25 });
    const rollback = request({ kind: "rollback", version: "v1" });
    await d.start(rollback);
    expect(await d.status(rollback)).toEqual({ state: "succeeded" });
    expect(fake.alias).toMatchObject({ version: "1", weights: {} });
    // v1 was published already: found by its description, no code loaded for it.
    expect(fake.calls(UpdateFunctionCodeCommand)).toBe(1);
  });

  it("a retry after PublishVersion landed but its answer was lost finds the version by its description instead of publishing again", async () => {
    const req = request({ kind: "full", version: "v2" });
    await d.start(req);
    fake.complete();
    fake.loseNextPublishAnswer = true;
    const error = await d.status(req).catch((e: unknown) => e);
    expect((error as Error).name).toBe(TransientError.name);
    expect(fake.versions).toHaveLength(2);
    expect(await d.status(req)).toEqual({ state: "succeeded" });
    expect(fake.calls(PublishVersionCommand)).toBe(1);
    expect(fake.calls(UpdateFunctionCodeCommand)).toBe(1);
    expect(fake.alias.version).toBe("2");
  });

  it("a start while an update of the function is in progress (ResourceConflictException) waits for LastUpdateStatus instead of failing", async () => {
    fake.latest.status = "InProgress";
    const req = request({ kind: "full", version: "v2" });
    // GetFunctionConfiguration says InProgress: nothing is sent.
    expect(await d.start(req)).toEqual({ pollSeconds: 5 });
    expect(fake.calls(UpdateFunctionCodeCommand)).toBe(0);
    // An update that starts between the read and the write is refused the same way.
    fake.latest.status = "Successful";
    fake.racingUpdate = true;
    expect(await d.start(req)).toEqual({ pollSeconds: 5 });
    expect(fake.calls(UpdateFunctionCodeCommand)).toBe(1);
    expect(fake.mutations).toBe(0);
  });

  it("a rollback to a version no longer published, while the deploy's code update is in progress, waits and loads its own code: the deploy's code is never published as the version before", async () => {
    const deploy = request({ kind: "full", version: "v2" });
    await d.start(deploy);
    expect(fake.latest.status).toBe("InProgress");
    fake.versions = []; // v1's published version was deleted since
    const rollback = request({ kind: "rollback", version: "v1" });
    const error = await d.start(rollback).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(fake.calls(PublishVersionCommand)).toBe(0);
    fake.complete();
    // Step Functions retries StartRollback: now it loads v1's zip.
    expect(await d.start(rollback)).toEqual({ pollSeconds: 5 });
    expect(lastInput(UpdateFunctionCodeCommand)).toMatchObject({ S3Key: "orders-api/v1.zip" });
    expect(await finish(d, fake, rollback)).toEqual({ state: "succeeded" });
    const v = fake.versions.find((x) => x.Version === fake.alias.version);
    expect(v).toMatchObject({ CodeSha256: shaOf(keyOf("v1")) });
    expect(fake.serving()).toBe("v1");
  });

  it("a code update Lambda fails (LastUpdateStatus Failed) fails the step with Lambda's reason; the alias is untouched", async () => {
    const req = request({ kind: "full", version: "v2" });
    await d.start(req);
    fake.fail();
    const status = await d.status(req);
    expect(status).toEqual({
      state: "failed",
      reason: `Lambda could not update ${FUNCTION} to ${BUCKET}/orders-api/v2.zip: InvalidZipFileException: Could not unpack the deployment package: not a valid zip file`,
    });
    expect(fake.calls(PublishVersionCommand)).toBe(0);
    expect(fake.calls(UpdateAliasCommand)).toBe(0);
    expect(fake.alias.version).toBe("1");
  });

  it("a digest that is the zip's SHA-256 already in $LATEST: a retried start loads nothing again", async () => {
    const hex = Buffer.from(shaOf(keyOf("v2")), "base64").toString("hex");
    const req = request({ kind: "full", version: "v2", artifactDigest: `sha256:${hex}` });
    await d.start(req);
    fake.complete();
    // The task died before status: $LATEST has the code, nothing is published yet.
    await d.start(req);
    expect(fake.calls(UpdateFunctionCodeCommand)).toBe(1);
    expect(await finish(d, fake, req)).toEqual({ state: "succeeded" });
    expect(fake.alias.version).toBe("2");
  });

  it("ResourceConflictException (or a changed RevisionId) on the alias is a TransientError; the retry moves it", async () => {
    const req = published({ kind: "full", version: "v2" });
    fake.versions.push({
      Version: "2",
      Description: "orders-api v2 (build 17)",
      CodeSha256: shaOf(keyOf("v2")),
    });
    fake.aliasError = conflict(
      `The operation cannot be performed at this time. An update is in progress for resource: ${ARN}:live`,
    );
    const error = await d.start(req).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toContain("ResourceConflictException");
    expect(fake.alias.version).toBe("1");
    fake.aliasError = new PreconditionFailedException({
      message: "The Revision Id provided does not match the latest Revision Id.",
      $metadata: { httpStatusCode: 412 },
    });
    expect(await d.start(req).catch((e: unknown) => e)).toBeInstanceOf(TransientError);
    await d.start(req);
    expect(await d.status(req)).toEqual({ state: "succeeded" });
    expect(fake.alias.version).toBe("2");
  });

  it("without code: uses the published version whose description names the Breakwater version (across pages), loading nothing", async () => {
    fake.versions.push(
      { Version: "2", Description: "orders-api v20", CodeSha256: "a" },
      { Version: "3", Description: "release=v2; commit 3f9c2e1", CodeSha256: "b" },
      { Version: "4", Description: "", CodeSha256: "c" },
    );
    const req = published({ kind: "full", version: "v2" });
    await d.start(req);
    expect(await d.status(req)).toEqual({ state: "succeeded" });
    expect(fake.alias.version).toBe("3");
    expect(fake.calls(ListVersionsByFunctionCommand)).toBeGreaterThanOrEqual(3); // 5 entries, pages of 2
    expect(fake.calls(UpdateFunctionCodeCommand) + fake.calls(PublishVersionCommand)).toBe(0);
  });

  it("without code and no version naming it: failed, naming the function and the version; nothing changed", async () => {
    const req = published({ kind: "full", version: "v9" });
    expect(await d.start(req)).toEqual({ pollSeconds: 0 });
    const status = await d.status(req);
    expect(status.state).toBe("failed");
    expect(status.state === "failed" && status.reason).toMatch(
      /^no published version of orders-api-eu-north-1 names Breakwater version v9 in its description/,
    );
    expect(fake.mutations).toBe(0);
  });

  it("two published versions naming the version: failed as ambiguous rather than guessing", async () => {
    fake.versions.push(
      { Version: "2", Description: "v2", CodeSha256: "a" },
      { Version: "3", Description: "v2 again", CodeSha256: "b" },
    );
    const status = await (async () => {
      const req = published({ kind: "full", version: "v2" });
      await d.start(req);
      return d.status(req);
    })();
    expect(status).toEqual({
      state: "failed",
      reason: `published versions 2, 3 of ${FUNCTION} all name Breakwater version v2 in their description: delete or re-describe all but one`,
    });
    expect(fake.mutations).toBe(0);
  });

  it("a one-box on an alias that points at $LATEST fails clearly (weighted routing needs published versions)", async () => {
    fake.versions.push({ Version: "2", Description: "v2", CodeSha256: "a" });
    fake.alias.version = "$LATEST";
    const req = published({ kind: "one-box", version: "v2", percent: 10 });
    await d.start(req);
    const status = await d.status(req);
    expect(status.state === "failed" && status.reason).toContain("points at $LATEST");
    expect(fake.mutations).toBe(0);
  });

  it("an alias that does not exist fails the step, naming function and alias", async () => {
    const req = requestFor({ ...PUBLISHED_TARGET, alias: "prod" })({
      kind: "rollback",
      version: "v1",
    });
    await d.start(req);
    const status = await d.status(req);
    expect(status.state === "failed" && status.reason).toMatch(
      /^orders-api-eu-north-1 \(alias prod\) not found in eu-north-1/,
    );
  });

  it("cancel sends nothing: the alias move is atomic", async () => {
    const req = request({ kind: "full", version: "v2" });
    await d.start(req);
    const before = fake.mock.calls().length;
    await d.cancel(req);
    expect(fake.mock.calls().length).toBe(before);
  });

  it("descriptionNames: Breakwater's own prefix names exactly its version; others by whole word", () => {
    expect(descriptionNames("Breakwater version v2 (bw-1)", "v2")).toBe(true);
    expect(descriptionNames("Breakwater version v20 (bw-1)", "v2")).toBe(false);
    expect(descriptionNames("Breakwater version v2 (bw-1)", "version")).toBe(false);
    expect(descriptionNames("deploy 1.4.0+build.7.", "1.4.0+build.7")).toBe(true);
    expect(descriptionNames("1.4.0+build.7", "1.4.0")).toBe(false);
    expect(descriptionNames(undefined, "v2")).toBe(false);
  });
});

describe("CloudWatchMetricSource with a lambda-alias target and no metrics section", () => {
  const cw = mockClient(CloudWatchClient);
  const driver = new LambdaAliasDriver();
  const source = new CloudWatchMetricSource(
    (region) => new CloudWatchClient({ region, credentials }),
    new LambdaAliasMetrics(deployer(), driver),
  );
  const FROM = new Date("2026-03-04T10:00:00.000Z");
  const minute = (n: number) => new Date(FROM.getTime() + n * 60_000);
  const query = (select: { version: string } | "all", target: unknown = CODE_TARGET) => ({
    pipeline: pipelineWith(target),
    scope: parseScopeId(`prod-1/${REGION}`),
    select,
    from: FROM,
    to: minute(3),
  });
  beforeEach(() => {
    fake.reset("v1");
    fake.versions.push({
      Version: "7",
      Description: publishedDescription("v2", "d"),
      CodeSha256: shaOf(keyOf("v2")),
    });
    cw.reset();
  });

  const sent = () =>
    cw.commandCalls(GetMetricDataCommand).at(-1)?.args[0].input as GetMetricDataCommandInput;

  it("reads AWS/Lambda Invocations, Errors and p99 Duration by FunctionName, Resource and the ExecutedVersion of the Breakwater version", async () => {
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        {
          Id: "requests",
          Timestamps: [minute(0), minute(1)],
          Values: [120, 80],
          StatusCode: "Complete",
        },
        { Id: "faults", Timestamps: [minute(1)], Values: [3], StatusCode: "Complete" },
        { Id: "p99", Timestamps: [minute(0)], Values: [412.5], StatusCode: "Complete" },
      ],
    });
    const samples = await source.minutes(query({ version: "v2" }));
    expect(samples).toEqual([
      { requests: 120, faults: 0, p99Ms: 412.5 },
      { requests: 80, faults: 3, p99Ms: Number.NaN },
      { requests: 0, faults: 0, p99Ms: Number.NaN },
    ]);
    const byId = Object.fromEntries(
      (sent().MetricDataQueries ?? []).map((q) => [q.Id, q.MetricStat]),
    );
    const dimensions = [
      { Name: "FunctionName", Value: FUNCTION },
      { Name: "Resource", Value: `${FUNCTION}:live` },
      { Name: "ExecutedVersion", Value: "7" },
    ];
    expect(byId.requests).toEqual({
      Metric: { Namespace: "AWS/Lambda", MetricName: "Invocations", Dimensions: dimensions },
      Period: 60,
      Stat: "Sum",
    });
    expect(byId.faults).toEqual({
      Metric: { Namespace: "AWS/Lambda", MetricName: "Errors", Dimensions: dimensions },
      Period: 60,
      Stat: "Sum",
    });
    expect(byId.p99).toEqual({
      Metric: { Namespace: "AWS/Lambda", MetricName: "Duration", Dimensions: dimensions },
      Period: 60,
      Stat: "p99",
    });
    // The mapping is kept: published versions do not change.
    const lists = fake.calls(ListVersionsByFunctionCommand);
    await source.minutes(query({ version: "v2" }));
    expect(fake.calls(ListVersionsByFunctionCommand)).toBe(lists);
  });

  it("the whole scope (every version) is the alias's traffic: no ExecutedVersion", async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await source.minutes(query("all"));
    for (const q of sent().MetricDataQueries ?? []) {
      expect(q.MetricStat?.Metric?.Dimensions).toEqual([
        { Name: "FunctionName", Value: FUNCTION },
        { Name: "Resource", Value: `${FUNCTION}:live` },
      ]);
    }
  });

  it("a version with nothing published has nothing to read: undefined, no GetMetricData", async () => {
    expect(await source.minutes(query({ version: "v9" }))).toBeUndefined();
    expect(cw.calls()).toHaveLength(0);
  });

  it("a target in another account (roleArn): versions and metrics are read with the assumed role's credentials", async () => {
    const sts = mockClient(STSClient);
    try {
      sts.on(AssumeRoleCommand).resolves({
        Credentials: {
          AccessKeyId: "ASIATARGET",
          SecretAccessKey: "target-secret",
          SessionToken: "target-token",
          Expiration: new Date(Date.now() + 3_600_000),
        },
      });
      // The metrics are read with a client for the target's role (functions/lib/aws-deps.ts
      // assumes it); the published versions are listed with the assumed credentials.
      const readThrough: (string | undefined)[] = [];
      const crossAccount = new CloudWatchMetricSource((region, role) => {
        readThrough.push(role);
        return new CloudWatchClient({ region, credentials });
      }, new LambdaAliasMetrics(deployer(), driver));
      cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
      const roleArn = "arn:aws:iam::222222222222:role/breakwater-deployer";
      await crossAccount.minutes(query({ version: "v2" }, { ...CODE_TARGET, roleArn }));
      expect(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input.RoleArn).toBe(roleArn);
      expect(readThrough).toEqual([roleArn]);
      const list = fake.mock.commandCalls(ListVersionsByFunctionCommand)[0];
      expect(await list?.thisValue.config.credentials()).toMatchObject({
        accessKeyId: "ASIATARGET",
      });
    } finally {
      sts.restore();
    }
  });

  it("another target type without a metrics section still has nothing to read", async () => {
    expect(
      await source.minutes(query({ version: "v2" }, { lambda: "orders-deployer" })),
    ).toBeUndefined();
    expect(cw.calls()).toHaveLength(0);
    expect(fake.mock.calls()).toHaveLength(0);
  });
});
