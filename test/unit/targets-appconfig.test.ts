/**
 * The `appconfig` target passes the deploy target contract, and its own paths: the hosted
 * version labelled with the Breakwater version deployed with `breakwater-all-at-once` (created
 * once, no bake), names or ids resolved across pages, a rollback that stops the deployment in
 * flight, an alarm's rollback reported with its reason, two racing starts that deploy once, and
 * the errors of a missing label, environment or a strategy that bakes. AppConfig is a small
 * stateful fake behind aws-sdk-client-mock answering in the documented shapes and errors.
 */
import {
  CreateDeploymentStrategyCommand,
  GetApplicationCommand,
  ListApplicationsCommand,
  ListConfigurationProfilesCommand,
  ListEnvironmentsCommand,
  StartDeploymentCommand,
  StopDeploymentCommand,
} from "@aws-sdk/client-appconfig";
import { beforeEach, describe, expect, it } from "vitest";
import { awsDeps } from "../../functions/lib/aws-deps.ts";
import { AppConfigDriver } from "../../src/adapters/aws/targets/appconfig.ts";
import { deploymentToken } from "../../src/adapters/aws/targets/token.ts";
import {
  deployTargetContract,
  type TargetWorld,
  targetRequests,
  testTargetDeployer,
} from "../contract/deploy-target.ts";
import { APP, FakeAppConfig, PROFILE } from "../support/fake-appconfig.ts";

const _credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" };
const REGION = "eu-north-1";

const TARGET = {
  type: "appconfig",
  application: "orders",
  environment: "{stage}-{region}",
  configurationProfile: "flags",
};

const requestFor = (target: unknown) => targetRequests(target, REGION);

function makeDeployer() {
  return testTargetDeployer({ appconfig: new AppConfigDriver() });
}

const fake = new FakeAppConfig(REGION, `prod-1-${REGION}`);
const ENV = fake.env;

deployTargetContract("appconfig", () => {
  const world: TargetWorld = {
    deployer: makeDeployer(),
    request: requestFor(TARGET),
    complete: () => fake.complete(),
    fail: () => fake.fail(),
    throttleNext() {
      fake.throttle = true;
    },
    serving: () => fake.serving(),
    mutations: () => fake.mutations,
    cancelled: () => fake.cancelled,
    cancellable: true,
    splitsTraffic: false,
    reset: (initial) => fake.reset(initial),
  };
  return world;
});

describe("appconfig target", () => {
  let deployer = makeDeployer();
  const request = requestFor(TARGET);
  beforeEach(() => {
    fake.reset("v1");
    deployer = makeDeployer();
  });

  it("deploys the hosted version labelled with the version, with breakwater-all-at-once (no bake), made once", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    const creates = fake.mock.commandCalls(CreateDeploymentStrategyCommand);
    expect(creates).toHaveLength(1);
    expect(creates[0]?.args[0].input).toMatchObject({
      Name: "breakwater-all-at-once",
      DeploymentDurationInMinutes: 0,
      FinalBakeTimeInMinutes: 0,
      GrowthFactor: 100,
      GrowthType: "LINEAR",
      ReplicateTo: "NONE",
    });
    const starts = fake.mock.commandCalls(StartDeploymentCommand);
    expect(starts).toHaveLength(1);
    const input = starts[0]?.args[0].input;
    expect(input).toMatchObject({
      ApplicationId: APP.Id,
      EnvironmentId: ENV.Id,
      ConfigurationProfileId: PROFILE.Id,
      ConfigurationVersion: "2", // v2, not the v2-hotfix a prefix would also match
      DeploymentStrategyId: creates[0] && fake.strategies.at(-1)?.Id,
      LatestDeploymentNumber: 1,
    });
    expect(input?.DeploymentStrategyId).not.toBe("AppConfig.AllAtOnce");
    expect(input?.Description?.startsWith(`Breakwater ${deploymentToken(req.deploymentId)}:`)).toBe(
      true,
    );
    fake.complete();
    expect(await deployer.status(req)).toEqual({ state: "succeeded" });

    // The next step (another driver instance, as in a new Lambda container) finds the strategy.
    const other = makeDeployer();
    await other.start(request({ kind: "full", version: "v1", deploymentId: "next" }));
    expect(fake.mock.commandCalls(CreateDeploymentStrategyCommand)).toHaveLength(1);
    expect(
      fake.mock.commandCalls(StartDeploymentCommand)[1]?.args[0].input.DeploymentStrategyId,
    ).toBe(input?.DeploymentStrategyId);
  });

  it("ids are read by id, with no list (IAM can scope them to the resource)", async () => {
    const byId = requestFor({
      type: "appconfig",
      application: APP.Id,
      environment: ENV.Id,
      configurationProfile: PROFILE.Id,
    });
    await deployer.start(byId({ kind: "full", version: "v2" }));
    expect(fake.mock.commandCalls(ListApplicationsCommand)).toHaveLength(0);
    expect(fake.mock.commandCalls(ListEnvironmentsCommand)).toHaveLength(0);
    expect(fake.mock.commandCalls(ListConfigurationProfilesCommand)).toHaveLength(0);
    expect(fake.mock.commandCalls(StartDeploymentCommand)[0]?.args[0].input).toMatchObject({
      ApplicationId: APP.Id,
      EnvironmentId: ENV.Id,
      ConfigurationProfileId: PROFILE.Id,
    });
  });

  it("names are looked up in the lists, past the first page; an id-shaped name too", async () => {
    await deployer.start(request({ kind: "full", version: "v2" }));
    // "orders" and "flags" look like ids: AppConfig knows no such id, so the lists decide.
    expect(fake.mock.commandCalls(GetApplicationCommand)).toHaveLength(1);
    expect(fake.mock.commandCalls(ListApplicationsCommand)).toHaveLength(2);
    expect(fake.mock.commandCalls(StartDeploymentCommand)[0]?.args[0].input).toMatchObject({
      ApplicationId: APP.Id,
      EnvironmentId: ENV.Id,
      ConfigurationProfileId: PROFILE.Id,
    });
  });

  it("a version with no hosted configuration version of its label refuses the start, saying what to create", async () => {
    const error = await deployer
      .start(request({ kind: "full", version: "v9" }))
      .catch((e: unknown) => e);
    expect((error as Error).name).toBe("AppConfigResourceError");
    expect((error as Error).message).toBe(
      `no hosted configuration version of configuration profile flags of application orders in ${REGION} is labelled "v9" (create it with VersionLabel "v9")`,
    );
    expect(fake.mock.commandCalls(StartDeploymentCommand)).toHaveLength(0);
  });

  it("an environment that does not exist is an error naming the field", async () => {
    const req = requestFor({ ...TARGET, environment: "{stage}-nowhere" })({
      kind: "full",
      version: "v2",
    });
    const error = await deployer.start(req).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      `target.environment: no AppConfig environment of application orders in ${REGION} has the id or name "prod-1-nowhere"`,
    );
  });

  it("a breakwater-all-at-once strategy someone gave a bake is refused, not used", async () => {
    fake.strategies.push({
      Id: "baked12",
      Name: "breakwater-all-at-once",
      DeploymentDurationInMinutes: 0,
      FinalBakeTimeInMinutes: 10,
      GrowthFactor: 100,
      GrowthType: "LINEAR",
      ReplicateTo: "NONE",
    });
    const error = await deployer
      .start(request({ kind: "full", version: "v2" }))
      .catch((e: unknown) => e);
    expect((error as Error).name).toBe("AppConfigResourceError");
    expect((error as Error).message).toContain("(baked12)");
    expect((error as Error).message).toContain("10 minutes of bake");
    expect(fake.mock.commandCalls(StartDeploymentCommand)).toHaveLength(0);
  });

  it("a deployment AppConfig rolls back on an alarm fails the step with the alarm", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    fake.fail();
    const status = await deployer.status(req);
    expect(status).toEqual({
      state: "failed",
      reason: `AppConfig deployment 2 of v2 to environment prod-1-${REGION} is ROLLED_BACK: Rollback initiated by CloudWatch alarm arn:aws:cloudwatch:${REGION}:111122223333:alarm:orders-flags-errors (triggered by CLOUDWATCH_ALARM)`,
    });
    expect(fake.serving()).toBe("v1");
  });

  it("two racing starts of one step deploy once, even when the first is done at once: the loser's retry finds the winner's deployment", async () => {
    fake.instant = true; // no deployment in flight to conflict with: only LatestDeploymentNumber guards
    const req = request({ kind: "full", version: "v2" });
    const [a, b] = [makeDeployer(), makeDeployer()];
    const results = await Promise.allSettled([a.start(req), b.start(req)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect((lost.reason as Error).name).toBe("TransientError");
    expect(fake.mutations).toBe(1);
    await b.start(req); // the state machine's retry
    await a.start(req);
    expect(fake.mutations).toBe(1);
    expect(await b.status(req)).toEqual({ state: "succeeded" });
  });

  it("a strategy deleted after a container remembered it is found or made again", async () => {
    await deployer.start(request({ kind: "full", version: "v2" }));
    fake.complete();
    fake.strategies = fake.strategies.filter((s) => s.Name !== "breakwater-all-at-once");
    await deployer.start(request({ kind: "full", version: "v1", deploymentId: "next" }));
    expect(fake.mock.commandCalls(CreateDeploymentStrategyCommand)).toHaveLength(2);
    expect(fake.mutations).toBe(2);
  });

  it("a deploy while another deployment is in flight in the environment is a TransientError", async () => {
    await deployer.start(request({ kind: "full", version: "v2", deploymentId: "someone-else" }));
    const error = await deployer
      .start(request({ kind: "full", version: "v1" }))
      .catch((e: unknown) => e);
    expect((error as Error).name).toBe("TransientError");
    expect((error as Error).message).toBe(
      `AppConfig environment prod-1-${REGION}: Deployment number 2 is already in progress`,
    );
  });

  it("a rollback stops the deployment in flight; the environment is then on the version before, with no new deployment", async () => {
    const deploy = request({ kind: "full", version: "v2" });
    await deployer.start(deploy);
    const rollback = request({ kind: "rollback", version: "v1" });
    await deployer.start(rollback);
    expect(fake.mock.commandCalls(StopDeploymentCommand)).toHaveLength(1);
    expect(await deployer.status(rollback)).toEqual({ state: "succeeded" });
    expect(fake.mock.commandCalls(StartDeploymentCommand)).toHaveLength(1);
    expect(fake.serving()).toBe("v1");
    expect((await deployer.status(deploy)).state).toBe("failed");
  });

  it("a rollback after a finished deploy deploys the version before's label, once", async () => {
    const deploy = request({ kind: "full", version: "v2" });
    await deployer.start(deploy);
    fake.complete();
    expect(await deployer.status(deploy)).toEqual({ state: "succeeded" });
    const rollback = request({ kind: "rollback", version: "v1" });
    await deployer.start(rollback);
    await deployer.start(rollback);
    expect(await deployer.status(rollback)).toEqual({ state: "in-progress", pollSeconds: 10 });
    const starts = fake.mock.commandCalls(StartDeploymentCommand);
    expect(starts).toHaveLength(2);
    expect(starts[1]?.args[0].input.ConfigurationVersion).toBe("1");
    fake.complete();
    expect(await deployer.status(rollback)).toEqual({ state: "succeeded" });
    expect(fake.serving()).toBe("v1");
  });

  it("cancel stops only this step's deployment, and only while it is in flight", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.cancel(req); // never started: nothing to stop
    expect(fake.mock.commandCalls(StopDeploymentCommand)).toHaveLength(0);
    await deployer.start(request({ kind: "full", version: "v2", deploymentId: "someone-else" }));
    await deployer.cancel(req);
    expect(fake.mock.commandCalls(StopDeploymentCommand)).toHaveLength(0);
    expect(fake.deployments.at(-1)?.State).toBe("DEPLOYING");
  });

  it("a throttled call is a TransientError", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    fake.throttle = true;
    const error = await deployer.status(req).catch((e: unknown) => e);
    expect((error as Error).name).toBe("TransientError");
    fake.complete();
    expect(await deployer.status(req)).toEqual({ state: "succeeded" });
  });

  it("is the driver the deployed functions use for the type (functions/lib/aws-deps.ts)", async () => {
    process.env.ACCOUNT_ID = "111122223333";
    process.env.AWS_REGION ??= "us-east-1";
    await awsDeps().deployer.start(request({ kind: "full", version: "v2" }));
    expect(fake.mock.commandCalls(StartDeploymentCommand)).toHaveLength(1);
  });
});
