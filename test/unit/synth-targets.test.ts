/**
 * The synth refuses a pipeline that deploys nothing by accident (issue 12): every stage needs a
 * target, its own or the pipeline's, and a dry run says so with `"target": { "type": "none" }`.
 * The local mode (simulate, serve) still runs a pipeline without one.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPipelineFile } from "../../src/pipeline-file.ts";
import { loadPipelines, PipelineDirectoryError } from "../../stacks/pipelines.ts";

const work = mkdtempSync(join(tmpdir(), "breakwater-synth-targets-"));
let n = 0;
function dirWith(files: Record<string, unknown>): string {
  const dir = join(work, `p${n++}`);
  mkdirSync(dir);
  for (const [name, body] of Object.entries(files)) {
    writeFileSync(join(dir, name), JSON.stringify(body));
  }
  return dir;
}

const stages = [
  { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } },
  { name: "prod", regions: ["us-west-2"], bake: { minutes: 30 } },
];
const alias = { type: "lambda-alias", functionName: "orders", alias: "live" };

async function refusal(dir: string): Promise<PipelineDirectoryError> {
  const err = await loadPipelines(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PipelineDirectoryError);
  return err as PipelineDirectoryError;
}

describe("synth: a pipeline needs a deploy target", () => {
  it("refuses a pipeline without one, naming the file, the field and the way to a dry run", async () => {
    const dir = dirWith({ "orders.json": { name: "orders", stages } });
    const err = await refusal(dir);
    const file = relative(process.cwd(), join(dir, "orders.json"));
    expect(err.message).toContain(`${file}: invalid pipeline`);
    expect(err.message).toMatch(/target: is required to deploy/);
    expect(err.message).toContain('"target": { "type": "none" }');
  });

  it("names each stage left without a target when only some stages have their own", async () => {
    const dir = dirWith({
      "orders.json": { name: "orders", stages: [{ ...stages[0], target: alias }, stages[1]] },
    });
    const err = await refusal(dir);
    expect(err.message).toMatch(/stages\[1\]\.target: is required to deploy: stage "prod"/);
    expect(err.message).not.toMatch(/stages\[0\]\.target/);
  });

  it("reports every file's problem at once, with the other files' own errors", async () => {
    const dir = dirWith({
      "a.json": { name: "a", stages },
      "b.json": { name: "b", stages: [{ ...stages[0], bake: { minutes: 0 } }] },
      "c.json": { name: "c", target: alias, stages },
    });
    const err = await refusal(dir);
    expect(err.errors.map((e) => e.source.split("/").at(-1))).toEqual(["a.json", "b.json"]);
  });

  it('loads a dry run ("type": "none"), a pipeline target, and stages that each have their own', async () => {
    const dir = dirWith({
      "dry.json": { name: "dry", target: { type: "none" }, stages },
      "whole.json": { name: "whole", target: alias, stages },
      "each.json": {
        name: "each",
        stages: stages.map((s) => ({ ...s, target: { ...alias, functionName: `o-${s.name}` } })),
      },
    });
    const loaded = await loadPipelines(dir);
    expect(loaded.map((l) => l.pipeline.name)).toEqual(["dry", "each", "whole"]);
  });

  it("the repository's own pipelines directory synthesizes (its pipeline has a target)", async () => {
    const loaded = await loadPipelines("pipelines");
    expect(loaded.length).toBeGreaterThan(0);
  });

  it("the local mode still loads a pipeline without a target", async () => {
    const dir = dirWith({ "orders.json": { name: "orders", stages } });
    const p = await loadPipelineFile(relative(process.cwd(), join(dir, "orders.json")));
    expect(p.target).toBeUndefined();
  });
});

describe("synth: the lint's errors refuse a pipeline, its warnings do not", () => {
  it("refuses a first production wave in two regions, naming the rule and the field", async () => {
    const wide = [stages[0], { ...stages[1], regions: ["us-west-2", "eu-west-1"] }];
    const dir = dirWith({ "wide.json": { name: "wide", target: alias, stages: wide } });
    const err = await refusal(dir);
    expect(err.message).toMatch(
      /stages\[1\]\.regions: the first production wave "prod" deploys to 2 regions; start with one \(lint first-wave-too-wide\)/,
    );
  });

  it("loads a pipeline with only warnings, and keeps them", async () => {
    const dir = dirWith({ "ok.json": { name: "ok", target: alias, stages } });
    const [loaded] = await loadPipelines(dir);
    expect(loaded?.warnings.map((w) => w.rule)).toEqual(["wave-without-one-box"]);
  });
});
