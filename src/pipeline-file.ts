/**
 * Loads a pipeline definition from a file: JSON, or a TypeScript/JavaScript module whose
 * default export is the definition (usually `export default definePipeline({...})`).
 * Every problem is reported with the file and the field's path.
 */
import { readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Pipeline, PipelineValidationError, parsePipeline } from "./domain/pipeline.ts";

function jsonPosition(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  if (!m) return message;
  const offset = Number(m[1]);
  const before = text.slice(0, offset).split("\n");
  return `${message.replace(/ in JSON at position \d+.*$/, "")} at line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
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
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new PipelineValidationError(file, [
        { path: "", message: `not valid JSON: ${jsonPosition(text, (err as Error).message)}` },
      ]);
    }
    return parsePipeline(value, file);
  }
  if ([".ts", ".mts", ".js", ".mjs"].includes(ext)) {
    let mod: Record<string, unknown>;
    try {
      const { tsImport } = await import("tsx/esm/api");
      mod = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof PipelineValidationError)
        throw new PipelineValidationError(file, err.problems);
      const code = (err as NodeJS.ErrnoException).code;
      const message =
        code === "ERR_MODULE_NOT_FOUND" && !(err as Error).message.includes("imported from")
          ? "cannot read file (ENOENT)"
          : (err as Error).message;
      throw new PipelineValidationError(file, [
        { path: "", message: `cannot load module: ${message}` },
      ]);
    }
    const value =
      (mod.default as Record<string, unknown> | undefined)?.default ?? mod.default ?? mod.pipeline;
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
