/**
 * Loads a pipeline definition from a file: JSON, or a TypeScript/JavaScript module whose
 * default export is the definition (usually `export default definePipeline({...})`).
 * Every problem is reported with the file and the field's path. Files are bounded in size; a
 * JSON key given twice is an error (JSON.parse would keep the last one silently); a module is
 * loaded and validated in a child process, so whatever it does (throw, hang, exit) ends as a
 * clear error naming the file.
 */
import { fork } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { extname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type ParseError, parse, printParseErrorCode, visit } from "jsonc-parser";
import { type Installation, parseInstallation } from "./domain/installation.ts";
import {
  clip,
  type Pipeline,
  PipelineValidationError,
  type Problem,
  parsePipeline,
} from "./domain/pipeline.ts";
import type { LoaderMessage } from "./pipeline-loader-child.ts";

/** The largest pipeline or config file read: far above any real definition (the example is 2 KB). */
export const MAX_DEFINITION_FILE_BYTES = 1024 * 1024;
/** How long a pipeline module may take to load and validate. */
export const MODULE_LOAD_TIMEOUT_MS = 30_000;

/** What a file holds, for messages: a pipeline, an installation config. */
type What = "pipeline" | "installation config";

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

/** Renders a jsonc-parser path (the enclosing object's) plus a key as `stages[2].bake`. */
function jsonPath(path: (string | number)[], key: string): string {
  let out = "";
  for (const k of [...path, key]) out += typeof k === "number" ? `[${k}]` : out ? `.${k}` : k;
  return out;
}

/** Every key given twice in one object, with where the second one is. */
function duplicateKeys(text: string): Problem[] {
  const problems: Problem[] = [];
  const seen: Set<string>[] = [];
  visit(
    text,
    {
      onObjectBegin: () => {
        seen.push(new Set());
      },
      onObjectEnd: () => {
        seen.pop();
      },
      onObjectProperty: (key, offset, _length, _line, _column, pathSupplier) => {
        const keys = seen.at(-1);
        if (!keys) return;
        if (keys.has(key)) {
          problems.push({
            path: jsonPath(pathSupplier(), key),
            message: `duplicate key "${clip(key)}" at ${lineColumn(text, offset)} (JSON would keep only the last one)`,
          });
        }
        keys.add(key);
      },
    },
    { disallowComments: true, allowTrailingComma: false },
  );
  return problems;
}

/** Parses strict JSON; on error, says what and where (line and column), on every Node version. */
function parseJson(file: string, text: string, what: What): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const errors: ParseError[] = [];
    parse(text, errors, { disallowComments: true, allowTrailingComma: false });
    const first = errors[0];
    throw new PipelineValidationError(
      file,
      [
        {
          path: "",
          message: first
            ? `not valid JSON: ${printParseErrorCode(first.error)} at ${lineColumn(text, first.offset)}`
            : `not valid JSON: ${(err as Error).message}`,
        },
      ],
      what,
    );
  }
  const duplicates = duplicateKeys(text);
  if (duplicates.length > 0) throw new PipelineValidationError(file, duplicates, what);
  return value;
}

/** Checks the file exists and is not too large; every failure names the file. */
async function checkFile(file: string, path: string, what: What): Promise<void> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw Object.assign(new Error("not a file"), { code: "not a regular file" });
    size = s.size;
  } catch (err) {
    throw new PipelineValidationError(
      file,
      [
        {
          path: "",
          message: `cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        },
      ],
      what,
    );
  }
  if (size > MAX_DEFINITION_FILE_BYTES) {
    throw new PipelineValidationError(
      file,
      [
        {
          path: "",
          message: `is ${size} bytes: larger than the ${MAX_DEFINITION_FILE_BYTES} bytes a definition may have`,
        },
      ],
      what,
    );
  }
}

async function readDefinition(file: string, what: What): Promise<unknown> {
  const path = resolve(file);
  await checkFile(file, path, what);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new PipelineValidationError(
      file,
      [
        {
          path: "",
          message: `cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
        },
      ],
      what,
    );
  }
  return parseJson(file, text, what);
}

/**
 * Loads a pipeline module in a child process (`pipeline-loader-child.ts`) and returns the
 * plain definition it validated; the module's code never runs in this process.
 */
function loadModule(file: string, path: string): Promise<unknown> {
  const fail = (message: string) =>
    new PipelineValidationError(file, [{ path: "", message: clip(message, 500) }]);
  const child = fileURLToPath(new URL("./pipeline-loader-child.ts", import.meta.url));
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return new Promise((resolvePromise, reject) => {
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const proc = fork(child, [path], {
      // `breakwater-source`: a module importing "breakwater" gets its TypeScript sources (the
      // package's exports), as in this repository's examples; no build of dist/ needed.
      execArgv: ["--import", tsx, "--conditions=breakwater-source"],
      // The module's own output is not ours to print (and its stack traces are not a message).
      stdio: ["ignore", "ignore", "ignore", "ipc"],
      serialization: "json",
    });
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      settle(() =>
        reject(fail(`the module did not load within ${MODULE_LOAD_TIMEOUT_MS / 1000} seconds`)),
      );
    }, MODULE_LOAD_TIMEOUT_MS);
    proc.on("message", (m: LoaderMessage) => {
      settle(() => {
        if (m?.kind === "pipeline") resolvePromise(m.value);
        else if (m?.kind === "problems" && Array.isArray(m.problems))
          reject(new PipelineValidationError(file, m.problems));
        else reject(fail(m?.kind === "error" ? String(m.message) : "the loader failed"));
      });
    });
    proc.on("error", (err) => settle(() => reject(fail(`cannot load module: ${err.message}`))));
    proc.on("close", (code, signal) =>
      settle(() =>
        reject(
          fail(
            `the module ended the loader (${signal ? `signal ${signal}` : `exit code ${code}`}) before its pipeline was validated`,
          ),
        ),
      ),
    );
  });
}

/**
 * Loads and validates a pipeline file, or throws {@link PipelineValidationError} naming the file
 * and every problem.
 *
 * @example
 * const pipeline = await loadPipelineFile("examples/orders-api.json");
 */
export async function loadPipelineFile(file: string): Promise<Pipeline> {
  const path = resolve(file);
  const ext = extname(path);
  if (ext === ".json") return parsePipeline(await readDefinition(file, "pipeline"), file);
  if ([".ts", ".mts", ".js", ".mjs"].includes(ext)) {
    await checkFile(file, path, "pipeline");
    return parsePipeline(await loadModule(file, path), file);
  }
  throw new PipelineValidationError(file, [
    { path: "", message: `unsupported file type "${ext}" (use .json or .ts)` },
  ]);
}

/** Loads the installation config (`breakwater.config.json`), with every problem's path. */
export async function loadInstallationFile(file: string): Promise<Installation> {
  return parseInstallation(await readDefinition(file, "installation config"), file);
}
