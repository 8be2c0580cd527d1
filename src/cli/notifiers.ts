/** The local mode's notification channels, from the `--notifications` and `--slack-url` flags. */
import { ConsoleNotifier } from "../notify/dispatch.ts";
import type { Notifier } from "../notify/ports.ts";
import { SlackWebhookNotifier } from "../notify/slack.ts";

/**
 * Console lines on `err` with `--notifications`; Block Kit posts to a Slack-compatible URL with
 * `--slack-url`, whose undeliverable messages are reported on `err` (never dropped silently).
 * `usage` builds the caller's bad-input error.
 */
export function localNotifiers(
  flags: { notifications?: boolean | undefined; slackUrl?: string | undefined },
  err: NodeJS.WritableStream,
  usage: (message: string) => Error,
): Notifier[] {
  const notifiers: Notifier[] = [];
  if (flags.notifications) notifiers.push(new ConsoleNotifier((line) => err.write(`${line}\n`)));
  if (flags.slackUrl === undefined) return notifiers;
  let url: URL;
  try {
    url = new URL(flags.slackUrl);
  } catch {
    throw usage(`--slack-url "${flags.slackUrl}": must be an http(s) URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw usage(`--slack-url "${flags.slackUrl}": must be an http(s) URL`);
  }
  notifiers.push(
    new SlackWebhookNotifier({
      url: url.toString(),
      maxAttempts: 3,
      deadLetter: {
        // The local mode's dead letter: never silent, on standard error.
        put: async (message, error) => {
          err.write(
            `notification not delivered to ${url.host}: ${error.message}: ${message.text}\n`,
          );
        },
      },
    }),
  );
  return notifiers;
}
