/**
 * The trigger side of run requests (issue 10, finding 3): before a trigger publishes "Approved
 * Change Merged", it writes the run request that event points at. Start-run refuses any event
 * without one, so the bus alone is not proof of approval.
 */
import type { RunRequest, RunRequestStore } from "../domain/run-requests.ts";
import {
  changeFactsOf,
  describeRunCause,
  type StartRunDecision,
  type TriggerDecision,
} from "./decisions.ts";

/**
 * Writes one run request per start-run decision (conditional put: a request already written for
 * the version, by the merge or by the artifact of the same commit, is kept and reused) and
 * returns them by decision, for `decisionEvents`.
 *
 * @example
 * const requests = await writeRunRequests(decisions, deps.runRequests, { ref: deliveryId });
 * await deps.publish(decisionEvents(decisions, at, requests));
 */
export async function writeRunRequests(
  decisions: readonly TriggerDecision[],
  store: RunRequestStore,
  context: { ref?: string },
): Promise<Map<StartRunDecision, RunRequest>> {
  const out = new Map<StartRunDecision, RunRequest>();
  for (const d of decisions) {
    if (d.action !== "start-run") continue;
    const stored = await store.put({
      pipeline: d.pipeline,
      version: d.version,
      ...(d.artifactDigest ? { artifactDigest: d.artifactDigest } : {}),
      source: d.trigger,
      writtenBy: d.trigger,
      ...(context.ref ? { ref: context.ref } : {}),
      cause: describeRunCause(d),
      change: changeFactsOf(d),
    });
    const { created: _created, ...request } = stored;
    out.set(d, request);
  }
  return out;
}
