/**
 * Where failures and notifications go: the dead-letter queues, the encrypted notification topic
 * (with the key CloudWatch alarm actions may use) and what the notify function may do with them.
 */
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Topic } from "aws-cdk-lib/aws-sns";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Duration, RemovalPolicy, type Stack } from "aws-cdk-lib/core";

export interface DeadLetterQueues {
  promote: Queue;
  startRun: Queue;
  alarmStateChange: Queue;
  notify: Queue;
  artifactPublished: Queue;
  /** Slack messages that could not be delivered after their retries: kept, and alarmed. */
  slack: Queue;
}

/**
 * Rule DLQs; promote and start-run also send their failed async invocations there, so a lost
 * promotion or run request is in one place whether delivery or the handler failed.
 */
export function deadLetterQueues(stack: Stack): DeadLetterQueues {
  const deadLetters = (id: string) =>
    new Queue(stack, id, {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
  return {
    promote: deadLetters("PromoteDeadLetters"),
    startRun: deadLetters("StartRunDeadLetters"),
    alarmStateChange: deadLetters("AlarmStateChangeDeadLetters"),
    notify: deadLetters("NotifyDeadLetters"),
    artifactPublished: deadLetters("ArtifactPublishedDeadLetters"),
    slack: deadLetters("SlackDeadLetters"),
  };
}

/** Every dead-letter queue with the name its alarm is called by. */
export function namedDeadLetterQueues(q: DeadLetterQueues): [string, Queue][] {
  return [
    ["Promote", q.promote],
    ["StartRun", q.startRun],
    ["AlarmStateChange", q.alarmStateChange],
    ["Notify", q.notify],
    ["ArtifactPublished", q.artifactPublished],
    ["Slack", q.slack],
  ];
}

export interface Notifications {
  topic: Topic;
  topicKey: Key;
  /** The notify function's statements: publish (encrypted), dead-letter Slack, read the Slack URL. */
  notifyPermissions: PolicyStatement[];
}

/**
 * The notification topic. SSE with a key of our own (the AWS-managed SNS key cannot be shared
 * with CloudWatch, whose alarm actions publish here): CloudWatch may use it through the key
 * policy, notify through its role. TLS-only: enforceSSL denies every request with
 * aws:SecureTransport false.
 */
export function notifications(
  stack: Stack,
  opts: {
    stage: string;
    isProd: boolean;
    slackParameter: string | undefined;
    slackDeadLetters: Queue;
  },
): Notifications {
  const topicKey = new Key(stack, "NotificationsKey", {
    description: `Breakwater ${opts.stage}: encrypts the notification topic`,
    enableKeyRotation: true,
    removalPolicy: opts.isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  const cloudwatchService = new ServicePrincipal("cloudwatch.amazonaws.com");
  topicKey.addToResourcePolicy(
    new PolicyStatement({
      sid: "CloudWatchAlarmsPublishToTheTopic",
      principals: [cloudwatchService],
      actions: ["kms:Decrypt", "kms:GenerateDataKey"],
      // In a key policy "*" is this key.
      resources: ["*"],
    }),
  );
  const topic = new Topic(stack, "Notifications", {
    displayName: `Breakwater ${opts.stage} notifications`,
    masterKey: topicKey,
    enforceSSL: true,
  });
  // A topic policy replaces SNS's default one, which is what lets this account's alarms publish.
  topic.addToResourcePolicy(
    new PolicyStatement({
      sid: "CloudWatchAlarmsOfThisAccount",
      principals: [cloudwatchService],
      actions: ["sns:Publish"],
      resources: [topic.topicArn],
      conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
    }),
  );
  const { slackParameter } = opts;
  const notifyPermissions = [
    new PolicyStatement({ actions: ["sns:Publish"], resources: [topic.topicArn] }),
    // Publishing to an encrypted topic (not Topic.grantPublish: it grants kms:GenerateDataKey*).
    new PolicyStatement({
      actions: ["kms:GenerateDataKey", "kms:Decrypt"],
      resources: [topicKey.keyArn],
    }),
    new PolicyStatement({
      actions: ["sqs:SendMessage"],
      resources: [opts.slackDeadLetters.queueArn],
    }),
    ...(slackParameter
      ? [
          new PolicyStatement({
            actions: ["ssm:GetParameter"],
            resources: [
              stack.formatArn({
                service: "ssm",
                resource: "parameter",
                resourceName: slackParameter.replace(/^\//, ""),
              }),
            ],
          }),
        ]
      : []),
  ];
  return { topic, topicKey, notifyPermissions };
}
