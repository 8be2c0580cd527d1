/**
 * Pipeline templates (issue 13 item 6): `"extends"` chains of JSON files, the merge rules,
 * `stageDefaults`, cycles and depth refused, and every error naming the file it came from.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import {
  definePipeline,
  PipelineValidationError,
  parsePipeline,
} from "../../src/domain/pipeline.ts";
import {
  extendPipeline,
  MAX_EXTENDS_DEPTH,
  mergeTemplate,
} from "../../src/domain/pipeline-template.ts";
import { loadPipelineFile } from "../../src/pipeline-file.ts";

const dir = mkdtempSync(join(tmpdir(), "breakwater-templates-"));
let n = 0;
/** Writes files into a fresh folder; returns their paths as the loader is given them. */
function files(contents: Record<string, unknown>): Record<string, string> {
  const root = join(dir, `case-${++n}`);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(contents)) {
    const path = join(root, name);
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value, null, 2));
    out[name] = relative(process.cwd(), path);
  }
  return out;
}

async function problemsOf(file: string): Promise<{ source: string; problems: string[] }> {
  try {
    await loadPipelineFile(file);
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineValidationError);
    const e = err as PipelineValidationError;
    return { source: e.source, problems: e.problems.map((p) => `${p.path}: ${p.message}`) };
  }
  throw new Error(`${file} loaded without a problem`);
}

const base = {
  name: "orders-base",
  alarms: ["orders-5xx-{region}"],
  target: { type: "lambda-alias", functionName: "orders-{region}", alias: "live" },
  stages: [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
    {
      name: "prod-1",
      regions: ["eu-north-1"],
      oneBox: true,
      bake: { minutes: 60, minRequests: 1000 },
    },
  ],
};

describe("mergeTemplate: the merge rules", () => {
  it("objects merge, arrays and scalars replace, null removes", () => {
    expect(
      mergeTemplate(
        { a: { x: 1, y: 2 }, list: [1, 2], s: "base", gone: true },
        { a: { y: 3 }, list: [3], s: "child", gone: null },
      ),
    ).toEqual({ a: { x: 1, y: 3 }, list: [3], s: "child" });
  });

  it("an object of another type (a target) replaces instead of mixing fields", () => {
    expect(
      mergeTemplate(
        { target: { type: "lambda-alias", functionName: "f", alias: "live" } },
        {
          target: {
            type: "ecs",
            cluster: "c",
            service: "s",
            container: "app",
            image: "i:{version}",
          },
        },
      ),
    ).toEqual({
      target: { type: "ecs", cluster: "c", service: "s", container: "app", image: "i:{version}" },
    });
  });

  it("stages match by name, keep the base's order, and new names append", () => {
    const merged = mergeTemplate(base, {
      stages: [
        { name: "prod-1", bake: { minutes: 90 } },
        { name: "prod-2", regions: ["us-west-2"], bake: { minutes: 60 } },
      ],
    }) as typeof base;
    expect(merged.stages.map((s) => s.name)).toEqual(["alpha", "prod-1", "prod-2"]);
    expect(merged.stages[1]).toEqual({
      name: "prod-1",
      regions: ["eu-north-1"],
      oneBox: true,
      bake: { minutes: 90, minRequests: 1000 },
    });
  });

  it('"stages": { "replace": [...] } gives the list whole', () => {
    const stages = [{ name: "beta", regions: ["eu-west-1"], bake: { minutes: 5 } }];
    expect((mergeTemplate(base, { stages: { replace: stages } }) as typeof base).stages).toEqual(
      stages,
    );
  });

  it("changes neither input", () => {
    const before = structuredClone(base);
    mergeTemplate(base, { stages: [{ name: "alpha", bake: { minutes: 1 } }], alarms: [] });
    expect(base).toEqual(before);
  });
});

describe("stageDefaults", () => {
  it("every stage gets the fields it does not set; objects merge", () => {
    const p = parsePipeline({
      name: "orders",
      stageDefaults: {
        bake: { minutes: 30, minRequests: 500 },
        oneBox: true,
        regionsInParallel: 1,
      },
      stages: [
        { name: "alpha", regions: ["us-east-1"], oneBox: false },
        { name: "prod-1", regions: ["eu-north-1"], bake: { minutes: 60 } },
      ],
    });
    expect(p.stages[0]).toMatchObject({ oneBox: false, bake: { minutes: 30, minRequests: 500 } });
    expect(p.stages[1]).toMatchObject({ oneBox: true, bake: { minutes: 60, minRequests: 500 } });
  });

  it("a bad or unknown default is named under stageDefaults", () => {
    expect(() =>
      parsePipeline(
        {
          name: "orders",
          stageDefaults: { name: "x", bake: { minutes: 0 }, retries: 2 },
          stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 5 } }],
        },
        "orders.json",
      ),
    ).toThrow(
      /stageDefaults\.bake\.minutes: must be a positive integer[\s\S]*stageDefaults\.name: unknown field[\s\S]*stageDefaults\.retries: unknown field/,
    );
  });

  it("TypeScript pipelines get it through definePipeline, and extend with extendPipeline", () => {
    const p = definePipeline(
      extendPipeline(
        { name: "orders", stageDefaults: { bake: { minutes: 20 } }, stages: base.stages },
        { stages: [{ name: "alpha", bake: null }] },
      ),
    );
    expect(p.stages.map((s) => s.bake.minutes)).toEqual([20, 60]);
  });

  it('"extends" outside a JSON file is refused with the way to do it', () => {
    expect(() => parsePipeline({ ...base, extends: "./base.json" }, "orders.ts")).toThrow(
      /extends: only a JSON pipeline file may extend another.*extendPipeline/,
    );
  });
});

describe("extends", () => {
  it("a chain of files merges base first; the pipeline's own file wins", async () => {
    const f = files({
      "templates/base.json": base,
      "templates/team.json": {
        extends: "./base.json",
        alarms: ["team-5xx-{region}"],
        stages: [{ name: "prod-1", bake: { minutes: 120 } }],
      },
      "orders.json": {
        extends: "./templates/team.json",
        name: "orders-api",
        stages: [{ name: "prod-2", regions: ["us-west-2"], bake: { minutes: 60 } }],
      },
    });
    const p = await loadPipelineFile(f["orders.json"] as string);
    expect(p.name).toBe("orders-api");
    expect(p.alarms).toEqual(["team-5xx-{region}"]);
    expect(p.stages.map((s) => [s.name, s.bake.minutes, s.bake.minRequests])).toEqual([
      ["alpha", 10, undefined],
      ["prod-1", 120, 1000],
      ["prod-2", 60, undefined],
    ]);
    expect("extends" in p).toBe(false);
  });

  it("a cycle is refused, naming the files around it", async () => {
    const f = files({
      "a.json": { extends: "./b.json", name: "a" },
      "b.json": { extends: "./a.json" },
    });
    const { source, problems } = await problemsOf(f["a.json"] as string);
    expect(source).toBe(f["b.json"]);
    expect(problems).toEqual([
      `extends: extends a file that extends it: ${f["a.json"]} → ${f["b.json"]} → ${f["a.json"]}`,
    ]);
  });

  it("a file extending itself is a cycle", async () => {
    const f = files({ "self.json": { extends: "./self.json", name: "x" } });
    expect((await problemsOf(f["self.json"] as string)).problems[0]).toMatch(
      /^extends: extends a file that extends it/,
    );
  });

  it(`a chain longer than ${MAX_EXTENDS_DEPTH} files is refused`, async () => {
    const chain: Record<string, unknown> = { "f0.json": base };
    for (let i = 1; i <= MAX_EXTENDS_DEPTH; i++)
      chain[`f${i}.json`] = { extends: `./f${i - 1}.json` };
    const f = files(chain);
    const { problems } = await problemsOf(f[`f${MAX_EXTENDS_DEPTH}.json`] as string);
    expect(problems).toEqual([
      `extends: a chain of extends may hold at most ${MAX_EXTENDS_DEPTH} files`,
    ]);
    // One file fewer is fine.
    await expect(
      loadPipelineFile(f[`f${MAX_EXTENDS_DEPTH - 1}.json`] as string),
    ).resolves.toMatchObject({
      name: "orders-base",
    });
  });

  it.each([
    ["an absolute path", "/etc/base.json"],
    ["a bare name", "base.json"],
    ["not JSON", "./base.ts"],
    ["not a string", 42],
  ])("extends as %s is refused", async (_, value) => {
    const f = files({ "p.json": { extends: value, name: "p" } });
    expect(await problemsOf(f["p.json"] as string)).toEqual({
      source: f["p.json"],
      problems: ['extends: must be a relative path to a JSON pipeline file, such as "./base.json"'],
    });
  });

  it("a missing base file, or one that is not valid JSON, is named", async () => {
    const missing = files({ "p.json": { extends: "./nowhere.json", name: "p" } });
    const gone = await problemsOf(missing["p.json"] as string);
    expect(gone.source).toMatch(/nowhere\.json$/);
    expect(gone.problems).toEqual([": cannot read file (ENOENT)"]);
    const broken = files({
      "base.json": '{ "name": "b", "name": "c" }',
      "p.json": { extends: "./base.json" },
    });
    const dup = await problemsOf(broken["p.json"] as string);
    expect(dup.source).toBe(broken["base.json"]);
    expect(dup.problems[0]).toMatch(/^name: duplicate key "name" at line 1/);
  });

  it("a problem in a field a base file wrote names that file; the pipeline's own stay plain", async () => {
    const f = files({
      "templates/base.json": {
        ...base,
        stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: -1 } }, base.stages[1]],
      },
      "orders.json": {
        extends: "./templates/base.json",
        name: "Orders API",
        stages: [{ name: "prod-1", oneBox: { percent: 90 } }],
      },
    });
    const { source, problems } = await problemsOf(f["orders.json"] as string);
    expect(source).toBe(f["orders.json"]);
    expect(problems).toContain(
      `stages[0].bake.minutes: must be a positive integer (in ${f["templates/base.json"]})`,
    );
    expect(problems.find((p) => p.startsWith("stages[1].oneBox.percent"))).not.toMatch(/\(in /);
    expect(problems.find((p) => p.startsWith("name:"))).not.toMatch(/\(in /);
  });
});

describe("every loader goes through extends", () => {
  it("the examples: a JSON pipeline extending a template, a TypeScript one built from functions", async () => {
    const json = await loadPipelineFile("examples/orders-jobs.json");
    const ts = await loadPipelineFile("examples/typescript/orders-worker.ts");
    for (const p of [json, ts]) {
      expect(p.stages.map((s) => s.name)).toEqual(["alpha", "beta", "prod-1", "prod-2", "prod-3"]);
      expect(p.stages.find((s) => s.name === "prod-1")?.rolling).toEqual({
        percents: [25, 50, 100],
        bakeMinutes: 10,
      });
      expect(p.stages.find((s) => s.name === "prod-2")?.bake.minutes).toBe(120);
    }
  });

  it("synth's pipelines folder: base files in a subfolder are not pipelines of their own", async () => {
    const { loadPipelines } = await import("../../stacks/pipelines.ts");
    const f = files({
      "pipelines/templates/base.json": base,
      "pipelines/orders.json": { extends: "./templates/base.json", name: "orders-api" },
    });
    const folder = join(f["pipelines/orders.json"] as string, "..");
    const loaded = await loadPipelines(folder);
    expect(loaded.map((l) => [l.file, l.pipeline.name, l.pipeline.stages.length])).toEqual([
      [f["pipelines/orders.json"], "orders-api", 2],
    ]);
  });
});
