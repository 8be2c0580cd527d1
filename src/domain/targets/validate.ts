/**
 * The checks a pipeline's targets must pass with its stages (safety rule 1: one resource per
 * scope), run by the pipeline schema so every problem has its path.
 */

import { type RegionEntryLike, regionLayout } from "../cells.ts";
import { fieldOf } from "./resolve.ts";
import { type DeployTarget, placeholdersOf } from "./schema.ts";
import { TARGET_TYPE_FACTS } from "./types.ts";

export interface TargetProblem {
  path: (string | number)[];
  message: string;
}

interface StageLike {
  name: string;
  regions: readonly RegionEntryLike[];
  oneBox?: boolean | { percent: number } | undefined;
  rolling?: unknown;
  target?: DeployTarget | undefined;
}

const uses = (target: DeployTarget, field: string, placeholder: string) =>
  placeholdersOf(fieldOf(target, field) ?? "").includes(placeholder);

/** Whether some groups of a stage have cells, and whether some have none. */
function cellsOf(stage: StageLike): { withCells: boolean; withoutCells: boolean } {
  const groups = stage.regions.flatMap((r) => regionLayout(r).groups);
  return {
    withCells: groups.some((g) => g.cells.length > 0),
    withoutCells: groups.some((g) => g.cells.length === 0),
  };
}

/**
 * Whether any of a target's names uses `placeholder` (its role ARN and type are not names).
 *
 * @example
 * targetUses({ type: "ecs", cluster: "c", service: "s", container: "app", image: "repo@{digest}" }, "digest") // true
 */
export function targetUses(target: DeployTarget, placeholder: string): boolean {
  return stringFields(target).some(([, value]) => placeholdersOf(value).includes(placeholder));
}

const stringFields = (value: unknown, path: string[] = []): [string, string][] => {
  if (typeof value === "string") return [[path.join("."), value]];
  if (value === null || typeof value !== "object" || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([k, v]) =>
    k === "roleArn" || k === "type" ? [] : stringFields(v, [...path, k]),
  );
};

/**
 * Problems of each stage's effective target (its own, else the pipeline's).
 *
 * @example
 * targetProblems(undefined, [{ name: "prod", regions: [{ region: "us-east-1", azs: ["use1-az1"] }],
 *   target: { type: "cloudformation", stackName: "orders", templateUrl: "https://b/{version}.json" } }])
 * // [{ path: ["stages", 0, "target", "stackName"], message: 'must use {az}: stage "prod" deploys …' }]
 */
export function targetProblems(
  pipelineTarget: DeployTarget | undefined,
  stages: readonly StageLike[],
): TargetProblem[] {
  const out: TargetProblem[] = [];
  const reported = new Set<string>();
  const add = (p: TargetProblem) => {
    const key = `${p.path.join(".")}|${p.message}`;
    if (!reported.has(key)) {
      reported.add(key);
      out.push(p);
    }
  };
  if (pipelineTarget) {
    const facts = TARGET_TYPE_FACTS[pipelineTarget.type];
    for (const field of facts.versionFields) versionProblem(pipelineTarget, field, ["target"], add);
  }
  stages.forEach((stage, i) => {
    const own = stage.target !== undefined;
    const target = stage.target ?? pipelineTarget;
    if (!target) return;
    const base: (string | number)[] = own ? ["stages", i, "target"] : ["target"];
    const facts = TARGET_TYPE_FACTS[target.type];
    if (own) for (const field of facts.versionFields) versionProblem(target, field, base, add);
    const withAzs = stage.regions.some((r) => typeof r !== "string" && (r.azs?.length ?? 0) > 0);
    const wholeRegions = stage.regions.some((r) => typeof r === "string" || !r.azs?.length);
    const [first] = facts.scopeFields;
    if (withAzs && first && !facts.scopeFields.some((f) => uses(target, f, "az"))) {
      add({
        path: [...base, first],
        message: `must use {az}: stage "${stage.name}" deploys Availability Zone by Availability Zone, so each AZ needs its own ${target.type} resource (${facts.scopeFields.map((f) => `${f} with {az}`).join(" or ")}); else one deploy would change every AZ at once`,
      });
    }
    if (wholeRegions) {
      for (const [field, value] of stringFields(target)) {
        if (placeholdersOf(value).includes("az")) {
          add({
            path: [...base, ...field.split(".")],
            message: `uses {az}, but stage "${stage.name}" deploys whole regions (no AZs listed): give the stage its own target`,
          });
        }
      }
    }
    cellProblems(stage, target, base, add);
    if (stage.oneBox !== undefined && stage.oneBox !== false && !facts.splitsTraffic) {
      add({
        path: ["stages", i, "oneBox"],
        message: `a ${target.type} target cannot split a scope's traffic, so this stage can have no one-box step (remove oneBox, or deploy this stage with a target type that can: lambda-alias, ecs, codebuild, lambda-function)`,
      });
    }
    if (stage.rolling !== undefined && !facts.splitsTraffic) {
      add({
        path: ["stages", i, "rolling"],
        message: `a ${target.type} target cannot split a scope's traffic, so this stage cannot deploy in rolling steps (remove rolling, or deploy this stage with a target type that can: lambda-alias, ecs, codebuild, lambda-function)`,
      });
    }
  });
  return out;
}

/**
 * A stage with cells deploys cell by cell, so each cell needs its own resource: a scope field
 * must use `{cell}` (safety rule 1, as `{az}` for AZs). A stage with scopes that have no cell
 * cannot resolve `{cell}` there, so any name using it is refused.
 */
function cellProblems(
  stage: StageLike,
  target: DeployTarget,
  base: (string | number)[],
  add: (p: TargetProblem) => void,
): void {
  const facts = TARGET_TYPE_FACTS[target.type];
  const { withCells, withoutCells } = cellsOf(stage);
  const [first] = facts.scopeFields;
  if (withCells && first && !facts.scopeFields.some((f) => uses(target, f, "cell"))) {
    add({
      path: [...base, first],
      message: `must use {cell}: stage "${stage.name}" deploys cell by cell, so each cell needs its own ${target.type} resource (${facts.scopeFields.map((f) => `${f} with {cell}`).join(" or ")}); else one deploy would change every cell at once`,
    });
  }
  if (!withoutCells) return;
  for (const [field, value] of stringFields(target)) {
    if (placeholdersOf(value).includes("cell")) {
      add({
        path: [...base, ...field.split(".")],
        message: `uses {cell}, but stage "${stage.name}" has scopes without cells: give the stage its own target`,
      });
    }
  }
}

function versionProblem(
  target: DeployTarget,
  field: string,
  base: (string | number)[],
  add: (p: TargetProblem) => void,
): void {
  const value = fieldOf(target, field);
  if (value === undefined) return;
  const used = placeholdersOf(value);
  if (!used.includes("version") && !used.includes("digest")) {
    add({
      path: [...base, ...field.split(".")],
      message:
        "must use {version} or {digest}: else every version deploys the same thing and a rollback restores nothing",
    });
  }
}
