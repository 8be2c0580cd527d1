/**
 * Slack: Block Kit messages built from notifications, and delivery through an incoming
 * webhook with retries, backoff and a dead letter (a message is never silently dropped).
 */

import type {
  ContextBlock,
  HeaderBlock,
  KnownBlock,
  MrkdwnElement,
  PlainTextElement,
  SectionBlock,
} from "@slack/types";
import { InvalidInputError } from "../domain/errors.ts";
import { formatProblems } from "../domain/pipeline.ts";
import type { Notification, NotificationType } from "./notification.ts";
import {
  DeadLetterError,
  type DeadLetterSink,
  DeliveryError,
  type DeliveryResult,
  type Notifier,
} from "./ports.ts";

// Slack's own Block Kit types (@slack/types): a field Slack renamed or a block it no longer
// accepts is a compile error here, not an `invalid_blocks` answer in production.
export type SlackPlainText = PlainTextElement;
export type SlackMrkdwn = MrkdwnElement;

/**
 * The blocks a notification is built from, narrowed from Slack's: a section has either mrkdwn
 * `text` or mrkdwn `fields` (so readers can tell them apart), a context only mrkdwn.
 */
export type SlackBlock =
  | (HeaderBlock & { text: SlackPlainText })
  | (Omit<SectionBlock, "text" | "fields"> & { text: SlackMrkdwn })
  | (Omit<SectionBlock, "text" | "fields"> & { fields: SlackMrkdwn[] })
  | (Omit<ContextBlock, "elements"> & { elements: SlackMrkdwn[] });

// Every block built here is one Slack knows (a compile error otherwise).
type Assert<T extends true> = T;
export type SlackBlockIsKnown = Assert<SlackBlock extends KnownBlock ? true : false>;

/** An incoming-webhook payload: `text` is the push-notification and fallback line. */
export interface SlackMessage {
  text: string;
  blocks: SlackBlock[];
}

/**
 * Limits, in characters after escaping. Slack's own are 150 (header), 3000 (section text),
 * 2000 (a field) and 10 fields; ours are tighter where a phone screen is the reader.
 */
export const SLACK_LIMITS = {
  header: 150,
  text: 600,
  fieldLabel: 40,
  fieldValue: 240,
  fields: 10,
  fallback: 150,
} as const;

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

/**
 * Escapes the three characters Slack reserves for its markup (`&`, `<`, `>`), so that text
 * from alarms, engineers or commits cannot form links or mentions.
 *
 * @example
 * escapeSlack("p99 > 2s & <!channel>"); // "p99 &gt; 2s &amp; &lt;!channel&gt;"
 */
export function escapeSlack(text: string): string {
  return text.replace(/[&<>]/g, (c) => ESCAPES[c] ?? c);
}

/**
 * Escapes `text` and cuts it (ending with `…`) so that the escaped result has at most `max`
 * characters; never splits an escape sequence or a surrogate pair.
 *
 * @example
 * fitEscaped("a < b < c", 8); // "a &lt; …"
 */
export function fitEscaped(text: string, max: number): string {
  const full = escapeSlack(text);
  if (full.length <= max) return full;
  let out = "";
  for (const ch of text) {
    const piece = ESCAPES[ch] ?? ch;
    if (out.length + piece.length + 1 > max) break;
    out += piece;
  }
  return `${out.trimEnd()}…`;
}

const EMOJI: Record<NotificationType, string> = {
  "run-started": ":rocket:",
  "stage-finished": ":white_check_mark:",
  blocked: ":no_entry:",
  unblocked: ":arrow_forward:",
  "rolled-back": ":rewind:",
  halted: ":octagonal_sign:",
  "override-used": ":key:",
  "approval-requested": ":raised_hand:",
  "run-finished": ":checkered_flag:",
};

function emojiFor(n: Notification): string {
  if (n.severity === "critical" && n.type === "run-finished") return ":x:";
  return EMOJI[n.type];
}

/**
 * Builds the Block Kit message of a notification: a header (emoji and title), a section with
 * the text, up to ten fields, and a context line with the time (shown in the reader's time
 * zone) and the run id. Everything from the notification is escaped and cut to fit a phone.
 *
 * @example
 * buildSlackMessage(notification).blocks.map((b) => b.type);
 * // ["header", "section", "section", "context"]
 */
export function buildSlackMessage(n: Notification): SlackMessage {
  const emoji = emojiFor(n);
  const blocks: SlackBlock[] = [
    {
      type: "header",
      text: {
        type: "plain_text",
        text: `${emoji} ${fitEscaped(n.title, SLACK_LIMITS.header - emoji.length - 1)}`,
        emoji: true,
      },
    },
    { type: "section", text: { type: "mrkdwn", text: fitEscaped(n.text, SLACK_LIMITS.text) } },
  ];
  const fields = fitFields(n.fields);
  if (fields.length > 0) blocks.push({ type: "section", fields });
  blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: contextLine(n) }] });
  const prefix = n.severity === "info" ? "" : `[${n.severity}] `;
  return { text: fitEscaped(`${prefix}${n.title}`, SLACK_LIMITS.fallback), blocks };
}

function fitFields(fields: Notification["fields"]): SlackMrkdwn[] {
  const field = (label: string, value: string): SlackMrkdwn => ({
    type: "mrkdwn",
    text: `*${fitEscaped(label.replace(/\*/g, ""), SLACK_LIMITS.fieldLabel)}*\n${fitEscaped(
      value,
      SLACK_LIMITS.fieldValue,
    )}`,
  });
  if (fields.length <= SLACK_LIMITS.fields) return fields.map((f) => field(f.label, f.value));
  // Slack rejects more than ten fields: the last one names what did not fit.
  const kept = fields.slice(0, SLACK_LIMITS.fields - 1);
  const rest = fields.slice(SLACK_LIMITS.fields - 1);
  return [
    ...kept.map((f) => field(f.label, f.value)),
    field(`+${rest.length} more`, rest.map((f) => `${f.label}: ${f.value}`).join("\n")),
  ];
}

function contextLine(n: Notification): string {
  const parts: string[] = [];
  const ms = Date.parse(n.at);
  if (Number.isFinite(ms)) {
    // Slack renders the date in the reader's time zone; the fallback is the ISO time.
    parts.push(`<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${escapeSlack(n.at)}>`);
  } else {
    parts.push(escapeSlack(n.at));
  }
  if (n.runId) parts.push(`run \`${fitEscaped(n.runId.replace(/`/g, ""), 80)}\``);
  return parts.join(" · ");
}

export interface SlackWebhookOptions {
  /** The webhook URL, or a loader (for example `loadSlackWebhookUrl` over SSM). A secret: never logged. */
  url: string | (() => Promise<string>);
  /** Where a message goes when it cannot be delivered. */
  deadLetter: DeadLetterSink<SlackMessage>;
  /** Requests per message, the first included. Default 5. */
  maxAttempts?: number;
  /** Per request, response body included. Default 5000 ms. */
  timeoutMs?: number;
  /** First backoff step; doubles on every retry. Default 500 ms. */
  baseDelayMs?: number;
  /** Cap of one backoff step. Default 20 000 ms. */
  maxDelayMs?: number;
  /** A 429 asking to wait longer than this is dead-lettered instead. Default 60 000 ms. */
  maxRetryAfterMs?: number;
  /** Waits between attempts. Default: a real timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Default: Node's global `fetch`. */
  fetch?: typeof fetch;
  /** Epoch ms, for a `Retry-After` given as an HTTP date. Default `Date.now`. */
  now?: () => number;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How much of an error response body is kept (Slack puts a short error code there). */
const BODY_LIMIT = 500;

type Attempt =
  | { ok: true }
  | { ok: false; retry: boolean; error: DeliveryError; retryAfterMs?: number };

/**
 * Posts Block Kit messages to a Slack incoming webhook. Retries 429 (after `Retry-After`),
 * 5xx, network errors and timeouts with exponential backoff and jitter, up to `maxAttempts`
 * requests; other 4xx are not retried. A message that is not delivered goes to the dead
 * letter; if the dead letter fails too, {@link DeadLetterError} is thrown (never dropped).
 *
 * A request that timed out may still have reached Slack, so a retry can post a duplicate:
 * for notifications, a duplicate beats a loss.
 *
 * @example
 * const slack = new SlackWebhookNotifier({ url, deadLetter: new SqsDeadLetterSink(sqs, queueUrl) });
 * const result = await slack.notify(notification); // { delivered: true, attempts: 1 }
 */
export class SlackWebhookNotifier implements Notifier {
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly fetch: typeof fetch;
  private readonly now: () => number;

  constructor(private readonly options: SlackWebhookOptions) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 20_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.now = options.now ?? Date.now;
    const problems = [
      ["maxAttempts", this.maxAttempts, 1],
      ["timeoutMs", this.timeoutMs, 1],
      ["baseDelayMs", this.baseDelayMs, 0],
      ["maxDelayMs", this.maxDelayMs, 0],
      ["maxRetryAfterMs", this.maxRetryAfterMs, 0],
    ]
      .filter(([, v, min]) => !Number.isInteger(v) || (v as number) < (min as number))
      .map(([path, , min]) => ({
        path: String(path),
        message: `must be an integer >= ${min}`,
      }));
    if (problems.length) {
      throw new InvalidInputError(
        `invalid Slack webhook options: ${formatProblems(problems, "; ")}`,
        problems,
      );
    }
  }

  notify(notification: Notification): Promise<DeliveryResult> {
    return this.send(buildSlackMessage(notification));
  }

  /** Delivers one message (or dead-letters it); resolves with what happened. */
  async send(message: SlackMessage): Promise<DeliveryResult> {
    let url: string;
    try {
      url = typeof this.options.url === "string" ? this.options.url : await this.options.url();
    } catch (cause) {
      const error = new DeliveryError(`no Slack webhook URL: ${describe(cause)}`, {
        kind: "config",
        attempts: 0,
        cause,
      });
      return this.deadLetter(message, error);
    }
    const body = JSON.stringify(message);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(url, body, attempt);
      if (outcome.ok) return { delivered: true, attempts: attempt };
      if (!outcome.retry || attempt >= this.maxAttempts) {
        return this.deadLetter(message, outcome.error);
      }
      if (outcome.retryAfterMs !== undefined && outcome.retryAfterMs > this.maxRetryAfterMs) {
        const error = new DeliveryError(
          `${outcome.error.message}; Retry-After ${Math.ceil(outcome.retryAfterMs / 1000)} s exceeds the ${this.maxRetryAfterMs} ms this sender waits`,
          outcome.error.details,
        );
        return this.deadLetter(message, error);
      }
      await this.sleep(outcome.retryAfterMs ?? this.backoff(attempt));
    }
  }

  /** Equal jitter: half the exponential step, plus a random share of the other half. */
  private backoff(attempt: number): number {
    const step = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(step / 2 + this.random() * (step / 2));
  }

  private async attempt(url: string, body: string, attempt: number): Promise<Attempt> {
    let status: number;
    let text: string;
    let retryAfter: string | null;
    try {
      const res = await this.fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8" },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      retryAfter = res.headers.get("retry-after");
      // Read the body under the same timeout: it frees the connection and carries Slack's error.
      text = await res.text();
    } catch (cause) {
      const timedOut =
        cause instanceof Error && (cause.name === "TimeoutError" || cause.name === "AbortError");
      const error = timedOut
        ? new DeliveryError(`no answer from the Slack webhook within ${this.timeoutMs} ms`, {
            kind: "timeout",
            attempts: attempt,
            cause,
          })
        : new DeliveryError(`could not reach the Slack webhook: ${describe(cause)}`, {
            kind: "network",
            attempts: attempt,
            cause,
          });
      return { ok: false, retry: true, error };
    }
    if (status >= 200 && status < 300) return { ok: true };
    const snippet = text.slice(0, BODY_LIMIT);
    const error = new DeliveryError(
      `Slack webhook answered ${status}${snippet ? `: ${snippet}` : ""}`,
      { kind: "http", attempts: attempt, status, body: snippet },
    );
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(retryAfter, this.now());
      return {
        ok: false,
        retry: true,
        error,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    }
    return { ok: false, retry: status >= 500, error };
  }

  private async deadLetter(message: SlackMessage, error: DeliveryError): Promise<DeliveryResult> {
    try {
      await this.options.deadLetter.put(message, error);
    } catch (cause) {
      throw new DeadLetterError(
        `Slack message not delivered (${error.message}) and not dead-lettered: ${describe(cause)}`,
        { cause },
      );
    }
    return { delivered: false, attempts: error.attempts, deadLettered: true, error };
  }
}

/**
 * Reads `Retry-After`: delay-seconds (what Slack sends) or an HTTP date; undefined when absent
 * or unreadable (the sender then backs off on its own).
 *
 * @example
 * parseRetryAfter("1", Date.now()); // 1000
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e.cause as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? `${e.message} (${code})` : e.message;
}
