/**
 * The local event bus invokes a failed target again the way Lambda's asynchronous invocation
 * does for an EventBridge rule's target (2 retries, about 1 and 2 minutes apart), then
 * dead-letters the event and surfaces the error.
 */
import { describe, expect, it } from "vitest";
import { LAMBDA_ASYNC_RETRY, LocalEventBus } from "../../src/local/event-bus.ts";
import { VirtualClock } from "../../src/local/virtual-time.ts";

const START = new Date("2026-01-05T09:00:00Z");
const event = {
  source: "test",
  "detail-type": "Thing Happened",
  detail: { n: 1 },
  resources: [],
};

function busWith(failures: number) {
  const clock = new VirtualClock(START);
  const bus = new LocalEventBus(clock);
  const attempts: number[] = [];
  bus.addRule("target", { source: ["test"] }, async (e) => {
    attempts.push((clock.nowMillis() - START.getTime()) / 1000);
    if (attempts.length <= failures)
      throw new Error(`attempt ${attempts.length} of ${e.id} failed`);
  });
  return { clock, bus, attempts };
}

describe("local event bus retries", () => {
  it("a target that fails twice is invoked again after 60 s and after 120 s more, then succeeds", async () => {
    const { clock, bus, attempts } = busWith(2);
    bus.put(event);
    await clock.run();
    expect(attempts).toEqual([0, 60, 180]);
    expect(bus.failures.map((f) => [f.attempt, f.deadLettered])).toEqual([
      [1, false],
      [2, false],
    ]);
  });

  it("a target that keeps failing is dead-lettered after its retries and the error surfaces", async () => {
    const { clock, bus, attempts } = busWith(Number.POSITIVE_INFINITY);
    bus.put(event);
    await expect(clock.run()).rejects.toThrow("attempt 3 of local-00000001 failed");
    expect(attempts).toEqual([0, 60, 180]);
    expect(bus.failures.at(-1)).toMatchObject({ attempt: 3, deadLettered: true });
    expect(LAMBDA_ASYNC_RETRY.retries).toBe(2);
  });

  it("an event put again with the same id reaches the target again (at-least-once delivery)", async () => {
    const { clock, bus, attempts } = busWith(0);
    bus.put({ ...event, id: "evt-1" });
    bus.put({ ...event, id: "evt-1" });
    await clock.run();
    expect(attempts).toEqual([0, 0]);
    expect(bus.log.map((e) => e.id)).toEqual(["evt-1", "evt-1"]);
  });
});
