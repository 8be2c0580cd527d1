/**
 * One contract every deploy target passes (issue "Deploy real things", items 2 and 5): a step
 * starts, is polled until the service says it is done, fails the way the service reports
 * failure, survives a throttled call, starts nothing new when retried with the same deployment
 * id, can be cancelled while in flight (and a finished one is left alone), and rolls back to the
 * version before. Each target brings a {@link TargetWorld}: the real driver behind the real
 * `TargetDeployer`, talking to its AWS service mocked with aws-sdk-client-mock as a small
 * stateful fake that answers in the documented response shapes.
 *
 * Run by test/unit/targets-*.test.ts, one file per target type.
 */
import { STSClient } from "@aws-sdk/client-sts";
import { beforeEach, describe, expect, it } from "vitest";
import type { TargetDrivers } from "../../src/adapters/aws/targets/driver.ts";
import { TargetDeployer } from "../../src/adapters/aws/targets/index.ts";
import { TransientError } from "../../src/domain/errors.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import type { Deployer, DeploymentKind, DeploymentRequest } from "../../src/domain/ports.ts";
import { parseScopeId } from "../../src/domain/scope.ts";

export interface TargetWorld {
  /** The real TargetDeployer with the real driver of the type under test. */
  deployer: Deployer;
  /** A request for the one scope the world serves. */
  request(o: {
    kind: DeploymentKind;
    version: string;
    percent?: number;
    deploymentId?: string;
  }): DeploymentRequest;
  /** The service finishes its in-flight work successfully (the next status sees it). */
  complete(): void;
  /** The service's in-flight work fails the documented way (circuit breaker, UPDATE_ROLLBACK_COMPLETE, FAILED build…). */
  fail(): void;
  /** The service throttles the next call (its documented throttling error). */
  throttleNext(): void;
  /** The version the scope serves all of its traffic from, per the fake service. */
  serving(): string | undefined;
  /** Calls that changed something in the service (deploys started, aliases moved…). */
  mutations(): number;
  /** The service saw the in-flight work stopped (StopDeployment, CancelUpdateStack, StopBuild…). */
  cancelled(): boolean;
  /** Can the service stop in-flight work? (A Lambda alias moves atomically: nothing to stop.) */
  cancellable: boolean;
  /** Can it split a scope's traffic (a one-box step)? */
  splitsTraffic: boolean;
  /** A fresh service serving `initial` (called before every test). */
  reset(initial: string): void;
}

/** Polls status until it is no longer in progress, completing the service's work first. */
async function finish(world: TargetWorld, req: DeploymentRequest) {
  world.complete();
  for (let i = 0; i < 5; i++) {
    const s = await world.deployer.status(req);
    if (s.state !== "in-progress") return s;
    world.complete();
  }
  return world.deployer.status(req);
}

export function deployTargetContract(name: string, makeWorld: () => TargetWorld): void {
  describe(`deploy target contract: ${name}`, () => {
    const world = makeWorld();
    beforeEach(() => world.reset("v1"));

    it("a full step starts, is in progress until the service is done, then succeeded", async () => {
      const req = world.request({ kind: "full", version: "v2" });
      const started = await world.deployer.start(req);
      expect(started.pollSeconds).toBeGreaterThanOrEqual(0);
      expect(world.mutations()).toBeGreaterThan(0);
      const before = await world.deployer.status(req);
      expect(["in-progress", "succeeded"]).toContain(before.state);
      expect(await finish(world, req)).toEqual({ state: "succeeded" });
      expect(world.serving()).toBe("v2");
    });

    it("a retried start with the same deployment id starts nothing new", async () => {
      const req = world.request({ kind: "full", version: "v2" });
      await world.deployer.start(req);
      const after = world.mutations();
      await world.deployer.start(req);
      await world.deployer.start(req);
      expect(world.mutations()).toBe(after);
      expect(await finish(world, req)).toEqual({ state: "succeeded" });
    });

    it("a step the service fails is failed, with the service's reason", async () => {
      const req = world.request({ kind: "full", version: "v2" });
      await world.deployer.start(req);
      world.fail();
      const status = await world.deployer.status(req);
      expect(status.state).toBe("failed");
      expect(status.state === "failed" && status.reason.length).toBeGreaterThan(0);
      expect(world.serving()).not.toBe("v2");
    });

    it("a throttled call is a TransientError (Step Functions retries the task), and the retry works", async () => {
      const req = world.request({ kind: "full", version: "v2" });
      world.throttleNext();
      const error = await world.deployer.start(req).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).name).toBe(TransientError.name);
      await world.deployer.start(req);
      expect(await finish(world, req)).toEqual({ state: "succeeded" });
    });

    it("cancel stops a step in flight; the step then never reports success", async () => {
      const req = world.request({ kind: "full", version: "v2" });
      await world.deployer.start(req);
      await world.deployer.cancel(req);
      await world.deployer.cancel(req); // idempotent
      if (world.cancellable) {
        expect(world.cancelled()).toBe(true);
        const status = await world.deployer.status(req);
        expect(status.state).not.toBe("succeeded");
      } else {
        expect(world.cancelled()).toBe(false);
      }
    });

    it("cancel of a finished step changes nothing", async () => {
      const req = world.request({ kind: "full", version: "v2" });
      await world.deployer.start(req);
      expect(await finish(world, req)).toEqual({ state: "succeeded" });
      const mutations = world.mutations();
      await world.deployer.cancel(req);
      expect(world.cancelled()).toBe(false);
      expect(world.mutations()).toBe(mutations);
      expect(world.serving()).toBe("v2");
    });

    it("a rollback puts the scope back on the version before", async () => {
      const deploy = world.request({ kind: "full", version: "v2" });
      await world.deployer.start(deploy);
      expect(await finish(world, deploy)).toEqual({ state: "succeeded" });
      const rollback = world.request({ kind: "rollback", version: "v1" });
      await world.deployer.start(rollback);
      expect(await finish(world, rollback)).toEqual({ state: "succeeded" });
      expect(world.serving()).toBe("v1");
    });

    if (world.splitsTraffic) {
      it("a one-box step serves a share of the traffic where the type can split it", async () => {
        const req = world.request({ kind: "one-box", version: "v2", percent: 10 });
        await world.deployer.start(req);
        expect(await finish(world, req)).toEqual({ state: "succeeded" });
        // The scope's main traffic stays on the old version until the full step.
        expect(world.serving()).toBe("v1");
      });
    }
  });
}

/** Static test credentials for the SDK clients the worlds create (never sent anywhere). */
export const TEST_CREDENTIALS = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" };

/**
 * Requests for the one scope a world serves, `prod-1/<region>` of a one-stage pipeline with
 * `target`: the deployment id names the version and kind, a one-box is 10% unless told.
 */
export function targetRequests(target: unknown, region = "eu-north-1") {
  const pipeline = parsePipeline({
    name: "orders-api",
    target,
    stages: [{ name: "prod-1", regions: [region], bake: { minutes: 10 } }],
  });
  return (o: {
    kind: DeploymentKind;
    version: string;
    percent?: number;
    deploymentId?: string;
  }): DeploymentRequest => ({
    deploymentId: o.deploymentId ?? `orders-api@${o.version}|prod-1/${region}|${o.kind}`,
    pipeline,
    scope: parseScopeId(`prod-1/${region}`),
    version: o.version,
    percent: o.percent ?? (o.kind === "one-box" ? 10 : 100),
    kind: o.kind,
  });
}

/** The real TargetDeployer with the given drivers, in account 111122223333. */
export function testTargetDeployer(drivers: TargetDrivers): TargetDeployer {
  return new TargetDeployer({
    sts: new STSClient({ region: "us-east-1", credentials: TEST_CREDENTIALS }),
    account: async () => "111122223333",
    drivers,
  });
}
