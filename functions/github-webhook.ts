import { SSMClient } from "@aws-sdk/client-ssm";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import * as z from "zod";
import { DynamoReviewStore } from "../src/adapters/aws/dynamo-triggers.ts";
import { loadSecureParameter } from "../src/adapters/aws/sns-notifier.ts";
import { config } from "../src/config.ts";
import { type GitHubWebhookDeps, handleGitHubWebhook } from "../src/triggers/github.ts";
import { GitHubRestApi } from "../src/triggers/github-api.ts";
import { DEFAULT_MAX_BODY_BYTES, payloadTooLarge } from "../src/triggers/http.ts";
import { functionMetrics, observe } from "./lib/handler.ts";
import { awsTriggerDeps } from "./lib/trigger-deps.ts";

/** The fields read from a Lambda function URL request (payload format 2.0). */
const functionUrlEventSchema = z.object({
  headers: z.record(z.string(), z.string()).default({}),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().default(false),
  requestContext: z.object({
    http: z.object({ method: z.string(), sourceIp: z.string().optional() }),
  }),
});

/**
 * GitHub webhook receiver behind a Lambda function URL. The URL is public; the request is
 * authenticated by its X-Hub-Signature-256 (verified before anything is read or recorded).
 * Approvals are recorded; a merge with enough approvals from reviewers with write access (asked
 * of GitHub's API with the token in SSM) requests a run.
 */
export function createGitHubWebhookHandler(provide: () => Promise<GitHubWebhookDeps>) {
  const { metrics, count } = functionMetrics();
  return middy(async (event: unknown, context: Context) => {
    const parsed = functionUrlEventSchema.safeParse(event);
    if (!parsed.success)
      return reply(400, { result: "invalid-request", message: "not a function URL request" });
    const req = parsed.data;
    if (req.requestContext.http.method !== "POST") {
      return { statusCode: 405, headers: { allow: "POST" }, body: "" };
    }
    // Before decoding, loading the secret or computing the HMAC: a public URL's flood of big
    // unsigned bodies then costs no more than a size check.
    if (bodyBytes(req) > DEFAULT_MAX_BODY_BYTES) {
      count("Webhook413");
      const out = payloadTooLarge(DEFAULT_MAX_BODY_BYTES);
      return reply(out.status, out.body);
    }
    const rawBody =
      req.body === undefined
        ? ""
        : req.isBase64Encoded
          ? Buffer.from(req.body, "base64")
          : req.body;
    const sourceIp = req.requestContext.http.sourceIp;
    const res = await handleGitHubWebhook(
      {
        headers: req.headers,
        rawBody,
        ...(sourceIp ? { sourceIp } : {}),
        // The delivery's claim stays in progress as long as this invocation may still run.
        remainingTimeMs: context.getRemainingTimeInMillis(),
      },
      await provide(),
    );
    count(`Webhook${res.status}`);
    return reply(res.status, res.body);
  }).use(observe(metrics));
}

/** The body's size in bytes, from Content-Length or the body itself (base64 is not decoded). */
function bodyBytes(req: z.output<typeof functionUrlEventSchema>): number {
  const declared = Number(req.headers["content-length"]);
  const actual =
    req.body === undefined
      ? 0
      : Buffer.byteLength(req.body, req.isBase64Encoded ? "base64" : "utf8");
  return Number.isFinite(declared) ? Math.max(declared, actual) : actual;
}

function reply(statusCode: number, body: unknown) {
  return {
    statusCode,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

let deps: GitHubWebhookDeps | undefined;

async function awsWebhookDeps(): Promise<GitHubWebhookDeps> {
  if (deps) return deps;
  const { dynamo, table, publishers: _p, ...shared } = await awsTriggerDeps();
  const ssm = new SSMClient({});
  deps = {
    ...shared,
    secret: await loadSecureParameter(ssm, config.webhookSecretParameter(), {
      what: "GitHub webhook secret",
    }),
    reviews: new DynamoReviewStore(dynamo, table),
    // Read when a merge needs it (cached 5 minutes): a token that cannot be read fails the
    // approval check closed, it does not stop reviews from being recorded.
    github: new GitHubRestApi({
      token: () =>
        loadSecureParameter(ssm, config.githubTokenParameter(), { what: "GitHub API token" }),
    }),
  };
  return deps;
}

export const handler = createGitHubWebhookHandler(awsWebhookDeps);
