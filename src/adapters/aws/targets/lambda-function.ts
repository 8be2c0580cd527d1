/**
 * The `lambda-function` target: a function the team writes. Breakwater invokes it with
 * `{ action: "start" | "status" | "cancel", deploymentId, pipeline, scope, stage, region, az, cell,
 * version, artifactDigest, percent, kind }` (README, "Deploy targets"), in the scope's region,
 * with the credentials of `roleArn` when the target names one.
 */
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import * as z from "zod";
import { InvalidInputError, TransientError } from "../../../domain/errors.ts";
import type { DeploymentStatus } from "../../../domain/ports.ts";
import {
  type TargetFunctionRequest,
  type TargetOf,
  targetFunctionStartAnswer,
  targetFunctionStatusAnswer,
} from "../../../domain/targets/index.ts";
import type { DriverContext, TargetDriver } from "./driver.ts";

/** What a deploy target function must answer: the published contract (src/index.ts). */
const startAnswer = targetFunctionStartAnswer;
const statusAnswer = targetFunctionStatusAnswer;
/** Cancel answers anything (a function written before cancel existed answers an error body). */
const cancelAnswer = z.unknown();

type Ctx = DriverContext<TargetOf<"lambda-function">>;

export class LambdaFunctionDriver implements TargetDriver<TargetOf<"lambda-function">> {
  /** Clients by region, for the function's own role (assumed-role clients are not cached). */
  private readonly clients = new Map<string, LambdaClient>();

  start(ctx: Ctx): Promise<{ pollSeconds: number }> {
    return this.call(ctx, "start", startAnswer);
  }

  status(ctx: Ctx): Promise<DeploymentStatus> {
    return this.call(ctx, "status", statusAnswer);
  }

  async cancel(ctx: Ctx): Promise<void> {
    await this.call(ctx, "cancel", cancelAnswer, { tolerateFunctionError: true });
  }

  private client(ctx: Ctx): LambdaClient {
    if (ctx.credentials)
      return new LambdaClient({ region: ctx.region, credentials: ctx.credentials });
    let client = this.clients.get(ctx.region);
    if (!client) {
      client = new LambdaClient({ region: ctx.region });
      this.clients.set(ctx.region, client);
    }
    return client;
  }

  private async call<S extends z.ZodType>(
    ctx: Ctx,
    action: "start" | "status" | "cancel",
    schema: S,
    options: { tolerateFunctionError?: boolean } = {},
  ): Promise<z.output<S>> {
    const { req } = ctx;
    const out = await this.client(ctx).send(
      new InvokeCommand({
        FunctionName: ctx.target.lambda,
        Payload: new TextEncoder().encode(
          JSON.stringify({
            action,
            deploymentId: req.deploymentId,
            pipeline: req.pipeline.name,
            scope: req.scope.id,
            stage: req.scope.stage,
            region: req.scope.region,
            az: req.scope.az,
            cell: req.scope.cell,
            version: req.version,
            ...(req.artifactDigest ? { artifactDigest: req.artifactDigest } : {}),
            percent: req.percent,
            kind: req.kind,
          } satisfies TargetFunctionRequest),
        ),
      }),
    );
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : "null";
    if (out.FunctionError) {
      if (options.tolerateFunctionError) return undefined as z.output<S>;
      throw new TransientError(`deploy target ${action} failed: ${text}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new InvalidInputError(`deploy target answered ${action} with a body that is not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new InvalidInputError(
        `deploy target answered ${action} with ${text.slice(0, 500)}: ${parsed.error.message}`,
      );
    }
    return parsed.data;
  }
}
