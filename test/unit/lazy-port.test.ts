import { describe, expect, it } from "vitest";
import { lazyPort, once } from "../../functions/lib/lazy.ts";

interface Port {
  read(key: string): Promise<string>;
}

describe("lazyPort", () => {
  it("loads the adapter on the first call only, and shares it", async () => {
    let loads = 0;
    const port = lazyPort<Port>(async () => {
      loads++;
      return { read: async (key) => `value of ${key}` };
    });
    expect(loads).toBe(0);
    expect(await Promise.all([port.read("a"), port.read("b")])).toEqual([
      "value of a",
      "value of b",
    ]);
    expect(await port.read("c")).toBe("value of c");
    expect(loads).toBe(1);
  });

  it("tries a failed load again on the next call", async () => {
    let loads = 0;
    const port = lazyPort<Port>(async () => {
      loads++;
      if (loads === 1) throw new Error("module not found");
      return { read: async () => "ok" };
    });
    await expect(port.read("a")).rejects.toThrow("module not found");
    expect(await port.read("a")).toBe("ok");
  });

  it("keeps the adapter's `this` and refuses a name that is not a method", async () => {
    class Adapter {
      prefix = "p:";
      async read(key: string) {
        return this.prefix + key;
      }
    }
    const port = lazyPort<Port & { missing(): Promise<void> }>(
      async () => new Adapter() as unknown as Port & { missing(): Promise<void> },
    );
    expect(await port.read("k")).toBe("p:k");
    await expect(port.missing()).rejects.toThrow("missing is not a method");
  });

  it("is not a thenable, so awaiting the port does not load it", async () => {
    let loads = 0;
    const port = lazyPort<Port>(async () => {
      loads++;
      return { read: async () => "x" };
    });
    expect(await Promise.resolve(port)).toBe(port);
    expect(loads).toBe(0);
  });
});

describe("once", () => {
  it("builds a value once and again after a failure", async () => {
    let builds = 0;
    const get = once(async () => {
      builds++;
      if (builds === 1) throw new Error("boom");
      return builds;
    });
    await expect(get()).rejects.toThrow("boom");
    expect(await get()).toBe(2);
    expect(await get()).toBe(2);
  });
});
