/**
 * The code and tests cite "safety rule N"; those rules live in docs/design.md. Keeps the two
 * from drifting apart: every rule number cited anywhere exists there, and every item prefix the
 * DynamoDB adapters write is in its data model.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const design = readFileSync(join(root, "docs/design.md"), "utf8");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return files(p);
    return /\.(ts|json)$/.test(name) ? [p] : [];
  });
}

const sources = ["src", "functions", "stacks", "statemachines", "test"].flatMap((d) =>
  files(join(root, d)),
);

describe("docs/design.md", () => {
  it("defines every safety rule the code and tests cite", () => {
    const rules = new Set(
      [...design.matchAll(/^(\d+)\. /gm)]
        .filter((m) => design.indexOf("## Safety rules") < (m.index ?? 0))
        .map((m) => Number(m[1])),
    );
    const cited = new Set<number>();
    for (const f of sources) {
      for (const m of readFileSync(f, "utf8").matchAll(
        /[Ss]afety rules? ((?:\d+(?:, | and )?)+)/g,
      )) {
        for (const n of (m[1] ?? "").split(/, | and /)) if (n) cited.add(Number(n));
      }
    }
    expect(cited.size).toBeGreaterThan(0);
    for (const n of cited)
      expect(rules.has(n), `safety rule ${n} is cited but not defined`).toBe(true);
  });

  it("lists every item prefix the DynamoDB adapters write", () => {
    const adapters = files(join(root, "src/adapters/aws")).map((f) => readFileSync(f, "utf8"));
    const prefixes = new Set<string>();
    for (const src of adapters) {
      for (const m of src.matchAll(/pk: `([A-Z]+)#/g)) prefixes.add(m[1] as string);
      for (const m of src.matchAll(/pk: "([A-Z]+)"/g)) prefixes.add(m[1] as string);
      for (const m of src.matchAll(/Pk = \([^)]*\) =>\s*`([A-Z]+)#/g)) prefixes.add(m[1] as string);
    }
    expect(prefixes.size).toBeGreaterThan(3);
    for (const p of prefixes)
      expect(design, `item prefix ${p} missing from the data model`).toContain(`\`${p}`);
  });
});
