/**
 * AWS side of notifications: SNS publishing (with attributes for subscription filters), the
 * SQS dead letter of undelivered Slack messages, and the Slack webhook URL from SSM.
 */
import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { MissingConfigError } from "../../config.ts";
import { InvalidInputError } from "../../domain/errors.ts";
import type { Clock } from "../../domain/ports.ts";
import type { Notification } from "../../notify/notification.ts";
import type {
  DeadLetterSink,
  DeliveryError,
  DeliveryResult,
  Notifier,
} from "../../notify/ports.ts";
import type { SlackMessage } from "../../notify/slack.ts";

/** SNS accepts subjects shorter than 100 characters, ASCII, without control characters. */
export const SNS_SUBJECT_MAX = 99;

/**
 * An SNS subject for a notification: `[SEVERITY] title`, reduced to printable ASCII (accents
 * dropped, other characters as `?`) and cut to {@link SNS_SUBJECT_MAX} characters.
 *
 * @example
 * snsSubject(n); // "[CRITICAL] orders-api: rolling back prod-2/us-east-1/use1-az2"
 */
export function snsSubject(n: Notification): string {
  const ascii = `[${n.severity.toUpperCase()}] ${n.title}`
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/\s+/g, " ")
    .replace(/[^\x20-\x7e]/g, "?")
    .trim();
  return ascii.length <= SNS_SUBJECT_MAX ? ascii : `${ascii.slice(0, SNS_SUBJECT_MAX - 3)}...`;
}

/**
 * Publishes notifications to an SNS topic. The message is the notification as JSON
 * (`notificationSchema` parses it); the attributes `pipeline`, `severity` and `eventType` let
 * subscriptions filter (for example only `critical` to the pager). SDK errors propagate after
 * the SDK's own retries, so the caller's invocation is retried.
 *
 * @example
 * await new SnsNotifier(new SNSClient({}), topicArn).notify(notification);
 */
export class SnsNotifier implements Notifier {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async notify(notification: Notification): Promise<DeliveryResult> {
    const out = await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: snsSubject(notification),
        Message: JSON.stringify(notification),
        MessageAttributes: {
          pipeline: { DataType: "String", StringValue: notification.pipeline },
          severity: { DataType: "String", StringValue: notification.severity },
          eventType: { DataType: "String", StringValue: notification.type },
        },
      }),
    );
    return {
      delivered: true,
      attempts: 1,
      ...(out.MessageId ? { messageId: out.MessageId } : {}),
    };
  }
}

/** What {@link SqsDeadLetterSink} puts on the queue for each undelivered message. */
export interface DeadLetterRecord {
  channel: "slack-webhook";
  failedAt: string;
  error: ReturnType<DeliveryError["toJSON"]>;
  message: SlackMessage;
}

const systemClock: Clock = { now: () => new Date() };

/**
 * Keeps undelivered Slack messages on an SQS queue (standard queue; the stack alarms on its
 * depth), with the error, so they can be inspected and re-posted. Throws when SQS refuses:
 * the Slack notifier then fails loudly instead of dropping the message.
 *
 * @example
 * new SlackWebhookNotifier({ url, deadLetter: new SqsDeadLetterSink(new SQSClient({}), queueUrl) });
 */
export class SqsDeadLetterSink implements DeadLetterSink<SlackMessage> {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly clock: Clock = systemClock,
  ) {}

  async put(message: SlackMessage, error: DeliveryError): Promise<void> {
    const record: DeadLetterRecord = {
      channel: "slack-webhook",
      failedAt: this.clock.now().toISOString(),
      error: error.toJSON(),
      message,
    };
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(record),
        MessageAttributes: {
          channel: { DataType: "String", StringValue: "slack-webhook" },
          errorKind: { DataType: "String", StringValue: error.kind },
          ...(error.status === undefined
            ? {}
            : { status: { DataType: "Number", StringValue: String(error.status) } }),
        },
      }),
    );
  }
}

interface CachedUrl {
  value: Promise<string>;
  expiresAt: number;
}

const urlCache = new Map<string, CachedUrl>();

export interface LoadSlackWebhookUrlOptions {
  /** How long a read value is reused (a rotated URL is picked up after this). Default 5 minutes. */
  maxAgeMs?: number;
  /** Epoch ms. Default `Date.now`. */
  now?: () => number;
}

/**
 * Reads a secret from an SSM SecureString parameter (`GetParameter`, `WithDecryption`), once
 * per `maxAgeMs` per parameter name; concurrent callers share one request, and a failed read is
 * not cached. Errors name the parameter, never the value.
 *
 * @example
 * const secret = await loadSecureParameter(ssm, "/breakwater/prod/github-webhook-secret");
 */
export function loadSecureParameter(
  client: SSMClient,
  parameterName: string,
  options: LoadSlackWebhookUrlOptions & { what?: string } = {},
): Promise<string> {
  return cachedRead(`secret|${parameterName}`, options, () =>
    readParameter(client, parameterName, options.what ?? "secret"),
  );
}

/**
 * Reads the Slack webhook URL from an SSM SecureString parameter, like
 * {@link loadSecureParameter}, and checks it is an http(s) URL.
 *
 * @example
 * const slack = new SlackWebhookNotifier({
 *   url: () => loadSlackWebhookUrl(ssm, "/breakwater/prod/slack-webhook-url"),
 *   deadLetter,
 * });
 */
export function loadSlackWebhookUrl(
  client: SSMClient,
  parameterName: string,
  options: LoadSlackWebhookUrlOptions = {},
): Promise<string> {
  return cachedRead(parameterName, options, () => readWebhookUrl(client, parameterName));
}

function cachedRead(
  key: string,
  options: LoadSlackWebhookUrlOptions,
  read: () => Promise<string>,
): Promise<string> {
  const now = (options.now ?? Date.now)();
  const cached = urlCache.get(key);
  if (cached && cached.expiresAt > now) return cached.value;
  const value = read();
  const entry = { value, expiresAt: now + (options.maxAgeMs ?? 5 * 60_000) };
  urlCache.set(key, entry);
  value.catch(() => {
    if (urlCache.get(key) === entry) urlCache.delete(key);
  });
  return value;
}

/** Forgets cached parameter values (tests; a forced refresh after rotating a secret). */
export function clearSlackWebhookUrlCache(): void {
  urlCache.clear();
}

async function readParameter(client: SSMClient, name: string, what: string): Promise<string> {
  let value: string | undefined;
  try {
    const out = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    value = out.Parameter?.Value;
  } catch (e) {
    if (e instanceof Error && e.name === "ParameterNotFound") {
      throw new MissingConfigError(`SSM parameter ${name} (${what}) does not exist`);
    }
    throw e;
  }
  if (!value) throw new MissingConfigError(`SSM parameter ${name} (${what}) is empty`);
  return value;
}

async function readWebhookUrl(client: SSMClient, name: string): Promise<string> {
  const value = await readParameter(client, name, "Slack webhook URL");
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new InvalidInputError(`SSM parameter ${name} does not hold a URL`, [
      { path: name, message: "not a URL" },
    ]);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new InvalidInputError(`SSM parameter ${name} does not hold an http(s) URL`, [
      { path: name, message: `protocol ${url.protocol} is not http(s)` },
    ]);
  }
  return value.trim();
}
