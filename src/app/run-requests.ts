/**
 * Run requests: the record behind every "Approved Change Merged" (issue 10, finding 3). The bus
 * carries requests; it is not itself proof of approval — any principal allowed to put events
 * could publish one. So whoever decides that a change may run (the GitHub webhook, the "Artifact
 * Published" trigger, an operator's audited manual start, the local mode's own arrivals) first
 * writes a run request to the table, then publishes only a pointer to it. Start-run reads the
 * request (consistent read) and refuses any event that is not backed by one, or does not match
 * it; the run's change facts come from the request, never from the event.
 *
 * One request per (pipeline, version), written once (conditional put): a GitHub merge and the
 * CI artifact built from the same commit converge on one request, as they converge on one run.
 */
import { randomUUID } from "node:crypto";
import * as z from "zod";
import type { BusEvent } from "../domain/ports.ts";
import type { NewRunRequest, RunRequest, RunRequestStore } from "../domain/run-requests.ts";
import { DetailType, SOURCE } from "./events.ts";
import { approvedChangeSchema } from "./schemas.ts";

// The record and its port are domain types (the triggers write requests through the port and
// need no application module for it); re-exported here for the callers that import them here.
export type {
  NewRunRequest,
  RunRequest,
  RunRequestSource,
  RunRequestStore,
} from "../domain/run-requests.ts";

export const runRequestKey = (pipeline: string, version: string) => `${pipeline}@${version}`;

/** Stamps a new request with its id and time. */
export function newRunRequest(request: NewRunRequest, now: Date): RunRequest {
  return {
    ...request,
    requestId: randomUUID(),
    createdAt: request.createdAt ?? now.toISOString(),
  };
}

/** In-memory twin of the run-request store (unit tests only: it forgets everything on exit). */
export class InMemoryRunRequestStore implements RunRequestStore {
  private readonly requests = new Map<string, RunRequest>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  async put(request: NewRunRequest): Promise<RunRequest & { created: boolean }> {
    const key = runRequestKey(request.pipeline, request.version);
    const existing = this.requests.get(key);
    if (existing) return { ...structuredClone(existing), created: false };
    const stored = newRunRequest(request, this.now());
    this.requests.set(key, structuredClone(stored));
    return { ...stored, created: true };
  }

  async get(pipeline: string, version: string): Promise<RunRequest | undefined> {
    const found = this.requests.get(runRequestKey(pipeline, version));
    return found ? structuredClone(found) : undefined;
  }
}

/**
 * "Approved Change Merged" for a stored request: a pointer (request id, pipeline, version and
 * digest), valid against `approvedChangeSchema`. The facts stay in the table.
 *
 * @example
 * runRequestedEvent(await store.put(request));
 * // → { source: "breakwater", detailType: "Approved Change Merged", detail: { pipeline, version, requestId } }
 */
export function runRequestedEvent(request: RunRequest): BusEvent {
  return {
    source: SOURCE,
    detailType: DetailType.ApprovedChangeMerged,
    detail: {
      pipeline: request.pipeline,
      version: request.version,
      requestId: request.requestId,
      ...(request.artifactDigest ? { artifactDigest: request.artifactDigest } : {}),
    },
  };
}

export type BackedRequest =
  | { backed: true; request: RunRequest }
  | {
      backed: false;
      reason: string;
      /** What could be read from the event, for the refusal's record. */
      pipeline?: string;
      version?: string;
      requestId?: string;
    };

const looseDetail = z.object({
  pipeline: z.string().min(1).max(200).optional().catch(undefined),
  version: z.string().min(1).max(200).optional().catch(undefined),
  requestId: z.string().min(1).max(200).optional().catch(undefined),
});

/**
 * Checks that an "Approved Change Merged" event points at a stored run request that matches it
 * (pipeline, version, request id, artifact digest). Anything else — a malformed event, a bare
 * event carrying its own change facts, a pointer at a request never written, a mismatch — is
 * not backed, with the reason in words. Fail closed: nothing here throws for bad input; store
 * faults propagate (and are retried).
 *
 * @example
 * await backedRunRequest(store, { "detail-type": "Approved Change Merged", source: "breakwater", detail: { pipeline: "orders-api", version: "v2" } });
 * // → { backed: false, reason: "invalid event: detail.requestId: …", pipeline: "orders-api", version: "v2" }
 */
export async function backedRunRequest(
  store: RunRequestStore,
  event: unknown,
): Promise<BackedRequest> {
  const raw = (event as { detail?: unknown } | null)?.detail;
  const loose = looseDetail.safeParse(typeof raw === "object" && raw !== null ? raw : {});
  const known = loose.success
    ? Object.fromEntries(Object.entries(loose.data).filter(([, v]) => v !== undefined))
    : {};
  const parsed = approvedChangeSchema.safeParse(event);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.join(".") || "event"}: ${i.message}`)
      .join("; ");
    return {
      backed: false,
      reason: `invalid event (not a run-request pointer): ${problems}`,
      ...known,
    };
  }
  const d = parsed.data.detail;
  const request = await store.get(d.pipeline, d.version);
  if (!request) {
    return {
      backed: false,
      reason: `no run request was recorded for ${runRequestKey(d.pipeline, d.version)}: the bus is not proof of approval`,
      ...known,
    };
  }
  const mismatch = [
    request.requestId !== d.requestId ? "requestId" : undefined,
    d.artifactDigest !== undefined && request.artifactDigest !== d.artifactDigest
      ? "artifactDigest"
      : undefined,
  ].filter((m): m is string => m !== undefined);
  if (mismatch.length > 0) {
    return {
      backed: false,
      reason: `does not match the run request recorded for ${runRequestKey(d.pipeline, d.version)} (${mismatch.join(", ")} differ)`,
      ...known,
    };
  }
  return { backed: true, request };
}
