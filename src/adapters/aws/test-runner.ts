/**
 * The stages' tests in AWS (issue 13, item 2): a Lambda test function invoked with the scope and
 * version (the contract `TestFunctionRequest` / `testFunctionAnswer`, src/domain/checks.ts), or
 * one CodeBuild build of a test project told them by `BREAKWATER_*` variables. Never waits: the
 * state machine polls from Wait states until the test's timeout. A test of a stage whose target
 * names a `roleArn` lives in the target's account and is reached through that role.
 */
import {
  BatchGetBuildsCommand,
  type CodeBuildClient,
  type EnvironmentVariable,
  StartBuildCommand,
  StopBuildCommand,
} from "@aws-sdk/client-codebuild";
import { InvokeCommand, type LambdaClient } from "@aws-sdk/client-lambda";
import {
  MAX_REPORT_CHARS,
  type TestFunctionRequest,
  type TestState,
  testFunctionAnswer,
} from "../../domain/checks.ts";
import { clip } from "../../domain/pipeline.ts";
import type { TestRequest, TestRunner } from "../../domain/ports.ts";
import { failureReason } from "./targets/codebuild.ts";
import { deploymentToken } from "./targets/token.ts";

/** A client in a region, in the control plane's account or (with `roleArn`) through that role. */
export type ClientsFor<C> = (region: string, roleArn?: string) => C;

/** Builds take minutes: poll every 30 seconds. */
const BUILD_POLL_SECONDS = 30;

/** CodeBuild's final states that are not a success (its `StatusType`). */
const BUILD_FAILED = new Set(["FAILED", "FAULT", "TIMED_OUT", "STOPPED"]);

/** The variable every test build carries: the test's id (start, status and stop carry one). */
export const TEST_ID_VARIABLE = "BREAKWATER_TEST_ID";

export class AwsTestRunner implements TestRunner {
  constructor(
    private readonly clients: {
      lambda: ClientsFor<LambdaClient>;
      codebuild: ClientsFor<CodeBuildClient>;
    },
  ) {}

  async start(req: TestRequest): Promise<{ handle: string; status: TestState }> {
    if (req.test.kind === "lambda") {
      return { handle: req.testId, status: await this.invoke(req, "start") };
    }
    // A retried start within CodeBuild's five-minute token window gets the same build back
    // (the task's retries all fall inside it).
    const out = await this.codebuild(req).send(
      new StartBuildCommand({
        projectName: req.test.name,
        idempotencyToken: deploymentToken(req.testId),
        environmentVariablesOverride: testEnvironment(req),
      }),
    );
    const id = out.build?.id;
    if (!id) {
      return {
        handle: "",
        status: {
          state: "failed",
          report: `CodeBuild StartBuild of ${req.test.name} named no build`,
        },
      };
    }
    return { handle: id, status: { state: "running", pollSeconds: BUILD_POLL_SECONDS } };
  }

  async status(req: TestRequest, handle: string): Promise<TestState> {
    if (req.test.kind === "lambda") return this.invoke(req, "status");
    const { builds } = await this.codebuild(req).send(new BatchGetBuildsCommand({ ids: [handle] }));
    const build = builds?.find((b) => b.id === handle);
    // Fail closed: a test whose build cannot be found has not passed.
    if (!build) return { state: "failed", report: `build ${handle} of ${req.test.name} not found` };
    const logs = build.logs?.deepLink ? ` (logs: ${build.logs.deepLink})` : "";
    if (build.buildStatus === "SUCCEEDED") {
      return { state: "passed", report: `build ${handle} SUCCEEDED${logs}` };
    }
    if (build.buildStatus && BUILD_FAILED.has(build.buildStatus)) {
      return { state: "failed", report: `${failureReason(build)}${logs}` };
    }
    return { state: "running", pollSeconds: BUILD_POLL_SECONDS };
  }

  async stop(req: TestRequest, handle: string): Promise<void> {
    if (req.test.kind === "lambda") {
      await this.invoke(req, "stop").catch(() => undefined);
      return;
    }
    if (handle) await this.codebuild(req).send(new StopBuildCommand({ id: handle }));
  }

  private codebuild(req: TestRequest): CodeBuildClient {
    return this.clients.codebuild(req.scope.region, req.roleArn);
  }

  /**
   * One call of the test function. A function error or an answer outside the contract is a
   * failed test (fail closed), with what the function said as its report.
   */
  private async invoke(
    req: TestRequest,
    action: TestFunctionRequest["action"],
  ): Promise<TestState> {
    const out = await this.clients.lambda(req.scope.region, req.roleArn).send(
      new InvokeCommand({
        FunctionName: req.test.name,
        InvocationType: "RequestResponse",
        Payload: new TextEncoder().encode(JSON.stringify(testFunctionRequest(req, action))),
      }),
    );
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : "null";
    if (out.FunctionError) {
      return {
        state: "failed",
        report: `function error (${out.FunctionError}): ${clip(text, MAX_REPORT_CHARS / 2)}`,
      };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return {
        state: "failed",
        report: `answered ${action} with a body that is not JSON: ${clip(text, 200)}`,
      };
    }
    const parsed = testFunctionAnswer.safeParse(json);
    if (!parsed.success) {
      return {
        state: "failed",
        report: `answered ${action} outside the test contract: ${clip(text, 200)}`,
      };
    }
    return parsed.data.state === "passed" && parsed.data.report === undefined
      ? { state: "passed" }
      : (parsed.data as TestState);
  }
}

/** The payload of every invocation of a Lambda test function. */
export function testFunctionRequest(
  req: TestRequest,
  action: TestFunctionRequest["action"],
): TestFunctionRequest {
  return {
    action,
    testId: req.testId,
    pipeline: req.pipeline.name,
    scope: req.scope.id,
    stage: req.scope.stage,
    region: req.scope.region,
    ...(req.scope.az ? { az: req.scope.az } : {}),
    version: req.version,
    ...(req.artifactDigest ? { artifactDigest: req.artifactDigest } : {}),
    percent: req.percent,
    kind: req.kind,
  };
}

/** The environment of a test build (absent values left out rather than sent empty). */
export function testEnvironment(req: TestRequest): EnvironmentVariable[] {
  const vars: Record<string, string | undefined> = {
    BREAKWATER_PIPELINE: req.pipeline.name,
    BREAKWATER_STAGE: req.scope.stage,
    BREAKWATER_SCOPE: req.scope.id,
    BREAKWATER_REGION: req.scope.region,
    BREAKWATER_AZ: req.scope.az,
    BREAKWATER_VERSION: req.version,
    BREAKWATER_ARTIFACT_DIGEST: req.artifactDigest,
    BREAKWATER_PERCENT: String(req.percent),
    BREAKWATER_KIND: req.kind,
    [TEST_ID_VARIABLE]: req.testId,
  };
  return Object.entries(vars).flatMap(([name, value]) =>
    value === undefined ? [] : [{ name, value, type: "PLAINTEXT" as const }],
  );
}
