/**
 * Pipeline definitions as the stack sees them at synth: every file of the pipelines directory is
 * loaded and validated with the same schema as the CLI and the handlers, so a typo fails the
 * synth (with the file and the field's path) instead of a deployment hours later.
 */
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { BreakwaterError } from "../src/domain/errors.ts";
import type { Installation } from "../src/domain/installation.ts";
import { type LintFinding, lintPipeline } from "../src/domain/lint.ts";
import { type Pipeline, PipelineValidationError } from "../src/domain/pipeline.ts";
import { effectiveTarget, missingTargetProblems } from "../src/domain/targets/index.ts";
import { loadInstallationFile, loadPipelineFile } from "../src/pipeline-file.ts";

/** Environment variable that points the stack at another pipelines directory. */
export const PIPELINES_DIR_ENV = "BREAKWATER_PIPELINES_DIR";
/** CDK context key with the same meaning (wins over the environment variable). */
export const PIPELINES_DIR_CONTEXT = "breakwater:pipelinesDir";

export interface LoadedPipeline {
  /** The file, relative to the working directory (as shown in errors). */
  file: string;
  pipeline: Pipeline;
  /** The lint's warnings (errors refuse the file; see src/domain/lint.ts). */
  warnings: LintFinding[];
}

/** One or more pipeline files are invalid; `errors` has every file's problems. */
export class PipelineDirectoryError extends BreakwaterError {
  override name = "PipelineDirectoryError";
  constructor(
    readonly dir: string,
    readonly errors: PipelineValidationError[],
  ) {
    super(
      `${errors.length} invalid pipeline file(s) in ${dir}:\n${errors.map((e) => e.message).join("\n")}`,
    );
  }
}

const PIPELINE_FILE = /\.(json|ts|mts)$/;

/**
 * Loads and validates every `*.json` and `*.ts` (default export `definePipeline({...})`) file of
 * `dir`, in file-name order. Reports the problems of all files at once, and rejects two files
 * that define the same pipeline name (both would write the same table item), a pipeline with
 * a stage that has no deploy target (`"target": { "type": "none" }` is a deliberate dry run),
 * and a pipeline the lint finds an error in (`breakwater lint`, README "Lint rules").
 *
 * @example
 * const pipelines = await loadPipelines("pipelines"); // [{ file: "pipelines/orders-api.json", pipeline }]
 */
export async function loadPipelines(dir: string): Promise<LoadedPipeline[]> {
  if (!existsSync(dir)) throw new Error(`pipelines directory ${dir} does not exist`);
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && PIPELINE_FILE.test(e.name) && !e.name.endsWith(".d.ts"))
    .map((e) => e.name)
    .sort();
  const loaded: LoadedPipeline[] = [];
  const errors: PipelineValidationError[] = [];
  const byName = new Map<string, string>();
  for (const name of names) {
    const file = relative(process.cwd(), join(dir, name)) || name;
    try {
      const pipeline = await loadPipelineFile(file);
      const other = byName.get(pipeline.name);
      if (other) {
        errors.push(
          new PipelineValidationError(file, [
            { path: "name", message: `pipeline "${pipeline.name}" is also defined in ${other}` },
          ]),
        );
        continue;
      }
      byName.set(pipeline.name, file);
      // Deployed, a pipeline without a target fails at its first step: refused here instead.
      const missing = missingTargetProblems(pipeline);
      if (missing.length > 0) {
        errors.push(new PipelineValidationError(file, missing));
        continue;
      }
      // The same safety rules as `breakwater lint`: an error refuses the file, a warning does not.
      const findings = lintPipeline(pipeline);
      const lintErrors = findings.filter((f) => f.severity === "error");
      if (lintErrors.length > 0) {
        errors.push(
          new PipelineValidationError(
            file,
            lintErrors.map((f) => ({ path: f.path, message: `${f.message} (lint ${f.rule})` })),
          ),
        );
        continue;
      }
      loaded.push({ file, pipeline, warnings: findings });
    } catch (err) {
      if (err instanceof PipelineValidationError) errors.push(err);
      else throw err;
    }
  }
  if (errors.length > 0) throw new PipelineDirectoryError(dir, errors);
  return loaded;
}

/** What the deploy and rollback functions may touch to reach the pipelines' deploy targets. */
export interface DeployTargetAccess {
  /** Target functions invoked with the Breakwater function's own role. */
  invokeArns: string[];
  /** Roles assumed first (cross-account targets); those invocations use the role's rights. */
  assumeRoleArns: string[];
}

/**
 * The ARNs behind the pipelines' `target`s. `LambdaDeployer` calls the target in the region of
 * the scope it deploys, so a bare function name (optionally `name:qualifier`) or a partial ARN
 * (`123456789012:function:name`) stands for that function in every region the pipeline lists,
 * in `account` (the stack's) unless the partial ARN names another one. A target with `roleArn`
 * is invoked with the assumed role's credentials: Breakwater itself only needs sts:AssumeRole.
 *
 * @example
 * deployTargetAccess(pipelines, { partition: "aws", account: "123456789012" });
 * // { invokeArns: ["arn:aws:lambda:us-east-1:123456789012:function:orders-deployer"], assumeRoleArns: [] }
 */
export function deployTargetAccess(
  pipelines: readonly Pipeline[],
  env: { partition: string; account: string },
): DeployTargetAccess {
  const invoke = new Set<string>();
  const assume = new Set<string>();
  for (const p of pipelines) {
    for (const stage of p.stages) {
      const target = effectiveTarget(p, stage.name);
      if (!target || target.type === "none") continue;
      if ("roleArn" in target && target.roleArn) {
        assume.add(target.roleArn);
        continue;
      }
      if (target.type !== "lambda-function") continue;
      if (target.lambda.startsWith("arn:")) {
        invoke.add(target.lambda);
        continue;
      }
      const partial = /^(\d{12}):function:(.+)$/.exec(target.lambda);
      const account = partial ? (partial[1] as string) : env.account;
      const fn = partial ? (partial[2] as string) : target.lambda;
      for (const region of regionsOf(stage)) {
        invoke.add(`arn:${env.partition}:lambda:${region}:${account}:function:${fn}`);
      }
    }
  }
  return { invokeArns: [...invoke].sort(), assumeRoleArns: [...assume].sort() };
}

function regionsOf(stage: Pipeline["stages"][number]): string[] {
  const regions = new Set<string>();
  for (const entry of stage.regions) regions.add(typeof entry === "string" ? entry : entry.region);
  return [...regions].sort();
}

/** The installation config file at the project root (optional). */
export const INSTALLATION_FILE = "breakwater.config.json";
/** Environment variable that points the stack at another installation config file. */
export const INSTALLATION_FILE_ENV = "BREAKWATER_CONFIG_FILE";

/**
 * Loads and validates `breakwater.config.json` (organisation alarms, region overrides) when it
 * exists; a bad file fails the synth with every problem's path.
 */
export async function loadInstallation(root: string): Promise<Installation | undefined> {
  const path = process.env[INSTALLATION_FILE_ENV] ?? join(root, INSTALLATION_FILE);
  if (!existsSync(path)) return undefined;
  return loadInstallationFile(relative(process.cwd(), path) || path);
}
