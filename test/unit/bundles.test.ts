/**
 * The internet-facing GitHub webhook and the fast-rollback function (alarm-state-change) must
 * start fast: they never judge a time window, so the holiday calendars (date-holidays and the
 * moment-timezone it depends on, over 1 MB minified together) must not be in their bundles. Bundled as
 * deployed (bench/bundles.ts: esbuild, ESM, minified, @aws-sdk/* external) and read from the
 * metafile.
 */
import { describe, expect, it } from "vitest";
import { bundleFunction } from "../../bench/bundles.ts";

const HEAVY = /node_modules\/(date-holidays|date-holidays-parser|moment|moment-timezone)\//;

describe("Lambda bundles", () => {
  for (const name of ["github-webhook", "alarm-state-change"]) {
    it(`${name} does not bundle the holiday calendars`, { timeout: 10_000 }, async () => {
      const bundle = await bundleFunction(name);
      expect(bundle.inputs.some((i) => i.startsWith("src/"))).toBe(true);
      expect(bundle.inputs.filter((i) => HEAVY.test(i))).toEqual([]);
    });
  }

  it("the gate's functions still bundle the holiday calendars", { timeout: 10_000 }, async () => {
    // The calendars are loaded lazily, not dropped: the deploy step's gate judges time windows.
    const bundle = await bundleFunction("deploy");
    expect(bundle.inputs.some((i) => /node_modules\/date-holidays\//.test(i))).toBe(true);
  });
});
