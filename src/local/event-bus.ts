/**
 * The local twin of EventBridge: events are delivered to matching rules' targets
 * asynchronously (on the virtual clock), wrapped in EventBridge's envelope. A target that fails
 * is invoked again, as in AWS, where a rule's Lambda target is invoked asynchronously and Lambda
 * retries a failed invocation (the stack sets 2 retries, then the dead-letter queue; Lambda waits
 * about 1 minute before the first retry and 2 before the second). Locally the delays are exact,
 * so the timeline stays deterministic; a target that still fails is dead-lettered and its error
 * surfaces from `VirtualClock.run` (a local run must not hide a fault).
 */

import { type EventPattern, matchesPattern } from "../app/rules.ts";
import type { BusEvent, EventPublisher } from "../domain/ports.ts";
import type { VirtualClock } from "./virtual-time.ts";

export interface BusEnvelope {
  version: "0";
  id: string;
  "detail-type": string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

interface Rule {
  name: string;
  pattern: EventPattern;
  target: (event: BusEnvelope) => Promise<unknown>;
}

/** How a failed target is invoked again: `retries` more times, the n-th after `delayMs(n)`. */
export interface BusRetryPolicy {
  retries: number;
  delayMs: (retry: number) => number;
}

/** Lambda's asynchronous invocation retries, as the stack configures them (retryAttempts: 2). */
export const LAMBDA_ASYNC_RETRY: BusRetryPolicy = {
  retries: 2,
  delayMs: (retry) => 60_000 * 2 ** (retry - 1),
};

/** A delivery that failed, retried or not. */
export interface FailedDelivery {
  rule: string;
  eventId: string;
  /** 1 for the first delivery. */
  attempt: number;
  error: unknown;
  /** True when no retry is left (the event went to the dead-letter queue). */
  deadLettered: boolean;
}

export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_REGION = "local";

export class LocalEventBus implements EventPublisher {
  private readonly rules: Rule[] = [];
  private readonly observers: ((event: BusEnvelope) => void)[] = [];
  private seq = 0;
  /** Every event put on the bus, in order (for tests and the progress view). */
  readonly log: BusEnvelope[] = [];
  /** Every failed delivery, in order: retried ones and dead-lettered ones. */
  readonly failures: FailedDelivery[] = [];

  constructor(
    private readonly clock: VirtualClock,
    private readonly retry: BusRetryPolicy = LAMBDA_ASYNC_RETRY,
  ) {}

  addRule(
    name: string,
    pattern: EventPattern,
    target: (event: BusEnvelope) => Promise<unknown>,
  ): void {
    this.rules.push({ name, pattern, target });
  }

  /** Observers see every event synchronously, as it is put. */
  observe(fn: (event: BusEnvelope) => void): () => void {
    this.observers.push(fn);
    return () => this.observers.splice(this.observers.indexOf(fn), 1);
  }

  async publish(events: BusEvent[]): Promise<void> {
    for (const e of events) {
      this.put({ source: e.source, "detail-type": e.detailType, detail: e.detail, resources: [] });
    }
  }

  /**
   * Puts an event on the bus. `id` is the bus's own unless given: an event put twice with one id
   * is what an at-least-once delivery looks like to a target.
   */
  put(
    event: Pick<BusEnvelope, "source" | "detail-type" | "detail" | "resources"> & {
      id?: string;
      /** A forwarded event's own region and account (default: the local ones). */
      region?: string;
      account?: string;
    },
  ): void {
    const { id, ...fields } = event;
    const envelope: BusEnvelope = {
      version: "0",
      id: id ?? `local-${String(++this.seq).padStart(8, "0")}`,
      account: LOCAL_ACCOUNT,
      region: LOCAL_REGION,
      time: this.clock.now().toISOString(),
      ...fields,
    };
    this.log.push(envelope);
    for (const o of this.observers) o(envelope);
    for (const rule of this.rules) {
      if (!matchesPattern(rule.pattern, envelope as unknown as Record<string, unknown>)) continue;
      // Delivery is asynchronous, as in EventBridge, and ordered on the virtual clock.
      this.deliver(rule, envelope, 1, 0);
    }
  }

  private deliver(rule: Rule, envelope: BusEnvelope, attempt: number, delayMs: number): void {
    this.clock.enter(() =>
      setTimeout(() => {
        this.clock
          .track(() => rule.target(envelope))
          .catch((error: unknown) => {
            const deadLettered = attempt > this.retry.retries;
            this.failures.push({
              rule: rule.name,
              eventId: envelope.id,
              attempt,
              error,
              deadLettered,
            });
            if (deadLettered) this.clock.fail(error);
            else this.deliver(rule, envelope, attempt + 1, this.retry.delayMs(attempt));
          });
      }, delayMs),
    );
  }
}
