/**
 * `breakwater lint`: the safety rules of src/domain/lint.ts over one or more pipeline files.
 * Exit 1 when any file has an error (or, with --strict, a warning), else 0.
 */
import type { Command } from "commander";
import { hasErrors, type LintFinding, lintPipeline, schemaFindings } from "../domain/lint.ts";
import { PipelineValidationError } from "../domain/pipeline.ts";
import { loadPipelineFile } from "../pipeline-file.ts";

/** The most files one `lint` takes (each may start a module loader). */
export const MAX_LINT_FILES = 200;

interface LintFlags {
  pipeline: string[];
  json?: boolean;
  strict?: boolean;
}

export interface FileLint {
  file: string;
  findings: LintFinding[];
}

/** Lints one file: a definition that does not validate reports its schema problems as findings. */
export async function lintFile(file: string): Promise<FileLint> {
  try {
    return { file, findings: lintPipeline(await loadPipelineFile(file)) };
  } catch (err) {
    if (err instanceof PipelineValidationError) {
      return { file, findings: schemaFindings(err.problems) };
    }
    throw err;
  }
}

export function renderLint(results: readonly FileLint[]): string {
  const lines: string[] = [];
  let errors = 0;
  let warnings = 0;
  for (const r of results) {
    for (const f of r.findings) {
      if (f.severity === "error") errors++;
      else warnings++;
      lines.push(
        `${r.file}: ${f.severity} ${f.rule}${f.path ? ` at ${f.path}` : ""}: ${f.message}`,
      );
    }
  }
  const files = `${results.length} file${results.length === 1 ? "" : "s"}`;
  lines.push(
    `${files}: ${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}`,
  );
  return `${lines.join("\n")}\n`;
}

/** 1 when a file has an error, or a warning under `strict`; else 0. */
export function lintExitCode(results: readonly FileLint[], strict = false): number {
  const all = results.flatMap((r) => r.findings);
  return hasErrors(all) || (strict && all.length > 0) ? 1 : 0;
}

export function registerLintCommand(
  program: Command,
  io: { out: NodeJS.WritableStream },
  setCode: (code: number) => void,
  usageError: (message: string) => Error,
): void {
  program
    .command("lint")
    .description(
      "Check pipeline files against the safety rules (README, 'Lint rules'): errors exit 1, warnings 0 (with --strict, 1).",
    )
    .requiredOption(
      "--pipeline <file...>",
      "pipeline definitions (.json or .ts); several files, or the flag repeated",
    )
    .option("--json", "print the findings as JSON")
    .option("--strict", "fail on warnings too")
    .action(async (flags: LintFlags) => {
      if (flags.pipeline.length > MAX_LINT_FILES) {
        throw usageError(`--pipeline: at most ${MAX_LINT_FILES} files at once`);
      }
      const results: FileLint[] = [];
      for (const file of flags.pipeline) results.push(await lintFile(file));
      const code = lintExitCode(results, flags.strict);
      io.out.write(
        flags.json
          ? `${JSON.stringify({ ok: code === 0, strict: flags.strict === true, files: results }, null, 2)}\n`
          : renderLint(results),
      );
      setCode(code);
    });
}
