import { createHash } from "node:crypto";

/**
 * A deterministic short token of a deployment id for names AWS limits (change-set names: 128
 * characters, a letter first; client tokens: 64): `bw-` and the SHA-256 of the id, 40 hex
 * characters. A retried start computes the same token and so finds the same change set or build.
 *
 * @example
 * deploymentToken("run-1/prod-1/us-east-1/use1-az1/full/1") // "bw-3f0c…" (43 characters)
 */
export function deploymentToken(deploymentId: string): string {
  return `bw-${createHash("sha256").update(deploymentId).digest("hex").slice(0, 40)}`;
}
