/**
 * What each deploy target type can do, in one table: whether it can split a scope's traffic
 * (one-box steps), which of its names must vary per Availability Zone (one resource per scope),
 * which must vary per version, and how long its steps take in the local mode by default.
 */
import type { DeployTarget, TargetType } from "./schema.ts";

export interface TargetTypeFacts {
  /** It can serve a share of a scope's traffic from the new version (a one-box step). */
  splitsTraffic: boolean;
  /**
   * The fields naming the resource a scope deploys to. A stage with AZs needs one of them to use
   * `{az}`, a stage with cells one to use `{cell}`, else every AZ (cell) would deploy the same
   * resource (safety rule 1). Empty: the target gets
   * the scope in its request and decides (a custom function, a build script).
   */
  scopeFields: readonly string[];
  /** Fields that must name the version (`{version}` or `{digest}`): else every version is the same. */
  versionFields: readonly string[];
  /** Simulated step durations in seconds (local mode), unless the target's `local` says otherwise. */
  localSeconds: { oneBox: number; full: number; rollback: number };
}

export const TARGET_TYPE_FACTS: Record<TargetType, TargetTypeFacts> = {
  // A custom function and a dry run keep the fleet's original timings.
  "lambda-function": {
    splitsTraffic: true,
    scopeFields: [],
    versionFields: [],
    localSeconds: { oneBox: 120, full: 300, rollback: 180 },
  },
  none: {
    splitsTraffic: true,
    scopeFields: [],
    versionFields: [],
    localSeconds: { oneBox: 120, full: 300, rollback: 180 },
  },
  // An alias shift takes seconds; with code, UpdateFunctionCode and PublishVersion a minute.
  "lambda-alias": {
    splitsTraffic: true,
    scopeFields: ["functionName", "alias"],
    versionFields: ["code.s3Key"],
    localSeconds: { oneBox: 60, full: 60, rollback: 30 },
  },
  // Tasks start, pass health checks and drain: minutes; a rolling update of the service longer.
  ecs: {
    splitsTraffic: true,
    scopeFields: ["service", "cluster"],
    versionFields: ["image"],
    localSeconds: { oneBox: 300, full: 900, rollback: 600 },
  },
  cloudformation: {
    splitsTraffic: false,
    scopeFields: ["stackName"],
    versionFields: ["templateUrl"],
    localSeconds: { oneBox: 600, full: 600, rollback: 900 },
  },
  // All at once, with no bake of AppConfig's own (Breakwater bakes).
  appconfig: {
    splitsTraffic: false,
    scopeFields: ["environment", "application"],
    versionFields: [],
    localSeconds: { oneBox: 60, full: 60, rollback: 60 },
  },
  // The build script gets BREAKWATER_PERCENT and decides how to split.
  codebuild: {
    splitsTraffic: true,
    scopeFields: [],
    versionFields: [],
    localSeconds: { oneBox: 300, full: 300, rollback: 300 },
  },
};

/**
 * Simulated durations of a target's steps, in seconds: the target's own `local` timings first,
 * then `fallback` (a simulation's fleet-wide durations), then the type's defaults.
 *
 * @example
 * localSeconds({ type: "lambda-alias", functionName: "f", alias: "a", local: { fullSeconds: 5 } }, { rollback: 90 })
 * // { oneBox: 60, full: 5, rollback: 90 }
 */
export function localSeconds(
  target: DeployTarget | undefined,
  fallback: { oneBox?: number; full?: number; rollback?: number } = {},
): { oneBox: number; full: number; rollback: number } {
  const facts = TARGET_TYPE_FACTS[target?.type ?? "none"].localSeconds;
  const local = target?.local;
  return {
    oneBox: local?.oneBoxSeconds ?? fallback.oneBox ?? facts.oneBox,
    full: local?.fullSeconds ?? fallback.full ?? facts.full,
    rollback: local?.rollbackSeconds ?? fallback.rollback ?? facts.rollback,
  };
}
