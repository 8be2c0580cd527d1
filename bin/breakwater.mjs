#!/usr/bin/env node
// The `breakwater` command. Runs the TypeScript sources with no build step to remember: on the
// first start after a source changed, esbuild bundles src/cli/main.ts into .cache/ (a few hundred
// ms), and every start after that imports the bundle. Compiling through tsx on every start took
// about 5 s of a cold `simulate`. When the bundle cannot be built or written (a read-only
// checkout, no esbuild), the command runs through tsx as before.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// The local mode has no CloudWatch: handlers' embedded-metric output would only be noise.
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";

const root = fileURLToPath(new URL("..", import.meta.url));
const cacheDir = join(root, ".cache");

/** A key of every source the bundle is made of: path, size and modification time. */
function sourceKey() {
  const hash = createHash("sha256");
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|json)$/.test(entry.name)) {
        const s = statSync(path);
        hash.update(`${path}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  for (const dir of ["src", "functions"]) walk(join(root, dir));
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  return hash.digest("hex").slice(0, 16);
}

/** Bundles the CLI (packages stay external, resolved from node_modules as before). */
async function build(outfile) {
  const esbuild = await import("esbuild");
  // Each module keeps its own import.meta.url (the ASL files and the pipeline loader are found
  // relative to the source file, not to the bundle).
  const ownUrl = {
    name: "own-import-meta-url",
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => ({
        contents: readFileSync(args.path, "utf8").replaceAll(
          "import.meta.url",
          JSON.stringify(pathToFileURL(args.path).href),
        ),
        loader: "ts",
      }));
    },
  };
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${outfile}.${process.pid}.tmp`;
  await esbuild.build({
    entryPoints: [join(root, "src/cli/main.ts")],
    outfile: tmp,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "silent",
    plugins: [ownUrl],
  });
  // Atomic: a concurrent start imports either no bundle or a whole one.
  renameSync(tmp, outfile);
  for (const name of readdirSync(cacheDir)) {
    if (name.startsWith("cli-") && join(cacheDir, name) !== outfile) {
      rmSync(join(cacheDir, name), { force: true });
    }
  }
}

async function loadMain() {
  if (process.env.BREAKWATER_NO_BUNDLE !== "1") {
    try {
      const outfile = join(cacheDir, `cli-${sourceKey()}.mjs`);
      try {
        statSync(outfile);
      } catch {
        await build(outfile);
      }
      return (await import(pathToFileURL(outfile).href)).main;
    } catch (err) {
      if (process.env.BREAKWATER_DEBUG) console.error(`bundle not used: ${err}`);
    }
  }
  const { register } = await import("tsx/esm/api");
  register();
  return (await import(pathToFileURL(join(root, "src/cli/main.ts")).href)).main;
}

const main = await loadMain();
process.exitCode = await main(process.argv);
