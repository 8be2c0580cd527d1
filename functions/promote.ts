import { onApprovalTimer } from "../src/app/approvals.ts";
import { onStageExecutionStatus } from "../src/app/runs.ts";
import {
  approvalTimerInputSchema,
  executionStatusChangeSchema,
  stageContextSchema,
} from "../src/app/schemas.ts";
import { InvalidInputError } from "../src/domain/errors.ts";
import { formatPath, formatProblems } from "../src/domain/pipeline.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { defineHandler } from "./lib/handler.ts";

/**
 * Promote: target of the "Step Functions Execution Status Change" rule. A stage that succeeded
 * hands its version to the next stage; one that failed halts the run. An approval timer that ran
 * out halts its run if that approval is still undecided.
 */
export const createPromoteHandler = defineHandler(
  "promote",
  executionStatusChangeSchema,
  async (deps, event): Promise<unknown> => {
    let raw: unknown;
    try {
      raw = JSON.parse(event.detail.input ?? "null");
    } catch {
      throw new InvalidInputError("detail.input: is not JSON");
    }
    if (typeof raw === "object" && raw !== null && "approvalTimer" in raw) {
      const timer = approvalTimerInputSchema.safeParse(raw);
      if (!timer.success) {
        const problems = timer.error.issues.map((i) => ({
          path: formatPath(["detail", "input", ...i.path]),
          message: i.message,
        }));
        throw new InvalidInputError(
          `invalid approval timer input: ${formatProblems(problems, "; ")}`,
          problems,
        );
      }
      return onApprovalTimer(deps, { ...timer.data, status: event.detail.status });
    }
    const parsed = stageContextSchema.safeParse(raw);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => ({
        path: formatPath(["detail", "input", ...i.path]),
        message: i.message,
      }));
      throw new InvalidInputError(
        `invalid promote input: ${formatProblems(problems, "; ")}`,
        problems,
      );
    }
    const ctx = parsed.data;
    if (event.detail.status === "PENDING_REDRIVE") {
      return Promise.resolve({ action: "ignored", reason: "pending redrive" });
    }
    return onStageExecutionStatus(deps, {
      runId: ctx.runId,
      stage: ctx.stage,
      status: event.detail.status,
      ...(ctx.attempt ? { attempt: ctx.attempt } : {}),
      ...(event.detail.error ? { error: event.detail.error } : {}),
      ...(event.detail.cause ? { cause: event.detail.cause } : {}),
    });
  },
  (r) => {
    const action = (r as { action?: string }).action;
    if (action === "started-next-stage" || action === "waiting-for-next-stage")
      return "StagesPromoted";
    if (action === "halted-at-boundary") return "RunsStoppedAtBoundary";
    if (action === "run-succeeded") return "RunsSucceeded";
    if (action === "run-halted") return "RunsHalted";
    if (action === "approval-timed-out") return "ApprovalsTimedOut";
    return undefined;
  },
);

export const handler = createPromoteHandler(awsDeps);
