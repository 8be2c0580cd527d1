// The package's library entry, built ahead of time (`npm run build`; `npm pack` runs it): the
// JavaScript of src/index.ts as one ES module (its packages stay dependencies), and its type
// declarations, so `import { definePipeline } from "breakwater"` works in another project,
// types included, with no TypeScript loader (README, "Use it as a package").
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const types = join(root, "dist", "types");

await esbuild.build({
  entryPoints: [join(root, "src/index.ts")],
  outfile: join(root, "dist", "index.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});

rmSync(types, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
  stdio: "inherit",
});

// The sources import each other as `./x.ts`; the declarations sit next to each other as
// `x.d.ts`: name them `./x.js`, as a consumer's TypeScript resolves without extra options.
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith(".d.ts")) {
      const text = readFileSync(path, "utf8");
      writeFileSync(
        path,
        text.replace(/(from\s+|import\()(["'])(\.\.?\/[^"']+)\.ts\2/g, "$1$2$3.js$2"),
      );
    }
  }
};
walk(types);
