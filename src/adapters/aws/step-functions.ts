import { createHash } from "node:crypto";
import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import {
  wireRollbackInput,
  wireRollbackWavesInput,
  wireStageInput,
} from "../../domain/execution-input.ts";
import type {
  ApprovalTimerInput,
  RollbackExecutionInput,
  RollbackWavesInput,
  StageExecutionInput,
  WorkflowStarter,
} from "../../domain/ports.ts";

/**
 * Execution names are derived from (run, stage): Step Functions refuses a second execution
 * with the same name, which makes starting a stage idempotent under duplicate events.
 */
export function executionName(input: StageExecutionInput): string {
  // A readable prefix plus a hash of the exact (run, stage): "orders" + "api-v2" and
  // "orders-api" + "v2" read alike but never share a name.
  const readable =
    `${input.pipeline}-${input.version}-${input.stage}${input.attempt ? `-${input.attempt}` : ""}`.replace(
      /[^A-Za-z0-9_-]/g,
      "_",
    );
  const hash = createHash("sha256")
    .update(`${input.runId}|${input.stage}${input.attempt ? `|${input.attempt}` : ""}`)
    .digest("hex")
    .slice(0, 12);
  return `${readable.slice(0, 67)}-${hash}`;
}

/** A rollback execution's name: one per (run, scope), and one per decision that rolls back. */
export function rollbackExecutionName(input: RollbackExecutionInput): string {
  const tag = input.why.kind === "decision" ? `rba-${input.why.toVersion}-` : "rb-";
  return executionName({ ...input.ctx, stage: `${tag}${input.step.scope}` });
}

/**
 * A wave-by-wave rollback-all's execution name: one per bad run (a repeated decision finds it
 * started, as a repeated single-scope rollback does).
 */
export function rollbackWavesExecutionName(input: RollbackWavesInput): string {
  return executionName({ ...input.rollbackAll, stage: "rba-waves" });
}

/** An approval timer's name: one per approval asked for (run, stage, the instant it was asked). */
export function approvalTimerExecutionName(input: ApprovalTimerInput): string {
  return executionName({ ...input, stage: `approval-${input.stage}-${input.requestedAt}` });
}

export class SfnWorkflowStarter implements WorkflowStarter {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachineArn: string,
    private readonly rollbackStateMachineArn: string,
    private readonly approvalTimerStateMachineArn: string,
  ) {}

  startApprovalTimer(input: ApprovalTimerInput): Promise<{ executionId: string }> {
    return this.start(this.approvalTimerStateMachineArn, approvalTimerExecutionName(input), input);
  }

  startStage(input: StageExecutionInput): Promise<{ executionId: string }> {
    return this.start(this.stateMachineArn, executionName(input), wireStageInput(input));
  }

  startRollback(input: RollbackExecutionInput): Promise<{ executionId: string }> {
    return this.start(
      this.rollbackStateMachineArn,
      rollbackExecutionName(input),
      wireRollbackInput(input),
    );
  }

  startRollbackWaves(input: RollbackWavesInput): Promise<{ executionId: string }> {
    return this.start(
      this.rollbackStateMachineArn,
      rollbackWavesExecutionName(input),
      wireRollbackWavesInput(input),
    );
  }

  private async start(arn: string, name: string, input: unknown): Promise<{ executionId: string }> {
    try {
      const out = await this.client.send(
        new StartExecutionCommand({ stateMachineArn: arn, name, input: JSON.stringify(input) }),
      );
      return { executionId: out.executionArn ?? name };
    } catch (err) {
      // Same name, same input: already started by a duplicate event; that is success.
      if (err instanceof ExecutionAlreadyExists) return { executionId: name };
      throw err;
    }
  }
}
