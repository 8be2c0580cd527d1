/**
 * The `ecs` target: an ECS service on the ECS (rolling) deployment controller.
 *
 * - Every step runs the version's task definition revision: a copy of the service's current one
 *   with `target.container`'s image set to `target.image`, tagged `breakwater:version`,
 *   `breakwater:deployment` and `breakwater:base` (the revision it was copied from). A retry finds
 *   it (by its image, which names the version) instead of registering another.
 * - full: UpdateService onto it with the deployment circuit breaker on (rollback: true); status
 *   is the service's deployment of that revision (`rolloutState`). A circuit-breaker rollback is
 *   a failed step with ECS's `rolloutStateReason`. When it completes, the canary goes to zero.
 * - one-box: a one-task canary service `<service>-canary` beside the main one, in the same target
 *   groups ("traffic … just added to the same load balancer"), created on first use.
 * - rolling (a traffic step below 100%, `stages[].rolling`): the same canary, sized so its tasks
 *   are about `percent`% of the two services' tasks ({@link canaryTasks}); the 100% step is a
 *   full step, after which the canary goes to zero.
 * - rollback: the service back on the revision of `req.version`, the canary to zero.
 * - cancel: a full step in flight is rolled back to the revision the service ran before it (the
 *   deployment it was replacing); a one-box in flight scales the canary to zero.
 */
import {
  CreateServiceCommand,
  type CreateServiceCommandInput,
  type Deployment,
  type DeploymentConfiguration,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  type Service,
  type Tag,
  type TaskDefinition,
  UpdateServiceCommand,
} from "@aws-sdk/client-ecs";
import { InvalidInputError, TransientError } from "../../../domain/errors.ts";
import type { DeploymentStatus } from "../../../domain/ports.ts";
import { ecsPassedRoles, sameRole } from "../../../domain/targets/ecs-roles.ts";
import type { TargetOf } from "../../../domain/targets/index.ts";
import type { DriverContext, TargetDriver } from "./driver.ts";
import { deploymentToken } from "./token.ts";

export { ecsPassedRoles } from "../../../domain/targets/ecs-roles.ts";

type EcsTarget = TargetOf<"ecs">;
type Ctx = DriverContext<EcsTarget>;

export const TAG_VERSION = "breakwater:version";
export const TAG_DEPLOYMENT = "breakwater:deployment";
export const TAG_BASE = "breakwater:base";
export const TAG_CANARY_OF = "breakwater:canary-of";
export const CANARY_SUFFIX = "-canary";
/** How many of the family's newest revisions a lookup reads before registering a new one. */
export const SCAN_REVISIONS = 10;
/** Tasks start, pass health checks and drain in minutes: polling every 30 s is plenty. */
const POLL_SECONDS = 30;
/** CreateService's clientToken: at most 36 ASCII characters. */
const CLIENT_TOKEN_LENGTH = 36;

const CIRCUIT_BREAKER = { enable: true, rollback: true } as const;

/** The most canary tasks per main task a rolling step asks for (90% of the tasks on the canary). */
export const MAX_CANARY_TASKS_PER_MAIN_TASK = 9;

/**
 * How many canary tasks beside `mainTasks` make the canary about `percent`% of all tasks (the
 * load balancer spreads requests over the tasks of both services): at least one, at most
 * {@link MAX_CANARY_TASKS_PER_MAIN_TASK} per main task.
 *
 * @example
 * canaryTasks(4, 50) // 4: half of the 8 tasks
 * canaryTasks(4, 25) // 1: one task of 5 (the nearest share)
 */
export function canaryTasks(mainTasks: number, percent: number): number {
  const main = Math.max(1, mainTasks);
  const wanted = Math.round((main * percent) / Math.max(1, 100 - percent));
  return Math.min(Math.max(1, wanted), main * MAX_CANARY_TASKS_PER_MAIN_TASK);
}

/** A step that serves a share of the scope's traffic from the canary service. */
const isShare = (ctx: Ctx) => ctx.req.kind === "one-box" || ctx.req.kind === "rolling";

/** The canary service of a main service. */
export function canaryName(service: string): string {
  return `${service}${CANARY_SUFFIX}`;
}

interface Revision {
  arn: string;
  definition: TaskDefinition;
  tags: Tag[];
}

function tagOf(tags: Tag[], key: string): string | undefined {
  return tags.find((t) => t.key === key)?.value;
}

function primaryOf(service: Service): Deployment | undefined {
  return service.deployments?.find((d) => d.status === "PRIMARY");
}

/** `arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>` → family. */
function familyOf(taskDefinitionArn: string): string | undefined {
  return /:task-definition\/([A-Za-z0-9_-]{1,255}):\d+$/.exec(taskDefinitionArn)?.[1];
}

export class EcsDriver implements TargetDriver<EcsTarget> {
  /** Clients by region, for the function's own role (assumed-role clients are not cached). */
  private readonly clients = new Map<string, ECSClient>();

  async start(ctx: Ctx): Promise<{ pollSeconds: number }> {
    const ecs = this.client(ctx);
    const { main, canary } = await this.services(ecs, ctx);
    if (isShare(ctx) && !main.loadBalancers?.length) {
      // The canary's traffic comes through the main service's target groups: without them it
      // would serve nothing and its bake would pass on no evidence. Fail closed, before anything
      // is registered.
      throw new InvalidInputError(
        `target.service: ECS service ${ctx.target.service} has no load balancer, so a one-box canary beside it would serve no traffic; remove the stage's oneBox or put the service behind a target group`,
      );
    }
    const revision = await this.revisionFor(ecs, ctx, main, canary, { register: true });
    switch (ctx.req.kind) {
      case "full":
        // A retried start finds the service already on the revision and changes nothing.
        if (primaryOf(main)?.taskDefinition !== revision.arn) {
          await this.moveService(ecs, ctx, main, revision.arn);
        }
        break;
      case "one-box":
      case "rolling":
        await this.startCanary(ecs, ctx, main, canary, revision.arn);
        break;
      case "rollback":
        if (primaryOf(main)?.taskDefinition !== revision.arn) {
          await this.moveService(ecs, ctx, main, revision.arn);
        }
        await this.scaleToZero(ecs, ctx, canary);
        break;
    }
    return { pollSeconds: POLL_SECONDS };
  }

  async status(ctx: Ctx): Promise<DeploymentStatus> {
    const ecs = this.client(ctx);
    const { main, canary } = await this.services(ecs, ctx);
    const revision = await this.revisionFor(ecs, ctx, main, canary, { register: false });
    if (!revision) {
      return {
        state: "failed",
        reason: `no task definition revision runs ${ctx.target.image} for container ${ctx.target.container} (the step was not started)`,
      };
    }
    if (isShare(ctx)) {
      const name = canaryName(ctx.target.service);
      if (!canary) return { state: "failed", reason: `the canary service ${name} does not exist` };
      if ((canary.desiredCount ?? 0) < 1) {
        return {
          state: "failed",
          reason: `the canary service ${name} was scaled to zero (cancelled or rolled back)`,
        };
      }
      const result = rolloutOf(canary, revision.arn);
      // Scaling a canary back up from zero on the same revision starts no new deployment (its
      // rollout stays COMPLETED): the step is done when the task runs.
      if (result.state === "succeeded" && (canary.runningCount ?? 0) < (canary.desiredCount ?? 1)) {
        return { state: "in-progress", pollSeconds: POLL_SECONDS };
      }
      return result;
    }
    const result = rolloutOf(main, revision.arn);
    // The main service serves the version now: the canary's task is no longer needed.
    if (result.state === "succeeded") await this.scaleToZero(ecs, ctx, canary);
    return result;
  }

  async cancel(ctx: Ctx): Promise<void> {
    // A rollback is what a cancel leads to: nothing in Breakwater cancels one.
    if (ctx.req.kind === "rollback") return;
    const ecs = this.client(ctx);
    const { main, canary } = await this.services(ecs, ctx);
    const revision = await this.revisionFor(ecs, ctx, main, canary, { register: false });
    if (!revision) return; // never started: nothing to stop
    if (isShare(ctx)) {
      // In flight: the canary is on the revision and not yet done (status would say in-progress).
      if (canary && (canary.desiredCount ?? 0) > 0) {
        const state = rolloutOf(canary, revision.arn).state;
        const running = (canary.runningCount ?? 0) >= 1;
        if (state === "in-progress" || (state === "succeeded" && !running)) {
          await this.scaleToZero(ecs, ctx, canary);
        }
      }
      return;
    }
    const primary = primaryOf(main);
    // Finished (COMPLETED), failed (the circuit breaker rolls back by itself) or replaced: left alone.
    if (primary?.taskDefinition !== revision.arn || primary.rolloutState !== "IN_PROGRESS") return;
    const before = previousRevision(main, revision);
    if (!before) {
      throw new InvalidInputError(
        `cannot cancel the deployment of ${revision.arn} on service ${ctx.target.service}: no earlier deployment is left and the revision names no ${TAG_BASE} tag`,
      );
    }
    await this.moveService(ecs, ctx, main, before);
  }

  private client(ctx: Ctx): ECSClient {
    if (ctx.credentials) return new ECSClient({ region: ctx.region, credentials: ctx.credentials });
    let client = this.clients.get(ctx.region);
    if (!client) {
      client = new ECSClient({ region: ctx.region });
      this.clients.set(ctx.region, client);
    }
    return client;
  }

  /** The main service (it must exist, on the ECS deployment controller) and its canary, if any. */
  private async services(
    ecs: ECSClient,
    ctx: Ctx,
  ): Promise<{ main: Service; canary: Service | undefined }> {
    const { cluster, service } = ctx.target;
    let out: Awaited<ReturnType<typeof describeServices>>;
    try {
      out = await describeServices(ecs, cluster, [service, canaryName(service)]);
    } catch (error) {
      if (error instanceof Error && error.name === "ClusterNotFoundException") {
        throw new InvalidInputError(
          `target.cluster: ECS cluster ${cluster} does not exist in ${ctx.region}`,
        );
      }
      throw error;
    }
    const found = (name: string) =>
      out.services?.find((s) => s.serviceName === name && s.status !== "INACTIVE");
    const main = found(service);
    if (!main) {
      throw new InvalidInputError(
        `target.service: ECS service ${service} does not exist in cluster ${cluster} (${ctx.region})`,
      );
    }
    if (main.status === "DRAINING") {
      throw new InvalidInputError(`target.service: ECS service ${service} is being deleted`);
    }
    const controller = main.deploymentController?.type ?? "ECS";
    if (controller !== "ECS") {
      throw new InvalidInputError(
        `target.service: ECS service ${service} uses the ${controller} deployment controller; the ecs target drives rolling (ECS) deployments only`,
      );
    }
    const strategy = main.deploymentConfiguration?.strategy ?? "ROLLING";
    if (strategy !== "ROLLING") {
      throw new InvalidInputError(
        `target.service: ECS service ${service} deploys with the ${strategy} strategy; the ecs target drives rolling deployments only (Breakwater does the canary and the bake)`,
      );
    }
    if (!main.taskDefinition) {
      throw new InvalidInputError(`target.service: ECS service ${service} has no task definition`);
    }
    const canary = found(canaryName(service));
    if (canary?.status === "DRAINING") {
      // A canary deleted by hand: its name is free again once ECS finishes deleting it.
      throw new TransientError(`the canary service ${canary.serviceName} is still being deleted`);
    }
    return { main, canary };
  }

  /**
   * The revision that runs the version: the service's and the canary's deployments first (a
   * retry, a rollback to what ran before), then the family's newest {@link SCAN_REVISIONS}
   * revisions (a retry whose UpdateService was lost); else, when `register`, a new revision
   * copied from the service's current one.
   */
  private async revisionFor(
    ecs: ECSClient,
    ctx: Ctx,
    main: Service,
    canary: Service | undefined,
    options: { register: true },
  ): Promise<Revision>;
  private async revisionFor(
    ecs: ECSClient,
    ctx: Ctx,
    main: Service,
    canary: Service | undefined,
    options: { register: false },
  ): Promise<Revision | undefined>;
  private async revisionFor(
    ecs: ECSClient,
    ctx: Ctx,
    main: Service,
    canary: Service | undefined,
    options: { register: boolean },
  ): Promise<Revision | undefined> {
    const base = main.taskDefinition as string;
    const family = familyOf(base);
    // Revisions read by this call (each is read once: DescribeTaskDefinition is rate-limited).
    const seen = new Map<string, Revision>();
    const check = async (arn: string | undefined): Promise<Revision | undefined> => {
      if (!arn || seen.has(arn)) return undefined;
      const revision = await this.describe(ecs, arn);
      seen.set(arn, revision);
      if (family && revision.definition.family !== family) return undefined;
      return this.runsVersion(ctx, revision) ? revision : undefined;
    };
    // The service the step moves first: a one-box's or rolling step's revision is on the canary.
    const [first, second] = isShare(ctx) ? [canary, main] : [main, canary];
    const primaryFirst = (s: Service | undefined) =>
      [...(s?.deployments ?? [])]
        .sort((a, b) => Number(b.status === "PRIMARY") - Number(a.status === "PRIMARY"))
        .map((d) => d.taskDefinition);
    const deployed = [...primaryFirst(first), ...primaryFirst(second)];
    for (const arn of deployed) {
      const hit = await check(arn);
      if (hit) return hit;
    }
    if (family) {
      const list = await ecs.send(
        new ListTaskDefinitionsCommand({
          familyPrefix: family,
          status: "ACTIVE",
          sort: "DESC",
          maxResults: SCAN_REVISIONS,
        }),
      );
      for (const arn of list.taskDefinitionArns ?? []) {
        // familyPrefix matches other families that start with the same letters: skip them.
        if (familyOf(arn) !== family) continue;
        const hit = await check(arn);
        if (hit) return hit;
      }
    }
    if (!options.register) return undefined;
    return this.register(ecs, ctx, seen.get(base) ?? (await this.describe(ecs, base)));
  }

  /** A revision runs the version when its container has the version's image (and no other version's tag). */
  private runsVersion(ctx: Ctx, revision: Revision): boolean {
    const container = revision.definition.containerDefinitions?.find(
      (c) => c.name === ctx.target.container,
    );
    if (container?.image !== ctx.target.image) return false;
    const tagged = tagOf(revision.tags, TAG_VERSION);
    return tagged === undefined || tagged === ctx.req.version;
  }

  private async describe(ecs: ECSClient, arn: string): Promise<Revision> {
    const out = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: arn, include: ["TAGS"] }),
    );
    const definition = out.taskDefinition;
    if (!definition?.taskDefinitionArn) {
      throw new InvalidInputError(`ECS described no task definition ${arn}`);
    }
    return { arn: definition.taskDefinitionArn, definition, tags: out.tags ?? [] };
  }

  /** A copy of `base` with the container's image set to the version's, tagged for retries. */
  private async register(ecs: ECSClient, ctx: Ctx, base: Revision): Promise<Revision> {
    const d = base.definition;
    const { container, image } = ctx.target;
    const names = (d.containerDefinitions ?? []).map((c) => c.name);
    if (!names.includes(container)) {
      throw new InvalidInputError(
        `target.container: task definition ${base.arn} has no container named ${container} (it has ${names.join(", ") || "none"})`,
      );
    }
    checkPassedRoles(ctx.target, d, base.arn);
    const tags: Tag[] = [
      // The team's own tags stay; Breakwater's are replaced by this revision's.
      ...base.tags.filter((t) => !t.key?.startsWith("breakwater:")),
      { key: TAG_VERSION, value: ctx.req.version },
      { key: TAG_DEPLOYMENT, value: deploymentToken(ctx.req.deploymentId) },
      { key: TAG_BASE, value: base.arn },
    ];
    const out = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: d.family,
        taskRoleArn: d.taskRoleArn,
        executionRoleArn: d.executionRoleArn,
        networkMode: d.networkMode,
        containerDefinitions: (d.containerDefinitions ?? []).map((c) =>
          c.name === container ? { ...c, image } : c,
        ),
        volumes: d.volumes,
        placementConstraints: d.placementConstraints,
        requiresCompatibilities: d.requiresCompatibilities,
        cpu: d.cpu,
        memory: d.memory,
        pidMode: d.pidMode,
        ipcMode: d.ipcMode,
        proxyConfiguration: d.proxyConfiguration,
        inferenceAccelerators: d.inferenceAccelerators,
        ephemeralStorage: d.ephemeralStorage,
        runtimePlatform: d.runtimePlatform,
        enableFaultInjection: d.enableFaultInjection,
        tags,
      }),
    );
    const definition = out.taskDefinition;
    if (!definition?.taskDefinitionArn) {
      throw new TransientError("ECS RegisterTaskDefinition answered no task definition");
    }
    return { arn: definition.taskDefinitionArn, definition, tags: out.tags ?? tags };
  }

  /** UpdateService onto a revision, rolling, with the circuit breaker rolling back a failure. */
  private async moveService(
    ecs: ECSClient,
    ctx: Ctx,
    service: Service,
    taskDefinition: string,
  ): Promise<void> {
    await ecs.send(
      new UpdateServiceCommand({
        cluster: ctx.target.cluster,
        service: service.serviceName,
        taskDefinition,
        deploymentConfiguration: withCircuitBreaker(service.deploymentConfiguration),
      }),
    );
  }

  /**
   * The canary on the revision with one task (one-box) or its share's tasks (rolling): created
   * on first use, else updated.
   */
  private async startCanary(
    ecs: ECSClient,
    ctx: Ctx,
    main: Service,
    canary: Service | undefined,
    taskDefinition: string,
  ): Promise<void> {
    const name = canaryName(ctx.target.service);
    const desiredCount =
      ctx.req.kind === "rolling" ? canaryTasks(main.desiredCount ?? 1, ctx.req.percent) : 1;
    if (canary) {
      if (
        primaryOf(canary)?.taskDefinition === taskDefinition &&
        canary.desiredCount === desiredCount
      )
        return;
      await ecs.send(
        new UpdateServiceCommand({
          cluster: ctx.target.cluster,
          service: name,
          taskDefinition,
          desiredCount,
          deploymentConfiguration: withCircuitBreaker(canary.deploymentConfiguration),
        }),
      );
      return;
    }
    const placement: Partial<CreateServiceCommandInput> = main.capacityProviderStrategy?.length
      ? { capacityProviderStrategy: main.capacityProviderStrategy }
      : main.launchType
        ? { launchType: main.launchType }
        : {};
    await ecs.send(
      new CreateServiceCommand({
        cluster: ctx.target.cluster,
        serviceName: name,
        taskDefinition,
        desiredCount,
        // The same target groups: the load balancer sends the canary its share of the traffic.
        loadBalancers: main.loadBalancers,
        networkConfiguration: main.networkConfiguration,
        ...placement,
        ...(main.platformVersion ? { platformVersion: main.platformVersion } : {}),
        ...(main.healthCheckGracePeriodSeconds !== undefined && main.loadBalancers?.length
          ? { healthCheckGracePeriodSeconds: main.healthCheckGracePeriodSeconds }
          : {}),
        ...(main.placementConstraints?.length
          ? { placementConstraints: main.placementConstraints }
          : {}),
        ...(main.placementStrategy?.length ? { placementStrategy: main.placementStrategy } : {}),
        deploymentConfiguration: { deploymentCircuitBreaker: CIRCUIT_BREAKER },
        // A retried start (a timeout, a crash) gets the same service back, not an error.
        clientToken: deploymentToken(ctx.req.deploymentId).slice(0, CLIENT_TOKEN_LENGTH),
        tags: [{ key: TAG_CANARY_OF, value: ctx.target.service }],
      }),
    );
  }

  private async scaleToZero(ecs: ECSClient, ctx: Ctx, canary: Service | undefined): Promise<void> {
    if (!canary || (canary.desiredCount ?? 0) === 0) return;
    await ecs.send(
      new UpdateServiceCommand({
        cluster: ctx.target.cluster,
        service: canary.serviceName,
        desiredCount: 0,
      }),
    );
  }
}

function describeServices(ecs: ECSClient, cluster: string, services: string[]) {
  return ecs.send(new DescribeServicesCommand({ cluster, services }));
}

function withCircuitBreaker(config: DeploymentConfiguration | undefined): DeploymentConfiguration {
  return { ...config, deploymentCircuitBreaker: CIRCUIT_BREAKER };
}

/**
 * The step's state from the service's deployments: the deployment of `taskDefinition` is
 * PRIMARY and COMPLETED (succeeded), IN_PROGRESS, FAILED (the circuit breaker), or no longer
 * primary (rolled back by the circuit breaker, cancelled, or replaced).
 */
export function rolloutOf(service: Service, taskDefinition: string): DeploymentStatus {
  const deployments = service.deployments ?? [];
  const primary = primaryOf(service);
  const ours =
    primary?.taskDefinition === taskDefinition
      ? primary
      : deployments.find((d) => d.taskDefinition === taskDefinition);
  const name = service.serviceName ?? "the service";
  const why = primary?.rolloutStateReason ? `: ${primary.rolloutStateReason}` : "";
  if (!ours) {
    return {
      state: "failed",
      reason: `${name} runs ${primary?.taskDefinition ?? "no deployment"}, not ${taskDefinition}${why}`,
    };
  }
  if (ours.rolloutState === "FAILED") {
    return {
      state: "failed",
      reason: `${name}: deployment of ${taskDefinition} failed: ${ours.rolloutStateReason ?? "no reason given"}`,
    };
  }
  if (ours !== primary) {
    return {
      state: "failed",
      reason: `${name} moved from ${taskDefinition} to ${primary?.taskDefinition ?? "no deployment"}${why}`,
    };
  }
  if (ours.rolloutState === "COMPLETED") return { state: "succeeded" };
  if (ours.rolloutState === undefined && deployments.length === 1) {
    // No rollout state (older services): done when the only deployment runs every task.
    if ((ours.runningCount ?? 0) >= (ours.desiredCount ?? 0)) return { state: "succeeded" };
  }
  return { state: "in-progress", pollSeconds: POLL_SECONDS };
}

/**
 * The revision the service ran before the deployment of `revision`: the newest other deployment
 * (still draining), else the revision it was copied from (its `breakwater:base` tag).
 */
function previousRevision(service: Service, revision: Revision): string | undefined {
  const others = (service.deployments ?? [])
    .filter((d) => d.taskDefinition && d.taskDefinition !== revision.arn)
    .sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
  return others[0]?.taskDefinition ?? tagOf(revision.tags, TAG_BASE);
}

/** Registering passes the task definition's roles: each must be one the target names. */
function checkPassedRoles(target: EcsTarget, d: TaskDefinition, arn: string): void {
  const declared = ecsPassedRoles(target);
  const fields = [
    ["taskRoleArn", d.taskRoleArn, "task role"],
    ["executionRoleArn", d.executionRoleArn, "execution role"],
  ] as const;
  for (const [field, role, what] of fields) {
    if (role && !declared.some((r) => sameRole(role, r))) {
      throw new InvalidInputError(
        `target.${field}: task definition ${arn} passes the ${what} ${role}; name it in target.${field} (the stack grants iam:PassRole only on the roles the target names)`,
      );
    }
  }
}
