/**
 * Ports of the triggers. Small on purpose: an AWS adapter is a handful of conditional DynamoDB
 * writes in the single table, for example
 *
 *   REVIEWS#<owner/name>#<pr> / REVIEW#<id>   a review (put with `attribute_not_exists(pk) OR
 *                                            #state <> :dismissed`, so a dismissal is final)
 *   DELIVERY#<id>             / DELIVERY      a claimed delivery: IN_PROGRESS (until
 *                                            `inProgressUntil`) or COMPLETED, `expiresAt` as TTL
 */
import type { StoredReview } from "./decisions.ts";

/** The reviews of pull requests, recorded from `pull_request_review` webhooks. */
export interface ReviewStore {
  /**
   * Records one review (keyed by its id: recording it again replaces it), except that a review
   * stored as dismissed stays dismissed (see `mergeReview`): deliveries arrive out of order.
   * `repository` is `owner/name`; implementations compare it case-insensitively.
   */
  recordReview(repository: string, pr: number, review: StoredReview): Promise<void>;
  /** Every recorded review of the pull request, in any order. */
  reviews(repository: string, pr: number): Promise<StoredReview[]>;
}

/** What a claim found: the caller's to process, already processed, or being processed. */
export type DeliveryClaim =
  | { status: "claimed"; token: string }
  | { status: "completed" }
  | { status: "in-progress"; until: Date };

/**
 * Idempotency for webhook deliveries (GitHub's `X-GitHub-Delivery`, reused when a delivery is
 * redelivered) and other at-least-once events, with the semantics of Powertools Idempotency: a
 * claim is IN PROGRESS until `complete`, and only for the claiming invocation's remaining time,
 * so an invocation that dies (timeout, OOM) between claim and completion blocks redeliveries for
 * that long at most, never for good.
 */
export interface WebhookDeliveryStore {
  /**
   * Claims the id for `inProgressMs`: `claimed` (with the token that completes or releases it)
   * when it is new or its in-progress claim expired; `completed` when it was processed;
   * `in-progress` while another invocation's claim lasts (the caller refuses, retryably).
   */
  claim(deliveryId: string, inProgressMs: number): Promise<DeliveryClaim>;
  /** Marks the claim processed: every later claim is `completed` (until the record's TTL). */
  complete(deliveryId: string, token: string): Promise<void>;
  /**
   * Gives an in-progress claim back after its processing failed, so a redelivery is processed at
   * once. Does nothing when the claim is no longer the caller's (taken over, completed).
   */
  release(deliveryId: string, token: string): Promise<void>;
}

/**
 * How long a claim stays in progress when the transport does not say (local HTTP endpoint): the
 * webhook function's timeout.
 */
export const DEFAULT_IN_PROGRESS_MS = 30_000;

/** What became of one trigger input (a webhook delivery, an "Artifact Published" event). */
export type TriggerOutcome =
  | "run-requested"
  | "rejected"
  | "duplicate"
  | "in-progress"
  | "approval-check-failed"
  | "invalid-signature"
  | "invalid-request"
  | "unknown-repository"
  | "unsupported-media-type"
  /** Refused as not proof of approval: an unbacked run request, an unnamed artifact publisher. */
  | "refused";

/**
 * One trigger input that started a run, or was refused and started nothing. A record of a
 * request whose signature failed holds only what is safe to keep from an unauthenticated request
 * (delivery id, event name, source IP, each truncated): never its body.
 */
export interface TriggerRecord {
  /** ISO time the trigger was handled. */
  at: string;
  /** `start-run`: the run request's check at the start-run function (the bus's last hop). */
  trigger: "github" | "artifact" | "start-run";
  outcome: TriggerOutcome;
  /** The HTTP status answered (webhooks). */
  status?: number;
  /** Why, in words (the response message, the rejection's reason). */
  reason: string;
  /** GitHub's `X-GitHub-Delivery`, or the EventBridge event id. */
  deliveryId?: string;
  /** GitHub's `X-GitHub-Event`, or the event's `source`. */
  event?: string;
  sourceIp?: string;
  pipeline?: string;
  repository?: string;
  pr?: number;
  sha?: string;
  headSha?: string;
  artifactDigest?: string;
  /** Run requests: the version requested and whose approvals counted. */
  version?: string;
  approvers?: string[];
}

/** Where every trigger input that started, or refused to start, a run is recorded. */
export interface TriggerLog {
  record(entry: TriggerRecord): Promise<void>;
  /** Newest first; `pipeline` keeps the records of that pipeline only; `limit` defaults to 50. */
  list(query?: { pipeline?: string; limit?: number }): Promise<TriggerRecord[]>;
}
