/**
 * Blockers: reasons not to start a deploy step now. Checked before every deploy step; while
 * one holds, the step waits and checks again. Pure: the caller gathers alarm states, manual
 * blocks and the time-window verdict, and this module decides.
 */
import type { AlarmObservation } from "./alarms.ts";
import { type ScopeRef, scopeMatcher } from "./scope.ts";
import type { WindowVerdict } from "./time-windows/index.ts";

/** `scope-lock`: another pipeline of the same service is changing the location (not bypassable). */
export type BlockerKind = "alarm" | "org-alarm" | "time-window" | "manual" | "scope-lock";

export interface Blocker {
  kind: BlockerKind;
  reason: string;
  /** When the blocker is known to end (a time window opening, a block's end); else unknown. */
  until?: Date;
}

export type BlockLevel = "org" | "pipeline" | "scope";

/** A manual block (stop the line) at organisation, pipeline or scope level. */
export interface ManualBlock {
  level: BlockLevel;
  /** Pipeline name for `pipeline`; `pipeline:scope-glob` for `scope`; empty for `org`. */
  target: string;
  reason: string;
  actor: string;
  /** The authenticated principal that set it, for blocks set by an override. */
  principal?: string;
  createdAt: string;
  /** Optional start and end (ISO); absent: from creation, until removed. */
  from?: string;
  to?: string;
  /**
   * A block planned for an interval (several may exist per target, keyed by their start), as
   * opposed to the one open block an engineer sets on a target (setting it again replaces it).
   */
  scheduled?: boolean;
  /**
   * Compare-and-set token of the stored block (the store sets it on every override's write;
   * absent on blocks written otherwise): an override writes only if the block it read is unchanged.
   */
  rev?: number;
}

/**
 * The store key of a block's target: one open-ended block per target, plus any number of
 * scheduled ones (keyed by their start), so two `--block` intervals on one target both hold.
 */
export function blockTargetKey(level: BlockLevel, target: string): string {
  return level === "org" ? "org#" : `${level}#${target}#`;
}

export function blockKey(level: BlockLevel, target: string, from?: string): string {
  return `${blockTargetKey(level, target)}${from ?? ""}`;
}

/** Whether a manual block applies to a scope of a pipeline at an instant. */
export function blockApplies(
  block: ManualBlock,
  pipeline: string,
  scope: ScopeRef,
  at: Date,
): boolean {
  if (block.from && Date.parse(block.from) > at.getTime()) return false;
  if (block.to && Date.parse(block.to) <= at.getTime()) return false;
  if (block.level === "org") return true;
  if (block.level === "pipeline") return block.target === pipeline;
  const i = block.target.indexOf(":");
  const [p, glob] =
    i < 0 ? ["", block.target] : [block.target.slice(0, i), block.target.slice(i + 1)];
  return (p === "" || p === pipeline) && scopeMatcher(glob)(scope.id);
}

export interface BlockerInputs {
  pipeline: string;
  scope: ScopeRef;
  at: Date;
  /** The scope's app alarms (resolved names) and their states. */
  appAlarms: AlarmObservation[];
  /** The organisation-wide alarms and their states. */
  orgAlarms: AlarmObservation[];
  window: WindowVerdict;
  blocks: ManualBlock[];
}

/**
 * Every blocker that holds for a scope at an instant (empty: the step may start).
 *
 * @example
 * findBlockers({ ..., orgAlarms: [{ name: "org-sev1-open", state: "ALARM" }] })
 * // [{ kind: "org-alarm", reason: "organisation alarm org-sev1-open is in ALARM" }]
 */
export function findBlockers(input: BlockerInputs): Blocker[] {
  const out: Blocker[] = [];
  for (const a of input.appAlarms) {
    if (a.state === "ALARM") out.push({ kind: "alarm", reason: `alarm ${a.name} is in ALARM` });
  }
  for (const a of input.orgAlarms) {
    if (a.state === "ALARM") {
      out.push({ kind: "org-alarm", reason: `organisation alarm ${a.name} is in ALARM` });
    }
  }
  if (!input.window.allowed) {
    out.push({
      kind: "time-window",
      reason: input.window.reason,
      ...(input.window.until ? { until: input.window.until } : {}),
    });
  }
  for (const b of input.blocks) {
    if (!blockApplies(b, input.pipeline, input.scope, input.at)) continue;
    const where =
      b.level === "org"
        ? "organisation"
        : b.level === "pipeline"
          ? `pipeline ${b.target}`
          : `scopes ${b.target}`;
    out.push({
      kind: "manual",
      reason: `manual block on ${where} by ${b.actor}: ${b.reason}`,
      ...(b.to ? { until: new Date(b.to) } : {}),
    });
  }
  return out;
}

/** One line naming every blocker, stable for equal sets (used to notify only on change). */
export function describeBlockers(blockers: Blocker[]): string {
  return blockers.map((b) => b.reason).join("; ");
}

/**
 * How long to wait before checking again. When every blocker is a time window with a known
 * opening, exactly until then (no polling in between: a window cannot open early). Otherwise
 * the recheck interval, or less when every blocker is known to end sooner — an engineer may
 * lift a manual block or an alarm may clear at any time, so never longer than the interval.
 */
export function recheckSeconds(blockers: Blocker[], at: Date, intervalSeconds: number): number {
  const ends = blockers.map((b) => b.until?.getTime());
  const known = ends.every((e): e is number => e !== undefined);
  const untilAll = known
    ? Math.max(1, Math.ceil((Math.max(...ends) - at.getTime()) / 1000))
    : undefined;
  if (untilAll !== undefined && blockers.every((b) => b.kind === "time-window")) return untilAll;
  return Math.max(1, Math.min(intervalSeconds, untilAll ?? intervalSeconds));
}

/**
 * Resolves alarm name templates for one scope: `{pipeline}`, `{stage}`, `{region}`, `{az}`,
 * `{cell}`, `{scope}`. A template with `{az}` applies only to AZ scopes (zonal alarms), one with
 * `{cell}` only to cell scopes; the others are regional (or stage-wide).
 *
 * @example
 * resolveAlarmName("orders-{stage}-{region}-faults", "orders-api", scope) // "orders-prod-1-eu-north-1-faults"
 */
export function resolveAlarmName(
  template: string,
  pipeline: string,
  scope: ScopeRef,
): string | undefined {
  if (template.includes("{az}") && !scope.az) return undefined;
  if (template.includes("{cell}") && !scope.cell) return undefined;
  return template
    .replaceAll("{pipeline}", pipeline)
    .replaceAll("{stage}", scope.stage)
    .replaceAll("{region}", scope.region)
    .replaceAll("{az}", scope.az ?? "")
    .replaceAll("{cell}", scope.cell ?? "")
    .replaceAll("{scope}", scope.id);
}

export function resolveAlarmNames(
  templates: string[] | undefined,
  pipeline: string,
  scope: ScopeRef,
): string[] {
  return [
    ...new Set(
      (templates ?? [])
        .map((t) => resolveAlarmName(t, pipeline, scope))
        .filter((n): n is string => !!n),
    ),
  ];
}

/**
 * Whether a resolved alarm name (or a name prefix ending in `*`) designates `alarmName`.
 *
 * @example
 * alarmNameMatches("orders-prod-1-*", "orders-prod-1-latency") // true
 */
export function alarmNameMatches(resolved: string, alarmName: string): boolean {
  return resolved.endsWith("*")
    ? alarmName.startsWith(resolved.slice(0, -1))
    : resolved === alarmName;
}
