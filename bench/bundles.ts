/**
 * Bundles one Lambda entry point the way the stack deploys it (sst.config.ts: SST v2's Node
 * builder, esbuild, ESM, minified, nodejs22.x, whose runtime provides the AWS SDK v3 so
 * `@aws-sdk/*` stays external) and measures it. Shared by `npm run bench` (bench/functions.bench.ts)
 * and the unit test that keeps the holiday calendars out of the webhook and fast-rollback bundles.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Metafile } from "esbuild";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Inside the project, so a bundle's external `@aws-sdk/*` imports resolve from node_modules. */
const OUT_DIR = join(ROOT, "node_modules", ".cache", "breakwater-bundles");

/** Every deployed handler: functions/*.ts (functions/lib holds their shared wiring). */
export function functionNames(): string[] {
  return readdirSync(join(ROOT, "functions"))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .sort();
}

export interface Bundle {
  name: string;
  /** Minified bundle size in bytes (without the source map). */
  bytes: number;
  /** Input files (relative to the project root) that esbuild put in the bundle. */
  inputs: string[];
  metafile: Metafile;
  /** The written bundle (only when `write` was asked for). */
  file?: string;
}

/** Bundles `functions/<name>.ts`; with `write`, also writes it for {@link initTimeMs}. */
export async function bundleFunction(name: string, write = false): Promise<Bundle> {
  const result = await build({
    entryPoints: [join(ROOT, "functions", `${name}.ts`)],
    absWorkingDir: ROOT,
    bundle: true,
    minify: true,
    platform: "node",
    target: "node22",
    format: "esm",
    external: ["@aws-sdk/*"],
    // CommonJS dependencies call require() for Node built-ins; in an ESM bundle that needs a
    // real require (SST's Node builder adds the same banner for format "esm").
    banner: {
      js: 'import { createRequire as topLevelCreateRequire } from "module"; const require = topLevelCreateRequire(import.meta.url);',
    },
    metafile: true,
    write: false,
    logLevel: "silent",
  });
  const code = result.outputFiles[0]?.contents;
  if (!code) throw new Error(`esbuild produced no output for functions/${name}.ts`);
  const bundle: Bundle = {
    name,
    bytes: code.byteLength,
    inputs: Object.keys(result.metafile.inputs),
    metafile: result.metafile,
  };
  if (write) {
    mkdirSync(OUT_DIR, { recursive: true });
    bundle.file = join(OUT_DIR, `${name}.mjs`);
    writeFileSync(bundle.file, code);
  }
  return bundle;
}

/** Bytes each package contributes to a bundle (its inputs' bytesInOutput), largest first. */
export function packageBytes(bundle: Bundle): [string, number][] {
  const output = Object.values(bundle.metafile.outputs)[0];
  const totals = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const key = m?.[1] ?? "(project)";
    totals.set(key, (totals.get(key) ?? 0) + bytesInOutput);
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

/**
 * Module init time of a written bundle: a fresh `node` imports it and reports how long the
 * import took (what a Lambda cold start spends in the handler's module, without Node's own
 * start-up); the median of `runs` processes.
 */
export function initTimeMs(file: string, runs = 5): number {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); console.log(performance.now() - t);`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH ?? "",
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "bench",
        AWS_SECRET_ACCESS_KEY: "bench",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        POWERTOOLS_METRICS_DISABLED: "true",
      },
    });
    if (r.status !== 0) throw new Error(`init of ${file} failed: ${r.stderr}`);
    times.push(Number(r.stdout.trim().split("\n").at(-1)));
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? Number.NaN;
}
