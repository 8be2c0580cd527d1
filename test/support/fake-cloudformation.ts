/**
 * A small stateful CloudFormation behind aws-sdk-client-mock, for the `cloudformation` deploy
 * target's tests: one stack, its change sets and its events, answering in the documented shapes
 * and error codes. Change sets are made asynchronously (each DescribeChangeSet sees CloudFormation
 * a step further); ExecuteChangeSet starts the stack's update, which `complete()` or `fail()`
 * finishes (or, with `autoFinish`, the next DescribeStacks: for runs on the virtual clock);
 * CancelUpdateStack rolls it back.
 */
import {
  AlreadyExistsException,
  CancelUpdateStackCommand,
  ChangeSetNotFoundException,
  CloudFormationClient,
  CloudFormationServiceException,
  CreateChangeSetCommand,
  type CreateChangeSetCommandInput,
  DeleteChangeSetCommand,
  DescribeChangeSetCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  ExecuteChangeSetCommand,
  InvalidChangeSetStatusException,
  type StackEvent,
} from "@aws-sdk/client-cloudformation";
import { mockClient } from "aws-sdk-client-mock";

/** The template of a version, as the tests' targets name it. */
export const templateUrl = (version: string) =>
  `https://templates.s3.amazonaws.com/orders-db/${version}/stack.json`;

/** CloudFormation's generic client error (Query protocol code ValidationError, HTTP 400). */
function validationError(message: string) {
  return new CloudFormationServiceException({
    name: "ValidationError",
    $fault: "client",
    message,
    $metadata: { httpStatusCode: 400 },
  });
}

interface FakeChangeSet {
  name: string;
  type: "CREATE" | "UPDATE";
  status: string;
  executionStatus: string;
  statusReason?: string;
  templateUrl: string;
  parameters: Record<string, string>;
  executeToken?: string;
}

export interface FakeStack {
  status: string;
  reason?: string;
  templateUrl?: string;
  parameters: Record<string, string>;
}

/** A small stateful CloudFormation: one stack, its change sets and its events. */
export class FakeCloudFormation {
  readonly mock = mockClient(CloudFormationClient);
  readonly stackName: string;
  private readonly stackId: string;
  /** The next DescribeStacks finishes an update in flight: it fails when the template names `failing`. */
  autoFinish: { failing?: string } | undefined;
  stack: FakeStack | undefined;
  changeSets = new Map<string, FakeChangeSet>();
  events: StackEvent[] = [];
  /** The change set whose execution is updating the stack. */
  executing: FakeChangeSet | undefined;
  mutations = 0;
  cancelled = false;
  throttle = false;
  /** Set to fail the next CreateChangeSet with this error. */
  refuseCreate: Error | undefined;
  private eventNo = 0;

  constructor(readonly region: string) {
    this.stackName = `orders-db-${region}`;
    this.stackId = `arn:aws:cloudformation:${region}:111122223333:stack/${this.stackName}/6f1c2a40-0000-11ef-9c1f-0a1b2c3d4e5f`;
  }

  /** A stack on `initial`'s template and parameters (none: no stack yet), and no change sets. */
  reset(initial: string | undefined, stage = "prod-1") {
    this.stack = initial
      ? {
          status: "UPDATE_COMPLETE",
          templateUrl: templateUrl(initial),
          parameters: { Version: initial, Stage: stage },
        }
      : undefined;
    this.changeSets.clear();
    this.events = [];
    this.executing = undefined;
    this.mutations = 0;
    this.cancelled = false;
    this.throttle = false;
    this.refuseCreate = undefined;
    this.autoFinish = undefined;
    this.mock.reset();
    const gate = () => {
      if (this.throttle) {
        this.throttle = false;
        throw new CloudFormationServiceException({
          name: "Throttling",
          $fault: "client",
          message: "Rate exceeded",
          $metadata: { httpStatusCode: 400 },
        });
      }
    };
    this.mock.on(DescribeChangeSetCommand).callsFake((input) => {
      gate();
      const cs = this.changeSets.get(input.ChangeSetName);
      if (!cs) {
        throw new ChangeSetNotFoundException({
          message: `ChangeSet [${input.ChangeSetName}] does not exist`,
          $metadata: { httpStatusCode: 404 },
        });
      }
      const out = this.describe(cs);
      // CloudFormation keeps working on the change set between two looks.
      if (cs.status === "CREATE_PENDING") cs.status = "CREATE_IN_PROGRESS";
      else if (cs.status === "CREATE_IN_PROGRESS") this.created(cs);
      return out;
    });
    this.mock.on(CreateChangeSetCommand).callsFake((input: CreateChangeSetCommandInput) => {
      gate();
      if (this.refuseCreate) throw this.refuseCreate;
      const name = input.ChangeSetName as string;
      if (this.changeSets.has(name)) {
        throw new AlreadyExistsException({
          message: `ChangeSet ${name} already exists`,
          $metadata: { httpStatusCode: 400 },
        });
      }
      if (input.ChangeSetType !== "CREATE" && !this.stack)
        throw validationError(`Stack [${input.StackName}] does not exist`);
      if (this.stack && this.stack.status !== "REVIEW_IN_PROGRESS") {
        const s = this.stack.status;
        if (s.endsWith("_IN_PROGRESS") || s === "ROLLBACK_COMPLETE" || s.endsWith("_FAILED")) {
          throw validationError(`Stack:${this.stackId} is in ${s} state and can not be updated.`);
        }
      }
      if (!this.stack) this.stack = { status: "REVIEW_IN_PROGRESS", parameters: {} };
      this.mutations++;
      this.changeSets.set(name, {
        name,
        type: input.ChangeSetType as "CREATE" | "UPDATE",
        status: "CREATE_PENDING",
        executionStatus: "UNAVAILABLE",
        templateUrl: input.TemplateURL as string,
        parameters: Object.fromEntries(
          (input.Parameters ?? []).map((p) => [p.ParameterKey, p.ParameterValue]),
        ),
      });
      return { Id: this.arn(name), StackId: this.stackId };
    });
    this.mock.on(ExecuteChangeSetCommand).callsFake((input) => {
      gate();
      const cs = this.changeSets.get(input.ChangeSetName);
      if (!cs) {
        throw new ChangeSetNotFoundException({
          message: `ChangeSet [${input.ChangeSetName}] does not exist`,
          $metadata: { httpStatusCode: 404 },
        });
      }
      // The same ClientRequestToken again is the same request: no second update.
      if (cs.executeToken && cs.executeToken === input.ClientRequestToken) return {};
      if (cs.status !== "CREATE_COMPLETE" || cs.executionStatus !== "AVAILABLE") {
        throw new InvalidChangeSetStatusException({
          message: `ChangeSet [${this.arn(cs.name)}] cannot be executed in its current status of [${cs.executionStatus}]`,
          $metadata: { httpStatusCode: 400 },
        });
      }
      this.mutations++;
      cs.executionStatus = "EXECUTE_IN_PROGRESS";
      cs.executeToken = input.ClientRequestToken;
      // Executing a change set deletes the stack's other change sets (they no longer apply).
      for (const [n, other] of this.changeSets)
        if (other !== cs && other.executionStatus === "AVAILABLE") this.changeSets.delete(n);
      (this.stack as FakeStack).status =
        cs.type === "CREATE" ? "CREATE_IN_PROGRESS" : "UPDATE_IN_PROGRESS";
      this.executing = cs;
      return {};
    });
    this.mock.on(DescribeStacksCommand).callsFake((input) => {
      gate();
      if (this.autoFinish && this.stack?.status.endsWith("_IN_PROGRESS")) {
        const failing = this.autoFinish.failing;
        if (failing && this.executing?.templateUrl === templateUrl(failing)) this.fail();
        else this.complete();
      }
      if (!this.stack || this.stack.status === "REVIEW_IN_PROGRESS") {
        // A never-executed stack is still listed by DescribeStacks.
        if (this.stack) return { Stacks: [this.describeStack()] };
        throw validationError(`Stack with id ${input.StackName} does not exist`);
      }
      return { Stacks: [this.describeStack()] };
    });
    this.mock.on(CancelUpdateStackCommand).callsFake(() => {
      gate();
      if (this.stack?.status !== "UPDATE_IN_PROGRESS")
        throw validationError(
          `CancelUpdateStack cannot be called from current stack status ${this.stack?.status}`,
        );
      this.mutations++;
      this.cancelled = true;
      this.stack.status = "UPDATE_ROLLBACK_IN_PROGRESS";
      this.stack.reason = "User Initiated";
      this.event("Queue", "AWS::SQS::Queue", "UPDATE_FAILED", "Resource update cancelled");
      return {};
    });
    this.mock.on(DeleteChangeSetCommand).callsFake((input) => {
      gate();
      const cs = this.changeSets.get(input.ChangeSetName);
      if (!cs) return {};
      if (cs.status === "CREATE_PENDING" || cs.status === "CREATE_IN_PROGRESS") {
        throw new InvalidChangeSetStatusException({
          message: "An operation on this ChangeSet is currently in progress.",
          $metadata: { httpStatusCode: 400 },
        });
      }
      this.mutations++;
      if (cs.executionStatus === "AVAILABLE") this.cancelled = true;
      this.changeSets.delete(cs.name);
      return {};
    });
    this.mock.on(DescribeStackEventsCommand).callsFake(() => {
      gate();
      return { StackEvents: [...this.events].reverse() };
    });
  }

  /** CloudFormation finishes creating a change set (or finds nothing to change). */
  created(cs: FakeChangeSet) {
    const s = this.stack;
    const same =
      s?.templateUrl === cs.templateUrl &&
      JSON.stringify(s.parameters) === JSON.stringify(cs.parameters);
    if (same) {
      cs.status = "FAILED";
      cs.statusReason =
        "The submitted information didn't contain changes. Submit different information to create a change set.";
      return;
    }
    cs.status = "CREATE_COMPLETE";
    cs.executionStatus = "AVAILABLE";
  }

  /** Everything in flight finishes the way it is going. */
  complete() {
    for (const cs of this.changeSets.values())
      if (cs.status === "CREATE_PENDING" || cs.status === "CREATE_IN_PROGRESS") this.created(cs);
    const s = this.stack;
    if (!s) return;
    if (s.status === "UPDATE_IN_PROGRESS" || s.status === "CREATE_IN_PROGRESS") {
      const cs = this.executing as FakeChangeSet;
      s.status = s.status === "CREATE_IN_PROGRESS" ? "CREATE_COMPLETE" : "UPDATE_COMPLETE";
      s.templateUrl = cs.templateUrl;
      s.parameters = cs.parameters;
      s.reason = undefined;
      cs.executionStatus = "EXECUTE_COMPLETE";
      this.executing = undefined;
    } else if (s.status === "UPDATE_ROLLBACK_IN_PROGRESS") {
      s.status = "UPDATE_ROLLBACK_COMPLETE";
      if (this.executing) this.executing.executionStatus = "EXECUTE_FAILED";
      this.executing = undefined;
    }
  }

  /** The in-flight work fails: a change set CloudFormation cannot make, or an update it rolls back. */
  fail() {
    for (const cs of this.changeSets.values()) {
      if (cs.status === "CREATE_PENDING" || cs.status === "CREATE_IN_PROGRESS") {
        cs.status = "FAILED";
        cs.statusReason =
          "Template format error: Unresolved resource dependencies [DeadLetterQueue] in the Resources block of the template";
      }
    }
    const s = this.stack;
    if (s?.status === "UPDATE_IN_PROGRESS") {
      this.event(
        "Queue",
        "AWS::SQS::Queue",
        "UPDATE_FAILED",
        'Resource handler returned message: "Invalid value for the parameter MessageRetentionPeriod." (HandlerErrorCode: InvalidRequest)',
      );
      this.event(
        this.stackName,
        "AWS::CloudFormation::Stack",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to update: [Queue].",
      );
      s.status = "UPDATE_ROLLBACK_COMPLETE";
      s.reason = undefined;
      if (this.executing) this.executing.executionStatus = "EXECUTE_FAILED";
      this.executing = undefined;
    }
  }

  /** The version the stack's template is of, once the stack is settled. */
  serving(): string | undefined {
    const s = this.stack;
    if (!s?.templateUrl || s.status.endsWith("_IN_PROGRESS")) return undefined;
    return /orders-db\/([^/]+)\/stack\.json$/.exec(s.templateUrl)?.[1];
  }

  private event(logicalId: string, type: string, status: string, reason: string) {
    this.events.push({
      StackId: this.stackId,
      StackName: this.stackName,
      EventId: `event-${++this.eventNo}`,
      LogicalResourceId: logicalId,
      ResourceType: type,
      ResourceStatus: status as StackEvent["ResourceStatus"],
      ResourceStatusReason: reason,
      Timestamp: new Date(Date.UTC(2026, 11, 2, 0, 0, this.eventNo)),
      ...(this.executing?.executeToken ? { ClientRequestToken: this.executing.executeToken } : {}),
    });
  }

  private arn(name: string) {
    return `arn:aws:cloudformation:${this.region}:111122223333:changeSet/${name}/0b7c4a5e-0000-11ef-9c1f-0a1b2c3d4e5f`;
  }

  private describe(cs: FakeChangeSet) {
    return {
      ChangeSetName: cs.name,
      ChangeSetId: this.arn(cs.name),
      StackId: this.stackId,
      StackName: this.stackName,
      Status: cs.status as never,
      ExecutionStatus: cs.executionStatus as never,
      ...(cs.statusReason ? { StatusReason: cs.statusReason } : {}),
      Parameters: Object.entries(cs.parameters).map(([k, v]) => ({
        ParameterKey: k,
        ParameterValue: v,
      })),
      Changes: [],
    };
  }

  private describeStack() {
    const s = this.stack as FakeStack;
    return {
      StackId: this.stackId,
      StackName: this.stackName,
      StackStatus: s.status as never,
      ...(s.reason ? { StackStatusReason: s.reason } : {}),
      CreationTime: new Date(Date.UTC(2026, 0, 1)),
      Parameters: Object.entries(s.parameters).map(([k, v]) => ({
        ParameterKey: k,
        ParameterValue: v,
      })),
    };
  }
}
