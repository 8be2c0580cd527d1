import { Logger } from "@aws-lambda-powertools/logger";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import middy from "@middy/core";
import * as z from "zod";
import {
  loadSlackWebhookUrl,
  SnsNotifier,
  SqsDeadLetterSink,
} from "../src/adapters/aws/sns-notifier.ts";
import { config } from "../src/config.ts";
import { dispatchEvent } from "../src/notify/dispatch.ts";
import type { Notifier } from "../src/notify/ports.ts";
import { SlackWebhookNotifier } from "../src/notify/slack.ts";
import { functionMetrics, observe, parseInput } from "./lib/handler.ts";

const logger = new Logger({ serviceName: "breakwater" });

/** An EventBridge envelope of one of Breakwater's own events. */
const envelopeSchema = z.object({
  source: z.literal("breakwater"),
  "detail-type": z.string().min(1),
  detail: z.record(z.string(), z.unknown()),
});

/**
 * Notify: target of the rule on Breakwater's run, scope and override events. Publishes the
 * notifications a human should read to the SNS topic (with filter attributes) and, when a
 * webhook URL parameter is configured, to Slack (retries, then the dead-letter queue).
 */
export function createNotifyHandler(provide: () => Notifier[]) {
  const { metrics, count } = functionMetrics();
  return middy(async (event: unknown) => {
    const envelope = parseInput(envelopeSchema, event, "notify");
    const result = await dispatchEvent(provide(), envelope);
    if ("skipped" in result) return { skipped: true };
    const failed = result.results.filter((r) => !r.delivered).length;
    if (failed > 0) {
      logger.warn("notification dead-lettered", { type: result.notification.type, failed });
    }
    count(failed > 0 ? "NotificationsDeadLettered" : "NotificationsDelivered");
    return { type: result.notification.type, delivered: result.results.map((r) => r.delivered) };
  }).use(observe(metrics, logger));
}

let notifiers: Notifier[] | undefined;

function awsNotifiers(): Notifier[] {
  if (notifiers) return notifiers;
  notifiers = [new SnsNotifier(new SNSClient({}), config.notificationTopicArn())];
  const parameter = config.slackWebhookParameter();
  if (parameter) {
    const ssm = new SSMClient({});
    notifiers.push(
      new SlackWebhookNotifier({
        url: () => loadSlackWebhookUrl(ssm, parameter),
        deadLetter: new SqsDeadLetterSink(new SQSClient({}), config.slackDeadLetterQueueUrl()),
      }),
    );
  }
  return notifiers;
}

export const handler = createNotifyHandler(awsNotifiers);
