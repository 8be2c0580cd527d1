/**
 * The run's snapshot rides in every task's input. It is checked whole (`pipelineSchema`) the
 * first time a process sees it and then recognised by its exact content, so the per-step cost
 * does not grow with the pipeline (issue 15 item 3); it must still refuse what it refused.
 */
import { describe, expect, it } from "vitest";
import { stageContextSchema } from "../../src/app/schemas.ts";
import { wireStageInput } from "../../src/domain/execution-input.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";

const definition = parsePipeline({
  name: "orders",
  target: { type: "none" },
  stages: [{ name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } }],
});
const ctx = (def: unknown) => ({
  runId: "r1",
  pipeline: "orders",
  version: "v2",
  stage: "beta",
  definition: def,
});

describe("the snapshot in a task's input", () => {
  it("is checked whole every time it differs, naming the field, even after a valid one was seen", () => {
    expect(stageContextSchema.safeParse(ctx(definition)).success).toBe(true);
    const bad = structuredClone(definition) as unknown as {
      stages: { bake: { minutes: number } }[];
    };
    (bad.stages[0] as { bake: { minutes: number } }).bake.minutes = -5;
    const parsed = stageContextSchema.safeParse(ctx(bad));
    expect(parsed.success).toBe(false);
    const paths = parsed.error?.issues.map((i) => i.path.join("."));
    expect(paths).toContain("definition.stages.0.bake.minutes");
  });

  it("gives the same validated value for the same content, frozen so no handler can alter the next one's", () => {
    const a = stageContextSchema.parse(ctx(structuredClone(definition)));
    const b = stageContextSchema.parse(ctx(structuredClone(definition)));
    expect(b.definition).toEqual(definition);
    expect(Object.isFrozen(a.definition)).toBe(true);
    expect(() => {
      (a.definition as { name: string }).name = "other";
    }).toThrow(TypeError);
    expect(b.definition?.name).toBe("orders");
  });

  it("stays absent when absent (executions started before snapshots)", () => {
    expect(stageContextSchema.parse(ctx(undefined)).definition).toBeUndefined();
  });
});

describe("the snapshot on the wire (Step Functions' execution input)", () => {
  it("travels as the definition's JSON text, read back to the same pipeline", () => {
    const wire = wireStageInput({
      runId: "r1",
      pipeline: "orders",
      version: "v2",
      stage: "beta",
      definition,
    });
    expect(typeof wire.definition).toBe("string");
    expect(stageContextSchema.parse(wire).definition).toEqual(definition);
  });

  it("refuses text that is not JSON, or too long, naming the field", () => {
    for (const text of ["{not json", `"${"x".repeat(300 * 1024)}"`]) {
      const parsed = stageContextSchema.safeParse(ctx(text));
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0]?.path).toEqual(["definition"]);
    }
  });

  it("checks text whose pipeline is invalid, with the path inside the definition", () => {
    const bad = JSON.stringify({ ...definition, stages: [] });
    const parsed = stageContextSchema.safeParse(ctx(bad));
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join("."))).toContain("definition.stages");
  });
});
