/**
 * Resolving a target's name templates for one scope and version: the names a deploy step uses
 * in AWS, and the names the stack grants the deploy roles at synth.
 */
import { accountOfRole } from "../aws-names.ts";
import { BreakwaterError } from "../errors.ts";
import type { DeployTarget, TargetPlaceholder } from "./schema.ts";

export type TemplateValues = Partial<Record<TargetPlaceholder, string>>;

export class UnresolvedPlaceholderError extends BreakwaterError {
  override name = "UnresolvedPlaceholderError";
}

/**
 * Fills a name template. A placeholder with no value is an error (a name is never half-built).
 *
 * @example
 * resolveTemplate("orders-{region}-{az}", { region: "us-east-1", az: "use1-az1" }) // "orders-us-east-1-use1-az1"
 */
export function resolveTemplate(template: string, values: TemplateValues): string {
  return template.replace(/\{([a-z]+)\}/g, (_, name: string) => {
    const value = values[name as TargetPlaceholder];
    if (value === undefined || value === "") {
      throw new UnresolvedPlaceholderError(
        `"${template}" uses {${name}}, which has no value here${name === "digest" ? " (the version's run request names no artifact digest)" : name === "az" ? " (the scope is a whole region)" : name === "cell" ? " (the scope is not a cell)" : ""}`,
      );
    }
    return value;
  });
}

/** Every string of a value, resolved (objects and arrays walked; numbers and booleans kept). */
function resolveDeep<T>(value: T, values: TemplateValues): T {
  if (typeof value === "string") return resolveTemplate(value, values) as T;
  if (Array.isArray(value)) return value.map((v) => resolveDeep(v, values)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, resolveDeep(v, values)]),
    ) as T;
  }
  return value;
}

/** Fields that are not name templates (kept as written). */
const LITERAL_FIELDS = new Set(["type", "roleArn", "local", "capabilities", "lambda"]);

/**
 * The target with every name template filled for one scope and version.
 *
 * @example
 * resolveTarget({ type: "lambda-alias", functionName: "orders-{region}", alias: "live" },
 *   { pipeline: "orders", stage: "prod-1", region: "us-east-1", version: "v2", account: "111122223333" })
 * // { type: "lambda-alias", functionName: "orders-us-east-1", alias: "live" }
 */
export function resolveTarget<T extends DeployTarget>(target: T, values: TemplateValues): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(target)) {
    out[key] = LITERAL_FIELDS.has(key) ? value : resolveDeep(value, values);
  }
  return out as T;
}

/** The account a target runs in: its role's, else the control plane's own. */
export function targetAccount(target: DeployTarget, controlPlaneAccount: string): string {
  const role = "roleArn" in target ? target.roleArn : undefined;
  return (role && accountOfRole(role)) || controlPlaneAccount;
}

/** The value at a dotted path of a target (`code.s3Key`), when it is a string. */
export function fieldOf(target: DeployTarget, path: string): string | undefined {
  let v: unknown = target;
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return typeof v === "string" ? v : undefined;
}
