/**
 * The `cloudformation` target: one change set per step, named from the deployment id
 * ({@link deploymentToken}), so a retried start finds the change set it made and starts nothing
 * new. `start` creates the change set; `status` executes it once CloudFormation has finished
 * creating it (ExecuteChangeSet with the same token as its ClientRequestToken) and then reads the
 * outcome from the change set's ExecutionStatus and the stack's StackStatus. No Lambda waits: the
 * state machine polls from Wait states (README, "Deploy targets").
 *
 * A rollback is a change set of the version before (its template URL and parameters): when the
 * stack is still updating (the deploy being rolled back), the update is cancelled first
 * (CancelUpdateStack) and the change set is made once the stack has settled. A stack cannot split
 * traffic, so there are no one-box steps (the pipeline's validation refuses them).
 */
import {
  CancelUpdateStackCommand,
  CloudFormationClient,
  CreateChangeSetCommand,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  type DescribeChangeSetOutput,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  type Stack,
} from "@aws-sdk/client-cloudformation";
import { BreakwaterError, TransientError } from "../../../domain/errors.ts";
import type { DeploymentStatus } from "../../../domain/ports.ts";
import type { TargetOf } from "../../../domain/targets/index.ts";
import type { DriverContext, TargetDriver } from "./driver.ts";
import { asTransient } from "./index.ts";
import { deploymentToken } from "./token.ts";

type Ctx = DriverContext<TargetOf<"cloudformation">>;

/** A stack Breakwater cannot update until a person repairs it (delete it, continue its rollback). */
export class StackNotUpdatableError extends BreakwaterError {
  override name = "StackNotUpdatableError";
}

/** A change set CloudFormation refused to create for a reason a retry does not fix. */
export class ChangeSetRefusedError extends BreakwaterError {
  override name = "ChangeSetRefusedError";
}

/** How CloudFormation words a change set that would change nothing (it then fails it). */
const NO_CHANGES = /didn't contain changes|No updates are to be performed/i;

/** Stacks that take no update until someone repairs them. */
const NOT_UPDATABLE = new Set([
  "CREATE_FAILED",
  "ROLLBACK_COMPLETE",
  "ROLLBACK_FAILED",
  "DELETE_FAILED",
  "DELETE_COMPLETE",
  "UPDATE_ROLLBACK_FAILED",
  "IMPORT_ROLLBACK_FAILED",
]);

/** A stack still working on an operation (REVIEW_IN_PROGRESS is a stack never created: not busy). */
function busy(status: string | undefined): boolean {
  return !!status && status.endsWith("_IN_PROGRESS") && status !== "REVIEW_IN_PROGRESS";
}

/** The update failed: CloudFormation is rolling it back or has, or the stack is stuck. */
function failedStatus(status: string): boolean {
  return status.includes("ROLLBACK") || status.endsWith("_FAILED");
}

export interface CloudFormationDriverOptions {
  /** Waits between looks at a change set still being created when cancelling (default 2 s). */
  sleep?: (ms: number) => Promise<void>;
  /** How many times cancel looks again at a change set still being created (default 2). */
  cancelWaits?: number;
}

const CHANGE_SET_POLL_SECONDS = 10;
const STACK_POLL_SECONDS = 30;

export class CloudFormationDriver implements TargetDriver<TargetOf<"cloudformation">> {
  /** Clients by region, for the function's own role (assumed-role clients are not cached). */
  private readonly clients = new Map<string, CloudFormationClient>();
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly cancelWaits: number;

  constructor(options: CloudFormationDriverOptions = {}) {
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.cancelWaits = options.cancelWaits ?? 2;
  }

  async start(ctx: Ctx): Promise<{ pollSeconds: number }> {
    // A retried start finds the change set it made: nothing new.
    if (await this.changeSet(ctx)) return { pollSeconds: CHANGE_SET_POLL_SECONDS };
    const stack = await this.stack(ctx);
    if (ctx.req.kind === "rollback") {
      const prepared = await this.prepareRollback(ctx, stack);
      if (prepared) return { pollSeconds: STACK_POLL_SECONDS };
    } else if (busy(stack?.StackStatus)) {
      // Someone else's update: a deploy waits for it (the state machine retries the start).
      throw new TransientError(
        `stack ${ctx.target.stackName} is ${stack?.StackStatus}: the ${ctx.req.kind} step starts once it settles`,
      );
    }
    await this.createChangeSet(ctx, stack);
    return { pollSeconds: CHANGE_SET_POLL_SECONDS };
  }

  async status(ctx: Ctx): Promise<DeploymentStatus> {
    const cs = await this.changeSet(ctx);
    const { stackName } = ctx.target;
    const name = deploymentToken(ctx.req.deploymentId);
    if (!cs) {
      if (ctx.req.kind !== "rollback") {
        return {
          state: "failed",
          reason: `change set ${name} of stack ${stackName} does not exist (the step was cancelled, or never started)`,
        };
      }
      // A rollback whose start found the stack still updating: make its change set once settled.
      const stack = await this.stack(ctx);
      if (await this.prepareRollback(ctx, stack))
        return { state: "in-progress", pollSeconds: STACK_POLL_SECONDS };
      await this.createChangeSet(ctx, stack);
      return { state: "in-progress", pollSeconds: CHANGE_SET_POLL_SECONDS };
    }
    switch (cs.Status) {
      case "CREATE_PENDING":
      case "CREATE_IN_PROGRESS":
        return { state: "in-progress", pollSeconds: CHANGE_SET_POLL_SECONDS };
      case "FAILED":
        // Nothing to change is a step already done (a stack already on this version).
        if (NO_CHANGES.test(cs.StatusReason ?? "")) return { state: "succeeded" };
        return {
          state: "failed",
          reason: `change set ${name} of stack ${stackName} failed: ${cs.StatusReason ?? "no reason given"}`,
        };
      case "CREATE_COMPLETE":
        break;
      default:
        return {
          state: "failed",
          reason: `change set ${name} of stack ${stackName} is ${cs.Status} (the step was cancelled)`,
        };
    }
    switch (cs.ExecutionStatus) {
      case "AVAILABLE":
        await this.execute(ctx);
        return { state: "in-progress", pollSeconds: STACK_POLL_SECONDS };
      case "UNAVAILABLE":
        // CloudFormation cannot execute it yet (the stack is busy): look again.
        return { state: "in-progress", pollSeconds: STACK_POLL_SECONDS };
      case "EXECUTE_COMPLETE":
        return { state: "succeeded" };
      case "EXECUTE_FAILED":
        return { state: "failed", reason: await this.failureReason(ctx, await this.stack(ctx)) };
      case "OBSOLETE":
        return {
          state: "failed",
          reason: `change set ${name} of stack ${stackName} is obsolete: the stack was updated after it was made`,
        };
      default: {
        // EXECUTE_IN_PROGRESS: the stack's own status tells how the update goes.
        const stack = await this.stack(ctx);
        if (!stack)
          return { state: "failed", reason: `stack ${stackName} was deleted during the update` };
        const status = stack.StackStatus ?? "";
        if (status === "UPDATE_COMPLETE" || status === "CREATE_COMPLETE")
          return { state: "succeeded" };
        if (failedStatus(status))
          return { state: "failed", reason: await this.failureReason(ctx, stack) };
        return { state: "in-progress", pollSeconds: STACK_POLL_SECONDS };
      }
    }
  }

  /**
   * Stops the step: a change set not yet executed is deleted (so no later poll executes it); an
   * executing one has its stack update cancelled (CloudFormation rolls it back). A finished or
   * unknown step is left alone, and so is an update that is not this step's.
   */
  async cancel(ctx: Ctx): Promise<void> {
    let cs = await this.changeSet(ctx);
    // A change set still being created cannot be deleted yet: CloudFormation takes seconds.
    for (let i = 0; cs && creating(cs) && i < this.cancelWaits; i++) {
      await this.sleep(2000);
      cs = await this.changeSet(ctx);
    }
    if (!cs) return;
    const { stackName } = ctx.target;
    if (creating(cs)) {
      throw new TransientError(
        `change set ${cs.ChangeSetName} of stack ${stackName} is still being created: cancel again`,
      );
    }
    if (cs.Status === "CREATE_COMPLETE" && cs.ExecutionStatus === "AVAILABLE") {
      await this.client(ctx).send(
        new DeleteChangeSetCommand({ StackName: stackName, ChangeSetName: cs.ChangeSetName }),
      );
      return;
    }
    if (cs.ExecutionStatus !== "EXECUTE_IN_PROGRESS") return;
    const stack = await this.stack(ctx);
    if (stack?.StackStatus === "UPDATE_IN_PROGRESS") await this.cancelUpdate(ctx);
  }

  /**
   * Readies a rollback before its change set: a stack still updating has its update cancelled
   * (CloudFormation then rolls it back); true while the stack has not settled yet.
   */
  private async prepareRollback(ctx: Ctx, stack: Stack | undefined): Promise<boolean> {
    if (stack?.StackStatus === "UPDATE_IN_PROGRESS") {
      await this.cancelUpdate(ctx);
      return true;
    }
    return busy(stack?.StackStatus);
  }

  private async cancelUpdate(ctx: Ctx): Promise<void> {
    try {
      await this.client(ctx).send(
        new CancelUpdateStackCommand({
          StackName: ctx.target.stackName,
          ClientRequestToken: `${deploymentToken(ctx.req.deploymentId)}-cancel`,
        }),
      );
    } catch (error) {
      // The update finished (or was cancelled) between the look and the call: nothing to stop.
      if (isValidation(error, /CancelUpdateStack cannot be called from current stack status/i))
        return;
      throw error;
    }
  }

  private async createChangeSet(ctx: Ctx, stack: Stack | undefined): Promise<void> {
    const { target, req } = ctx;
    const status = stack?.StackStatus;
    if (status && NOT_UPDATABLE.has(status)) {
      throw new StackNotUpdatableError(
        `stack ${target.stackName} is ${status} and cannot be updated: ${status === "UPDATE_ROLLBACK_FAILED" ? "continue its rollback (ContinueUpdateRollback)" : "delete it"}, then run again`,
      );
    }
    const name = deploymentToken(req.deploymentId);
    try {
      await this.client(ctx).send(
        new CreateChangeSetCommand({
          StackName: target.stackName,
          ChangeSetName: name,
          ClientToken: name,
          // A stack that does not exist yet, or was never executed (REVIEW_IN_PROGRESS), is created.
          ChangeSetType: !stack || status === "REVIEW_IN_PROGRESS" ? "CREATE" : "UPDATE",
          TemplateURL: target.templateUrl,
          Parameters: Object.entries(target.parameters ?? {}).map(([key, value]) => ({
            ParameterKey: key,
            ParameterValue: value,
          })),
          ...(target.capabilities ? { Capabilities: target.capabilities } : {}),
          Description:
            `Breakwater ${req.pipeline.name} ${req.kind} of ${req.version} (${req.deploymentId})`.slice(
              0,
              1024,
            ),
        }),
      );
    } catch (error) {
      const e = error as Error;
      // A concurrent start made it first: the same name is the same change set.
      if (e.name === "AlreadyExistsException") return;
      if (e.name === "InsufficientCapabilitiesException") {
        throw new ChangeSetRefusedError(
          `stack ${target.stackName}: ${e.message} (add it to the target's "capabilities")`,
          { cause: error },
        );
      }
      if (isValidation(error, /_IN_PROGRESS state/)) {
        throw new TransientError(`stack ${target.stackName}: ${e.message}`, { cause: error });
      }
      if (e.name === "ValidationError" || e.name === "ValidationException") {
        throw new ChangeSetRefusedError(`stack ${target.stackName}: ${e.message}`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  private async execute(ctx: Ctx): Promise<void> {
    const name = deploymentToken(ctx.req.deploymentId);
    try {
      await this.client(ctx).send(
        new ExecuteChangeSetCommand({
          StackName: ctx.target.stackName,
          ChangeSetName: name,
          // The same token: a retried execute is the same request to CloudFormation.
          ClientRequestToken: name,
        }),
      );
    } catch (error) {
      // A concurrent poll executed it first, or the stack is busy: the next poll looks again.
      if ((error as Error).name === "InvalidChangeSetStatusException") return;
      throw error;
    }
  }

  /** This step's change set, or undefined when it does not exist (or its stack does not). */
  private async changeSet(ctx: Ctx): Promise<DescribeChangeSetOutput | undefined> {
    try {
      return await this.client(ctx).send(
        new DescribeChangeSetCommand({
          StackName: ctx.target.stackName,
          ChangeSetName: deploymentToken(ctx.req.deploymentId),
        }),
      );
    } catch (error) {
      if ((error as Error).name === "ChangeSetNotFoundException") return undefined;
      if (isValidation(error, /does not exist/)) return undefined;
      throw error;
    }
  }

  private async stack(ctx: Ctx): Promise<Stack | undefined> {
    try {
      const out = await this.client(ctx).send(
        new DescribeStacksCommand({ StackName: ctx.target.stackName }),
      );
      return out.Stacks?.[0];
    } catch (error) {
      if (isValidation(error, /does not exist/)) return undefined;
      throw error;
    }
  }

  /**
   * Why the update failed: the stack's status and reason, and the first resource that failed in
   * this step's execution (its events carry the step's token as ClientRequestToken).
   */
  private async failureReason(ctx: Ctx, stack: Stack | undefined): Promise<string> {
    const { stackName } = ctx.target;
    const status = stack?.StackStatus ?? "gone";
    const parts = [`stack ${stackName} is ${status}`];
    if (stack?.StackStatusReason) parts.push(stack.StackStatusReason);
    const first = await this.firstFailure(ctx).catch((error: unknown) => {
      // The events only explain the failure (a role without DescribeStackEvents still gets the
      // stack's reason), but a throttled look is retried like any other.
      if (asTransient(error) instanceof TransientError) throw error;
      return undefined;
    });
    if (first) parts.push(first);
    return parts.join(": ");
  }

  private async firstFailure(ctx: Ctx): Promise<string | undefined> {
    const token = deploymentToken(ctx.req.deploymentId);
    let next: string | undefined;
    let earliest: string | undefined;
    // Newest first; two pages (200 events) reach back past any one update's failures.
    for (let page = 0; page < 2; page++) {
      const out = await this.client(ctx).send(
        new DescribeStackEventsCommand({ StackName: ctx.target.stackName, NextToken: next }),
      );
      for (const e of out.StackEvents ?? []) {
        if (e.ClientRequestToken !== token) continue;
        if (e.ResourceStatus?.endsWith("_FAILED") && e.ResourceStatusReason) {
          earliest = `${e.LogicalResourceId} (${e.ResourceType}) ${e.ResourceStatus}: ${e.ResourceStatusReason}`;
        }
      }
      next = out.NextToken;
      if (!next) break;
    }
    return earliest;
  }

  private client(ctx: Ctx): CloudFormationClient {
    if (ctx.credentials)
      return new CloudFormationClient({ region: ctx.region, credentials: ctx.credentials });
    let client = this.clients.get(ctx.region);
    if (!client) {
      client = new CloudFormationClient({ region: ctx.region });
      this.clients.set(ctx.region, client);
    }
    return client;
  }
}

function creating(cs: DescribeChangeSetOutput): boolean {
  return cs.Status === "CREATE_PENDING" || cs.Status === "CREATE_IN_PROGRESS";
}

/** CloudFormation's generic client error (Query protocol code `ValidationError`) with a message. */
function isValidation(error: unknown, message: RegExp): boolean {
  const e = error as Error;
  return (
    e instanceof Error &&
    (e.name === "ValidationError" || e.name === "ValidationException") &&
    message.test(e.message)
  );
}
