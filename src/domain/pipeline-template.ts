/**
 * Pipeline templates (README, "Templates"): the merge rules of `"extends"` and `stageDefaults`,
 * pure and in one place, so a JSON file's base, a TypeScript pipeline built from functions
 * (`extendPipeline`) and a stage's defaults all merge the same way:
 *
 * - objects merge key by key, recursively; the child's value wins;
 * - arrays and scalars replace (a child's `regions` or `alarms` is the whole list);
 * - `null` removes an inherited field;
 * - two objects whose `type` differs (a target of another type) replace, never mix fields;
 * - `stages` match by name: a child stage whose name the base has merges into that stage, in
 *   the base's order; a new name is appended, in the child's order; `{ "replace": [...] }`
 *   gives the list whole.
 */

/** The most files one chain of `extends` may hold (the pipeline's own file included). */
export const MAX_EXTENDS_DEPTH = 8;

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Merges `child` over `base` with the rules above. Neither input is changed.
 *
 * @example
 * mergeTemplate({ bake: { minutes: 60 }, alarms: ["a"] }, { bake: { minRequests: 100 }, alarms: ["b"] })
 * // → { bake: { minutes: 60, minRequests: 100 }, alarms: ["b"] }
 */
export function mergeTemplate(base: unknown, child: unknown): unknown {
  if (!isObject(base) || !isObject(child)) return structuredClone(child);
  if ("type" in base && "type" in child && base.type !== child.type) return structuredClone(child);
  const out: Json = structuredClone(base);
  for (const [key, value] of Object.entries(child)) {
    if (value === null) delete out[key];
    else if (key === "stages") out[key] = mergeStages(base[key], value);
    else out[key] = mergeTemplate(base[key], value);
  }
  return out;
}

/** `{ "replace": [...] }`: a child's stages given whole, instead of merged by name. */
function replacement(value: unknown): unknown[] | undefined {
  if (!isObject(value)) return undefined;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === "replace" && Array.isArray(value.replace)
    ? value.replace
    : undefined;
}

function mergeStages(base: unknown, child: unknown): unknown {
  const whole = replacement(child);
  if (whole) return structuredClone(whole);
  if (!Array.isArray(base) || !Array.isArray(child)) return structuredClone(child);
  const out = structuredClone(base) as unknown[];
  for (const stage of child) {
    const name = isObject(stage) ? stage.name : undefined;
    const at = typeof name === "string" ? out.findIndex((s) => isObject(s) && s.name === name) : -1;
    if (at >= 0) out[at] = mergeTemplate(out[at], stage);
    else out.push(structuredClone(stage));
  }
  return out;
}

/**
 * Gives every stage the fields of `stageDefaults` it does not set itself (merged with the rules
 * above: a stage's own `bake: { minutes }` keeps the defaults' `bake.minRequests`). Anything
 * that is not a list of objects is left for the schema to report.
 *
 * @example
 * applyStageDefaults({ stageDefaults: { bake: { minutes: 30 } }, stages: [{ name: "alpha" }] })
 * // → { stageDefaults: {...}, stages: [{ bake: { minutes: 30 }, name: "alpha" }] }
 */
export function applyStageDefaults(definition: unknown): unknown {
  if (!isObject(definition) || !isObject(definition.stageDefaults)) return definition;
  const { stageDefaults, stages } = definition;
  if (!Array.isArray(stages)) return definition;
  return {
    ...definition,
    stages: stages.map((stage) => (isObject(stage) ? mergeTemplate(stageDefaults, stage) : stage)),
  };
}

/**
 * The TypeScript form of `"extends"`: the same merge of `child` over `base`, for pipelines built
 * from functions (README, "Templates"; examples/typescript/).
 *
 * @example
 * definePipeline(extendPipeline(serviceBase("orders-worker"), { stages: [{ name: "prod-1", bake: { minutes: 90 } }] }));
 */
export function extendPipeline<T extends object>(base: T, child: object): T {
  return mergeTemplate(base, child) as T;
}
