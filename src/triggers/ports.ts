/**
 * Ports of the triggers. Small on purpose: an AWS adapter is a handful of conditional DynamoDB
 * writes in the single table, for example
 *
 *   REVIEWS#<owner/name>#<pr> / REVIEW#<id>   a review (put with `attribute_not_exists(pk) OR
 *                                            #state <> :dismissed`, so a dismissal is final)
 *   DELIVERY#<id>             / DELIVERY      a claimed delivery (put with
 *                                            `attribute_not_exists(pk)`, `expiresAt` as TTL)
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

/**
 * Idempotency for webhook deliveries (GitHub's `X-GitHub-Delivery`, reused when a delivery is
 * redelivered) and other at-least-once events.
 */
export interface WebhookDeliveryStore {
  /** Claims the delivery id: true the first time, false for every later call (a duplicate). */
  firstDelivery(deliveryId: string): Promise<boolean>;
  /**
   * Gives a claimed id back after its processing failed, so a redelivery is processed instead of
   * being dropped as a duplicate.
   */
  releaseDelivery(deliveryId: string): Promise<void>;
}
