/**
 * What a version may be: it becomes part of run ids (`pipeline@version`), DynamoDB keys,
 * Step Functions execution names and notifications, so it is short and plain. One rule for
 * every input that takes a version: event details, the override function, the CLI's flags.
 */
import * as z from "zod";

/** The longest version accepted. */
export const MAX_VERSION_LENGTH = 128;

export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

export const VERSION_RULE = `must be 1-${MAX_VERSION_LENGTH} letters, digits, '.', '_', '+' or '-', starting with a letter or digit`;

/** A version (for example `v2`, `1.4.0+build.7`, a 40-character commit SHA). */
export const versionSchema = z
  .string({ error: VERSION_RULE })
  .min(1, { error: VERSION_RULE })
  .max(MAX_VERSION_LENGTH, { error: VERSION_RULE })
  .regex(VERSION_PATTERN, { error: VERSION_RULE });

/**
 * Why `value` is not a valid version, or undefined when it is one.
 *
 * @example
 * versionProblem("v2") // undefined
 * versionProblem("a b") // "must be 1-128 letters, digits, ..."
 */
export function versionProblem(value: string): string | undefined {
  return versionSchema.safeParse(value).success ? undefined : VERSION_RULE;
}
