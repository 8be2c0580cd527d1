import { readFileSync } from "node:fs";
import Ajv2020Module from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { pipelineJsonSchema } from "../../src/domain/pipeline.ts";

const repo = new URL("../../", import.meta.url);
const readJson = (path: string) => JSON.parse(readFileSync(new URL(path, repo), "utf8"));

const published = readJson("schema/pipeline.schema.json") as Record<string, unknown>;

// ajv is CommonJS: under NodeNext the default import is module.exports, whose `default` is the class.
const Ajv2020 = Ajv2020Module.default;

function compile() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  return ajv.compile(published);
}

describe("published JSON Schema (schema/pipeline.schema.json)", () => {
  it("is in sync with the zod schema", () => {
    expect(
      published,
      "schema/pipeline.schema.json is out of date: run `npm run schema` and commit the result",
    ).toEqual(pipelineJsonSchema());
  });

  it("is byte-for-byte what `npm run schema` writes", () => {
    const text = readFileSync(new URL("schema/pipeline.schema.json", repo), "utf8");
    expect(text, "run `npm run schema` to regenerate schema/pipeline.schema.json").toBe(
      `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`,
    );
  });

  it("declares draft 2020-12 and its public id", () => {
    expect(published.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(published.$id).toBe("https://breakwater.dev/schema/pipeline.schema.json");
  });

  it("compiles with ajv (draft 2020-12, strict) and accepts examples/orders-api.json", () => {
    const validate = compile();
    const example = readJson("examples/orders-api.json");
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
  });

  // biome-ignore lint/suspicious/noExplicitAny: the inputs are deliberately malformed
  type Loose = any;
  type Invalid = [label: string, mutate: (p: Loose) => void, where: string];
  const invalid: Invalid[] = [
    [
      "unknown top-level field",
      (p) => {
        p.owner = "x";
      },
      "",
    ],
    [
      "unknown stage field",
      (p) => {
        p.stages[0].regionInParallel = 2;
      },
      "/stages/0",
    ],
    [
      "unknown bake field",
      (p) => {
        p.stages[0].bake.minRequests = 1;
      },
      "/stages/0/bake",
    ],
    [
      "bake minutes 0",
      (p) => {
        p.stages[0].bake.minutes = 0;
      },
      "/stages/0/bake/minutes",
    ],
    [
      "bake minutes 1.5",
      (p) => {
        p.stages[0].bake.minutes = 1.5;
      },
      "/stages/0/bake/minutes",
    ],
    [
      "bake minutes as a string",
      (p) => {
        p.stages[0].bake.minutes = "10";
      },
      "/stages/0/bake/minutes",
    ],
    [
      "missing bake",
      (p) => {
        delete p.stages[0].bake;
      },
      "/stages/0",
    ],
    [
      "empty stages",
      (p) => {
        p.stages = [];
      },
      "/stages",
    ],
    [
      "bad region name",
      (p) => {
        p.stages[0].regions = ["us-east1"];
      },
      "/stages/0/regions/0",
    ],
    [
      "oneBox percent 51",
      (p) => {
        p.stages[3].oneBox = { percent: 51 };
      },
      "/stages/3/oneBox",
    ],
  ];

  it.each(invalid)("rejects %s", (_, mutate, where) => {
    const validate = compile();
    const p = readJson("examples/orders-api.json");
    mutate(p);
    expect(validate(p)).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath)).toContain(where);
  });
});
