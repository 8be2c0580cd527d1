/**
 * serve's report cache: one computation shared by concurrent readers, a new one after any
 * write (a reader after a write never sees a report computed before it) or once the report is
 * a second old, and a failed computation is never kept.
 */
import { describe, expect, it } from "vitest";
import { ReportCache } from "../../src/local/status-cache.ts";

function fakeClock() {
  let ms = 0;
  return { realMs: () => ms, advance: (d: number) => (ms += d) };
}

describe("ReportCache", () => {
  it("shares one computation between concurrent readers", async () => {
    const cache = new ReportCache<number>(fakeClock());
    let calls = 0;
    let release: (v: number) => void = () => {};
    const compute = () => {
      calls++;
      return new Promise<number>((r) => {
        release = r;
      });
    };
    const readers = Array.from({ length: 50 }, () => cache.get("status:", compute));
    release(7);
    expect(await Promise.all(readers)).toEqual(Array(50).fill(7));
    expect(calls).toBe(1);
  });

  it("recomputes after a write, even one made while the report was being computed", async () => {
    const cache = new ReportCache<number>(fakeClock());
    let state = 1;
    let release: () => void = () => {};
    const slow = () =>
      new Promise<number>((r) => {
        const seen = state;
        release = () => r(seen);
      });
    const before = cache.get("k", slow);
    state = 2;
    cache.invalidate(); // the write lands while the first computation runs
    release();
    expect(await before).toBe(1);
    const after = cache.get("k", async () => state);
    expect(await after).toBe(2);
  });

  it("keeps a report for a second at most when nothing is written, per key", async () => {
    const clock = fakeClock();
    const cache = new ReportCache<string>(clock);
    let n = 0;
    const compute = async () => `r${++n}`;
    expect(await cache.get("a", compute)).toBe("r1");
    clock.advance(999);
    expect(await cache.get("a", compute)).toBe("r1");
    expect(await cache.get("b", compute)).toBe("r2");
    clock.advance(1);
    // Old, but nothing was written: the old report now, the fresh one next.
    expect(await cache.get("a", compute)).toBe("r1");
    await new Promise((r) => setTimeout(r, 0));
    expect(await cache.get("a", compute)).toBe("r3");
  });

  it("does not keep a failed computation", async () => {
    const cache = new ReportCache<number>(fakeClock());
    await expect(
      cache.get("k", async () => Promise.reject(new Error("table gone"))),
    ).rejects.toThrow("table gone");
    expect(await cache.get("k", async () => 3)).toBe(3);
  });
});

describe("ReportCache, old but unchanged", () => {
  it("answers with the old report while one fresh computation runs, then with the fresh one", async () => {
    const clock = fakeClock();
    const cache = new ReportCache<string>(clock);
    expect(await cache.get("k", async () => "r1")).toBe("r1");
    clock.advance(1_500);
    let release: (v: string) => void = () => {};
    let calls = 0;
    const slow = () => {
      calls++;
      return new Promise<string>((r) => {
        release = r;
      });
    };
    expect(await cache.get("k", slow)).toBe("r1");
    expect(await cache.get("k", slow)).toBe("r1");
    expect(calls).toBe(1);
    release("r2");
    await new Promise((r) => setTimeout(r, 0));
    expect(await cache.get("k", slow)).toBe("r2");
  });

  it("never answers with an old report after a write: the reader waits for the new one", async () => {
    const clock = fakeClock();
    const cache = new ReportCache<string>(clock);
    expect(await cache.get("k", async () => "before")).toBe("before");
    clock.advance(1_500);
    cache.invalidate();
    expect(await cache.get("k", async () => "after")).toBe("after");
  });
});
