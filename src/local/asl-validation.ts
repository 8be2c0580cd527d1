/**
 * Which state machine definitions have passed asl-validator, remembered across processes.
 *
 * aws-local-stepfunctions validates a definition (asl-validator, on ajv) each time a machine is
 * built. In a new process the first validation compiles the ASL schema: about 0.7 s of CPU,
 * a tenth of a cold `breakwater simulate`, spent on the same three committed files every time.
 * A definition that passed is remembered by the SHA-256 of its exact text (after the ARNs are
 * substituted) in the project's `.cache/asl/`, so a later process skips it. Any edit changes the
 * text, so an edited definition is validated again; one that fails is never remembered. When the
 * directory cannot be written (a read-only install), every process validates, as before.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const DEFAULT_ASL_CACHE = fileURLToPath(new URL("../../.cache/asl/", import.meta.url));

const markerOf = (text: string, dir: string) =>
  join(dir, `${createHash("sha256").update(text).digest("hex")}.valid`);

/** Whether this exact definition text passed validation in an earlier process. */
export function aslPassed(text: string, dir = DEFAULT_ASL_CACHE): boolean {
  return existsSync(markerOf(text, dir));
}

/** Records that this exact definition text passed validation (best effort). */
export function rememberAslPassed(text: string, dir = DEFAULT_ASL_CACHE): void {
  const marker = markerOf(text, dir);
  try {
    mkdirSync(dir, { recursive: true });
    // Written whole, then renamed: a concurrent reader sees no marker or a complete one.
    const tmp = `${marker}.${process.pid}.tmp`;
    writeFileSync(tmp, "");
    renameSync(tmp, marker);
  } catch {
    // Not writable: the next process validates again.
  }
}
