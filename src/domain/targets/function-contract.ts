/**
 * The published contract of a `lambda-function` target (README, "Deploy targets"): the request
 * Breakwater invokes a team's own deploy function with, and the answers it must give. The
 * `lambda-function` driver validates every answer with these schemas, so a function typed with
 * them (`import type { TargetFunctionRequest } from "breakwater"`) answers what Breakwater reads.
 */
import * as z from "zod";

/** What Breakwater asks: start a step, report on it, or stop it (the scope is being rolled back). */
export const TARGET_FUNCTION_ACTIONS = ["start", "status", "cancel"] as const;
export type TargetFunctionAction = (typeof TARGET_FUNCTION_ACTIONS)[number];

/** The payload of every invocation. */
export interface TargetFunctionRequest {
  action: TargetFunctionAction;
  /** The step's id: start, status and cancel of one step carry the same one (idempotency key). */
  deploymentId: string;
  pipeline: string;
  /** `stage/region`, `stage/region/az`, `stage/region/cell` or `stage/region/az/cell`. */
  scope: string;
  stage: string;
  region: string;
  /** The Availability Zone id, in a stage that deploys AZ by AZ. */
  az?: string;
  /** The cell id, in a stage that deploys cell by cell. */
  cell?: string;
  /** The version to put on the scope; for `kind: "rollback"`, the version to return to. */
  version: string;
  /** The version's artifact digest (`sha256:…`) when its run request named one. */
  artifactDigest?: string;
  /** The share of the scope's traffic the version serves when the step completes (100: all). */
  percent: number;
  /** `rolling`: one traffic step of a full step below 100% (`stages[].rolling`). */
  kind: "one-box" | "rolling" | "full" | "rollback";
}

/** `start`'s answer: when to ask for the status (0: at once). */
export const targetFunctionStartAnswer = z
  .object({ pollSeconds: z.number().int().min(0).max(86_400) })
  .describe("start answers how long to wait before the first status (seconds, 0 to 86400)");
export type TargetFunctionStartAnswer = z.output<typeof targetFunctionStartAnswer>;

/** `status`'s answer: still going (and when to ask again), done, or failed (rolled back). */
export const targetFunctionStatusAnswer = z.discriminatedUnion("state", [
  z.object({ state: z.literal("in-progress"), pollSeconds: z.number().int().min(1).max(86_400) }),
  z.object({ state: z.literal("succeeded") }),
  z.object({ state: z.literal("failed"), reason: z.string() }),
]);
export type TargetFunctionStatusAnswer = z.output<typeof targetFunctionStatusAnswer>;

/** `cancel`'s answer is not read: a function written before cancel existed may answer an error. */
export type TargetFunctionCancelAnswer = unknown;

/** The answer a function gives to each action. */
export type TargetFunctionAnswer<A extends TargetFunctionAction = TargetFunctionAction> =
  A extends "start"
    ? TargetFunctionStartAnswer
    : A extends "status"
      ? TargetFunctionStatusAnswer
      : TargetFunctionCancelAnswer;

/** A deploy function's handler, as Lambda calls it with the request. */
export type TargetFunctionHandler = (
  request: TargetFunctionRequest,
) => Promise<TargetFunctionStartAnswer | TargetFunctionStatusAnswer | TargetFunctionCancelAnswer>;
