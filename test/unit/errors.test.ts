/**
 * Every error class is a BreakwaterError whose `name` is its class name, unique across the
 * project: Lambda reports `name` as the error type and the state machines' Retry/Catch match on
 * it, so a subclass that forgot its own `name` (or reused another's) would be retried or caught
 * as something it is not.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { BreakwaterError } from "../../src/domain/errors.ts";

const ROOT = join(import.meta.dirname, "../..");
const DIRS = ["src", "functions", "stacks"];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts)$/.test(e.name) && !e.name.endsWith(".d.ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

interface DeclaredClass {
  file: string;
  name: string;
  base: string;
  exported: boolean;
  /** The string its body assigns to `name`, if any. */
  nameField?: string;
}

// Every class declaration that extends something, with the `name` its body sets (a class body
// ends at the first line that is a lone `}` at the left margin).
const CLASS = /^(export )?(?:abstract )?class (\w+) extends (\w+)[^{]*\{\n([\s\S]*?)^\}/gm;

function declaredClasses(): DeclaredClass[] {
  return DIRS.flatMap(sourceFiles).flatMap((file) =>
    [...readFileSync(join(ROOT, file), "utf8").matchAll(CLASS)].map((m) => {
      const nameField = /override name = "([^"]+)"/.exec(m[4] ?? "")?.[1];
      return {
        file,
        name: m[2] as string,
        base: m[3] as string,
        exported: Boolean(m[1]),
        ...(nameField ? { nameField } : {}),
      };
    }),
  );
}

const errorClasses = declaredClasses().filter((c) => /Error$/.test(c.base));

/** Constructor arguments for the classes whose constructor is not `(message)`. */
const ARGS: Record<string, unknown[]> = {
  PipelineValidationError: ["pipelines/web.json", [{ path: "name", message: "is required" }]],
  PipelineDirectoryError: ["pipelines", []],
  OverrideRejectedError: [[{ path: "reason", message: "is required" }]],
  NotifyError: [[new Error("slack down")], "1 of 2 channels failed"],
  DeliveryError: ["slack answered 500", { kind: "http", attempts: 3, status: 500 }],
  InvalidInputError: ["invalid input", []],
  TimeInputError: ["not a time", "format"],
  RequestRejectedError: ["rejected", [], 400],
};

function aslErrorNames(): string[] {
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "ErrorEquals") for (const n of value as string[]) names.add(n);
        else walk(value);
      }
    }
  };
  for (const file of readdirSync(join(ROOT, "statemachines")).filter((f) =>
    f.endsWith(".asl.json"),
  )) {
    walk(JSON.parse(readFileSync(join(ROOT, "statemachines", file), "utf8")));
  }
  return [...names];
}

describe("error classes", () => {
  it("finds the project's error classes (the scan itself works)", () => {
    const names = errorClasses.map((c) => c.name);
    for (const known of [
      "InvalidInputError",
      "PipelineValidationError",
      "OverrideRejectedError",
      "WebhookConfigError",
      "DeliveryInProgressError",
      "UnauthenticatedOverrideError",
      "OverrideConflictError",
      "OpsUsageError",
      "NotifyError",
      "PipelineDirectoryError",
    ]) {
      expect(names).toContain(known);
    }
  });

  it("every error class extends BreakwaterError and sets a name equal to its class name", () => {
    const wrong = errorClasses.filter(
      (c) =>
        (c.name !== "BreakwaterError" && c.base !== "BreakwaterError") || c.nameField !== c.name,
    );
    // BreakwaterError itself declares `name` abstract; everything else names itself.
    expect(
      wrong
        .filter((c) => c.name !== "BreakwaterError")
        .map((c) => `${c.file}: ${c.name} extends ${c.base}, name ${c.nameField}`),
    ).toEqual([]);
  });

  it("error class names are unique across src, functions and stacks", () => {
    const seen = new Map<string, string>();
    const dupes: string[] = [];
    for (const c of errorClasses) {
      const before = seen.get(c.name);
      if (before) dupes.push(`${c.name}: ${before} and ${c.file}`);
      seen.set(c.name, c.file);
    }
    expect(dupes).toEqual([]);
  });

  it("every exported error class, constructed, is a BreakwaterError and an Error named after its class", async () => {
    const exported = errorClasses.filter((c) => c.exported && c.name !== "BreakwaterError");
    expect(exported.length).toBeGreaterThan(15);
    for (const c of exported) {
      const mod = (await import(join(ROOT, c.file))) as Record<string, unknown>;
      const Class = mod[c.name] as new (...args: unknown[]) => Error;
      const err = new Class(...(ARGS[c.name] ?? ["something failed"]));
      expect(err, c.name).toBeInstanceOf(BreakwaterError);
      expect(err, c.name).toBeInstanceOf(Error);
      expect(err.name, c.file).toBe(c.name);
      expect(String(err)).toMatch(new RegExp(`^${c.name}: `));
    }
  });

  it("carries an ES2022 cause", async () => {
    const { TransientError } = await import("../../src/domain/errors.ts");
    const cause = new Error("socket hang up");
    const err = new TransientError("deploy status unknown", { cause });
    expect(err.cause).toBe(cause);
  });

  it("every error name the state machines retry or catch is an error class", () => {
    const custom = aslErrorNames().filter((n) => !/^(States|Lambda)\./.test(n));
    expect(custom.length).toBeGreaterThan(0);
    const classes = new Set(errorClasses.map((c) => c.name));
    expect(custom.filter((n) => !classes.has(n))).toEqual([]);
  });
});
