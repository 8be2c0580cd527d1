import middy from "@middy/core";
import * as z from "zod";
import type { Deps } from "../src/app/deps.ts";
import { applyOverride, OverrideConflictError, type OverrideResult } from "../src/app/override.ts";
import type { ApplyOptions } from "../src/app/pipeline-apply.ts";
import {
  OverrideRejectedError,
  type Principal,
  parsePrincipalPatterns,
  UnauthenticatedOverrideError,
} from "../src/domain/override.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { functionMetrics, logger, observe } from "./lib/handler.ts";
import { pipelineNeeds } from "./lib/pipeline-needs.ts";

/**
 * The parts of a Lambda function URL request (payload format 2.0) the override reads. The
 * caller's identity is `requestContext.authorizer.iam`, which Lambda fills in after verifying
 * the request's SigV4 signature (auth type AWS_IAM); nothing the caller writes in the body can
 * set it. Other fields of the payload pass (AWS adds fields over time).
 */
const functionUrlRequest = z.object({
  version: z.literal("2.0"),
  requestContext: z.object({
    http: z.object({ method: z.string() }),
    authorizer: z.object({
      iam: z.object({
        userArn: z.string().min(1),
        accountId: z.string().optional(),
        callerId: z.string().optional(),
      }),
    }),
  }),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
});

/** The function URL's answer (payload format 2.0 response). */
export interface OverrideHttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const reply = (statusCode: number, body: unknown): OverrideHttpResponse => ({
  statusCode,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/**
 * The caller of a function URL request, or an error: only an IAM-authenticated function URL
 * request names its caller, so anything else (a direct `lambda invoke`, a URL without AWS_IAM
 * auth) is refused before anything is read or written.
 */
function callerOf(event: unknown): { principal: Principal; method: string; body: string } {
  const parsed = functionUrlRequest.safeParse(event);
  if (!parsed.success) {
    throw new UnauthenticatedOverrideError(
      "the override function answers only IAM-authenticated function URL requests (requestContext.authorizer.iam): call its URL with SigV4-signed requests (`breakwater override --aws`); a direct invoke carries no caller identity and is refused",
    );
  }
  const { requestContext: ctx, body = "", isBase64Encoded } = parsed.data;
  const iam = ctx.authorizer.iam;
  return {
    principal: {
      arn: iam.userArn,
      ...(iam.accountId ? { accountId: iam.accountId } : {}),
      ...(iam.callerId ? { callerId: iam.callerId } : {}),
    },
    method: ctx.http.method,
    body: isBase64Encoded ? Buffer.from(body, "base64").toString("utf8") : body,
  };
}

export interface OverrideHandlerOptions {
  /** Principal ARN patterns that may act (see applyOverride); absent: whoever IAM lets in. */
  allowedPrincipals?: string[];
  /** `apply-pipeline`: what the deployed control plane must hold for the pipeline (pipeline-apply.ts). */
  apply?: ApplyOptions;
}

/**
 * Override: called by an engineer through its function URL (auth type AWS_IAM; IAM decides who
 * may, and names the caller). Actions: block / unblock (stop the line at organisation, pipeline
 * or scope level), bypass (let one version ignore named blocker kinds until an expiry) and the
 * decisions on a halted run. The body is validated strictly; a rejected request changes nothing
 * and names every problem (400; 403 when the caller is not on the allow-list; 409 when
 * concurrent overrides kept changing the target). The audit log records the caller's principal
 * ARN beside the name they typed.
 */
export function createOverrideHandler(
  provide: () => Deps | Promise<Deps>,
  options: OverrideHandlerOptions = {},
) {
  const { metrics, count } = functionMetrics();
  return middy(async (event: unknown): Promise<OverrideHttpResponse> => {
    const { principal, method, body } = callerOf(event);
    if (method !== "POST") return reply(405, { error: `method ${method}: use POST` });
    let input: unknown;
    try {
      input = JSON.parse(body);
    } catch (err) {
      return reply(400, {
        error: `body: is not valid JSON: ${(err as Error).message}`,
        type: "OverrideRejectedError",
        problems: [{ path: "body", message: "is not valid JSON" }],
      });
    }
    let result: OverrideResult;
    try {
      result = await applyOverride(await provide(), input, {
        principal,
        ...(options.allowedPrincipals ? { allowedPrincipals: options.allowedPrincipals } : {}),
        ...(options.apply ? { apply: options.apply } : {}),
      });
    } catch (err) {
      if (err instanceof OverrideRejectedError) {
        const denied = err.problems.some((p) => p.path === "principal");
        return reply(denied ? 403 : 400, {
          error: err.message,
          type: err.name,
          problems: err.problems,
        });
      }
      if (err instanceof OverrideConflictError) {
        return reply(409, { error: err.message, type: err.name });
      }
      throw err;
    }
    logger.info("override", {
      principal: principal.arn,
      action: result.action,
      changed: result.changed,
    });
    count(result.changed ? "OverrideActions" : "OverrideRepeats");
    return reply(200, result);
  }).use(observe(metrics));
}

const allowList = process.env.OVERRIDE_ALLOWED_PRINCIPALS
  ? parsePrincipalPatterns(process.env.OVERRIDE_ALLOWED_PRINCIPALS)
  : [];

export const handler = createOverrideHandler(awsDeps, {
  ...(allowList.length ? { allowedPrincipals: allowList } : {}),
  // In AWS an applied pipeline must fit what the deployed roles and forwarders hold.
  apply: { needs: pipelineNeeds },
});
