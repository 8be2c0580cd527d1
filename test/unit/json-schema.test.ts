import { readFileSync } from "node:fs";
import Ajv2020Module from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { pipelineJsonSchema } from "../../src/domain/pipeline.ts";

const repo = new URL("../../", import.meta.url);
const readJson = (path: string) => JSON.parse(readFileSync(new URL(path, repo), "utf8"));

const published = readJson("schema/pipeline.schema.json") as Record<string, unknown>;

// ajv is CommonJS: under NodeNext the default import is module.exports, whose `default` is the class.
const Ajv2020 = Ajv2020Module.default;

function compile() {
  // Strict ajv refuses a format it does not know. The schema's instants carry both
  // `format: date-time` and the pattern zod checks; the format is checked here as zod does.
  const ajv = new Ajv2020({
    allErrors: true,
    strict: true,
    formats: { "date-time": (s: string) => z.iso.datetime({ offset: true }).safeParse(s).success },
  });
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

  it("accepts the safety-gate fields", () => {
    const validate = compile();
    const p = readJson("examples/orders-api.json");
    Object.assign(p, {
      oneBoxAlarms: ["{pipeline}-{az}-one-box"],
      alarmMissingData: "inconclusive",
      anomalyDetection: true,
      timeWindows: {
        allowed: [{ days: ["mon", "tue"], from: "09:00", to: "24:00" }],
        holidays: true,
        freezes: [{ from: "2026-12-20T00:00:00Z", to: "2027-01-04T00:00:00Z", reason: "freeze" }],
      },
      metrics: {
        namespace: "Orders",
        dimensions: { AvailabilityZone: "{az}" },
        versionDimension: "Version",
        requests: "Requests",
        faults: "Faults",
        latency: "Latency",
      },
    });
    Object.assign(p.stages[3], {
      bake: { minutes: 60, minRequests: 1000, maxMinutes: 240 },
      onInsufficientTraffic: "proceed",
      timeWindows: { allowed: [{ days: ["sat"], from: "00:00", to: "06:00" }] },
    });
    expect(validate(p), JSON.stringify(validate.errors)).toBe(true);
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
      "unknown bake field (a typo of minRequests)",
      (p) => {
        p.stages[0].bake.minRequest = 1;
      },
      "/stages/0/bake",
    ],
    [
      "bake minRequests 0",
      (p) => {
        p.stages[0].bake.minRequests = 0;
      },
      "/stages/0/bake/minRequests",
    ],
    [
      "unknown onInsufficientTraffic",
      (p) => {
        p.stages[0].onInsufficientTraffic = "wait";
      },
      "/stages/0/onInsufficientTraffic",
    ],
    [
      "unknown alarmMissingData",
      (p) => {
        p.alarmMissingData = "ignore";
      },
      "/alarmMissingData",
    ],
    [
      "anomalyDetection as a string",
      (p) => {
        p.anomalyDetection = "on";
      },
      "/anomalyDetection",
    ],
    [
      "one-box alarm with an unknown placeholder",
      (p) => {
        p.oneBoxAlarms = ["{zone}-faults"];
      },
      "/oneBoxAlarms/0",
    ],
    [
      "unknown time-window field",
      (p) => {
        p.timeWindows = { holiday: true };
      },
      "/timeWindows",
    ],
    [
      "stage time window with a bad time",
      (p) => {
        p.stages[1].timeWindows = { allowed: [{ days: ["mon"], from: "9am", to: "17:00" }] };
      },
      "/stages/1/timeWindows/allowed/0/from",
    ],
    [
      "freeze with a date but no time",
      (p) => {
        p.timeWindows = {
          freezes: [{ from: "2026-12-20", to: "2027-01-04T00:00:00Z", reason: "x" }],
        };
      },
      "/timeWindows/freezes/0/from",
    ],
    [
      "metrics without versionDimension",
      (p) => {
        p.metrics = { namespace: "Orders", requests: "R", faults: "F", latency: "L" };
      },
      "/metrics",
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

describe("published JSON Schema: documented (issue 14, item 8)", () => {
  /** Every property of every object in the schema, with its path. */
  function properties(node: unknown, path: string, out: [string, Record<string, unknown>][] = []) {
    if (!node || typeof node !== "object") return out;
    const n = node as Record<string, unknown>;
    for (const [key, value] of Object.entries((n.properties ?? {}) as Record<string, unknown>)) {
      out.push([`${path}.${key}`, value as Record<string, unknown>]);
      properties(value, `${path}.${key}`, out);
    }
    for (const key of ["items", "additionalProperties"]) properties(n[key], `${path}[]`, out);
    for (const key of ["anyOf", "oneOf", "allOf"]) {
      for (const branch of (n[key] ?? []) as unknown[]) properties(branch, path, out);
    }
    return out;
  }

  it("has an $id and a title", () => {
    expect(published.$id).toBe("https://breakwater.dev/schema/pipeline.schema.json");
    expect(published.title).toBe("Breakwater pipeline");
  });

  it("describes every field", () => {
    const all = properties(published, "");
    expect(all.length).toBeGreaterThan(50);
    expect(all.filter(([, p]) => typeof p.description !== "string").map(([path]) => path)).toEqual(
      [],
    );
  });
});
