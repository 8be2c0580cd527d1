/**
 * The virtual clock: the discrete-event `run` (deterministic, as fast as the work allows) and
 * the live mode `runLive` of `breakwater serve` (virtual time at `speed` × real time).
 */
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../src/local/virtual-time.ts";

const START = new Date("2026-01-05T09:00:00Z");
const realSleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("VirtualClock.run (discrete events)", () => {
  it("fires timers in (time, sequence) order and jumps virtual time without waiting", async () => {
    const clock = new VirtualClock(START);
    const fired: string[] = [];
    clock.enter(() => {
      setTimeout(() => fired.push(`b@${clock.now().toISOString()}`), 3_600_000);
      setTimeout(() => fired.push(`a@${clock.now().toISOString()}`), 60_000);
      setTimeout(() => fired.push(`c@${clock.now().toISOString()}`), 3_600_000);
    });
    const wall = performance.now();
    expect(await clock.run()).toBe(3);
    expect(performance.now() - wall).toBeLessThan(1000);
    expect(fired).toEqual([
      "a@2026-01-05T09:01:00.000Z",
      "b@2026-01-05T10:00:00.000Z",
      "c@2026-01-05T10:00:00.000Z",
    ]);
  });
});

describe("VirtualClock.endOfInstant (tie-breaking)", () => {
  it("resolves after every ordinary timer of its instant, those scheduled meanwhile included", async () => {
    const clock = new VirtualClock(START);
    const fired: string[] = [];
    clock.enter(() => {
      setTimeout(() => {
        void clock.endOfInstant().then(() => fired.push("late-1"));
        fired.push("a");
        // Scheduled for this same instant by work of this instant: still before the late one.
        setTimeout(() => fired.push("a-follow-up"), 0);
      }, 60_000);
      setTimeout(() => {
        void clock.endOfInstant().then(() => fired.push("late-2"));
        fired.push("b");
      }, 60_000);
      setTimeout(() => fired.push("next-instant"), 60_001);
    });
    await clock.run();
    expect(fired).toEqual(["a", "b", "a-follow-up", "late-1", "late-2", "next-instant"]);
  });
});

describe("VirtualClock.runLive", () => {
  it("advances virtual time at speed × real time and fires due timers in order", async () => {
    const clock = new VirtualClock(START);
    const fired: { name: string; at: number }[] = [];
    clock.enter(() => {
      // 1 and 2 virtual minutes: 60 and 120 ms of real time at 1000×.
      setTimeout(() => fired.push({ name: "second", at: clock.nowMillis() }), 120_000);
      setTimeout(() => fired.push({ name: "first", at: clock.nowMillis() }), 60_000);
    });
    const stop = new AbortController();
    const wall = performance.now();
    const loop = clock.runLive({ speed: 1000, signal: stop.signal });
    while (fired.length < 2 && performance.now() - wall < 5000) await realSleep(5);
    const elapsed = performance.now() - wall;
    stop.abort();
    expect(await loop).toBe(2);
    expect(fired.map((f) => f.name)).toEqual(["first", "second"]);
    expect(fired.map((f) => f.at - START.getTime())).toEqual([60_000, 120_000]);
    // Not before its time: 120 virtual seconds need at least 120 ms of real time.
    expect(elapsed).toBeGreaterThanOrEqual(110);
    // Idle time passes too: after the loop, virtual time is past the last timer.
    expect(clock.nowMillis()).toBeGreaterThanOrEqual(START.getTime() + 120_000);
  });

  it("wakes at once for work scheduled from outside while it sleeps, and reads time moving while idle", async () => {
    const clock = new VirtualClock(START);
    const stop = new AbortController();
    const loop = clock.runLive({ speed: 60, signal: stop.signal });
    await realSleep(50);
    const idleNow = clock.nowMillis();
    expect(idleNow).toBeGreaterThan(START.getTime()); // about 3 virtual seconds by now
    // Nothing is scheduled: the loop sleeps (up to a minute). A request from outside puts work in.
    const ran = new Promise<number>((resolve) =>
      clock.enter(() => setTimeout(() => resolve(clock.nowMillis()), 0)),
    );
    const wall = performance.now();
    const at = await ran;
    expect(performance.now() - wall).toBeLessThan(500);
    expect(at).toBeGreaterThanOrEqual(idleNow);
    stop.abort();
    expect(await loop).toBe(1);
  });

  it("reports failures of unawaited work to onError and keeps going", async () => {
    const clock = new VirtualClock(START);
    const errors: unknown[] = [];
    const fired: string[] = [];
    clock.enter(() => {
      setTimeout(() => clock.fail(new Error("boom")), 1000);
      setTimeout(() => fired.push("after"), 2000);
    });
    const stop = new AbortController();
    const loop = clock.runLive({ speed: 100, signal: stop.signal, onError: (e) => errors.push(e) });
    const wall = performance.now();
    while (fired.length === 0 && performance.now() - wall < 5000) await realSleep(5);
    stop.abort();
    await loop;
    expect((errors[0] as Error).message).toBe("boom");
    expect(fired).toEqual(["after"]);
  });

  it("rejects a speed that is not a positive number", async () => {
    const clock = new VirtualClock(START);
    await expect(clock.runLive({ speed: 0, signal: new AbortController().signal })).rejects.toThrow(
      "speed must be a positive number",
    );
  });
});
