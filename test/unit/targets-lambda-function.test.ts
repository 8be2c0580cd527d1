/**
 * The `lambda-function` target (a function the team writes) and the `none` target pass the
 * deploy target contract. The team's function is played by a small stateful fake behind Lambda's
 * Invoke (aws-sdk-client-mock): it answers the documented start/status/cancel payloads.
 */
import { InvokeCommand, LambdaClient, TooManyRequestsException } from "@aws-sdk/client-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { LambdaFunctionDriver } from "../../src/adapters/aws/targets/lambda-function.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import type { DeploymentRequest } from "../../src/domain/ports.ts";
import { parseScopeId } from "../../src/domain/scope.ts";
import {
  deployTargetContract,
  type TargetWorld,
  testTargetDeployer,
} from "../contract/deploy-target.ts";

const _credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" };

function requestFor(target: unknown) {
  const pipeline = parsePipeline({
    name: "orders-api",
    target,
    stages: [{ name: "prod-1", regions: ["eu-north-1"], bake: { minutes: 10 } }],
  });
  return (o: {
    kind: DeploymentRequest["kind"];
    version: string;
    percent?: number;
    deploymentId?: string;
  }): DeploymentRequest => ({
    deploymentId: o.deploymentId ?? `orders-api@${o.version}|prod-1/eu-north-1|${o.kind}`,
    pipeline,
    scope: parseScopeId("prod-1/eu-north-1"),
    version: o.version,
    percent: o.percent ?? (o.kind === "one-box" ? 10 : 100),
    kind: o.kind,
  });
}

deployTargetContract("lambda-function", () => {
  const lambda = mockClient(LambdaClient);
  let serving: string | undefined;
  let mutations = 0;
  let cancelled = false;
  let throttle = false;
  /** The team's function: deployments by id, each in progress until the world completes it. */
  const deployments = new Map<
    string,
    {
      version: string;
      percent: number;
      state: "in-progress" | "succeeded" | "failed" | "cancelled";
    }
  >();
  const answer = (value: unknown) => ({
    StatusCode: 200,
    Payload: new TextEncoder().encode(JSON.stringify(value)) as never,
  });
  const world: TargetWorld = {
    deployer: testTargetDeployer({ "lambda-function": new LambdaFunctionDriver() }),
    request: requestFor({ lambda: "orders-deployer" }),
    complete() {
      for (const d of deployments.values()) {
        if (d.state !== "in-progress") continue;
        d.state = "succeeded";
        if (d.percent >= 100) serving = d.version;
      }
    },
    fail() {
      for (const d of deployments.values()) if (d.state === "in-progress") d.state = "failed";
    },
    throttleNext() {
      throttle = true;
    },
    serving: () => serving,
    mutations: () => mutations,
    cancelled: () => cancelled,
    cancellable: true,
    splitsTraffic: true,
    reset(initial) {
      serving = initial;
      mutations = 0;
      cancelled = false;
      throttle = false;
      deployments.clear();
      lambda.reset();
      lambda.on(InvokeCommand).callsFake((input: { Payload: Uint8Array }) => {
        if (throttle) {
          throttle = false;
          throw new TooManyRequestsException({
            message: "Rate exceeded",
            $metadata: { httpStatusCode: 429 },
          });
        }
        const p = JSON.parse(new TextDecoder().decode(input.Payload));
        const d = deployments.get(p.deploymentId);
        if (p.action === "start") {
          if (!d) {
            mutations++;
            deployments.set(p.deploymentId, {
              version: p.version,
              percent: p.percent,
              state: "in-progress",
            });
          }
          return answer({ pollSeconds: 30 });
        }
        if (p.action === "cancel") {
          if (d?.state === "in-progress") {
            d.state = "cancelled";
            cancelled = true;
          }
          return answer({});
        }
        if (!d) return answer({ state: "failed", reason: `no deployment ${p.deploymentId}` });
        if (d.state === "in-progress") return answer({ state: "in-progress", pollSeconds: 30 });
        if (d.state === "succeeded") return answer({ state: "succeeded" });
        return answer({
          state: "failed",
          reason: d.state === "cancelled" ? "cancelled" : "health check failed on 2 hosts",
        });
      });
    },
  };
  return world;
});
