import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { AssumeRoleCommand, type STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@aws-sdk/types";
import * as z from "zod";
import { InvalidInputError, TransientError } from "../../domain/errors.ts";
import type { Deployer, DeploymentRequest, DeploymentStatus } from "../../domain/ports.ts";

/** What a deploy target function must answer (see README, "Deploy targets"). */
const startAnswer = z.object({ pollSeconds: z.number().int().min(0).max(86_400) });
const statusAnswer = z.discriminatedUnion("state", [
  z.object({ state: z.literal("in-progress"), pollSeconds: z.number().int().min(1).max(86_400) }),
  z.object({ state: z.literal("succeeded") }),
  z.object({ state: z.literal("failed"), reason: z.string() }),
]);

/**
 * Deploys through the pipeline's target function: Breakwater invokes it with
 * `{ action: "start" | "status", deploymentId, pipeline, scope, region, az, version, percent, kind }`.
 * With `target.roleArn` the function is invoked with credentials of the assumed role
 * (cross-account deploy targets).
 */
export class LambdaDeployer implements Deployer {
  constructor(
    private readonly sts: STSClient,
    private readonly clients = new Map<string, LambdaClient>(),
  ) {}

  start(req: DeploymentRequest): Promise<{ pollSeconds: number }> {
    return this.call(req, "start", startAnswer);
  }

  status(req: DeploymentRequest): Promise<DeploymentStatus> {
    return this.call(req, "status", statusAnswer);
  }

  private async client(req: DeploymentRequest): Promise<LambdaClient> {
    const target = req.pipeline.target;
    if (!target) throw new InvalidInputError(`pipeline ${req.pipeline.name} has no deploy target`);
    const key = `${target.roleArn ?? ""}|${req.scope.region}`;
    const cached = this.clients.get(key);
    if (cached) return cached;
    let credentials: AwsCredentialIdentity | undefined;
    if (target.roleArn) {
      const out = await this.sts.send(
        new AssumeRoleCommand({
          RoleArn: target.roleArn,
          RoleSessionName: `breakwater-${req.pipeline.name}`,
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey)
        throw new TransientError(`could not assume ${target.roleArn}`);
      credentials = {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        ...(c.Expiration ? { expiration: c.Expiration } : {}),
      };
    }
    const client = new LambdaClient({
      region: req.scope.region,
      ...(credentials ? { credentials } : {}),
    });
    // Assumed-role credentials expire; only cache clients that use the function's own role.
    if (!target.roleArn) this.clients.set(key, client);
    return client;
  }

  private async call<S extends z.ZodType>(
    req: DeploymentRequest,
    action: string,
    schema: S,
  ): Promise<z.output<S>> {
    const client = await this.client(req);
    const out = await client.send(
      new InvokeCommand({
        FunctionName: req.pipeline.target?.lambda,
        Payload: new TextEncoder().encode(
          JSON.stringify({
            action,
            deploymentId: req.deploymentId,
            pipeline: req.pipeline.name,
            scope: req.scope.id,
            stage: req.scope.stage,
            region: req.scope.region,
            az: req.scope.az,
            version: req.version,
            percent: req.percent,
            kind: req.kind,
          }),
        ),
      }),
    );
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : "null";
    if (out.FunctionError) throw new TransientError(`deploy target ${action} failed: ${text}`);
    const parsed = schema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      throw new InvalidInputError(
        `deploy target answered ${action} with ${text}: ${parsed.error.message}`,
      );
    }
    return parsed.data;
  }
}
