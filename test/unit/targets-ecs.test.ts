/**
 * The `ecs` target passes the deploy target contract, and its own failure paths: a
 * circuit-breaker rollback, throttling and ServerException, the canary service created once and
 * scaled to zero after the full step, cancel, and the refusals (a missing container, a role the
 * target does not name, a service on another deployment controller).
 *
 * ECS is played by a small stateful fake behind aws-sdk-client-mock that answers
 * DescribeServices, DescribeTaskDefinition (include TAGS), ListTaskDefinitions,
 * RegisterTaskDefinition, CreateService (clientToken) and UpdateService in the documented
 * response shapes, and keeps a service's deployments as ECS does: UpdateService onto another
 * revision makes a new PRIMARY deployment (IN_PROGRESS) and the old one ACTIVE until it drains;
 * the circuit breaker marks a failed deployment FAILED and rolls back to the last completed one.
 */
import {
  ClientException,
  ClusterNotFoundException,
  CreateServiceCommand,
  type CreateServiceCommandInput,
  type Deployment,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ECSServiceException,
  InvalidParameterException,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  ServerException,
  type Service,
  ServiceNotFoundException,
  type Tag,
  type TaskDefinition,
  UpdateServiceCommand,
  type UpdateServiceCommandInput,
} from "@aws-sdk/client-ecs";
import { STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import {
  canaryTasks,
  EcsDriver,
  ecsPassedRoles,
  MAX_CANARY_TASKS_PER_MAIN_TASK,
  TAG_VERSION,
} from "../../src/adapters/aws/targets/ecs.ts";
import { TargetDeployer } from "../../src/adapters/aws/targets/index.ts";
import { InvalidInputError, TransientError } from "../../src/domain/errors.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import type { DeploymentRequest } from "../../src/domain/ports.ts";
import {
  deployTargetContract,
  type TargetWorld,
  targetRequests,
} from "../contract/deploy-target.ts";

const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" };
const ACCOUNT = "111122223333";
const REGION = "eu-north-1";
const CLUSTER = "orders-prod";
const REPO = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/orders`;
const TASK_ROLE = `arn:aws:iam::${ACCOUNT}:role/orders-task`;
const EXEC_ROLE = `arn:aws:iam::${ACCOUNT}:role/orders-exec`;
const TARGET_GROUP = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/orders/0123456789abcdef`;

const ecsTarget = {
  type: "ecs",
  cluster: CLUSTER,
  service: "orders",
  container: "app",
  image: `${REPO}:{version}`,
  taskRoleArn: "arn:aws:iam::{account}:role/orders-task",
  executionRoleArn: "arn:aws:iam::{account}:role/orders-exec",
};

const requestFor = (target: unknown) => targetRequests(target, REGION);

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

/** ECS as a small stateful fake (see the file's comment). */
class FakeEcs {
  readonly mock = mockClient(ECSClient);
  readonly definitions = new Map<string, { definition: TaskDefinition; tags: Tag[] }>();
  readonly services = new Map<string, Service>();
  readonly clientTokens = new Map<string, string>();
  readonly calls: Array<{ command: string; input: unknown }> = [];
  mutations = 0;
  /** An UpdateService replaced a deployment that was still IN_PROGRESS. */
  superseded = false;
  /** The next call (of the named command, or any) throws this. */
  private failNext: { command?: string; error: Error } | undefined;
  private revision = 0;
  private deploymentSeq = 0;
  private clock = Date.parse("2026-12-02T00:00:00Z");

  reset(initialVersion: string, options: { roles?: boolean } = {}) {
    this.mock.reset();
    this.definitions.clear();
    this.services.clear();
    this.clientTokens.clear();
    this.calls.length = 0;
    this.mutations = 0;
    this.superseded = false;
    this.failNext = undefined;
    this.revision = 0;
    const first = this.addDefinition({
      family: "orders",
      ...(options.roles === false ? {} : { taskRoleArn: TASK_ROLE, executionRoleArn: EXEC_ROLE }),
      networkMode: "awsvpc",
      requiresCompatibilities: ["FARGATE"],
      cpu: "512",
      memory: "1024",
      containerDefinitions: [
        {
          name: "app",
          image: `${REPO}:${initialVersion}`,
          essential: true,
          portMappings: [{ containerPort: 8080 }],
        },
        { name: "log-router", image: "public.ecr.aws/aws-observability/aws-for-fluent-bit:2" },
      ],
      tags: [{ key: "team", value: "orders" }],
    });
    this.services.set("orders", {
      serviceName: "orders",
      serviceArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:service/${CLUSTER}/orders`,
      clusterArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/${CLUSTER}`,
      status: "ACTIVE",
      desiredCount: 3,
      runningCount: 3,
      launchType: "FARGATE",
      platformVersion: "LATEST",
      taskDefinition: first,
      loadBalancers: [{ targetGroupArn: TARGET_GROUP, containerName: "app", containerPort: 8080 }],
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ["subnet-0a1b2c3d"], securityGroups: ["sg-0a1b2c3d"] },
      },
      healthCheckGracePeriodSeconds: 30,
      deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 100 },
      deploymentController: { type: "ECS" },
      deployments: [this.deployment(first, 3, "PRIMARY", "COMPLETED")],
    });
    const on = <I>(command: { name: string }, handler: (input: I) => unknown) =>
      // biome-ignore lint/suspicious/noExplicitAny: each command's own input and output types
      this.mock.on(command as any).callsFake((input: I) => {
        this.calls.push({ command: command.name, input });
        const next = this.failNext;
        if (next && (!next.command || next.command === command.name)) {
          this.failNext = undefined;
          throw next.error;
        }
        return handler(input);
      });
    on(DescribeServicesCommand, (i: { cluster: string; services: string[] }) => {
      this.checkCluster(i.cluster);
      const services: Service[] = [];
      const failures: Array<{ arn: string; reason: string }> = [];
      for (const name of i.services) {
        const s = this.services.get(name);
        if (s) services.push(structuredClone(s));
        else
          failures.push({
            arn: `arn:aws:ecs:${REGION}:${ACCOUNT}:service/${CLUSTER}/${name}`,
            reason: "MISSING",
          });
      }
      return { services, failures };
    });
    on(DescribeTaskDefinitionCommand, (i: { taskDefinition: string; include?: string[] }) => {
      const d = this.definitions.get(i.taskDefinition);
      if (!d)
        throw new ClientException({ message: "Unable to describe task definition.", ...meta(400) });
      return {
        taskDefinition: structuredClone(d.definition),
        ...(i.include?.includes("TAGS") ? { tags: structuredClone(d.tags) } : {}),
      };
    });
    on(
      ListTaskDefinitionsCommand,
      (i: { familyPrefix?: string; sort?: string; maxResults?: number }) => {
        const arns = [...this.definitions.values()]
          .map((d) => d.definition)
          .filter((d) => !i.familyPrefix || d.family?.startsWith(i.familyPrefix))
          .sort((a, b) =>
            i.sort === "DESC"
              ? (b.revision ?? 0) - (a.revision ?? 0)
              : (a.revision ?? 0) - (b.revision ?? 0),
          )
          .map((d) => d.taskDefinitionArn as string);
        return { taskDefinitionArns: arns.slice(0, i.maxResults ?? 100) };
      },
    );
    on(RegisterTaskDefinitionCommand, (i: RegisterTaskDefinitionCommandInput) => {
      this.mutations++;
      const arn = this.addDefinition(i);
      const d = this.definitions.get(arn);
      return { taskDefinition: structuredClone(d?.definition), tags: structuredClone(d?.tags) };
    });
    on(CreateServiceCommand, (i: CreateServiceCommandInput) => {
      this.checkCluster(i.cluster);
      const name = i.serviceName as string;
      if (i.clientToken && this.clientTokens.get(i.clientToken) === name) {
        return { service: structuredClone(this.services.get(name)) };
      }
      if (this.services.get(name)?.status === "ACTIVE") {
        throw new InvalidParameterException({
          message: "Creation of service was not idempotent.",
          ...meta(400),
        });
      }
      if (i.clientToken && i.clientToken.length > 36) {
        throw new InvalidParameterException({ message: "Invalid client token.", ...meta(400) });
      }
      this.definitionOrThrow(i.taskDefinition);
      this.mutations++;
      if (i.clientToken) this.clientTokens.set(i.clientToken, name);
      const service: Service = {
        serviceName: name,
        serviceArn: `arn:aws:ecs:${REGION}:${ACCOUNT}:service/${CLUSTER}/${name}`,
        status: "ACTIVE",
        desiredCount: i.desiredCount ?? 0,
        runningCount: 0,
        taskDefinition: i.taskDefinition,
        ...(i.launchType ? { launchType: i.launchType } : {}),
        ...(i.capacityProviderStrategy
          ? { capacityProviderStrategy: i.capacityProviderStrategy }
          : {}),
        loadBalancers: i.loadBalancers ?? [],
        ...(i.networkConfiguration ? { networkConfiguration: i.networkConfiguration } : {}),
        deploymentConfiguration: {
          maximumPercent: 200,
          minimumHealthyPercent: 100,
          ...i.deploymentConfiguration,
        },
        deploymentController: { type: "ECS" },
        deployments: [
          this.deployment(
            i.taskDefinition as string,
            i.desiredCount ?? 0,
            "PRIMARY",
            "IN_PROGRESS",
          ),
        ],
      };
      this.services.set(name, service);
      return { service: structuredClone(service) };
    });
    on(UpdateServiceCommand, (i: UpdateServiceCommandInput) => {
      this.checkCluster(i.cluster);
      const s = this.services.get(i.service as string);
      if (s?.status !== "ACTIVE") {
        throw new ServiceNotFoundException({ message: "Service not found.", ...meta(400) });
      }
      this.mutations++;
      if (i.deploymentConfiguration) s.deploymentConfiguration = i.deploymentConfiguration;
      if (i.desiredCount !== undefined) s.desiredCount = i.desiredCount;
      const deployments = s.deployments as Deployment[];
      const primary = deployments.find((d) => d.status === "PRIMARY") as Deployment;
      if (i.taskDefinition && i.taskDefinition !== primary.taskDefinition) {
        this.definitionOrThrow(i.taskDefinition);
        if (primary.rolloutState === "IN_PROGRESS") this.superseded = true;
        primary.status = "ACTIVE";
        s.taskDefinition = i.taskDefinition;
        deployments.unshift(
          this.deployment(i.taskDefinition, s.desiredCount ?? 0, "PRIMARY", "IN_PROGRESS"),
        );
      } else if (i.desiredCount !== undefined) {
        // A new desired count scales the primary deployment; its rollout state stays as it was.
        primary.desiredCount = i.desiredCount;
      }
      return { service: structuredClone(s) };
    });
  }

  /** Every in-progress deployment reaches steady state; replaced ones finish draining. */
  complete() {
    for (const s of this.services.values()) {
      const deployments = s.deployments as Deployment[];
      for (const d of deployments) {
        if (d.status !== "PRIMARY") continue;
        if (d.rolloutState === "IN_PROGRESS") {
          d.rolloutState = "COMPLETED";
          d.rolloutStateReason = "ECS deployment completed.";
        }
        d.runningCount = d.desiredCount;
        s.runningCount = d.desiredCount;
      }
      if (deployments.some((d) => d.status === "PRIMARY" && d.rolloutState === "COMPLETED")) {
        s.deployments = deployments.filter((d) => d.status === "PRIMARY");
      }
    }
  }

  /** The circuit breaker trips: FAILED, and a rollback onto the last completed deployment. */
  fail() {
    for (const s of this.services.values()) {
      const deployments = s.deployments as Deployment[];
      const primary = deployments.find((d) => d.status === "PRIMARY");
      if (primary?.rolloutState !== "IN_PROGRESS") continue;
      primary.rolloutState = "FAILED";
      primary.rolloutStateReason = "ECS deployment circuit breaker: tasks failed to start.";
      primary.failedTasks = 3;
      const last = deployments.find((d) => d.status === "ACTIVE");
      if (!last) continue;
      primary.status = "ACTIVE";
      const back = this.deployment(
        last.taskDefinition as string,
        s.desiredCount ?? 0,
        "PRIMARY",
        "IN_PROGRESS",
      );
      back.rolloutStateReason = `ECS deployment circuit breaker: rolling back to deploymentId ${last.id}.`;
      deployments.unshift(back);
      s.taskDefinition = last.taskDefinition;
    }
  }

  /** The replaced deployments' tasks are gone while the new deployment still settles. */
  drainReplaced() {
    for (const s of this.services.values()) {
      s.deployments = (s.deployments as Deployment[]).filter((d) => d.status === "PRIMARY");
    }
  }

  failNextCall(error: Error, command?: string) {
    this.failNext = { error, ...(command ? { command } : {}) };
  }

  /** The version a service's traffic is served from (the image tag of its running revision). */
  serving(name = "orders"): string | undefined {
    const s = this.services.get(name);
    if (!s) return undefined;
    const deployments = s.deployments as Deployment[];
    const primary = deployments.find((d) => d.status === "PRIMARY");
    const live =
      primary?.rolloutState === "COMPLETED"
        ? primary
        : (deployments.find((d) => d.status === "ACTIVE" && d.rolloutState === "COMPLETED") ??
          primary);
    return live?.taskDefinition ? this.versionOf(live.taskDefinition) : undefined;
  }

  versionOf(arn: string): string | undefined {
    const image = this.definitions
      .get(arn)
      ?.definition.containerDefinitions?.find((c) => c.name === "app")?.image;
    return image?.split(":").pop();
  }

  callsOf<I>(command: { name: string }): I[] {
    return this.calls.filter((c) => c.command === command.name).map((c) => c.input as I);
  }

  private addDefinition(i: RegisterTaskDefinitionCommandInput & { tags?: Tag[] }): string {
    const revision = ++this.revision;
    const arn = `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${i.family}:${revision}`;
    const { tags, ...rest } = i;
    this.definitions.set(arn, {
      definition: {
        ...structuredClone(rest),
        taskDefinitionArn: arn,
        revision,
        status: "ACTIVE",
        registeredAt: new Date(this.clock),
      } as TaskDefinition,
      tags: structuredClone(tags ?? []),
    });
    return arn;
  }

  private deployment(
    taskDefinition: string,
    desiredCount: number,
    status: "PRIMARY" | "ACTIVE",
    rolloutState: "IN_PROGRESS" | "COMPLETED",
  ): Deployment {
    this.clock += 60_000;
    return {
      id: `ecs-svc/${1000 + ++this.deploymentSeq}`,
      status,
      taskDefinition,
      desiredCount,
      pendingCount: 0,
      runningCount: rolloutState === "COMPLETED" ? desiredCount : 0,
      failedTasks: 0,
      createdAt: new Date(this.clock),
      updatedAt: new Date(this.clock),
      launchType: "FARGATE",
      rolloutState,
      rolloutStateReason:
        rolloutState === "COMPLETED" ? "ECS deployment completed." : "ECS deployment in progress.",
    };
  }

  private checkCluster(cluster: string | undefined) {
    if (cluster !== CLUSTER) {
      throw new ClusterNotFoundException({ message: "Cluster not found.", ...meta(400) });
    }
  }

  private definitionOrThrow(arn: string | undefined) {
    if (!arn || !this.definitions.has(arn)) {
      throw new ClientException({ message: "TaskDefinition not found.", ...meta(400) });
    }
  }
}

/** ECS's throttling answer: not a modelled exception class, an ECSServiceException by name. */
function throttling() {
  return new ECSServiceException({
    name: "ThrottlingException",
    $fault: "client",
    message: "Rate exceeded",
    ...meta(400),
  });
}

function makeDeployer() {
  return new TargetDeployer({
    sts: new STSClient({ region: "us-east-1", credentials }),
    account: async () => ACCOUNT,
    drivers: { ecs: new EcsDriver() },
  });
}

const fake = new FakeEcs();

deployTargetContract("ecs", () => {
  const world: TargetWorld = {
    deployer: makeDeployer(),
    request: requestFor(ecsTarget),
    complete: () => fake.complete(),
    fail: () => fake.fail(),
    throttleNext: () => fake.failNextCall(throttling()),
    serving: () => fake.serving(),
    mutations: () => fake.mutations,
    cancelled: () => fake.superseded,
    cancellable: true,
    splitsTraffic: true,
    reset: (initial) => fake.reset(initial),
  };
  return world;
});

describe("ecs target", () => {
  const deployer = makeDeployer();
  const request = requestFor(ecsTarget);

  beforeEach(() => fake.reset("v1"));

  async function finish(req: DeploymentRequest) {
    fake.complete();
    return deployer.status(req);
  }

  it("registers a revision copied from the service's own, only the container's image changed, tagged with the version", async () => {
    await deployer.start(request({ kind: "full", version: "v2" }));
    const [registered] = fake.callsOf<RegisterTaskDefinitionCommandInput>(
      RegisterTaskDefinitionCommand,
    );
    expect(registered?.family).toBe("orders");
    expect(registered?.taskRoleArn).toBe(TASK_ROLE);
    expect(registered?.executionRoleArn).toBe(EXEC_ROLE);
    expect(registered?.cpu).toBe("512");
    expect(registered?.containerDefinitions?.map((c) => [c.name, c.image])).toEqual([
      ["app", `${REPO}:v2`],
      ["log-router", "public.ecr.aws/aws-observability/aws-for-fluent-bit:2"],
    ]);
    expect(registered?.containerDefinitions?.[0]?.portMappings).toEqual([{ containerPort: 8080 }]);
    const tags = Object.fromEntries((registered?.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags).toMatchObject({
      team: "orders",
      [TAG_VERSION]: "v2",
      "breakwater:base": `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/orders:1`,
    });
    expect(tags["breakwater:deployment"]).toMatch(/^bw-[0-9a-f]{40}$/);
    const [update] = fake.callsOf<UpdateServiceCommandInput>(UpdateServiceCommand);
    expect(update).toEqual({
      cluster: CLUSTER,
      service: "orders",
      taskDefinition: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/orders:2`,
      deploymentConfiguration: {
        maximumPercent: 200,
        minimumHealthyPercent: 100,
        deploymentCircuitBreaker: { enable: true, rollback: true },
      },
    });
  });

  it("a circuit-breaker rollback is a failed step with ECS's reason, and stays failed once the rollback completes", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    expect(await deployer.status(req)).toEqual({ state: "in-progress", pollSeconds: 30 });
    fake.fail();
    const failed = await deployer.status(req);
    expect(failed).toEqual({
      state: "failed",
      reason: expect.stringContaining("ECS deployment circuit breaker: tasks failed to start."),
    });
    // The circuit breaker's rollback finishes and the failed deployment drains away.
    fake.complete();
    const later = await deployer.status(req);
    expect(later.state).toBe("failed");
    expect(later.state === "failed" && later.reason).toContain("task-definition/orders:1");
    expect(fake.serving()).toBe("v1");
  });

  it("ThrottlingException and ServerException from any call are TransientError; a start retried after a lost UpdateService registers nothing new", async () => {
    const req = request({ kind: "full", version: "v2" });
    fake.failNextCall(throttling(), DescribeServicesCommand.name);
    await expect(deployer.start(req)).rejects.toMatchObject({ name: TransientError.name });
    fake.failNextCall(
      new ServerException({ message: "Service unavailable", ...meta(500) }),
      UpdateServiceCommand.name,
    );
    await expect(deployer.start(req)).rejects.toMatchObject({ name: TransientError.name });
    expect(fake.callsOf(RegisterTaskDefinitionCommand)).toHaveLength(1);
    fake.failNextCall(throttling(), DescribeTaskDefinitionCommand.name);
    await expect(deployer.status(req)).rejects.toMatchObject({ name: TransientError.name });
    // The retry finds the revision it registered (the family's newest) and only moves the service.
    await deployer.start(req);
    expect(fake.callsOf(RegisterTaskDefinitionCommand)).toHaveLength(1);
    expect(await finish(req)).toEqual({ state: "succeeded" });
    expect(fake.serving()).toBe("v2");
  });

  it("a one-box step creates the canary service once, beside the main one in the same target groups, with one task", async () => {
    const req = request({ kind: "one-box", version: "v2" });
    await deployer.start(req);
    await deployer.start(req);
    const creates = fake.callsOf<CreateServiceCommandInput>(CreateServiceCommand);
    expect(creates).toHaveLength(1);
    const create = creates[0] as CreateServiceCommandInput;
    expect(create).toMatchObject({
      cluster: CLUSTER,
      serviceName: "orders-canary",
      taskDefinition: `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/orders:2`,
      desiredCount: 1,
      loadBalancers: [{ targetGroupArn: TARGET_GROUP, containerName: "app", containerPort: 8080 }],
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ["subnet-0a1b2c3d"], securityGroups: ["sg-0a1b2c3d"] },
      },
      launchType: "FARGATE",
      platformVersion: "LATEST",
      healthCheckGracePeriodSeconds: 30,
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
    });
    expect(create.clientToken?.length).toBeLessThanOrEqual(36);
    expect(fake.callsOf(UpdateServiceCommand)).toHaveLength(0); // the main service is untouched
    expect(await deployer.status(req)).toEqual({ state: "in-progress", pollSeconds: 30 });
    expect(await finish(req)).toEqual({ state: "succeeded" });
    expect(fake.serving("orders-canary")).toBe("v2");
    expect(fake.serving()).toBe("v1");

    // The next version's one-box reuses the canary: UpdateService, not a second CreateService.
    fake.complete();
    const next = request({ kind: "one-box", version: "v3" });
    await deployer.start(next);
    expect(fake.callsOf(CreateServiceCommand)).toHaveLength(1);
    expect(fake.services.get("orders-canary")?.taskDefinition).toMatch(/orders:3$/);
  });

  it("a CreateService retried with the same client token (the retry does not see the canary yet) creates nothing new", async () => {
    const req = request({ kind: "one-box", version: "v2" });
    await deployer.start(req);
    const created = fake.mutations;
    // A retry whose DescribeServices does not see the new canary yet (eventual consistency)
    // sends CreateService again: ECS answers the same service for the same client token.
    const canary = fake.services.get("orders-canary") as Service;
    fake.services.delete("orders-canary");
    await deployer.start(req);
    fake.services.set("orders-canary", canary);
    expect(fake.mutations).toBe(created);
    const tokens = fake
      .callsOf<CreateServiceCommandInput>(CreateServiceCommand)
      .map((c) => c.clientToken);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBe(tokens[1]);
  });

  it("refuses a one-box for a service behind no load balancer (its canary would get no traffic)", async () => {
    (fake.services.get("orders") as Service).loadBalancers = [];
    await expect(deployer.start(request({ kind: "one-box", version: "v2" }))).rejects.toThrow(
      /^target\.service: ECS service orders has no load balancer, so a one-box canary beside it would serve no traffic/,
    );
    expect(fake.mutations).toBe(0);
  });

  it("rolling steps size the canary to the share, on the one-box's revision; the full step then scales it to zero", async () => {
    const oneBox = request({ kind: "one-box", version: "v2" });
    await deployer.start(oneBox);
    expect(await finish(oneBox)).toEqual({ state: "succeeded" });
    // Three main tasks: 50% is three canary tasks, 75% nine (the nearest shares of all tasks).
    for (const [percent, tasks] of [
      [50, 3],
      [75, 9],
    ] as const) {
      const step = request({ kind: "rolling", version: "v2", percent });
      await deployer.start(step);
      expect(fake.services.get("orders-canary")?.desiredCount).toBe(tasks);
      expect(await finish(step)).toEqual({ state: "succeeded" });
      expect(fake.serving("orders-canary")).toBe("v2");
      expect(fake.serving()).toBe("v1");
    }
    expect(fake.callsOf(RegisterTaskDefinitionCommand)).toHaveLength(1);
    expect(fake.callsOf(CreateServiceCommand)).toHaveLength(1);
    const full = request({ kind: "full", version: "v2" });
    await deployer.start(full);
    expect(await finish(full)).toEqual({ state: "succeeded" });
    expect(fake.services.get("orders-canary")?.desiredCount).toBe(0);
    expect(fake.serving()).toBe("v2");
  });

  it("canaryTasks: about the share of all tasks, at least one, bounded", () => {
    expect(canaryTasks(3, 10)).toBe(1);
    expect(canaryTasks(4, 25)).toBe(1);
    expect(canaryTasks(4, 50)).toBe(4);
    expect(canaryTasks(10, 20)).toBe(3);
    expect(canaryTasks(2, 99)).toBe(2 * MAX_CANARY_TASKS_PER_MAIN_TASK);
    expect(canaryTasks(0, 50)).toBe(1);
  });

  it("after the full step the canary is scaled to zero, and the one-box's revision is reused", async () => {
    const oneBox = request({ kind: "one-box", version: "v2" });
    await deployer.start(oneBox);
    expect(await finish(oneBox)).toEqual({ state: "succeeded" });
    const full = request({ kind: "full", version: "v2" });
    await deployer.start(full);
    expect(fake.callsOf(RegisterTaskDefinitionCommand)).toHaveLength(1);
    // Not while the main service rolls: the canary serves until the new tasks are healthy.
    expect(await deployer.status(full)).toEqual({ state: "in-progress", pollSeconds: 30 });
    expect(fake.services.get("orders-canary")?.desiredCount).toBe(1);
    expect(await finish(full)).toEqual({ state: "succeeded" });
    expect(fake.services.get("orders-canary")?.desiredCount).toBe(0);
    expect(fake.serving()).toBe("v2");
    // Asked again, nothing more is sent.
    const mutations = fake.mutations;
    expect(await deployer.status(full)).toEqual({ state: "succeeded" });
    expect(fake.mutations).toBe(mutations);
  });

  it("a rollback puts the service back on the earlier version's own revision and the canary to zero", async () => {
    for (const version of ["v2", "v3"]) {
      const req = request({ kind: "full", version });
      await deployer.start(req);
      expect(await finish(req)).toEqual({ state: "succeeded" });
    }
    const oneBox = request({ kind: "one-box", version: "v4" });
    await deployer.start(oneBox);
    expect(await finish(oneBox)).toEqual({ state: "succeeded" });
    const registered = fake.callsOf(RegisterTaskDefinitionCommand).length;
    const rollback = request({ kind: "rollback", version: "v2" });
    await deployer.start(rollback);
    // Found by its image and version tag among the family's revisions: nothing registered.
    expect(fake.callsOf(RegisterTaskDefinitionCommand)).toHaveLength(registered);
    expect(fake.services.get("orders")?.taskDefinition).toMatch(/orders:2$/);
    expect(fake.services.get("orders-canary")?.desiredCount).toBe(0);
    expect(await finish(rollback)).toEqual({ state: "succeeded" });
    expect(fake.serving()).toBe("v2");
  });

  it("cancel of a full step in flight moves the service back to the revision it ran before", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    await deployer.cancel(req);
    const updates = fake.callsOf<UpdateServiceCommandInput>(UpdateServiceCommand);
    expect(updates.map((u) => u.taskDefinition)).toEqual([
      expect.stringMatching(/orders:2$/),
      expect.stringMatching(/orders:1$/),
    ]);
    expect(updates[1]?.deploymentConfiguration?.deploymentCircuitBreaker).toEqual({
      enable: true,
      rollback: true,
    });
    fake.complete();
    const status = await deployer.status(req);
    expect(status.state).toBe("failed");
    expect(fake.serving()).toBe("v1");
  });

  it("cancel after the replaced deployment drained, the new one still in progress, moves back to the revision it was copied from", async () => {
    const req = request({ kind: "full", version: "v2" });
    await deployer.start(req);
    fake.drainReplaced();
    await deployer.cancel(req);
    expect(fake.services.get("orders")?.taskDefinition).toMatch(/orders:1$/);
    expect(fake.superseded).toBe(true);
    fake.complete();
    expect((await deployer.status(req)).state).toBe("failed");
    expect(fake.serving()).toBe("v1");
  });

  it("cancel of a finished one-box leaves the canary serving (the rollback that follows scales it)", async () => {
    const req = request({ kind: "one-box", version: "v2" });
    await deployer.start(req);
    expect(await finish(req)).toEqual({ state: "succeeded" });
    const mutations = fake.mutations;
    await deployer.cancel(req);
    expect(fake.mutations).toBe(mutations);
    expect(fake.services.get("orders-canary")?.desiredCount).toBe(1);
  });

  it("cancel of a one-box in flight scales the canary to zero; the step then fails", async () => {
    const req = request({ kind: "one-box", version: "v2" });
    await deployer.start(req);
    await deployer.cancel(req);
    await deployer.cancel(req);
    expect(fake.services.get("orders-canary")?.desiredCount).toBe(0);
    expect(
      fake
        .callsOf<UpdateServiceCommandInput>(UpdateServiceCommand)
        .filter((u) => u.desiredCount === 0),
    ).toHaveLength(1);
    fake.complete();
    expect(await deployer.status(req)).toEqual({
      state: "failed",
      reason: "the canary service orders-canary was scaled to zero (cancelled or rolled back)",
    });
    // The same version's one-box again: the canary scales back to one task on the same revision
    // (no new ECS deployment), and is done only once that task runs.
    const again = request({ kind: "one-box", version: "v2", deploymentId: "again" });
    await deployer.start(again);
    expect(fake.services.get("orders-canary")?.desiredCount).toBe(1);
    expect(fake.callsOf(CreateServiceCommand)).toHaveLength(1);
    expect(await deployer.status(again)).toEqual({ state: "in-progress", pollSeconds: 30 });
    expect(await finish(again)).toEqual({ state: "succeeded" });
  });

  it("refuses a container the task definition lacks, naming the field, and registers nothing", async () => {
    const bad = requestFor({ ...ecsTarget, container: "web" });
    const error = await deployer.start(bad({ kind: "full", version: "v2" })).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toMatch(
      /^target\.container: task definition .*orders:1 has no container named web \(it has app, log-router\)$/,
    );
    expect(fake.mutations).toBe(0);
  });

  it("refuses to pass a role the target does not name (iam:PassRole is granted only on those)", async () => {
    const { executionRoleArn: _, ...withoutExec } = ecsTarget;
    const bad = requestFor(withoutExec);
    const error = await deployer.start(bad({ kind: "full", version: "v2" })).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toContain(
      `target.executionRoleArn: task definition arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/orders:1 passes the execution role ${EXEC_ROLE}`,
    );
    expect(fake.mutations).toBe(0);
    // A task definition with no roles needs none named.
    fake.reset("v1", { roles: false });
    const { taskRoleArn: __, ...noRoles } = withoutExec;
    await deployer.start(requestFor(noRoles)({ kind: "full", version: "v2" }));
    expect(fake.callsOf(RegisterTaskDefinitionCommand)).toHaveLength(1);
  });

  it("refuses a service that ECS does not deploy with rolling updates, a cluster or a service that does not exist, naming the field", async () => {
    (fake.services.get("orders") as Service).deploymentController = { type: "CODE_DEPLOY" };
    await expect(deployer.start(request({ kind: "full", version: "v2" }))).rejects.toThrow(
      /^target\.service: ECS service orders uses the CODE_DEPLOY deployment controller/,
    );
    const otherCluster = requestFor({ ...ecsTarget, cluster: "orders-staging" });
    await expect(deployer.start(otherCluster({ kind: "full", version: "v2" }))).rejects.toThrow(
      `target.cluster: ECS cluster orders-staging does not exist in ${REGION}`,
    );
    fake.services.delete("orders");
    await expect(deployer.status(request({ kind: "full", version: "v2" }))).rejects.toThrow(
      `target.service: ECS service orders does not exist in cluster ${CLUSTER} (${REGION})`,
    );
    expect(fake.mutations).toBe(0);
  });

  it("refuses a passed role that is not one exact role ARN, naming the field", () => {
    const pipeline = (roles: Record<string, string>) => () =>
      parsePipeline({
        name: "orders-api",
        target: { ...ecsTarget, ...roles },
        stages: [{ name: "prod-1", regions: [REGION], bake: { minutes: 10 } }],
      });
    expect(pipeline({ taskRoleArn: "orders-task" })).toThrow(
      /target\.taskRoleArn: must be an IAM role ARN template/,
    );
    expect(pipeline({ executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/*` })).toThrow(
      /target\.executionRoleArn: must not contain an IAM wildcard/,
    );
    expect(
      pipeline({ executionRoleArn: "arn:aws:iam::{account}:role/ops/orders-exec" }),
    ).not.toThrow();
  });

  it("names the roles a target passes, for the stack's iam:PassRole", () => {
    expect(
      ecsPassedRoles({
        type: "ecs",
        cluster: "c",
        service: "s",
        container: "app",
        image: "repo:v2",
        taskRoleArn: TASK_ROLE,
        executionRoleArn: EXEC_ROLE,
      }),
    ).toEqual([TASK_ROLE, EXEC_ROLE]);
    expect(
      ecsPassedRoles({
        type: "ecs",
        cluster: "c",
        service: "s",
        container: "app",
        image: "repo:v2",
        taskRoleArn: TASK_ROLE,
        executionRoleArn: TASK_ROLE,
      }),
    ).toEqual([TASK_ROLE]);
    expect(
      ecsPassedRoles({ type: "ecs", cluster: "c", service: "s", container: "app", image: "r:v" }),
    ).toEqual([]);
  });
});
