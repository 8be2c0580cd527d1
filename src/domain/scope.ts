/**
 * Scopes are the units that hold one version: `stage/region`, `stage/region/az`,
 * `stage/region/cell` or `stage/region/az/cell`. Scope ids are stable strings; all state is
 * keyed by them. A cell id has no dash and an AZ id always has one, so a three-part id says
 * by itself which it is.
 */
import { groupPlacements, regionLayout } from "./cells.ts";
import type { Pipeline, RegionEntry, Stage } from "./pipeline.ts";

export interface ScopeRef {
  id: string;
  stage: string;
  region: string;
  az?: string;
  cell?: string;
}

/** A region entry's name and AZ ids (cells aside; see src/domain/cells.ts for those). */
export function regionOf(entry: RegionEntry): { region: string; azs: string[] } {
  const { region, groups } = regionLayout(entry);
  return { region, azs: groups.flatMap((g) => (g.az ? [g.az] : [])) };
}

/**
 * The scope id of a location.
 *
 * @example
 * scopeId("prod-1", "us-east-1", "use1-az1", "c2") // "prod-1/us-east-1/use1-az1/c2"
 * scopeId("prod-1", "us-east-1", undefined, "c2") // "prod-1/us-east-1/c2"
 */
export function scopeId(stage: string, region: string, az?: string, cell?: string): string {
  return [stage, region, az, cell].filter((part) => !!part).join("/");
}

const isCellPart = (part: string) => !part.includes("-");

export function parseScopeId(id: string): ScopeRef {
  const [stage, region, third, fourth, ...rest] = id.split("/");
  const bad = () =>
    new Error(
      `"${id}" is not a scope id (expected stage/region, stage/region/az, stage/region/cell or stage/region/az/cell)`,
    );
  if (!stage || !region || third === "" || fourth === "" || rest.length > 0) throw bad();
  if (third === undefined) return { id, stage, region };
  if (fourth === undefined) {
    return isCellPart(third)
      ? { id, stage, region, cell: third }
      : { id, stage, region, az: third };
  }
  // Four parts: an AZ, then a cell.
  if (isCellPart(third) || !isCellPart(fourth)) throw bad();
  return { id, stage, region, az: third, cell: fourth };
}

/** Every scope of a stage, in deployment order (AZ by AZ, cell by cell). */
export function stageScopes(stage: Stage): ScopeRef[] {
  return stage.regions.flatMap((entry) => {
    const { region, groups } = regionLayout(entry);
    return groups.flatMap(groupPlacements).map(({ az, cell }) => ({
      id: scopeId(stage.name, region, az, cell),
      stage: stage.name,
      region,
      ...(az ? { az } : {}),
      ...(cell ? { cell } : {}),
    }));
  });
}

/** Every scope of a pipeline, stage by stage. */
export function pipelineScopes(pipeline: Pipeline): ScopeRef[] {
  return pipeline.stages.flatMap(stageScopes);
}

/** The longest scope glob accepted (a scope id is far shorter; see {@link scopeGlobProblem}). */
export const MAX_SCOPE_GLOB_LENGTH = 256;

/**
 * Whether `text` matches `glob`, where `*` matches any run of characters (including `/`) and
 * every other character is literal. Greedy two-pointer matching with one backtrack point (the
 * last `*` seen): O(glob × text) steps in the worst case and no regular expression, so a glob
 * full of stars cannot make a blocker check backtrack exponentially (issue 10, finding 6).
 * `counter.steps`, when given, counts the loop's iterations (tests bound the work with it).
 *
 * @example
 * globMatches("prod-*\/us-east-1/*", "prod-2/us-east-1/use1-az2") // true
 */
export function globMatches(glob: string, text: string, counter?: { steps: number }): boolean {
  let g = 0;
  let t = 0;
  let star = -1; // index in glob of the last `*` seen
  let resume = 0; // index in text where that `*` match ends now
  while (t < text.length) {
    if (counter) counter.steps++;
    if (g < glob.length && glob[g] === "*") {
      star = g++;
      resume = t;
    } else if (g < glob.length && glob[g] === text[t]) {
      g++;
      t++;
    } else if (star >= 0) {
      // Let the last star swallow one more character and retry what follows it.
      g = star + 1;
      t = ++resume;
    } else return false;
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}

/**
 * Compiles a scope glob (`*` matches any run of characters, including `/`) to a predicate.
 * Matching is linear in each input (see {@link globMatches}).
 *
 * @example
 * scopeMatcher("prod-*\/us-east-1/*")("prod-2/us-east-1/use1-az2") // true
 */
export function scopeMatcher(glob: string): (scope: string) => boolean {
  // Runs of stars mean the same as one star; collapsing them keeps the work small.
  const g = glob.replace(/\*{2,}/g, "*");
  return (scope) => globMatches(g, scope);
}

/**
 * Why a scope glob given as input (a block, a fault, traffic) is refused, or undefined when it
 * is fine: too long, or matching no scope of the pipeline — a glob that matches nothing is
 * almost always a typo, and a block that blocks nothing would fail open. One message for every
 * input path (override, `--block`, `--fault`, `--traffic`, serve).
 *
 * @example
 * scopeGlobProblem("prod-9/*", pipeline) // 'matches no scope of pipeline "orders-api" (scopes look like alpha/us-east-1)'
 */
export function scopeGlobProblem(glob: string, pipeline: Pipeline): string | undefined {
  if (glob.length > MAX_SCOPE_GLOB_LENGTH) {
    return `must be at most ${MAX_SCOPE_GLOB_LENGTH} characters (it has ${glob.length})`;
  }
  const scopes = pipelineScopes(pipeline).map((s) => s.id);
  const match = scopeMatcher(glob);
  if (scopes.some(match)) return undefined;
  return `matches no scope of pipeline "${pipeline.name}" (scopes look like ${scopes[0]})`;
}

/**
 * The AZ and cell of a scope (whichever it has), to spread into a deploy step or the values of
 * a name template.
 *
 * @example
 * placementOf(parseScopeId("prod-1/us-east-1/use1-az1/c2")) // { az: "use1-az1", cell: "c2" }
 */
export function placementOf(ref: { az?: string | undefined; cell?: string | undefined }): {
  az?: string;
  cell?: string;
} {
  return { ...(ref.az ? { az: ref.az } : {}), ...(ref.cell ? { cell: ref.cell } : {}) };
}
