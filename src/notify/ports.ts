/** Ports of the notifications module: channels and the place failed messages are kept. */

import { BreakwaterError } from "../domain/errors.ts";
import type { Notification } from "./notification.ts";

/** Why a delivery failed for good (after its retries, or at once when retrying cannot help). */
export class DeliveryError extends BreakwaterError {
  override name = "DeliveryError";
  constructor(
    message: string,
    readonly details: {
      /** `http`: the endpoint answered with an error status; `timeout`/`network`: no answer; `config`: no endpoint. */
      kind: "http" | "timeout" | "network" | "config";
      /** How many requests were made. */
      attempts: number;
      /** The last HTTP status, when the endpoint answered. */
      status?: number;
      /** The start of the last response body (Slack names the problem there: `invalid_blocks`). */
      body?: string;
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  get kind() {
    return this.details.kind;
  }
  get attempts() {
    return this.details.attempts;
  }
  get status() {
    return this.details.status;
  }
  get body() {
    return this.details.body;
  }

  /** A JSON-safe summary (dead-letter records, logs). */
  toJSON(): {
    name: string;
    message: string;
    kind: string;
    attempts: number;
    status?: number;
    body?: string;
  } {
    return {
      name: this.name,
      message: this.message,
      kind: this.kind,
      attempts: this.attempts,
      ...(this.status === undefined ? {} : { status: this.status }),
      ...(this.body === undefined ? {} : { body: this.body }),
    };
  }
}

/** The dead-letter sink itself failed: the message could not be kept. Never swallowed. */
export class DeadLetterError extends BreakwaterError {
  override name = "DeadLetterError";
}

export type DeliveryResult =
  | { delivered: true; attempts: number; messageId?: string }
  | { delivered: false; attempts: number; deadLettered: true; error: DeliveryError };

/** A channel that tells people: Slack, SNS, the local console. */
export interface Notifier {
  notify(notification: Notification): Promise<DeliveryResult>;
}

/**
 * Keeps a message that could not be delivered (an SQS queue in AWS, with an alarm on its
 * depth), so that nothing is silently dropped. `put` throws when it cannot keep it.
 */
export interface DeadLetterSink<M = unknown> {
  put(message: M, error: DeliveryError): Promise<void>;
}
