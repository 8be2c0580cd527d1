#!/usr/bin/env node
// The `breakwater` command. It runs one prebuilt ES module of the CLI and the packages it uses
// (bin/build-cli.mjs): an installed package runs the dist/cli.mjs `npm pack` built; a checkout
// runs .cache/cli-<key>.mjs, built by `npm install` (the `prepare` script) or, after a source
// changed, by the first start (a few seconds, once). Resolving the packages' thousands of files
// on every start, or compiling the TypeScript through tsx, took seconds. When no bundle can be
// built or written (a read-only checkout, no esbuild), the command runs through tsx as before.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// The local mode has no CloudWatch: handlers' embedded-metric output would only be noise.
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";

const root = new URL("..", import.meta.url);
const rootPath = fileURLToPath(root);

/** The prebuilt bundle of an installed package: no checkout (.git) around it, so it is final. */
function installedBundle() {
  const dist = join(rootPath, "dist", "cli.mjs");
  if (existsSync(join(rootPath, ".git")) || !existsSync(dist)) return undefined;
  return pathToFileURL(dist).href;
}

async function checkoutBundle() {
  const { buildCli, cacheFile, pruneCache, sourceKey } = await import("./build-cli.mjs");
  const key = sourceKey();
  // `npm run build` in a checkout: dist/ is current when it was built from these sources.
  const dist = join(rootPath, "dist", "cli.mjs");
  try {
    if (readFileSync(join(rootPath, "dist", "cli.key"), "utf8").trim() === key) {
      return pathToFileURL(dist).href;
    }
  } catch {}
  const file = cacheFile(key);
  try {
    statSync(file);
  } catch {
    await buildCli(file);
    pruneCache(file);
  }
  return pathToFileURL(file).href;
}

async function loadMain() {
  if (process.env.BREAKWATER_NO_BUNDLE !== "1") {
    try {
      return (await import(installedBundle() ?? (await checkoutBundle()))).main;
    } catch (err) {
      if (process.env.BREAKWATER_DEBUG) console.error(`bundle not used: ${err}`);
    }
  }
  const { register } = await import("tsx/esm/api");
  register();
  return (await import(new URL("src/cli/main.ts", root).href)).main;
}

const main = await loadMain();
process.exitCode = await main(process.argv);
