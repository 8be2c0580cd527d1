/**
 * A real package (issue 14, item 8): `npm pack` builds dist/ (the `prepack` script) and the
 * tarball installs into a scratch project with no access to this repository (from the npm
 * cache). There `import { definePipeline } from "breakwater"` works in plain Node, the
 * package's types check a TypeScript file (and catch a wrong one), and the installed
 * `breakwater` command runs from its prebuilt bundle.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const repo = resolve(".");
const work = mkdtempSync(join(tmpdir(), "breakwater-package-"));
const consumer = join(work, "consumer");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const long = { timeout: 600_000 };

let tarball: string;

beforeAll(async () => {
  await run(npm, ["pack", "--pack-destination", work, "--silent"], {
    cwd: repo,
    maxBuffer: 16 * 1024 * 1024,
  });
  tarball = join(work, readdirSync(work).find((f) => f.endsWith(".tgz")) as string);
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, "package.json"),
    JSON.stringify({ name: "consumer", version: "1.0.0", type: "module", private: true }),
  );
  const install = (mode: string) =>
    run(npm, ["install", tarball, mode, "--no-audit", "--no-fund", "--ignore-scripts"], {
      cwd: consumer,
      maxBuffer: 16 * 1024 * 1024,
    });
  // From the npm cache alone. A cache filled by `npm ci` holds the tarballs but not always the
  // registry documents a range is resolved with (ENOTCACHED): then the registry is asked for
  // what is missing, once, and the cache has it from then on.
  await install("--offline").catch((err: { stderr?: string }) => {
    if (!String(err.stderr).includes("ENOTCACHED")) throw err;
    return install("--prefer-offline");
  });
}, 600_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the npm package", () => {
  it("imports definePipeline in plain Node, validating with the field's path", long, async () => {
    writeFileSync(
      join(consumer, "use.mjs"),
      `import { definePipeline } from "breakwater";
const ok = definePipeline({ name: "orders", stages: [{ name: "prod-1", regions: ["us-east-1"], bake: { minutes: 30 } }] });
let message = "";
try { definePipeline({ name: "orders", stages: [{ name: "prod-1", regions: ["us-est-1"], bake: { minutes: 30 } }] }); }
catch (e) { message = e.message; }
console.log(JSON.stringify({ name: ok.name, message }));
`,
    );
    const { stdout } = await run(process.execPath, ["use.mjs"], { cwd: consumer });
    expect(JSON.parse(stdout)).toEqual({
      name: "orders",
      message: expect.stringContaining(
        'stages[0].regions[0]: unknown AWS region "us-est-1" (did you mean "us-east-1"?)',
      ),
    });
  });

  it("has types: a TypeScript consumer checks, and a wrong definition does not", long, async () => {
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          types: [],
        },
        include: ["*.ts"],
      }),
    );
    writeFileSync(
      join(consumer, "good.ts"),
      `import { definePipeline, type Pipeline } from "breakwater";
export const p: Pipeline = definePipeline({
  name: "orders",
  stages: [{ name: "prod-1", regions: ["us-east-1"], oneBox: { percent: 5 }, bake: { minutes: 30 } }],
});
export const minutes: number = p.stages[0].bake.minutes;
`,
    );
    await run(process.execPath, [tsc, "-p", "."], { cwd: consumer });
    // A stage without its bake: the package's types refuse it (they are not `any`).
    writeFileSync(
      join(consumer, "bad.ts"),
      `import { definePipeline } from "breakwater";
definePipeline({ name: "orders", stages: [{ name: "prod-1", regions: ["us-east-1"] }] });
`,
    );
    const failed = await run(process.execPath, [tsc, "-p", "."], { cwd: consumer }).then(
      () => undefined,
      (err: { stdout: string }) => err.stdout,
    );
    rmSync(join(consumer, "bad.ts"));
    expect(failed).toMatch(/bad\.ts\(2,\d+\): error TS2741: Property 'bake' is missing/);
  });

  it("installs the breakwater command, which prints the package's version", long, async () => {
    const { stdout } = await run(join(consumer, "node_modules", ".bin", "breakwater"), [
      "--version",
    ]);
    const { version } = createRequire(import.meta.url)("../../package.json");
    expect(stdout.trim()).toBe(version);
  });

  it("plans a pipeline with the installed command (its prebuilt bundle)", long, async () => {
    writeFileSync(
      join(consumer, "orders.json"),
      JSON.stringify({
        name: "orders",
        target: { type: "none" },
        stages: [{ name: "prod-1", regions: ["us-east-1"], bake: { minutes: 30 } }],
      }),
    );
    const { stdout } = await run(
      join(consumer, "node_modules", ".bin", "breakwater"),
      ["plan", "--pipeline", "orders.json", "--start", "2026-01-05T09:00:00Z", "--json"],
      { cwd: consumer },
    );
    expect(JSON.parse(stdout)).toMatchObject({ pipeline: "orders", totalSeconds: 300 + 30 * 60 });
  });
});
