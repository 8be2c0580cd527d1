/**
 * A small stateful AppConfig behind aws-sdk-client-mock, for the `appconfig` deploy target's
 * tests: one application (among sixty, to page through), its environment, a hosted profile with
 * labelled versions, deployment strategies and the environment's deployments, answering in the
 * documented shapes and errors. A deployment is DEPLOYING until `complete()` or `fail()` (an
 * alarm's rollback), or, with `autoFinish`, the next GetDeployment (runs on the virtual clock).
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
import { mockClient } from "aws-sdk-client-mock";

export const APP = { Id: "abc1234", Name: "orders" };
export const PROFILE = { Id: "prf9012", Name: "flags" };

/** A page of `items` from a NextToken that is the index of the page's first item. */
export function page<T>(items: T[], input: { NextToken?: string; MaxResults?: number }, size = 50) {
  const from = input.NextToken ? Number(input.NextToken) : 0;
  const n = Math.min(input.MaxResults ?? size, size);
  const next = from + n < items.length ? String(from + n) : undefined;
  return { Items: items.slice(from, from + n), ...(next ? { NextToken: next } : {}) };
}

export const PREDEFINED: DeploymentStrategy[] = [
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
export class FakeAppConfig {
  readonly mock = mockClient(AppConfigClient);
  readonly env: { Id: string; Name: string };
  /** Each GetDeployment finishes a deployment in flight: it rolls back when its label is `failing`. */
  autoFinish: { failing?: string } | undefined;
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

  constructor(
    readonly region: string,
    environmentName: string,
  ) {
    this.env = { Id: "env5678", Name: environmentName };
  }

  reset(initial: string) {
    this.deployments = [];
    this.strategies = [...PREDEFINED];
    this.mutations = 0;
    this.cancelled = false;
    this.throttle = false;
    this.instant = false;
    this.autoFinish = undefined;
    this.mock.reset();
    const v = this.versions.find((x) => x.VersionLabel === initial);
    this.deployments.push({
      ApplicationId: APP.Id,
      EnvironmentId: this.env.Id,
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
      if (input.ApplicationId !== APP.Id || input.EnvironmentId !== this.env.Id)
        throw notFound("Environment");
      return { ApplicationId: APP.Id, ...this.env, State: "READY_FOR_DEPLOYMENT" };
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
      return page([{ ApplicationId: APP.Id, ...this.env, State: "READY_FOR_DEPLOYMENT" }], input);
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
      if (this.autoFinish && d.State === "DEPLOYING") {
        if (d.VersionLabel === this.autoFinish.failing) this.fail();
        else this.complete();
      }
      return structuredClone(d);
    });
    this.mock.on(StartDeploymentCommand).callsFake((input: StartDeploymentCommandInput) => {
      gate();
      if (input.ApplicationId !== APP.Id) throw notFound("Application");
      if (input.EnvironmentId !== this.env.Id) throw notFound("Environment");
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
        EnvironmentId: this.env.Id,
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
          `Rollback initiated by CloudWatch alarm arn:aws:cloudwatch:${this.region}:111122223333:alarm:orders-flags-errors`,
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
