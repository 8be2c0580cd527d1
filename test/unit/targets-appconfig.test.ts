/**
 * The `appconfig` target passes the deploy target contract, and its own paths: the hosted
 * version labelled with the Breakwater version deployed with `breakwater-all-at-once` (created
 * once, no bake), names or ids resolved across pages, a rollback that stops the deployment in
 * flight, an alarm's rollback reported with its reason, two racing starts that deploy once, and
 * the errors of a missing label, environment or a strategy that bakes. AppConfig is a small
 * stateful fake behind aws-sdk-client-mock answering in the documented shapes and errors.
 */
import {
  AppConfigClient,
  AppConfigServiceException,
  BadRequestException,
  ConflictException,
  CreateDeploymentStrategyCommand,
  type CreateDeploymentStrategyCommandInput,
  type Deployment,
  type DeploymentStrategy,
  GetApplicationCommand,
  GetConfigurationProfileCommand,
  GetDeploymentCommand,
  GetEnvironmentCommand,
  ListApplicationsCommand,
  ListConfigurationProfilesCommand,
  ListDeploymentStrategiesCommand,
  ListDeploymentsCommand,
  ListEnvironmentsCommand,
  ListHostedConfigurationVersionsCommand,
  ResourceNotFoundException,
  StartDeploymentCommand,
  type StartDeploymentCommandInput,
  StopDeploymentCommand,
} from "@aws-sdk/client-appconfig";
import { STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { awsDeps } from "../../functions/lib/aws-deps.ts";
import { AppConfigDriver } from "../../src/adapters/aws/targets/appconfig.ts";
import { TargetDeployer } from "../../src/adapters/aws/targets/index.ts";
import { deploymentToken } from "../../src/adapters/aws/targets/token.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import type { DeploymentRequest } from "../../src/domain/ports.ts";
import { parseScopeId } from "../../src/domain/scope.ts";
import { deployTargetContract, type TargetWorld } from "../contract/deploy-target.ts";

const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" };
const REGION = "eu-north-1";
const APP = { Id: "abc1234", Name: "orders" };
const ENV = { Id: "env5678", Name: `prod-1-${REGION}` };
const PROFILE = { Id: "prf9012", Name: "flags" };

const TARGET = {
  type: "appconfig",
  application: "orders",
  environment: "{stage}-{region}",
  configurationProfile: "flags",
};

function requestFor(target: unknown) {
  const pipeline = parsePipeline({
    name: "orders-api",
    target,
    stages: [{ name: "prod-1", regions: [REGION], bake: { minutes: 10 } }],
  });
  return (o: {
    kind: DeploymentRequest["kind"];
    version: string;
    percent?: number;
    deploymentId?: string;
  }): DeploymentRequest => ({
    deploymentId: o.deploymentId ?? `orders-api@${o.version}|prod-1/${REGION}|${o.kind}`,
    pipeline,
    scope: parseScopeId(`prod-1/${REGION}`),
    version: o.version,
    percent: o.percent ?? (o.kind === "one-box" ? 10 : 100),
    kind: o.kind,
  });
}

/** A page of `items` from a NextToken that is the index of the page's first item. */
function page<T>(items: T[], input: { NextToken?: string; MaxResults?: number }, size = 50) {
  const from = input.NextToken ? Number(input.NextToken) : 0;
  const n = Math.min(input.MaxResults ?? size, size);
  const next = from + n < items.length ? String(from + n) : undefined;
  return { Items: items.slice(from, from + n), ...(next ? { NextToken: next } : {}) };
}

const PREDEFINED: DeploymentStrategy[] = [
  {
    Id: "AppConfig.AllAtOnce",
    Name: "AppConfig.AllAtOnce",
    DeploymentDurationInMinutes: 0,
    FinalBakeTimeInMinutes: 10,
    GrowthFactor: 100,
    GrowthType: "LINEAR",
    ReplicateTo: "NONE",
  },
  {
    Id: "AppConfig.Linear50PercentEvery30Seconds",
    Name: "AppConfig.Linear50PercentEvery30Seconds",
    DeploymentDurationInMinutes: 1,
    FinalBakeTimeInMinutes: 1,
    GrowthFactor: 50,
    GrowthType: "LINEAR",
    ReplicateTo: "NONE",
  },
];

/** A small stateful AppConfig: one application (among many), its environment, profile and versions. */
class FakeAppConfig {
  readonly mock = mockClient(AppConfigClient);
  deployments: Deployment[] = [];
  strategies: DeploymentStrategy[] = [];
  versions = [
    { VersionNumber: 1, VersionLabel: "v1" },
    { VersionNumber: 2, VersionLabel: "v2" },
    { VersionNumber: 3, VersionLabel: "v2-hotfix" },
  ];
  mutations = 0;
  cancelled = false;
  throttle = false;
  /** Deployments finish as they start (all at once, no bake: AppConfig takes seconds). */
  instant = false;
  private strategyNo = 0;

  reset(initial: string) {
    this.deployments = [];
    this.strategies = [...PREDEFINED];
    this.mutations = 0;
    this.cancelled = false;
    this.throttle = false;
    this.instant = false;
    this.mock.reset();
    const v = this.versions.find((x) => x.VersionLabel === initial);
    this.deployments.push({
      ApplicationId: APP.Id,
      EnvironmentId: ENV.Id,
      DeploymentNumber: 1,
      ConfigurationProfileId: PROFILE.Id,
      ConfigurationName: PROFILE.Name,
      ConfigurationVersion: String(v?.VersionNumber),
      VersionLabel: initial,
      DeploymentStrategyId: "AppConfig.AllAtOnce",
      Description: "first deploy, by hand",
      State: "COMPLETE",
      EventLog: [],
    });
    const gate = () => {
      if (this.throttle) {
        this.throttle = false;
        throw new AppConfigServiceException({
          name: "ThrottlingException",
          $fault: "client",
          message: "Rate exceeded",
          $metadata: { httpStatusCode: 429 },
        });
      }
    };
    const apps = [
      ...Array.from({ length: 60 }, (_, i) => ({
        Id: `app${String(i).padStart(4, "0")}`,
        Name: `team-${i}`,
      })),
      APP,
    ];
    const notFound = (what: string) =>
      new ResourceNotFoundException({
        message: `${what} not found`,
        ResourceName: what,
        $metadata: { httpStatusCode: 404 },
      });
    this.mock.on(GetApplicationCommand).callsFake((input) => {
      gate();
      const app = apps.find((a) => a.Id === input.ApplicationId);
      if (!app) throw notFound("Application");
      return app;
    });
    this.mock.on(GetEnvironmentCommand).callsFake((input) => {
      gate();
      if (input.ApplicationId !== APP.Id || input.EnvironmentId !== ENV.Id)
        throw notFound("Environment");
      return { ApplicationId: APP.Id, ...ENV, State: "READY_FOR_DEPLOYMENT" };
    });
    this.mock.on(GetConfigurationProfileCommand).callsFake((input) => {
      gate();
      if (input.ApplicationId !== APP.Id || input.ConfigurationProfileId !== PROFILE.Id)
        throw notFound("ConfigurationProfile");
      return { ApplicationId: APP.Id, ...PROFILE, LocationUri: "hosted", Type: "AWS.Freeform" };
    });
    this.mock.on(ListApplicationsCommand).callsFake((input) => {
      gate();
      return page(apps, input);
    });
    this.mock.on(ListEnvironmentsCommand).callsFake((input) => {
      gate();
      if (input.ApplicationId !== APP.Id) throw notFound("Application");
      return page([{ ApplicationId: APP.Id, ...ENV, State: "READY_FOR_DEPLOYMENT" }], input);
    });
    this.mock.on(ListConfigurationProfilesCommand).callsFake((input) => {
      gate();
      if (input.ApplicationId !== APP.Id) throw notFound("Application");
      return page(
        [{ ApplicationId: APP.Id, ...PROFILE, LocationUri: "hosted", Type: "AWS.Freeform" }],
        input,
      );
    });
    this.mock.on(ListHostedConfigurationVersionsCommand).callsFake((input) => {
      gate();
      const label = input.VersionLabel;
      const items = this.versions
        .filter((x) =>
          label === undefined
            ? true
            : label.endsWith("*")
              ? x.VersionLabel.startsWith(label.slice(0, -1))
              : x.VersionLabel === label,
        )
        .map((x) => ({
          ApplicationId: APP.Id,
          ConfigurationProfileId: PROFILE.Id,
          ContentType: "application/json",
          ...x,
        }));
      return page(items, input);
    });
    this.mock.on(ListDeploymentStrategiesCommand).callsFake((input) => {
      gate();
      return page(this.strategies, input);
    });
    this.mock
      .on(CreateDeploymentStrategyCommand)
      .callsFake((input: CreateDeploymentStrategyCommandInput) => {
        gate();
        const s = { ...input, Id: `str${++this.strategyNo}ab` } as DeploymentStrategy;
        this.strategies.push(s);
        return s;
      });
    this.mock.on(ListDeploymentsCommand).callsFake((input) => {
      gate();
      const newest = [...this.deployments].sort(
        (a, b) => (b.DeploymentNumber ?? 0) - (a.DeploymentNumber ?? 0),
      );
      return page(
        newest.map((d) => ({
          DeploymentNumber: d.DeploymentNumber,
          ConfigurationProfileId: d.ConfigurationProfileId,
          ConfigurationName: d.ConfigurationName,
          ConfigurationVersion: d.ConfigurationVersion,
          VersionLabel: d.VersionLabel,
          State: d.State,
          DeploymentDurationInMinutes: 0,
          GrowthType: "LINEAR" as const,
          GrowthFactor: 100,
          FinalBakeTimeInMinutes: 0,
        })),
        input,
      );
    });
    this.mock.on(GetDeploymentCommand).callsFake((input) => {
      gate();
      const d = this.deployments.find((x) => x.DeploymentNumber === input.DeploymentNumber);
      if (!d) throw notFound("Deployment");
      return structuredClone(d);
    });
    this.mock.on(StartDeploymentCommand).callsFake((input: StartDeploymentCommandInput) => {
      gate();
      if (input.ApplicationId !== APP.Id) throw notFound("Application");
      if (input.EnvironmentId !== ENV.Id) throw notFound("Environment");
      if (input.ConfigurationProfileId !== PROFILE.Id) throw notFound("ConfigurationProfile");
      if (!this.strategies.some((s) => s.Id === input.DeploymentStrategyId))
        throw notFound("DeploymentStrategy");
      const v = this.versions.find((x) => String(x.VersionNumber) === input.ConfigurationVersion);
      if (!v) throw notFound("HostedConfigurationVersion");
      const busy = this.deployments.find((d) =>
        ["DEPLOYING", "BAKING", "VALIDATING", "ROLLING_BACK"].includes(d.State ?? ""),
      );
      if (busy) {
        throw new ConflictException({
          message: `Deployment number ${busy.DeploymentNumber} is already in progress`,
          $metadata: { httpStatusCode: 409 },
        });
      }
      const latest = Math.max(0, ...this.deployments.map((d) => d.DeploymentNumber ?? 0));
      if (input.LatestDeploymentNumber !== undefined && input.LatestDeploymentNumber !== latest) {
        throw new ConflictException({
          message: `The latest deployment number is ${latest}, not ${input.LatestDeploymentNumber}`,
          $metadata: { httpStatusCode: 409 },
        });
      }
      this.mutations++;
      const s = this.strategies.find((x) => x.Id === input.DeploymentStrategyId);
      const d: Deployment = {
        ApplicationId: APP.Id,
        EnvironmentId: ENV.Id,
        DeploymentNumber: latest + 1,
        ConfigurationProfileId: PROFILE.Id,
        ConfigurationName: PROFILE.Name,
        ConfigurationVersion: input.ConfigurationVersion,
        VersionLabel: v.VersionLabel,
        DeploymentStrategyId: input.DeploymentStrategyId,
        DeploymentDurationInMinutes: s?.DeploymentDurationInMinutes,
        FinalBakeTimeInMinutes: s?.FinalBakeTimeInMinutes,
        Description: input.Description,
        State: this.instant ? "COMPLETE" : "DEPLOYING",
        EventLog: [
          {
            EventType: "DEPLOYMENT_STARTED",
            TriggeredBy: "USER",
            Description: "Deployment started",
            OccurredAt: new Date(),
          },
        ],
      };
      this.deployments.push(d);
      return structuredClone(d);
    });
    this.mock.on(StopDeploymentCommand).callsFake((input) => {
      gate();
      const d = this.deployments.find((x) => x.DeploymentNumber === input.DeploymentNumber);
      if (!d) throw notFound("Deployment");
      if (d.State !== "DEPLOYING") {
        throw new BadRequestException({
          message: `Deployment ${d.DeploymentNumber} is ${d.State} and cannot be stopped`,
          $metadata: { httpStatusCode: 400 },
        });
      }
      this.mutations++;
      this.cancelled = true;
      this.rollBack(d, "USER", "Rollback initiated by the user");
      return structuredClone(d);
    });
  }

  private rollBack(d: Deployment, by: "USER" | "CLOUDWATCH_ALARM", why: string) {
    d.State = "ROLLED_BACK";
    d.EventLog = [
      {
        EventType: "ROLLBACK_COMPLETED",
        TriggeredBy: "APPCONFIG",
        Description: "Rollback completed",
        OccurredAt: new Date(Date.now() + 1),
      },
      { EventType: "ROLLBACK_STARTED", TriggeredBy: by, Description: why, OccurredAt: new Date() },
      ...(d.EventLog ?? []),
    ];
  }

  complete() {
    for (const d of this.deployments) if (d.State === "DEPLOYING") d.State = "COMPLETE";
  }

  fail() {
    for (const d of this.deployments) {
      if (d.State === "DEPLOYING") {
        this.rollBack(
          d,
          "CLOUDWATCH_ALARM",
          `Rollback initiated by CloudWatch alarm arn:aws:cloudwatch:${REGION}:111122223333:alarm:orders-flags-errors`,
        );
      }
    }
  }

  serving(): string | undefined {
    return [...this.deployments]
      .sort((a, b) => (b.DeploymentNumber ?? 0) - (a.DeploymentNumber ?? 0))
      .find((d) => d.ConfigurationProfileId === PROFILE.Id && d.State === "COMPLETE")?.VersionLabel;
  }
}

function makeDeployer() {
  return new TargetDeployer({
    sts: new STSClient({ region: "us-east-1", credentials }),
    account: async () => "111122223333",
    drivers: { appconfig: new AppConfigDriver() },
  });
}

const fake = new FakeAppConfig();

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
