/**
 * Pipeline lint: safety rules about a pipeline's shape that the schema cannot refuse (it is
 * valid, just risky), each with a stable id, a severity and a one-line reason. `breakwater lint`
 * prints them, `synth` refuses a pipeline with an error, and the README's "Lint rules" table
 * lists the same rules (a test keeps the two equal).
 *
 * Production stages are the ones named `prod…` ({@link isProductionStage}); the waves are the
 * production stages in order. Fields a rule does not know are ignored, so new pipeline fields
 * never break the lint.
 */
import {
  collectProblems,
  type Pipeline,
  type Problem,
  pipelineSchema,
  type Stage,
} from "./pipeline.ts";
import { isProductionStage } from "./schedule.ts";
import { regionOf } from "./scope.ts";
import { effectiveTarget, TARGET_TYPE_FACTS } from "./targets/index.ts";

export type Severity = "error" | "warning";

export interface LintRule {
  id: string;
  severity: Severity;
  /** The one-line reason, as the README's table gives it. */
  reason: string;
}

/** Every rule, in the order the README lists them. Ids are stable: never reuse or rename one. */
export const LINT_RULES = [
  {
    id: "unknown-region",
    severity: "error",
    reason:
      "A region name AWS does not have (a typo such as us-est-1) would hold the run until the horizon; the schema refuses it too.",
  },
  {
    id: "az-not-in-region",
    severity: "error",
    reason:
      "An AZ id that is not one of its region's (eun1-az1 listed under us-east-1) names a zone the region does not have.",
  },
  {
    id: "invalid-pipeline",
    severity: "error",
    reason: "The file does not validate against the pipeline schema (the message names the field).",
  },
  {
    id: "first-wave-too-wide",
    severity: "error",
    reason:
      "The first production wave goes to more than one region, or to its AZs in parallel: a bad change reaching production first should reach one AZ of one region.",
  },
  {
    id: "wave-without-one-box",
    severity: "warning",
    reason:
      "A production wave has no one-box step, so a bad change reaches a whole AZ or region before a small share of traffic has tested it (targets that cannot split traffic are exempt).",
  },
  {
    id: "production-unmonitored",
    severity: "warning",
    reason:
      "Production stages with no alarms, no metrics and no lambda-alias target (whose AWS/Lambda metrics the detector reads): in AWS every bake would be judged healthy.",
  },
  {
    id: "bakes-growing",
    severity: "warning",
    reason:
      "A production wave bakes longer than the wave before it: bakes should shrink as confidence grows, the longest one first.",
  },
  {
    id: "no-multi-region-pre-production",
    severity: "warning",
    reason:
      "Production spans several regions but no pre-production (gamma-like) stage runs in more than one: region-specific faults are first seen in production.",
  },
  {
    id: "no-target",
    severity: "warning",
    reason:
      "A stage has no deploy target (neither its own nor the pipeline's): in AWS it deploys nothing (a dry run).",
  },
] as const satisfies readonly LintRule[];

export type LintRuleId = (typeof LINT_RULES)[number]["id"];

export interface LintFinding {
  rule: LintRuleId;
  severity: Severity;
  /** The field the finding is about (`stages[3].regions`), empty for the whole pipeline. */
  path: string;
  message: string;
}

const RULES = new Map<string, LintRule>(LINT_RULES.map((r) => [r.id, r]));

function finding(rule: LintRuleId, path: string, message: string): LintFinding {
  return { rule, severity: (RULES.get(rule) as LintRule).severity, path, message };
}

/** The schema's problems as findings: region and AZ problems under their own rule ids. */
export function schemaFindings(problems: readonly Problem[]): LintFinding[] {
  return problems.map((p) => {
    if (p.message.startsWith("unknown AWS region"))
      return finding("unknown-region", p.path, p.message);
    if (p.message.startsWith("Availability Zone") && / is (in|not an AZ id of) /.test(p.message)) {
      return finding("az-not-in-region", p.path, p.message);
    }
    return finding("invalid-pipeline", p.path, p.message);
  });
}

interface Wave {
  stage: Stage;
  index: number;
}

function firstWave(waves: Wave[]): LintFinding[] {
  const first = waves[0];
  if (!first) return [];
  const out: LintFinding[] = [];
  const path = `stages[${first.index}]`;
  if (first.stage.regions.length > 1) {
    out.push(
      finding(
        "first-wave-too-wide",
        `${path}.regions`,
        `the first production wave "${first.stage.name}" deploys to ${first.stage.regions.length} regions; start with one`,
      ),
    );
  }
  const zonal = first.stage.regions.some((r) => regionOf(r).azs.length > 1);
  if (first.stage.azsInParallel && zonal) {
    out.push(
      finding(
        "first-wave-too-wide",
        `${path}.azsInParallel`,
        `the first production wave "${first.stage.name}" deploys its AZs in parallel; go one AZ at a time`,
      ),
    );
  }
  return out;
}

function oneBoxes(pipeline: Pipeline, waves: Wave[]): LintFinding[] {
  return waves
    .filter(({ stage }) => stage.oneBox === undefined || stage.oneBox === false)
    .filter(({ stage }) => {
      const type = effectiveTarget(pipeline, stage.name)?.type ?? "none";
      return TARGET_TYPE_FACTS[type].splitsTraffic;
    })
    .map(({ stage, index }) =>
      finding(
        "wave-without-one-box",
        `stages[${index}].oneBox`,
        `production wave "${stage.name}" has no one-box step`,
      ),
    );
}

function monitoring(pipeline: Pipeline, waves: Wave[]): LintFinding[] {
  const alarms = (pipeline.alarms?.length ?? 0) > 0;
  if (alarms || pipeline.metrics) return [];
  // A lambda-alias target has per-version metrics of its own (AWS/Lambda by ExecutedVersion):
  // the built-in detector judges its bakes unless it is switched off.
  const detected = (stage: Stage) =>
    pipeline.anomalyDetection !== false &&
    effectiveTarget(pipeline, stage.name)?.type === "lambda-alias";
  const blind = waves.filter(({ stage }) => !detected(stage));
  if (blind.length === 0) return [];
  // One finding for the pipeline: alarms and metrics are pipeline-wide fields.
  const names = blind.map(({ stage }) => `"${stage.name}"`).join(", ");
  return [
    finding(
      "production-unmonitored",
      "alarms",
      `the pipeline has no alarms and no metrics: nothing judges the bakes of ${names}`,
    ),
  ];
}

function bakes(waves: Wave[]): LintFinding[] {
  const out: LintFinding[] = [];
  for (let i = 1; i < waves.length; i++) {
    const prev = waves[i - 1] as Wave;
    const cur = waves[i] as Wave;
    if (cur.stage.bake.minutes > prev.stage.bake.minutes) {
      out.push(
        finding(
          "bakes-growing",
          `stages[${cur.index}].bake.minutes`,
          `"${cur.stage.name}" bakes ${cur.stage.bake.minutes} minutes, longer than "${prev.stage.name}" (${prev.stage.bake.minutes})`,
        ),
      );
    }
  }
  return out;
}

function preProduction(pipeline: Pipeline, waves: Wave[]): LintFinding[] {
  const prodRegions = new Set(
    waves.flatMap(({ stage }) => stage.regions.map((r) => regionOf(r).region)),
  );
  if (prodRegions.size < 2) return [];
  const pre = pipeline.stages.filter((s) => !isProductionStage(s));
  if (pre.some((s) => s.regions.length > 1)) return [];
  return [
    finding(
      "no-multi-region-pre-production",
      "stages",
      `production spans ${prodRegions.size} regions, but no pre-production stage runs in more than one region`,
    ),
  ];
}

function targets(pipeline: Pipeline): LintFinding[] {
  return pipeline.stages.flatMap((stage, index) =>
    effectiveTarget(pipeline, stage.name)
      ? []
      : [finding("no-target", `stages[${index}]`, `stage "${stage.name}" has no deploy target`)],
  );
}

/**
 * The findings of a valid pipeline, errors first, each group in stage order.
 *
 * @example
 * lintPipeline(parsePipeline({ name: "p", target, stages: [{ name: "prod-1", regions: ["us-east-1", "eu-west-1"], bake: { minutes: 60 } }] }))
 * // [{ rule: "first-wave-too-wide", severity: "error", path: "stages[0].regions", ... }, ...]
 */
export function lintPipeline(pipeline: Pipeline): LintFinding[] {
  const waves = pipeline.stages
    .map((stage, index) => ({ stage, index }))
    .filter(({ stage }) => isProductionStage(stage));
  const all = [
    ...firstWave(waves),
    ...oneBoxes(pipeline, waves),
    ...monitoring(pipeline, waves),
    ...bakes(waves),
    ...preProduction(pipeline, waves),
    ...targets(pipeline),
  ];
  return [
    ...all.filter((f) => f.severity === "error"),
    ...all.filter((f) => f.severity !== "error"),
  ];
}

/**
 * Lints a definition as written: schema problems become findings (unknown regions and AZs
 * under their own rules), and a valid definition gets the rules above.
 */
export function lintDefinition(input: unknown): { pipeline?: Pipeline; findings: LintFinding[] } {
  const parsed = pipelineSchema.safeParse(input);
  if (!parsed.success)
    return { findings: schemaFindings(collectProblems(parsed.error.issues, input)) };
  return { pipeline: parsed.data, findings: lintPipeline(parsed.data) };
}

export const hasErrors = (findings: readonly LintFinding[]) =>
  findings.some((f) => f.severity === "error");
