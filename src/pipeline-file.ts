/**
 * Loads a pipeline definition from a file: JSON, or a TypeScript/JavaScript module whose
 * default export is the definition (usually `export default definePipeline({...})`).
 * Every problem is reported with the file and the field's path.
 */
import { access, readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type ParseError, parse, printParseErrorCode } from "jsonc-parser";
import { type Installation, parseInstallation } from "./domain/installation.ts";
import {
  type Pipeline,
  PipelineValidationError,
  type Problem,
  parsePipeline,
} from "./domain/pipeline.ts";

/** Parses strict JSON; on error, says what and where (line and column), on every Node version. */
function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const errors: ParseError[] = [];
    parse(text, errors, { disallowComments: true, allowTrailingComma: false });
    const first = errors[0];
    if (!first) {
      throw new PipelineValidationError(file, [
        { path: "", message: `not valid JSON: ${(err as Error).message}` },
      ]);
    }
    const before = text.slice(0, first.offset).split("\n");
    const where = `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
    throw new PipelineValidationError(file, [
      { path: "", message: `not valid JSON: ${printParseErrorCode(first.error)} at ${where}` },
    ]);
  }
}

/** A validation error raised inside a loaded module (which may hold its own copy of the class). */
function validationProblems(err: unknown): Problem[] | undefined {
  const e = err as { name?: unknown; problems?: unknown };
  return e?.name === "PipelineValidationError" && Array.isArray(e.problems)
    ? (e.problems as Problem[])
    : undefined;
}

export async function loadPipelineFile(file: string): Promise<Pipeline> {
  const path = resolve(file);
  const ext = extname(path);
  if (ext === ".json") {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw new PipelineValidationError(file, [
        {
          path: "",
          message: `cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        },
      ]);
    }
    return parsePipeline(parseJson(file, text), file);
  }
  if ([".ts", ".mts", ".js", ".mjs"].includes(ext)) {
    try {
      await access(path);
    } catch (err) {
      throw new PipelineValidationError(file, [
        {
          path: "",
          message: `cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        },
      ]);
    }
    let mod: Record<string, unknown>;
    try {
      const { tsImport } = await import("tsx/esm/api");
      mod = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
    } catch (err) {
      const problems = validationProblems(err);
      if (problems) throw new PipelineValidationError(file, problems);
      throw new PipelineValidationError(file, [
        { path: "", message: `cannot load module: ${(err as Error).message}` },
      ]);
    }
    // A module outside an ESM package is loaded as CommonJS: its exports sit under `default`,
    // marked `__esModule`.
    const cjs = mod.default as Record<string, unknown> | undefined;
    const exports = cjs && typeof cjs === "object" && cjs.__esModule ? cjs : mod;
    const value = exports.default ?? exports.pipeline;
    if (value === undefined) {
      throw new PipelineValidationError(file, [
        {
          path: "",
          message: "the module has no default export (export default definePipeline({...}))",
        },
      ]);
    }
    return parsePipeline(value, file);
  }
  throw new PipelineValidationError(file, [
    { path: "", message: `unsupported file type "${ext}" (use .json or .ts)` },
  ]);
}

/** Loads the installation config (`breakwater.config.json`), with every problem's path. */
export async function loadInstallationFile(file: string): Promise<Installation> {
  let text: string;
  try {
    text = await readFile(resolve(file), "utf8");
  } catch (err) {
    throw new PipelineValidationError(file, [
      {
        path: "",
        message: `cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      },
    ]);
  }
  return parseInstallation(parseJson(file, text), file);
}
