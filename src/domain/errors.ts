/**
 * Error classes set `name`: Lambda reports it as the error type and the state machine's
 * Retry/Catch match on it. Expected outcomes are data, not errors; these are faults.
 */

/** A conditional write lost a race; safe to retry (the ASL retries it). */
export class ConcurrentUpdateError extends Error {
  override name = "ConcurrentUpdateError";
}

/** A dependency failed in a way that may succeed on retry (the ASL retries it). */
export class TransientError extends Error {
  override name = "TransientError";
}

/** Input that does not match its schema; never retried. */
export class InvalidInputError extends Error {
  override name = "InvalidInputError";
  constructor(
    message: string,
    readonly problems: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/** A record the request refers to does not exist; never retried. */
export class NotFoundError extends Error {
  override name = "NotFoundError";
}
