/**
 * The example `lambda-function` deploy target (examples/deployers/lambda-alias-deployer.ts)
 * against a small stateful Lambda fake (aws-sdk-client-mock, documented response shapes and
 * error classes), and the published contract it is typed with: its answers pass the schemas
 * Breakwater reads them with.
 */
import {
  GetAliasCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  PreconditionFailedException,
  ResourceNotFoundException,
  UpdateAliasCommand,
} from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { functionNameFor, handler } from "../../examples/deployers/lambda-alias-deployer.ts";
import {
  type TargetFunctionRequest,
  targetFunctionStartAnswer,
  targetFunctionStatusAnswer,
} from "../../src/index.ts";

const lambda = mockClient(LambdaClient);

interface Alias {
  FunctionVersion: string;
  weights: Record<string, number>;
  revision: number;
}

/** One function per name: its published versions (description per version) and its alias. */
let functions: Map<string, { versions: Record<string, string>; alias: Alias }>;

function fake() {
  lambda.reset();
  lambda.on(ListVersionsByFunctionCommand).callsFake((input) => {
    const f = functions.get(input.FunctionName);
    if (!f) throw new ResourceNotFoundException({ message: "Function not found", $metadata: {} });
    // Two pages, as ListVersionsByFunction pages with NextMarker.
    const all = Object.entries(f.versions).map(([Version, Description]) => ({
      Version,
      Description,
    }));
    const page = input.Marker ? all.slice(1) : all.slice(0, 1);
    return { Versions: page, ...(input.Marker || all.length < 2 ? {} : { NextMarker: "next" }) };
  });
  lambda.on(GetAliasCommand).callsFake((input) => {
    const f = functions.get(input.FunctionName);
    if (!f || input.Name !== "live") {
      throw new ResourceNotFoundException({ message: "Alias not found", $metadata: {} });
    }
    return {
      Name: "live",
      FunctionVersion: f.alias.FunctionVersion,
      RevisionId: String(f.alias.revision),
      ...(Object.keys(f.alias.weights).length
        ? { RoutingConfig: { AdditionalVersionWeights: { ...f.alias.weights } } }
        : {}),
    };
  });
  lambda.on(UpdateAliasCommand).callsFake((input) => {
    const f = functions.get(input.FunctionName);
    if (!f) throw new ResourceNotFoundException({ message: "Function not found", $metadata: {} });
    if (input.RevisionId !== undefined && input.RevisionId !== String(f.alias.revision)) {
      throw new PreconditionFailedException({
        message: "The RevisionId provided does not match the latest RevisionId",
        $metadata: {},
      });
    }
    f.alias = {
      FunctionVersion: input.FunctionVersion ?? f.alias.FunctionVersion,
      weights: { ...(input.RoutingConfig?.AdditionalVersionWeights ?? {}) },
      revision: f.alias.revision + 1,
    };
    return { Name: "live", FunctionVersion: f.alias.FunctionVersion };
  });
}

const request = (over: Partial<TargetFunctionRequest>): TargetFunctionRequest => ({
  action: "start",
  deploymentId: "d-1",
  pipeline: "orders-api",
  scope: "prod-1/eu-north-1/eun1-az1",
  stage: "prod-1",
  region: "eu-north-1",
  az: "eun1-az1",
  version: "v2",
  percent: 100,
  kind: "full",
  ...over,
});

beforeEach(() => {
  process.env.FUNCTION_NAME = "orders-api-{az}";
  functions = new Map([
    [
      "orders-api-eun1-az1",
      {
        versions: { "1": "breakwater:v1", "2": "breakwater:v2" },
        alias: { FunctionVersion: "1", weights: {}, revision: 1 },
      },
    ],
  ]);
  fake();
});
afterEach(() => {
  delete process.env.FUNCTION_NAME;
});

const alias = () => functions.get("orders-api-eun1-az1")?.alias;
const updates = () => lambda.commandCalls(UpdateAliasCommand).length;

describe("the example lambda-function deployer", () => {
  it("one-box: weighted routing at the step's percent, then status succeeded", async () => {
    const start = await handler(request({ kind: "one-box", percent: 10 }));
    expect(targetFunctionStartAnswer.parse(start)).toEqual({ pollSeconds: 0 });
    expect(alias()).toMatchObject({ FunctionVersion: "1", weights: { "2": 0.1 } });
    const status = await handler(request({ action: "status", kind: "one-box", percent: 10 }));
    expect(targetFunctionStatusAnswer.parse(status)).toEqual({ state: "succeeded" });
  });

  it("full: the alias on the new version alone; a retried start changes nothing", async () => {
    await handler(request({ kind: "one-box", percent: 10, deploymentId: "d-0" }));
    await handler(request({}));
    expect(alias()).toMatchObject({ FunctionVersion: "2", weights: {} });
    const before = updates();
    await handler(request({}));
    expect(updates()).toBe(before);
    expect(await handler(request({ action: "status" }))).toEqual({ state: "succeeded" });
  });

  it("rollback: the alias back on the version before", async () => {
    await handler(request({}));
    await handler(request({ kind: "rollback", version: "v1", deploymentId: "d-2" }));
    expect(alias()).toMatchObject({ FunctionVersion: "1", weights: {} });
  });

  it("a version with no published Lambda version: status failed, naming it; nothing moved", async () => {
    expect(await handler(request({ version: "v9" }))).toEqual({ pollSeconds: 0 });
    const status = targetFunctionStatusAnswer.parse(
      await handler(request({ action: "status", version: "v9" })),
    );
    expect(status).toEqual({
      state: "failed",
      reason: "no published version of orders-api-eun1-az1 has the description breakwater:v9",
    });
    expect(updates()).toBe(0);
  });

  it("an alias changed concurrently: the conditional update fails (Breakwater retries the step)", async () => {
    lambda.on(GetAliasCommand).resolves({ Name: "live", FunctionVersion: "1", RevisionId: "0" });
    await expect(handler(request({}))).rejects.toBeInstanceOf(PreconditionFailedException);
    expect(alias()).toMatchObject({ FunctionVersion: "1" });
  });

  it("status reports an alias someone else moved as failed", async () => {
    await handler(request({}));
    (alias() as Alias).FunctionVersion = "1";
    const status = await handler(request({ action: "status" }));
    expect(status).toMatchObject({ state: "failed" });
  });

  it("cancel has nothing to stop and answers at once", async () => {
    expect(await handler(request({ action: "cancel" }))).toEqual({});
    expect(lambda.calls()).toHaveLength(0);
  });

  it("names the scope's function from the template", () => {
    expect(functionNameFor(request({}), "orders-{stage}-{region}-{az}")).toBe(
      "orders-prod-1-eu-north-1-eun1-az1",
    );
    expect(functionNameFor(request({}))).toBe("orders-api");
  });
});
