/**
 * Run requests, the record behind every "Approved Change Merged" (see `src/app/run-requests.ts`
 * for the why), and the port they are kept behind. Types only: stamping, the bus pointer and the
 * check that an event is backed live in the application layer.
 */
import type { ChangeFacts } from "./model.ts";

/** Who wrote a run request: a trigger function, an operator (manual start), or the local mode. */
export type RunRequestSource = "github" | "artifact" | "operator" | "local";

export interface RunRequest {
  /** Random, so a pointer names one write; `pipeline@version` is the record's key. */
  requestId: string;
  pipeline: string;
  version: string;
  artifactDigest?: string;
  source: RunRequestSource;
  /** `github`, `artifact`, the operator's identity, or the local tool that wrote it. */
  writtenBy: string;
  /** The trigger input it came from (GitHub delivery id, EventBridge event id, audit id). */
  ref?: string;
  /** The run's cause (a `key=value` line, see `describeRunCause`). */
  cause: string;
  /** The change's facts: what the run records about who approved it and what was built. */
  change: ChangeFacts;
  createdAt: string;
}

export type NewRunRequest = Omit<RunRequest, "requestId" | "createdAt"> & { createdAt?: string };

/** Where run requests are kept (DynamoDB in AWS and locally; in memory for unit tests). */
export interface RunRequestStore {
  /**
   * Writes the request unless one exists for its pipeline and version (conditional put). Returns
   * the stored request — the new one, or the one written first — and whether this call wrote it.
   */
  put(request: NewRunRequest): Promise<RunRequest & { created: boolean }>;
  /** The request of a pipeline's version (strongly consistent), if one was written. */
  get(pipeline: string, version: string): Promise<RunRequest | undefined>;
}
