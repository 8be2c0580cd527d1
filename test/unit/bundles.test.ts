/**
 * The internet-facing GitHub webhook and the fast-rollback function (alarm-state-change) must
 * start fast: they never judge a time window, so the holiday calendars (date-holidays and the
 * moment-timezone it depends on, over 1 MB minified together) must not be in what their module
 * init loads. Bundled as deployed (bench/bundles.ts: esbuild, ESM, minified, code splitting,
 * @aws-sdk/* external) and read from the metafile.
 */
import { describe, expect, it } from "vitest";
import { bundleFunction, functionNames } from "../../bench/bundles.ts";

const HEAVY = /node_modules\/(date-holidays|date-holidays-parser|moment|moment-timezone)\//;

describe("Lambda bundles", () => {
  for (const name of ["github-webhook", "alarm-state-change"]) {
    it(`${name} does not bundle the holiday calendars`, { timeout: 10_000 }, async () => {
      const bundle = await bundleFunction(name);
      expect(bundle.inputs.some((i) => i.startsWith("src/"))).toBe(true);
      expect(bundle.inputs.filter((i) => HEAVY.test(i))).toEqual([]);
    });
  }

  it("the gate's functions ship the calendars in a chunk loaded on first use", {
    timeout: 10_000,
  }, async () => {
    // Loaded lazily, not dropped: the deploy step's gate judges time windows.
    const bundle = await bundleFunction("deploy");
    const calendars = (i: string) => /node_modules\/date-holidays\//.test(i);
    expect(bundle.inputs.some(calendars)).toBe(false);
    const chunks = Object.values(bundle.metafile.outputs);
    expect(chunks.some((o) => Object.keys(o.inputs).some(calendars))).toBe(true);
  });

  it("the fast-rollback function loads no AWS SDK client at module init", {
    timeout: 10_000,
  }, async () => {
    // functions/lib/lazy.ts: each adapter and its client load on the port's first call.
    const bundle = await bundleFunction("alarm-state-change");
    const outputs = bundle.metafile.outputs;
    const initial = Object.entries(outputs).filter(([, o]) =>
      Object.keys(o.inputs).some((i) => bundle.inputs.includes(i)),
    );
    const staticSdk = initial.flatMap(([, o]) =>
      o.imports.filter(
        (i) => i.external && i.kind === "import-statement" && i.path.startsWith("@aws-sdk/"),
      ),
    );
    expect(staticSdk).toEqual([]);
    const lazySdk = Object.values(outputs).flatMap((o) =>
      o.imports.filter((i) => i.external && i.path.startsWith("@aws-sdk/")).map((i) => i.path),
    );
    expect(new Set(lazySdk)).toContain("@aws-sdk/client-sfn");
  });

  it("every function bundle is under 500 KB minified (zod imported as a namespace, tree-shaken)", {
    timeout: 60_000,
  }, async () => {
    const sizes = await Promise.all(
      functionNames().map(async (name) => [name, (await bundleFunction(name)).bytes] as const),
    );
    expect(sizes.filter(([, bytes]) => bytes >= 500 * 1024)).toEqual([]);
  });
});
