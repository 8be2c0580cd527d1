/**
 * The `appconfig` target: deploys the hosted configuration version whose VersionLabel is the
 * Breakwater version to the scope's environment, all at once and with no bake of AppConfig's own
 * (Breakwater bakes: no double bake). The strategy is `breakwater-all-at-once` (0 minutes, growth
 * 100 %, 0 minutes of final bake), created in the account and region on first use; the predefined
 * `AppConfig.AllAtOnce` bakes for 10 minutes, so it is not used.
 *
 * AppConfig has no client tokens: a step's deployment carries the step's token
 * ({@link deploymentToken}) in its Description, and a start first looks for it among the
 * environment's recent deployments. StartDeployment names the latest deployment number it saw
 * (`LatestDeploymentNumber`), so two racing starts cannot both deploy: AppConfig refuses the
 * second (ConflictException), whose retry then finds the first's deployment.
 *
 * A rollback stops this profile's deployment in flight (StopDeployment: AppConfig puts the
 * environment back on the version before), else deploys the version before's label. A
 * configuration cannot split traffic across a scope, so there are no one-box steps.
 */
import {
  AppConfigClient,
  CreateDeploymentStrategyCommand,
  type Deployment,
  type DeploymentSummary,
  GetApplicationCommand,
  GetConfigurationProfileCommand,
  GetDeploymentCommand,
  GetEnvironmentCommand,
  paginateListApplications,
  paginateListConfigurationProfiles,
  paginateListDeploymentStrategies,
  paginateListDeployments,
  paginateListEnvironments,
  paginateListHostedConfigurationVersions,
  StartDeploymentCommand,
  StopDeploymentCommand,
} from "@aws-sdk/client-appconfig";
import { BreakwaterError, TransientError } from "../../../domain/errors.ts";
import type { DeploymentStatus } from "../../../domain/ports.ts";
import type { TargetOf } from "../../../domain/targets/index.ts";
import type { DriverContext, TargetDriver } from "./driver.ts";
import { deploymentToken } from "./token.ts";

type Ctx = DriverContext<TargetOf<"appconfig">>;

/** An application, environment, profile, version or strategy the target names is missing or ambiguous. */
export class AppConfigResourceError extends BreakwaterError {
  override name = "AppConfigResourceError";
}

/** The strategy Breakwater deploys with: everything at once, no bake (Breakwater bakes). */
export const ALL_AT_ONCE = {
  Name: "breakwater-all-at-once",
  Description: "Breakwater: all targets at once, no bake (Breakwater bakes and rolls back itself).",
  DeploymentDurationInMinutes: 0,
  FinalBakeTimeInMinutes: 0,
  GrowthFactor: 100,
  GrowthType: "LINEAR",
  ReplicateTo: "NONE",
} as const;

const IN_FLIGHT = new Set(["DEPLOYING", "BAKING", "VALIDATING"]);
const POLL_SECONDS = 10;
/** ListDeployments pages (50 each, newest first) searched for a step's deployment. */
const DEPLOYMENT_PAGES = 4;
/** GetDeployment calls at most per search (candidates of the same profile and label). */
const MAX_CANDIDATES = 10;

interface Ids {
  applicationId: string;
  environmentId: string;
  profileId: string;
  profileName: string;
}

export class AppConfigDriver implements TargetDriver<TargetOf<"appconfig">> {
  /** Clients by region, for the function's own role (assumed-role clients are not cached). */
  private readonly clients = new Map<string, AppConfigClient>();
  /** Names resolved to ids, per account and region (ids never change; a miss is not kept). */
  private readonly ids = new Map<string, Promise<Ids>>();
  private readonly strategies = new Map<string, Promise<string>>();

  async start(ctx: Ctx): Promise<{ pollSeconds: number }> {
    const ids = await this.resolve(ctx);
    const recent = await this.recent(ctx, ids);
    if (await this.ours(ctx, ids, recent)) return { pollSeconds: POLL_SECONDS };
    if (ctx.req.kind === "rollback") {
      await this.rollBack(ctx, ids, recent);
    } else {
      await this.deploy(ctx, ids, recent).catch((error: unknown) => {
        if ((error as Error).name !== "ConflictException") throw error;
        // Another deployment in flight, or a racing start deployed first: retried (and found).
        throw new TransientError(
          `AppConfig environment ${ctx.target.environment}: ${(error as Error).message}`,
          { cause: error },
        );
      });
    }
    return { pollSeconds: POLL_SECONDS };
  }

  async status(ctx: Ctx): Promise<DeploymentStatus> {
    const ids = await this.resolve(ctx);
    const recent = await this.recent(ctx, ids);
    const ours = await this.ours(ctx, ids, recent);
    if (ours) return this.outcome(ctx, ours);
    // A rollback waits for a stopped deployment to settle before deploying the version before.
    if (ctx.req.kind === "rollback") return this.rollBack(ctx, ids, recent);
    return {
      state: "failed",
      reason: `no AppConfig deployment to environment ${ctx.target.environment} carries ${deploymentToken(ctx.req.deploymentId)} (the step was cancelled, or never started)`,
    };
  }

  /** Stops this step's deployment while it is in flight (AppConfig rolls it back); else nothing. */
  async cancel(ctx: Ctx): Promise<void> {
    const ids = await this.resolve(ctx);
    const ours = await this.ours(ctx, ids, await this.recent(ctx, ids));
    if (ours && IN_FLIGHT.has(ours.State ?? "")) await this.stop(ctx, ids, ours);
  }

  /**
   * One look at a rollback with no deployment of its own yet: this profile's deployments in
   * flight are stopped; once none is, the environment is on the version before (done) or gets
   * a deployment of it.
   */
  private async rollBack(
    ctx: Ctx,
    ids: Ids,
    recent: DeploymentSummary[],
  ): Promise<DeploymentStatus> {
    const mine = recent.filter((d) => ofProfile(d, ids));
    const inFlight = mine.filter((d) => IN_FLIGHT.has(d.State ?? ""));
    for (const d of inFlight) await this.stop(ctx, ids, d);
    if (inFlight.length > 0 || mine.some((d) => d.State === "ROLLING_BACK")) {
      return { state: "in-progress", pollSeconds: POLL_SECONDS };
    }
    const current = mine.find((d) => d.State === "COMPLETE");
    if (current?.VersionLabel === ctx.req.version) return { state: "succeeded" };
    try {
      await this.deploy(ctx, ids, recent);
    } catch (error) {
      // Someone else's deployment started meanwhile: the next poll stops it.
      if ((error as Error).name !== "ConflictException") throw error;
    }
    return { state: "in-progress", pollSeconds: POLL_SECONDS };
  }

  private async deploy(ctx: Ctx, ids: Ids, recent: DeploymentSummary[]): Promise<void> {
    const { req } = ctx;
    const [version, strategyId] = await Promise.all([
      this.hostedVersion(ctx, ids),
      this.strategy(ctx),
    ]);
    const latest = recent[0]?.DeploymentNumber;
    const send = (strategy: string) =>
      this.client(ctx).send(
        new StartDeploymentCommand({
          ApplicationId: ids.applicationId,
          EnvironmentId: ids.environmentId,
          ConfigurationProfileId: ids.profileId,
          ConfigurationVersion: String(version),
          DeploymentStrategyId: strategy,
          // The token first: it survives the 1024-character cut.
          Description:
            `Breakwater ${deploymentToken(req.deploymentId)}: ${req.pipeline.name} ${req.kind} of ${req.version} (${req.deploymentId})`.slice(
              0,
              1024,
            ),
          // Starts only if no deployment began since the look for this step's own (atomic).
          ...(latest !== undefined ? { LatestDeploymentNumber: latest } : {}),
        }),
      );
    try {
      await send(strategyId);
    } catch (error) {
      if ((error as Error).name !== "ResourceNotFoundException") throw error;
      // The strategy this container remembered was deleted: find or make it again, once.
      this.strategies.delete(strategyKey(ctx));
      await send(await this.strategy(ctx));
    }
  }

  private outcome(ctx: Ctx, d: Deployment): DeploymentStatus {
    const state = d.State ?? "";
    if (state === "COMPLETE") return { state: "succeeded" };
    if (IN_FLIGHT.has(state)) return { state: "in-progress", pollSeconds: POLL_SECONDS };
    // ROLLING_BACK, ROLLED_BACK, REVERTED: the environment goes back to the version before.
    const why = [...(d.EventLog ?? [])]
      .filter((e) => e.EventType === "ROLLBACK_STARTED" || e.EventType === "REVERT_COMPLETED")
      .sort((a, b) => (b.OccurredAt?.getTime() ?? 0) - (a.OccurredAt?.getTime() ?? 0))[0];
    const reason = why
      ? `: ${why.Description ?? why.EventType}${why.TriggeredBy ? ` (triggered by ${why.TriggeredBy})` : ""}`
      : "";
    return {
      state: "failed",
      reason: `AppConfig deployment ${d.DeploymentNumber} of ${ctx.req.version} to environment ${ctx.target.environment} is ${state || "unknown"}${reason}`,
    };
  }

  private async stop(ctx: Ctx, ids: Ids, d: { DeploymentNumber?: number }): Promise<void> {
    try {
      await this.client(ctx).send(
        new StopDeploymentCommand({
          ApplicationId: ids.applicationId,
          EnvironmentId: ids.environmentId,
          DeploymentNumber: d.DeploymentNumber,
        }),
      );
    } catch (error) {
      // It finished between the look and the stop: nothing in flight to stop.
      const name = (error as Error).name;
      if (name === "BadRequestException" || name === "ResourceNotFoundException") return;
      throw error;
    }
  }

  /** The environment's recent deployments, newest first. */
  private async recent(ctx: Ctx, ids: Ids): Promise<DeploymentSummary[]> {
    const out: DeploymentSummary[] = [];
    let pages = 0;
    for await (const page of paginateListDeployments(
      { client: this.client(ctx), pageSize: 50 },
      { ApplicationId: ids.applicationId, EnvironmentId: ids.environmentId },
    )) {
      out.push(...(page.Items ?? []));
      if (++pages >= DEPLOYMENT_PAGES) break;
    }
    return out.sort((a, b) => (b.DeploymentNumber ?? 0) - (a.DeploymentNumber ?? 0));
  }

  /** This step's deployment: of this profile and label, its Description carrying the token. */
  private async ours(
    ctx: Ctx,
    ids: Ids,
    recent: DeploymentSummary[],
  ): Promise<Deployment | undefined> {
    const token = deploymentToken(ctx.req.deploymentId);
    const candidates = recent
      .filter(
        (d) =>
          ofProfile(d, ids) && (d.VersionLabel === undefined || d.VersionLabel === ctx.req.version),
      )
      .slice(0, MAX_CANDIDATES);
    for (const c of candidates) {
      const d = await this.client(ctx).send(
        new GetDeploymentCommand({
          ApplicationId: ids.applicationId,
          EnvironmentId: ids.environmentId,
          DeploymentNumber: c.DeploymentNumber,
        }),
      );
      if (d.ConfigurationProfileId === ids.profileId && d.Description?.includes(token)) return d;
    }
    return undefined;
  }

  /** The number of the hosted configuration version labelled with the Breakwater version. */
  private async hostedVersion(ctx: Ctx, ids: Ids): Promise<number> {
    const { version } = ctx.req;
    const found: number[] = [];
    for await (const page of paginateListHostedConfigurationVersions(
      { client: this.client(ctx) },
      {
        ApplicationId: ids.applicationId,
        ConfigurationProfileId: ids.profileId,
        VersionLabel: version,
      },
    )) {
      // The filter matches a prefix when the label ends in *: only an exact label counts.
      for (const v of page.Items ?? [])
        if (v.VersionLabel === version && v.VersionNumber !== undefined)
          found.push(v.VersionNumber);
    }
    const where = `configuration profile ${ctx.target.configurationProfile} of application ${ctx.target.application} in ${ctx.region}`;
    if (found.length === 0) {
      throw new AppConfigResourceError(
        `no hosted configuration version of ${where} is labelled "${version}" (create it with VersionLabel "${version}")`,
      );
    }
    if (found.length > 1) {
      throw new AppConfigResourceError(
        `hosted configuration versions ${found.join(", ")} of ${where} are all labelled "${version}": a version must name one`,
      );
    }
    return found[0] as number;
  }

  /** The id of `breakwater-all-at-once` in the scope's account and region, created on first use. */
  private strategy(ctx: Ctx): Promise<string> {
    const key = strategyKey(ctx);
    let cached = this.strategies.get(key);
    if (!cached) {
      cached = this.findOrCreateStrategy(ctx);
      this.strategies.set(key, cached);
      cached.catch(() => this.strategies.delete(key));
    }
    return cached;
  }

  private async findOrCreateStrategy(ctx: Ctx): Promise<string> {
    const named = [];
    for await (const page of paginateListDeploymentStrategies({ client: this.client(ctx) }, {}))
      named.push(...(page.Items ?? []).filter((s) => s.Name === ALL_AT_ONCE.Name));
    const fit = named
      .filter(
        (s) =>
          s.DeploymentDurationInMinutes === 0 &&
          (s.FinalBakeTimeInMinutes ?? 0) === 0 &&
          s.GrowthFactor === 100 &&
          (s.ReplicateTo ?? "NONE") === "NONE",
      )
      .map((s) => s.Id as string)
      .sort();
    // Two racing first uses may each create one: both fit, and every later use picks the same.
    if (fit[0]) return fit[0];
    if (named[0]) {
      const s = named[0];
      throw new AppConfigResourceError(
        `deployment strategy ${ALL_AT_ONCE.Name} (${s.Id}) in ${ctx.region} deploys over ${s.DeploymentDurationInMinutes} minutes with ${s.FinalBakeTimeInMinutes ?? 0} minutes of bake and growth ${s.GrowthFactor}: Breakwater needs 0, 0 and 100 (it bakes itself); fix or delete it`,
      );
    }
    const created = await this.client(ctx).send(new CreateDeploymentStrategyCommand(ALL_AT_ONCE));
    if (!created.Id) throw new TransientError("AppConfig created a deployment strategy with no id");
    return created.Id;
  }

  /** The application, environment and profile ids, from ids or names. */
  private resolve(ctx: Ctx): Promise<Ids> {
    const { application, environment, configurationProfile } = ctx.target;
    const key = [ctx.account, ctx.region, application, environment, configurationProfile].join("/");
    let cached = this.ids.get(key);
    if (!cached) {
      cached = this.lookUp(ctx);
      this.ids.set(key, cached);
      cached.catch(() => this.ids.delete(key));
    }
    return cached;
  }

  /**
   * A value shaped like an id is read by id first (GetApplication…: IAM scoped to that resource
   * suffices); a name, or an id-shaped name AppConfig does not know as an id, is looked up in
   * the list (which IAM cannot scope to one resource).
   */
  private async lookUp(ctx: Ctx): Promise<Ids> {
    const client = this.client(ctx);
    const { application, environment, configurationProfile } = ctx.target;
    const app = await byIdOrName(
      application,
      () => client.send(new GetApplicationCommand({ ApplicationId: application })),
      () => collect(paginateListApplications({ client }, {})),
      { field: "application", noun: "application", where: `in ${ctx.region}` },
    );
    const ApplicationId = app.Id as string;
    const of = `of application ${application} in ${ctx.region}`;
    const [env, profile] = await Promise.all([
      byIdOrName(
        environment,
        () => client.send(new GetEnvironmentCommand({ ApplicationId, EnvironmentId: environment })),
        () => collect(paginateListEnvironments({ client }, { ApplicationId })),
        { field: "environment", noun: "environment", where: of },
      ),
      byIdOrName(
        configurationProfile,
        () =>
          client.send(
            new GetConfigurationProfileCommand({
              ApplicationId,
              ConfigurationProfileId: configurationProfile,
            }),
          ),
        () => collect(paginateListConfigurationProfiles({ client }, { ApplicationId })),
        { field: "configurationProfile", noun: "configuration profile", where: of },
      ),
    ]);
    return {
      applicationId: ApplicationId,
      environmentId: env.Id as string,
      profileId: profile.Id as string,
      profileName: profile.Name as string,
    };
  }

  private client(ctx: Ctx): AppConfigClient {
    if (ctx.credentials)
      return new AppConfigClient({ region: ctx.region, credentials: ctx.credentials });
    let client = this.clients.get(ctx.region);
    if (!client) {
      client = new AppConfigClient({ region: ctx.region });
      this.clients.set(ctx.region, client);
    }
    return client;
  }
}

function strategyKey(ctx: Ctx): string {
  return `${ctx.account}/${ctx.region}`;
}

/** AppConfig ids: 4 to 7 lowercase letters and digits (a name may look like one too). */
const ID_SHAPE = /^[a-z0-9]{4,7}$/;

/** Errors that mean "not an id AppConfig knows here" (or one IAM grants only by name). */
const NOT_BY_ID = new Set([
  "ResourceNotFoundException",
  "BadRequestException",
  "AccessDeniedException",
]);

interface Named {
  Id?: string | undefined;
  Name?: string | undefined;
}

async function byIdOrName(
  value: string,
  get: () => Promise<Named>,
  list: () => Promise<Named[]>,
  what: { field: string; noun: string; where: string },
): Promise<Named> {
  if (ID_SHAPE.test(value)) {
    try {
      const found = await get();
      if (found.Id === value) return found;
    } catch (error) {
      if (!NOT_BY_ID.has((error as Error).name)) throw error;
    }
  }
  return pick(await list(), value, what);
}

async function collect<T>(pages: AsyncIterable<{ Items?: T[] | undefined }>): Promise<T[]> {
  const out: T[] = [];
  for await (const page of pages) out.push(...(page.Items ?? []));
  return out;
}

/** The item whose id is `value`, else the one item whose name is. */
function pick<T extends { Id?: string | undefined; Name?: string | undefined }>(
  items: T[],
  value: string,
  { field, noun, where }: { field: string; noun: string; where: string },
): T {
  const byId = items.find((i) => i.Id === value);
  if (byId) return byId;
  const byName = items.filter((i) => i.Name === value);
  if (byName.length === 1) return byName[0] as T;
  if (byName.length === 0) {
    throw new AppConfigResourceError(
      `target.${field}: no AppConfig ${noun} ${where} has the id or name "${value}"`,
    );
  }
  throw new AppConfigResourceError(
    `target.${field}: ${byName.length} AppConfig ${noun}s ${where} are named "${value}" (${byName.map((i) => i.Id).join(", ")}): name it by id`,
  );
}

/** A deployment summary of the target's profile (older summaries name only the profile). */
function ofProfile(d: DeploymentSummary, ids: Ids): boolean {
  return d.ConfigurationProfileId
    ? d.ConfigurationProfileId === ids.profileId
    : d.ConfigurationName === ids.profileName;
}
