/**
 * Error classes set `name`: Lambda reports it as the error type and the state machine's
 * Retry/Catch match on it. Expected outcomes are data, not errors; these are faults.
 */

/**
 * The base of every error this project throws: each subclass sets `name` to its own class name
 * (the ASL's Retry/Catch `ErrorEquals` and Lambda's error type are that string, so it must not
 * depend on minification), and `cause` is the ES2022 one (`new XError("…", { cause: err })`).
 *
 * @example
 * class DeployFailedError extends BreakwaterError {
 *   override name = "DeployFailedError";
 * }
 * throw new DeployFailedError("deploy of web@1.2.3 failed", { cause: err });
 */
export abstract class BreakwaterError extends Error {
  abstract override name: string;
}

/** A conditional write lost a race; safe to retry (the ASL retries it). */
export class ConcurrentUpdateError extends BreakwaterError {
  override name = "ConcurrentUpdateError";
}

/** A dependency failed in a way that may succeed on retry (the ASL retries it). */
export class TransientError extends BreakwaterError {
  override name = "TransientError";
}

/** Input that does not match its schema; never retried. */
export class InvalidInputError extends BreakwaterError {
  override name = "InvalidInputError";
  constructor(
    message: string,
    readonly problems: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

/** A record the request refers to does not exist; never retried. */
export class NotFoundError extends BreakwaterError {
  override name = "NotFoundError";
}
