/**
 * Bundles one Lambda entry point the way the stack deploys it (sst.config.ts: SST v2's Node
 * builder, esbuild, ESM, minified, nodejs22.x, whose runtime provides the AWS SDK v3 so
 * `@aws-sdk/*` stays external) and measures it. Shared by `npm run bench` (bench/functions.bench.ts)
 * and the unit test that keeps the holiday calendars out of the webhook and fast-rollback bundles.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Metafile } from "esbuild";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Inside the project (git-ignored), so the bundles' external `@aws-sdk/*` imports resolve. */
const OUT_DIR = join(ROOT, ".bench");

/** Every deployed handler: functions/*.ts (functions/lib holds their shared wiring). */
export function functionNames(): string[] {
  return readdirSync(join(ROOT, "functions"))
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.slice(0, -3))
    .sort();
}

export interface Bundle {
  name: string;
  /** Minified size in bytes of what module init loads (without source maps). */
  bytes: number;
  /** Input files (relative to the project root) in what module init loads. */
  inputs: string[];
  metafile: Metafile;
  /** The written bundle (only when `write` was asked for). */
  file?: string;
}

/**
 * Bundles `functions/<name>.ts` with code splitting (sst.config.ts `splitting: true`): what a
 * dynamic `import()` reaches (the holiday calendars) goes to a chunk loaded on first use. The
 * figures are those of the entry file and the chunks it imports statically, i.e. what module
 * init loads. With `write`, the files are written for {@link initTimeMs}.
 */
export async function bundleFunction(name: string, write = false): Promise<Bundle> {
  const outdir = join(OUT_DIR, name);
  const result = await build({
    entryPoints: [join(ROOT, "functions", `${name}.ts`)],
    absWorkingDir: ROOT,
    bundle: true,
    minify: true,
    // SST v2's Node builder for format "esm": keepNames, esnext, module-first resolution.
    keepNames: true,
    platform: "node",
    target: "esnext",
    mainFields: ["module", "main"],
    format: "esm",
    splitting: true,
    outdir,
    outExtension: { ".js": ".mjs" },
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
  const outputs = result.metafile.outputs;
  // Dynamic imports are entry points of their own chunks too: find the function's.
  const entryPoint = `functions/${name}.ts`;
  const entry = Object.keys(outputs).find((o) => outputs[o]?.entryPoint === entryPoint);
  if (!entry) throw new Error(`esbuild produced no entry output for functions/${name}.ts`);
  // The entry and its static imports, transitively: what loads at init.
  const initial = new Set([entry]);
  for (const o of initial) {
    for (const i of outputs[o]?.imports ?? []) {
      if (i.kind === "import-statement" && !i.external) initial.add(i.path);
    }
  }
  const inputs = new Set<string>();
  let bytes = 0;
  for (const o of initial) {
    bytes += outputs[o]?.bytes ?? 0;
    for (const i of Object.keys(outputs[o]?.inputs ?? {})) inputs.add(i);
  }
  const bundle: Bundle = { name, bytes, inputs: [...inputs], metafile: result.metafile };
  if (write) {
    rmSync(outdir, { recursive: true, force: true });
    mkdirSync(outdir, { recursive: true });
    for (const f of result.outputFiles) writeFileSync(f.path, f.contents);
    bundle.file = join(ROOT, entry);
  }
  return bundle;
}

/** Bytes each package contributes to a bundle (its inputs' bytesInOutput), largest first. */
export function packageBytes(bundle: Bundle): [string, number][] {
  const totals = new Map<string, number>();
  const inputs = bundle.inputs;
  const all = Object.values(bundle.metafile.outputs).flatMap((o) => Object.entries(o.inputs));
  for (const [path, { bytesInOutput }] of all.filter(([p]) => inputs.includes(p))) {
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
export function initTimeMs(file: string, runs = 5, alsoImport: string[] = []): number {
  // alsoImport: modules a first call loads after init (the lazily loaded AWS SDK clients),
  // resolved from the bundle's folder as the function would resolve them.
  const then = alsoImport.map((m) => `await import(${JSON.stringify(m)});`).join(" ");
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); ${then} console.log(performance.now() - t);`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      cwd: ROOT,
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
