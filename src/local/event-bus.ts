/**
 * The local twin of EventBridge: events are delivered to matching rules' targets
 * asynchronously (on the virtual clock), wrapped in EventBridge's envelope.
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

export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_REGION = "local";

export class LocalEventBus implements EventPublisher {
  private readonly rules: Rule[] = [];
  private readonly observers: ((event: BusEnvelope) => void)[] = [];
  private seq = 0;
  /** Every event put on the bus, in order (for tests and the progress view). */
  readonly log: BusEnvelope[] = [];

  constructor(private readonly clock: VirtualClock) {}

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

  put(event: Pick<BusEnvelope, "source" | "detail-type" | "detail" | "resources">): void {
    const envelope: BusEnvelope = {
      version: "0",
      id: `local-${String(++this.seq).padStart(8, "0")}`,
      account: LOCAL_ACCOUNT,
      region: LOCAL_REGION,
      time: this.clock.now().toISOString(),
      ...event,
    };
    this.log.push(envelope);
    for (const o of this.observers) o(envelope);
    for (const rule of this.rules) {
      if (!matchesPattern(rule.pattern, envelope as unknown as Record<string, unknown>)) continue;
      // Delivery is asynchronous, as in EventBridge, and ordered on the virtual clock.
      this.clock.enter(() =>
        setTimeout(() => {
          this.clock.track(() => rule.target(envelope)).catch((err) => this.clock.fail(err));
        }, 0),
      );
    }
  }
}
