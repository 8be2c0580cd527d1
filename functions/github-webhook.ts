import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SSMClient } from "@aws-sdk/client-ssm";
import middy from "@middy/core";
import { z } from "zod";
import { DynamoStateStore } from "../src/adapters/aws/dynamo-store.ts";
import {
  DynamoDeliveryStore,
  DynamoReviewStore,
  DynamoTriggerLog,
} from "../src/adapters/aws/dynamo-triggers.ts";
import { EventBridgePublisher } from "../src/adapters/aws/event-bus.ts";
import { loadSecureParameter } from "../src/adapters/aws/sns-notifier.ts";
import { config } from "../src/config.ts";
import { type GitHubWebhookDeps, handleGitHubWebhook } from "../src/triggers/github.ts";
import { count, logger } from "./lib/handler.ts";

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
 * Approvals are recorded; a merge with enough approvals requests a run.
 */
export function createGitHubWebhookHandler(provide: () => Promise<GitHubWebhookDeps>) {
  return middy(async (event: unknown) => {
    const parsed = functionUrlEventSchema.safeParse(event);
    if (!parsed.success)
      return reply(400, { result: "invalid-request", message: "not a function URL request" });
    const req = parsed.data;
    if (req.requestContext.http.method !== "POST") {
      return { statusCode: 405, headers: { allow: "POST" }, body: "" };
    }
    const rawBody =
      req.body === undefined
        ? ""
        : req.isBase64Encoded
          ? Buffer.from(req.body, "base64")
          : req.body;
    const sourceIp = req.requestContext.http.sourceIp;
    const res = await handleGitHubWebhook(
      { headers: req.headers, rawBody, ...(sourceIp ? { sourceIp } : {}) },
      await provide(),
    );
    count(`Webhook${res.status}`);
    return reply(res.status, res.body);
  }).use(injectLambdaContext(logger));
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
  const dynamo = new DynamoDBClient({});
  const table = config.tableName();
  const installation = await new DynamoStateStore(dynamo, table).getInstallation();
  const publisher = new EventBridgePublisher(new EventBridgeClient({}), config.eventBusName());
  deps = {
    secret: await loadSecureParameter(new SSMClient({}), config.webhookSecretParameter(), {
      what: "GitHub webhook secret",
    }),
    config: installation.github ?? [],
    reviews: new DynamoReviewStore(dynamo, table),
    deliveries: new DynamoDeliveryStore(dynamo, table),
    triggers: new DynamoTriggerLog(dynamo, table),
    publish: (events) => publisher.publish(events),
    clock: { now: () => new Date() },
  };
  return deps;
}

export const handler = createGitHubWebhookHandler(awsWebhookDeps);
