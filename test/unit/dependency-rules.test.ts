/**
 * The dependency rules (`.dependency-cruiser.cjs`, run by `npm run lint`) bite: a fixture tree with
 * an import cycle, a domain file importing an outer layer and a node builtin, an adapter importing
 * a handler and test code, and a service importing an adapter fails with each rule named; a clean
 * tree passes; and the real tree passes.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const depcruise = `${root}node_modules/.bin/depcruise`;
const config = `${root}.dependency-cruiser.cjs`;
const fixtures = `${root}test/fixtures/dependency-rules/`;

/** Runs depcruise as `npm run lint:deps` does (its default "err" report), in `cwd`. */
function cruise(
  cwd: string,
  paths: string[],
  extra: string[] = [],
): Promise<{ code: number; report: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      depcruise,
      [...paths, "--config", config, ...extra],
      { cwd, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        // depcruise exits with the number of error-severity violations.
        const code = error ? (error as { code?: unknown }).code : 0;
        if (typeof code !== "number") return reject(error);
        resolve({ code, report: `${stdout}${stderr}` });
      },
    );
  });
}

/** The report's violation lines, `rule: from → to` (a cycle's first hop only). */
const violations = (report: string) =>
  [...report.matchAll(/^\s*error ([\w-]+): (\S+) →\s*(\S+)/gm)].map(
    ([, rule, from, to]) => `${rule}: ${from} → ${to}`,
  );

describe("dependency rules", () => {
  it("fail on a cycle, an impure domain, a service or adapter reaching outward and production importing tests", async () => {
    const { code, report } = await cruise(`${fixtures}bad`, ["src", "functions"]);
    const found = violations(report).sort();
    expect(found).toEqual(
      [
        "adapters-not-to-handlers-or-cli: src/adapters/store.ts → functions/handler.ts",
        "domain-imports-only-domain: src/domain/rule.ts → fs",
        "domain-imports-only-domain: src/domain/rule.ts → src/app/service.ts",
        "no-circular: src/app/helper.ts → src/app/service.ts",
        "no-test-from-production: src/adapters/store.ts → test/support.ts",
        "services-not-to-outer-layers: src/app/uses-adapter.ts → src/adapters/store.ts",
      ].sort(),
    );
    // Non-zero exit, so `npm run lint` fails: one per violation.
    expect(code).toBe(found.length);
  });

  it("pass on a tree whose domain imports only itself and npm packages", async () => {
    const { code, report } = await cruise(`${fixtures}good`, ["src", "functions"]);
    expect(violations(report)).toEqual([]);
    expect(report).toContain("no dependency violations found");
    expect(code).toBe(0);
  });

  it("pass on the real tree (what npm run lint:deps checks)", async () => {
    const { code, report } = await cruise(root, ["src", "functions", "stacks", "scripts", "bench"]);
    expect(violations(report)).toEqual([]);
    expect(report).toContain("no dependency violations found");
    expect(code).toBe(0);
  });
});
