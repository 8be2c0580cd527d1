/**
 * The child process that loads a TypeScript/JavaScript pipeline file (see `loadPipelineFile`).
 * A pipeline module is code: it may throw while it loads or is validated, throw later from a
 * timer, hang, or call `process.exit`. Here it can only end this process; the parent gets one
 * message — the validated definition as plain JSON, its problems, or why it could not load —
 * and never runs the module's code itself.
 *
 * Started as `node --import tsx src/pipeline-loader-child.ts <file>` with an IPC channel.
 */
import { pathToFileURL } from "node:url";
import { BreakwaterError } from "./domain/errors.ts";
import { type Problem, parsePipeline } from "./domain/pipeline.ts";

export type LoaderMessage =
  | { kind: "pipeline"; value: unknown }
  | { kind: "problems"; problems: Problem[] }
  | { kind: "error"; message: string };

const realExit = process.exit.bind(process);
/** How long the module's timers get to fail after its definition validated. */
const SETTLE_MS = 100;
let done = false;

function reply(message: LoaderMessage): void {
  if (done) return;
  done = true;
  // Exit once the message is flushed: the module's timers and handles must not keep us alive.
  process.send?.(message, () => realExit(0));
}

class ExitCalled extends BreakwaterError {
  override name = "ExitCalled";
}

// A module calling process.exit would end the loader silently: it becomes an error instead.
process.exit = ((code?: number | string | null) => {
  reply({ kind: "error", message: `the module called process.exit(${code ?? ""})` });
  throw new ExitCalled(`process.exit(${code ?? ""})`);
}) as typeof process.exit;
process.on("uncaughtException", (err) => fail(err));
process.on("unhandledRejection", (err) => fail(err));

/** A validation error raised inside the module (its own copy of the class, perhaps). */
function validationProblems(err: unknown): Problem[] | undefined {
  const e = err as { name?: unknown; problems?: unknown };
  return e?.name === "PipelineValidationError" && Array.isArray(e.problems)
    ? (e.problems as Problem[])
    : undefined;
}

function fail(err: unknown): void {
  const problems = validationProblems(err);
  if (problems) {
    // Only plain { path, message } strings cross the boundary.
    reply({
      kind: "problems",
      problems: problems.map((p) => ({ path: String(p?.path ?? ""), message: String(p?.message) })),
    });
    return;
  }
  let text: string;
  try {
    text = err instanceof Error ? err.message : String(err);
  } catch {
    text = "an exception that cannot be printed";
  }
  reply({ kind: "error", message: `cannot load module: ${text}` });
}

async function load(file: string): Promise<void> {
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  // A module outside an ESM package is loaded as CommonJS: its exports sit under `default`,
  // marked `__esModule`.
  const cjs = mod.default as Record<string, unknown> | undefined;
  const exports = cjs && typeof cjs === "object" && cjs.__esModule ? cjs : mod;
  const value = exports.default ?? exports.pipeline;
  if (value === undefined) {
    reply({
      kind: "error",
      message: "the module has no default export (export default definePipeline({...}))",
    });
    return;
  }
  // Validated here, where a throwing getter or proxy can only end this process; the output is
  // plain data (zod copies every field), which the parent validates again.
  const plain: unknown = JSON.parse(JSON.stringify(parsePipeline(value, file)));
  // A module that throws (or exits) from a timer right after loading is broken too: give its
  // timers a moment, so that it fails here rather than passing as a success.
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  reply({ kind: "pipeline", value: plain });
}

const file = process.argv[2];
if (!file) {
  reply({ kind: "error", message: "no file given to the pipeline loader" });
} else {
  load(file).catch(fail);
}
