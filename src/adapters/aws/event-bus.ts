import { type EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { TransientError } from "../../domain/errors.ts";
import type { BusEvent, EventPublisher } from "../../domain/ports.ts";

export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(events: BusEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += 10) {
      const batch = events.slice(i, i + 10);
      const out = await this.client.send(
        new PutEventsCommand({
          Entries: batch.map((e) => ({
            EventBusName: this.busName,
            Source: e.source,
            DetailType: e.detailType,
            Detail: JSON.stringify(e.detail),
          })),
        }),
      );
      if (out.FailedEntryCount) {
        const codes = (out.Entries ?? []).map((e) => e.ErrorCode).filter(Boolean);
        throw new TransientError(
          `EventBridge rejected ${out.FailedEntryCount} events: ${codes.join(", ")}`,
        );
      }
    }
  }
}
