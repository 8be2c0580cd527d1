/**
 * `breakwater pipelines apply|list|diff|history`: pipeline definitions registered in a running
 * control plane (`serve`, or a deployed stage with `--aws --stage`) without redeploying it.
 *
 * - `apply <file>...` validates and lints each file locally first (the same loader as
 *   `simulate`, the same rules as `breakwater lint`: an error refuses it), then
 *   sends it as an `apply-pipeline` override: the control plane validates it again, checks it
 *   fits what its roles may deploy to, and writes it as the next revision with an audit entry
 *   carrying your authenticated identity. With `--expect-revision` (or after `diff`, which
 *   prints the revision) the change is refused if someone applied another revision meanwhile.
 * - `list` shows every registered pipeline, where it came from and its revision.
 * - `diff <file>` shows what applying the file would change, by JSON path.
 * - `history <name>` lists the applied revisions: who, when, why.
 *
 * Runs keep the definition they started with; an applied revision is used by the runs
 * requested after it.
 */
import type { Command } from "commander";
import { lintPipeline } from "../domain/lint.ts";
import { clip, type Pipeline, PipelineValidationError } from "../domain/pipeline.ts";
import { type DefinitionChange, diffDefinitions } from "../domain/pipeline-registry.ts";
import { loadPipelineFile } from "../pipeline-file.ts";
import {
  backendFor,
  guarded,
  type IO,
  OpsUsageError,
  renderOverride,
  type TargetFlags,
  targetOptions,
} from "./ops.ts";

interface ApplyFlags extends TargetFlags {
  initialVersion?: string;
  actor?: string;
  reason?: string;
  expectRevision?: string;
  dryRun?: boolean;
}

/** At most this many files per `apply` (each is one audited request). */
const MAX_APPLY_FILES = 50;

function show(v: unknown): string {
  const text = JSON.stringify(v);
  return text === undefined ? "(none)" : clip(text, 120);
}

export function renderDiff(name: string, revision: number, changes: DefinitionChange[]): string {
  const head = `${name} (applied revision ${revision}${revision === 0 ? ": not applied yet" : ""})`;
  if (changes.length === 0) return `${head}: no changes\n`;
  const lines = changes.map((c) =>
    c.change === "added"
      ? `  + ${c.path}: ${show(c.after)}`
      : c.change === "removed"
        ? `  - ${c.path}: ${show(c.before)}`
        : `  ~ ${c.path}: ${show(c.before)} → ${show(c.after)}`,
  );
  return `${head}: ${changes.length} change${changes.length === 1 ? "" : "s"}\n${lines.join("\n")}\n`;
}

function revisionFlag(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,8}$/.test(text)) {
    throw new OpsUsageError(
      `--expect-revision "${clip(text)}": must be a whole number (0: not applied yet)`,
    );
  }
  return Number(text);
}

export function registerPipelinesCommands(
  program: Command,
  io: IO,
  setCode: (code: number) => void,
  env: NodeJS.ProcessEnv = process.env,
): void {
  const pipelines = program
    .command("pipelines")
    .description(
      "Pipeline definitions in a running control plane, without redeploying it: apply, list, diff, history.",
    );

  targetOptions(
    pipelines
      .command("apply")
      .description(
        "Validate pipeline files and register or update them in the control plane (versioned, audited).",
      )
      .argument("<file...>", "pipeline definitions (.json or .ts)")
      .option(
        "--initial-version <v>",
        "the version the pipeline's scopes without state run now (a new pipeline, stage or region)",
      )
      .option("--actor <who>", "who is acting (audited)")
      .option("--reason <why>", "why (audited)")
      .option(
        "--expect-revision <n>",
        "only if the applied revision is still n (0: not applied yet); one file only",
      )
      .option("--dry-run", "validate and print the requests instead of sending them"),
  ).action(async (files: string[], flags: ApplyFlags) => {
    setCode(
      await guarded(io, flags.json, async () => {
        if (files.length > MAX_APPLY_FILES) {
          throw new OpsUsageError(`at most ${MAX_APPLY_FILES} files per apply`);
        }
        const expectRevision = revisionFlag(flags.expectRevision);
        if (expectRevision !== undefined && files.length > 1) {
          throw new OpsUsageError("--expect-revision: with one file only");
        }
        // Every file is checked before anything is sent: one bad file applies none.
        const definitions: Pipeline[] = [];
        for (const f of files) {
          const definition = await loadPipelineFile(f);
          // The lint's rules (`breakwater lint`): an error refuses the file, as the synth does.
          const findings = lintPipeline(definition);
          const errors = findings.filter((x) => x.severity === "error");
          if (errors.length > 0) {
            throw new PipelineValidationError(
              f,
              errors.map((x) => ({ path: x.path, message: `${x.message} (lint ${x.rule})` })),
            );
          }
          for (const w of findings) {
            io.err.write(`${f}: warning ${w.rule}${w.path ? ` at ${w.path}` : ""}: ${w.message}\n`);
          }
          definitions.push(definition);
        }
        const names = definitions.map((d) => d.name);
        const twice = names.find((n, i) => names.indexOf(n) !== i);
        if (twice) throw new OpsUsageError(`pipeline "${twice}" is given twice`);
        const requests = definitions.map((definition) => ({
          action: "apply-pipeline",
          actor: flags.actor,
          reason: flags.reason,
          definition,
          ...(flags.initialVersion !== undefined ? { initialVersion: flags.initialVersion } : {}),
          ...(expectRevision !== undefined ? { expectRevision } : {}),
        }));
        if (flags.dryRun) {
          io.out.write(
            `${JSON.stringify(requests.length === 1 ? requests[0] : requests, null, 2)}\n`,
          );
          return;
        }
        const backend = backendFor(flags, env);
        const results = [];
        for (const r of requests) {
          const result = await backend.override(r);
          results.push(result);
          if (!flags.json) io.out.write(renderOverride(result));
        }
        if (flags.json) {
          io.out.write(`${JSON.stringify(results.length === 1 ? results[0] : results, null, 2)}\n`);
        }
      }),
    );
  });

  targetOptions(
    pipelines.command("list").description("The registered pipelines: source, revision, stages."),
  ).action(async (flags: TargetFlags) => {
    setCode(
      await guarded(io, flags.json, async () => {
        const report = await backendFor(flags, env).pipelines();
        if (flags.json) {
          io.out.write(`${JSON.stringify(report, null, 2)}\n`);
          return;
        }
        const rows = report.pipelines.map(
          (p) =>
            `${p.name.padEnd(24)} ${(p.source === "apply" ? `applied r${p.revision}` : "from file").padEnd(14)} ${p.stages.join(" → ")}${p.appliedBy ? `  (${p.appliedAt} by ${p.appliedBy})` : ""}`,
        );
        io.out.write(rows.length ? `${rows.join("\n")}\n` : "no pipelines registered\n");
      }),
    );
  });

  targetOptions(
    pipelines
      .command("diff")
      .description("What applying a pipeline file would change, by JSON path.")
      .argument("<file>", "pipeline definition (.json or .ts)"),
  ).action(async (file: string, flags: TargetFlags) => {
    setCode(
      await guarded(io, flags.json, async () => {
        const candidate = await loadPipelineFile(file);
        const report = await backendFor(flags, env).pipeline(candidate.name);
        const revision = report.current?.revision ?? 0;
        const changes = diffDefinitions(report.current?.definition, candidate);
        io.out.write(
          flags.json
            ? `${JSON.stringify({ name: candidate.name, source: report.current?.source, revision, changes }, null, 2)}\n`
            : renderDiff(candidate.name, revision, changes),
        );
      }),
    );
  });

  targetOptions(
    pipelines
      .command("history")
      .description("A pipeline's applied revisions: who applied each, when and why.")
      .argument("<name>", "the pipeline"),
  ).action(async (name: string, flags: TargetFlags) => {
    setCode(
      await guarded(io, flags.json, async () => {
        const report = await backendFor(flags, env).pipeline(name);
        if (flags.json) {
          io.out.write(`${JSON.stringify(report, null, 2)}\n`);
          return;
        }
        if (!report.current) throw new OpsUsageError(`no pipeline named "${name}"`);
        const lines = report.revisions.map(
          (r) => `  r${r.revision}  ${r.appliedAt}  ${r.appliedBy} (${r.actor}): ${r.reason}`,
        );
        io.out.write(
          `${name}: ${report.current.source === "apply" ? `revision ${report.current.revision}` : "from the control plane's pipelines/ folder"}\n${lines.join("\n")}${lines.length ? "\n" : ""}`,
        );
      }),
    );
  });
}
