/**
 * Pipelines registered at run time (`breakwater pipelines apply`), without redeploying the
 * control plane: what a stored definition carries, what a deployed control plane can do for
 * the pipelines it may be given (its capabilities, written at deploy), and the pure checks.
 *
 * A pipeline lives in one place: either the control plane's `pipelines/` folder (written at
 * deploy, or by `serve --pipeline` locally: `source: "file"`) or `pipelines apply` (`source:
 * "apply"`, revisions 1, 2, …). Apply refuses a pipeline the folder owns, so a redeploy never
 * silently overwrites an applied revision, nor an apply a reviewed file.
 */
import type { Pipeline } from "./pipeline.ts";

/** A definition must fit a DynamoDB item (400 KB) with its metadata: at most 256 KB of JSON. */
export const MAX_DEFINITION_BYTES = 256 * 1024;

export type PipelineSource = "file" | "apply";

/** The pipeline definition the control plane uses now, and where it came from. */
export interface PipelineRecord {
  name: string;
  definition: Pipeline;
  source: PipelineSource;
  /** apply: 1 for the first applied definition, then +1 per change. */
  revision?: number;
  /** apply: `sha256:` of the definition's canonical JSON (the same definition, the same digest). */
  digest?: string;
  appliedAt?: string;
  /** apply: the authenticated principal that applied this revision (safety rule 5). */
  appliedBy?: string;
  actor?: string;
  reason?: string;
}

/** One applied revision, kept for ever (`pipelines history`); the current one is the newest. */
export interface PipelineRevision {
  name: string;
  revision: number;
  digest: string;
  definition: Pipeline;
  appliedAt: string;
  appliedBy: string;
  actor: string;
  reason: string;
}

/**
 * What a deployed control plane's roles hold for deploy targets and where it receives alarms
 * from: computed at synth from the pipelines and installation it was deployed with, written
 * into the table at deploy. An applied pipeline may use only these (its deploys would fail on
 * AccessDenied half-way through a wave otherwise): apply refuses it before anything is written.
 */
export interface Capabilities {
  partition: string;
  account: string;
  /** The control plane's own region: its alarms arrive without a forwarder. */
  region: string;
  /** Each grant: actions allowed on resources (exact ARNs, as the stack's IAM statements). */
  grants: { actions: string[]; resources: string[] }[];
  /**
   * Accounts and regions the control plane receives "Alarm State Change" events from (its own
   * region: every alarm, and the forwarders'), with the alarm names each forwarder passes
   * (absent: every alarm; a name ending in `*` is a prefix).
   */
  alarmLocations: { account: string; region: string; alarms?: string[] }[];
}

/** What one pipeline needs from the control plane, computed with the same code as the stack. */
export interface PipelineNeeds {
  grants: { actions: string[]; resources: string[] }[];
  /** Where the pipeline's alarms live and their names. */
  alarmLocations: { account: string; region: string; alarms: string[] }[];
}

/**
 * Every need the capabilities do not cover, one line each (empty: the pipeline can run on this
 * control plane as deployed).
 *
 * @example
 * missingCapabilities({ grants: [{ actions: ["lambda:UpdateFunctionCode"], resources: ["arn:…:orders"] }], alarmLocations: [] },
 *   { partition: "aws", account: "1", grants: [], alarmLocations: [] })
 * // ['lambda:UpdateFunctionCode on arn:…:orders']
 */
export function missingCapabilities(needs: PipelineNeeds, have: Capabilities): string[] {
  const held = new Set<string>();
  for (const g of have.grants) {
    for (const a of g.actions) for (const r of g.resources) held.add(`${a} ${r}`);
  }
  const missing: string[] = [];
  for (const g of needs.grants) {
    for (const r of g.resources) {
      const lacking = g.actions.filter((a) => !held.has(`${a} ${r}`));
      if (lacking.length) missing.push(`${lacking.join(", ")} on ${r}`);
    }
  }
  const places = new Map(have.alarmLocations.map((l) => [`${l.account}/${l.region}`, l]));
  for (const l of needs.alarmLocations) {
    const place = places.get(`${l.account}/${l.region}`);
    if (!place) {
      missing.push(`alarm events from account ${l.account} in ${l.region} (no alarm forwarder)`);
      continue;
    }
    const passes = (name: string) =>
      place.alarms === undefined ||
      place.alarms.some((f) => (f.endsWith("*") ? name.startsWith(f.slice(0, -1)) : f === name));
    const unseen = l.alarms.filter((n) => !passes(n));
    if (unseen.length) {
      missing.push(
        `alarm ${unseen.join(", ")} in account ${l.account}, ${l.region} (its forwarder does not pass it)`,
      );
    }
  }
  return [...new Set(missing)];
}

/** One difference between two definitions, by JSON path. */
export interface DefinitionChange {
  path: string;
  change: "added" | "removed" | "changed";
  before?: unknown;
  after?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The differences between the deployed definition and a candidate, by path (`stages[prod-1].bake.minutes`):
 * objects by key, stages (and any array of objects with a `name`) by name, other arrays
 * element by element.
 */
export function diffDefinitions(before: unknown, after: unknown, path = ""): DefinitionChange[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  if (before === undefined) return [{ path, change: "added", after }];
  if (after === undefined) return [{ path, change: "removed", before }];
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((k) => diffDefinitions(before[k], after[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const named = (a: unknown[]) =>
      a.every((e) => isObject(e) && typeof e.name === "string") &&
      new Set(a.map((e) => (e as { name: string }).name)).size === a.length;
    if (named(before) && named(after)) {
      const byName = (a: unknown[]) => new Map(a.map((e) => [(e as { name: string }).name, e]));
      const b = byName(before);
      const a = byName(after);
      const order = [...new Set([...b.keys(), ...a.keys()])];
      const changes = order.flatMap((n) => diffDefinitions(b.get(n), a.get(n), `${path}[${n}]`));
      const sameOrder =
        JSON.stringify([...b.keys()].filter((n) => a.has(n))) ===
        JSON.stringify([...a.keys()].filter((n) => b.has(n)));
      if (!sameOrder) {
        changes.push({
          path: `${path}(order)`,
          change: "changed",
          before: [...b.keys()],
          after: [...a.keys()],
        });
      }
      return changes;
    }
    const n = Math.max(before.length, after.length);
    return Array.from({ length: n }, (_, i) =>
      diffDefinitions(before[i], after[i], `${path}[${i}]`),
    ).flat();
  }
  return [{ path, change: "changed", before, after }];
}
