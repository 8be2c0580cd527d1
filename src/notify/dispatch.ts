/** Sends a notification to every channel, and the local console channel. */

import { BreakwaterError } from "../domain/errors.ts";
import {
  type IncomingEvent,
  type Notification,
  renderPlainText,
  toNotification,
} from "./notification.ts";
import type { DeliveryResult, Notifier } from "./ports.ts";

/** A channel failed with an exception (not a dead-lettered delivery): the caller must retry. */
export class NotifyError extends BreakwaterError {
  override name = "NotifyError";
  constructor(
    /** What each failed channel threw, in channel order (as `AggregateError#errors`). */
    readonly errors: unknown[],
    message: string,
  ) {
    super(message, { cause: errors[0] });
  }
}

/**
 * Tells every channel, all of them even when one fails; resolves with each channel's result
 * in order, or throws {@link NotifyError} naming the channels that threw (so the Lambda fails
 * and its event is retried rather than lost).
 *
 * @example
 * await notifyAll([slack, sns], notification); // [{ delivered: true, attempts: 1 }, …]
 */
export async function notifyAll(
  notifiers: readonly Notifier[],
  notification: Notification,
): Promise<DeliveryResult[]> {
  const settled = await Promise.allSettled(notifiers.map((n) => n.notify(notification)));
  const errors = settled.flatMap((s) => (s.status === "rejected" ? [s.reason] : []));
  if (errors.length > 0) {
    throw new NotifyError(
      errors,
      `${errors.length} of ${notifiers.length} channels failed for ${notification.type} (${notification.pipeline}): ${errors
        .map((e) => (e instanceof Error ? e.message : String(e)))
        .join("; ")}`,
    );
  }
  return settled.map((s) => (s as PromiseFulfilledResult<DeliveryResult>).value);
}

/**
 * Maps a Breakwater bus event to its notification and tells every channel; events nobody needs
 * to hear about are skipped.
 *
 * @example
 * await dispatchEvent([slack, sns], { source: "breakwater", "detail-type": "Breakwater Run Event", detail });
 */
export async function dispatchEvent(
  notifiers: readonly Notifier[],
  event: IncomingEvent,
): Promise<{ notification: Notification; results: DeliveryResult[] } | { skipped: true }> {
  const notification = toNotification(event);
  if (!notification) return { skipped: true };
  return { notification, results: await notifyAll(notifiers, notification) };
}

/** The local mode's channel: one line per notification (default: standard error). */
export class ConsoleNotifier implements Notifier {
  constructor(
    private readonly write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  async notify(notification: Notification): Promise<DeliveryResult> {
    this.write(renderPlainText(notification));
    return { delivered: true, attempts: 1 };
  }
}
