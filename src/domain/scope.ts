/**
 * Scopes are the units that hold one version: `stage/region` or `stage/region/az`.
 * Scope ids are stable strings; all state is keyed by them.
 */
import type { Pipeline, RegionEntry, Stage } from "./pipeline.ts";

export interface ScopeRef {
  id: string;
  stage: string;
  region: string;
  az?: string;
}

export function regionOf(entry: RegionEntry): { region: string; azs: string[] } {
  return typeof entry === "string"
    ? { region: entry, azs: [] }
    : { region: entry.region, azs: entry.azs ?? [] };
}

export function scopeId(stage: string, region: string, az?: string): string {
  return az ? `${stage}/${region}/${az}` : `${stage}/${region}`;
}

export function parseScopeId(id: string): ScopeRef {
  const [stage, region, az, ...rest] = id.split("/");
  if (!stage || !region || az === "" || rest.length > 0) {
    throw new Error(`"${id}" is not a scope id (expected stage/region or stage/region/az)`);
  }
  return az ? { id, stage, region, az } : { id, stage, region };
}

/** Every scope of a stage, in deployment order. */
export function stageScopes(stage: Stage): ScopeRef[] {
  return stage.regions.flatMap((entry) => {
    const { region, azs } = regionOf(entry);
    return azs.length === 0
      ? [{ id: scopeId(stage.name, region), stage: stage.name, region }]
      : azs.map((az) => ({ id: scopeId(stage.name, region, az), stage: stage.name, region, az }));
  });
}

/** Every scope of a pipeline, stage by stage. */
export function pipelineScopes(pipeline: Pipeline): ScopeRef[] {
  return pipeline.stages.flatMap(stageScopes);
}

/**
 * Compiles a scope glob (`*` matches any run of characters, including `/`) to a predicate.
 *
 * @example
 * scopeMatcher("prod-*\/us-east-1/*")("prod-2/us-east-1/use1-az2") // true
 */
export function scopeMatcher(glob: string): (scope: string) => boolean {
  const source = glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  const re = new RegExp(`^${source}$`);
  return (scope) => re.test(scope);
}
