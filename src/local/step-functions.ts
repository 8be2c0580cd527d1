/**
 * The local twin of Step Functions: the same ASL file, run by aws-local-stepfunctions, with
 * every Task state bound in-process to the project's real handler for its Resource. Wait
 * states sleep on the virtual clock. When an execution ends, a "Step Functions Execution
 * Status Change" event with AWS's shape goes to the local event bus.
 */
import "./polyfills.ts";
import type { Context } from "aws-lambda";
import { ExecutionAbortedError, StateMachine } from "aws-local-stepfunctions";
import {
  approvalTimerExecutionName,
  executionName,
  rollbackExecutionName,
  rollbackWavesExecutionName,
} from "../adapters/aws/step-functions.ts";
import { substitute, taskResources } from "../app/asl.ts";
import { SFN_SOURCE, SFN_STATUS_CHANGE } from "../app/events.ts";
import {
  type WireStageContext,
  wireRollbackInput,
  wireRollbackWavesInput,
  wireStageInput,
} from "../domain/execution-input.ts";
import type {
  ApprovalTimerInput,
  RollbackExecutionInput,
  RollbackWavesInput,
  StageExecutionInput,
  WorkflowStarter,
} from "../domain/ports.ts";
import { aslPassed, rememberAslPassed } from "./asl-validation.ts";
import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalEventBus } from "./event-bus.ts";
import type { VirtualClock } from "./virtual-time.ts";

export type LocalHandler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * Definitions (after substitution) already validated in this process. aws-local-stepfunctions
 * validates a definition with asl-validator (ajv) on every construction, which costs about
 * 150 ms of CPU; the property tests build a plane per scenario, thousands of them. A definition
 * is still validated the first time it is seen, unless an earlier process validated that exact
 * text (asl-validation.ts), and one that fails is never cached.
 */
const validatedDefinitions = new Set<string>();

export const localFunctionArn = (placeholder: string) =>
  `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:breakwater-${placeholder.replace(/FunctionArn$/, "")}`;

export function lambdaContext(functionName: string, requestId: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: "256",
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "ABORTED";

export interface LocalExecution {
  name: string;
  arn: string;
  input: unknown;
  status: ExecutionStatus;
  startedAt: string;
  stoppedAt?: string;
  error?: string;
  cause?: string;
  abort: () => void;
}

/** Task states that run after everything else due at their simulated instant. */
const LATE_TASKS = new Set(["StartDeploy"]);

/** One state machine (an ASL file) run locally. */
export class LocalStateMachine {
  readonly arn: string;
  readonly executions = new Map<string, LocalExecution>();
  private readonly machine: StateMachine;
  private readonly localHandlers: Record<string, (input: unknown) => Promise<never>>;

  constructor(
    readonly name: string,
    asl: string,
    handlers: Record<string, LocalHandler>,
    private readonly clock: VirtualClock,
    private readonly bus: LocalEventBus,
    invocations: Map<string, number>,
    private readonly counters: { transitions: number },
  ) {
    this.arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}`;
    const arns = Object.fromEntries(Object.keys(handlers).map((p) => [p, localFunctionArn(p)]));
    const text = substitute(asl, arns);
    const definition = JSON.parse(text);
    const byArn = new Map(
      Object.entries(handlers).map(([p, h]) => [localFunctionArn(p), { name: p, h }]),
    );
    this.localHandlers = {};
    let requests = 0;
    for (const [state, resource] of taskResources(definition)) {
      const bound = byArn.get(resource);
      if (!bound)
        throw new Error(`Task state ${state} uses ${resource}, which has no local handler`);
      const fn = `breakwater-${bound.name.replace(/FunctionArn$/, "")}`;
      const call = (input: unknown) =>
        this.clock.track(async () => {
          invocations.set(fn, (invocations.get(fn) ?? 0) + 1);
          return (await bound.h(input, lambdaContext(fn, `${name}-${++requests}`))) as never;
        });
      // A deploy step starts after everything else due at its instant (a rollback's halt
      // first: safety rule 3's tie-breaking, docs/decisions.md 2026-12-02).
      this.localHandlers[state] = LATE_TASKS.has(state)
        ? async (input: unknown) => {
            await this.clock.endOfInstant();
            return call(input);
          }
        : call;
    }
    const known = validatedDefinitions.has(text) || aslPassed(text);
    this.machine = new StateMachine(definition, {
      validationOptions: { checkArn: false, noValidate: known },
    });
    if (!known) rememberAslPassed(text);
    validatedDefinitions.add(text);
  }

  /** StartExecution: a second start with the same name is a no-op, as in AWS. */
  start(name: string, input: unknown): { executionId: string } {
    const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${this.name}:${name}`;
    if (this.executions.has(name)) return { executionId: arn };
    const execution = this.clock.enter(() =>
      this.machine.run(input as never, {
        overrides: { taskResourceLocalHandlers: this.localHandlers as never },
      }),
    );
    const record: LocalExecution = {
      name,
      arn,
      input,
      status: "RUNNING",
      startedAt: this.clock.now().toISOString(),
      abort: execution.abort,
    };
    this.executions.set(name, record);
    this.emit(record);
    // Count state transitions (every state entered, nested Map iterations included).
    void (async () => {
      for await (const e of execution.eventLogs)
        if (e.type === "StateEntered") this.counters.transitions++;
    })();
    execution.result.then(
      (output) => this.finish(record, "SUCCEEDED", { output }),
      (err: unknown) => {
        if (err instanceof ExecutionAbortedError) return this.finish(record, "ABORTED", {});
        const e = err as {
          name?: string;
          message?: string;
          cause?: { name?: string; message?: string };
        };
        const inner = e.cause ?? e;
        this.finish(record, "FAILED", {
          error: inner.name ?? "Error",
          cause: inner.message ?? String(err),
        });
      },
    );
    return { executionId: arn };
  }

  /** StopExecution. */
  stop(name: string, error?: string, cause?: string): boolean {
    const e = this.executions.get(name);
    if (e?.status !== "RUNNING") return false; // unknown or already stopped
    if (error) e.error = error;
    if (cause) e.cause = cause;
    e.abort();
    return true;
  }

  private finish(
    record: LocalExecution,
    status: ExecutionStatus,
    extra: { output?: unknown; error?: string; cause?: string },
  ): void {
    record.status = status;
    record.stoppedAt = this.clock.now().toISOString();
    if (extra.error) record.error = extra.error;
    if (extra.cause) record.cause = extra.cause;
    this.emit(record, extra.output);
  }

  private emit(record: LocalExecution, output?: unknown): void {
    this.bus.put({
      source: SFN_SOURCE,
      "detail-type": SFN_STATUS_CHANGE,
      resources: [record.arn],
      detail: {
        executionArn: record.arn,
        stateMachineArn: this.arn,
        name: record.name,
        status: record.status,
        startDate: Date.parse(record.startedAt),
        stopDate: record.stoppedAt ? Date.parse(record.stoppedAt) : null,
        input: JSON.stringify(record.input),
        output: output === undefined ? null : JSON.stringify(output),
        error: record.error ?? null,
        cause: record.cause ?? null,
      },
    });
  }
}

/**
 * The local twin of Step Functions: the stage and rollback ASL files, run by
 * aws-local-stepfunctions, Task states bound in-process to the real handlers.
 */
export class LocalStepFunctions implements WorkflowStarter {
  readonly stage: LocalStateMachine;
  readonly rollback: LocalStateMachine;
  readonly approvalTimer: LocalStateMachine;
  /** Handler invocations per function, for benchmarks. */
  readonly invocations = new Map<string, number>();
  /** State transitions (states entered) across every execution, for benchmarks. */
  readonly counters = { transitions: 0 };

  constructor(
    asl: { stage: string; rollback: string; approvalTimer: string },
    handlers: Record<string, LocalHandler>,
    clock: VirtualClock,
    bus: LocalEventBus,
  ) {
    this.stage = new LocalStateMachine(
      "breakwater-stage",
      asl.stage,
      handlers,
      clock,
      bus,
      this.invocations,
      this.counters,
    );
    this.rollback = new LocalStateMachine(
      "breakwater-rollback",
      asl.rollback,
      handlers,
      clock,
      bus,
      this.invocations,
      this.counters,
    );
    this.approvalTimer = new LocalStateMachine(
      "breakwater-approval-timer",
      asl.approvalTimer,
      handlers,
      clock,
      bus,
      this.invocations,
      this.counters,
    );
  }

  get stateMachineArn(): string {
    return this.stage.arn;
  }

  /** Stage executions by name, their inputs as sent (the snapshot as JSON text). */
  get executions(): Map<string, LocalExecution & { input: WireStageContext }> {
    return this.stage.executions as Map<string, LocalExecution & { input: WireStageContext }>;
  }

  async startStage(input: StageExecutionInput): Promise<{ executionId: string }> {
    return this.stage.start(executionName(input), wireStageInput(input));
  }

  async startRollback(input: RollbackExecutionInput): Promise<{ executionId: string }> {
    return this.rollback.start(rollbackExecutionName(input), wireRollbackInput(input));
  }

  async startRollbackWaves(input: RollbackWavesInput): Promise<{ executionId: string }> {
    return this.rollback.start(rollbackWavesExecutionName(input), wireRollbackWavesInput(input));
  }

  async startApprovalTimer(input: ApprovalTimerInput): Promise<{ executionId: string }> {
    return this.approvalTimer.start(approvalTimerExecutionName(input), input);
  }

  /** Stops a timer whose approval was decided: the virtual clock then has nothing left to wait for. */
  async stopApprovalTimer(input: ApprovalTimerInput): Promise<void> {
    this.approvalTimer.stop(approvalTimerExecutionName(input));
  }
}
