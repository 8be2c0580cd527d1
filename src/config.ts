/** Configuration is read once, through typed getters that name the missing variable. */
import { BreakwaterError } from "./domain/errors.ts";

export class MissingConfigError extends BreakwaterError {
  override name = "MissingConfigError";
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new MissingConfigError(`environment variable ${name} is not set`);
  return value;
}

export const config = {
  tableName: () => required("TABLE_NAME"),
  stateMachineArn: () => required("STATE_MACHINE_ARN"),
  rollbackStateMachineArn: () => required("ROLLBACK_STATE_MACHINE_ARN"),
  approvalTimerStateMachineArn: () => required("APPROVAL_TIMER_STATE_MACHINE_ARN"),
  eventBusName: () => required("EVENT_BUS_NAME"),
  region: () => process.env.AWS_REGION ?? required("AWS_REGION"),
  notificationTopicArn: () => required("NOTIFICATION_TOPIC_ARN"),
  /** Optional: the SSM parameter holding the Slack incoming-webhook URL. */
  slackWebhookParameter: () => process.env.SLACK_WEBHOOK_PARAMETER || undefined,
  slackDeadLetterQueueUrl: () => required("SLACK_DEAD_LETTER_QUEUE_URL"),
  /** The SSM SecureString parameter holding the GitHub webhook secret. */
  webhookSecretParameter: () => required("WEBHOOK_SECRET_PARAMETER"),
  /** The SSM SecureString parameter holding the GitHub API token (reviewers' access). */
  githubTokenParameter: () => required("GITHUB_TOKEN_PARAMETER"),
};
