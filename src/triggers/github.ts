/**
 * GitHub trigger: a webhook receiver that records pull request reviews and, when a pull request
 * merges into a pipeline's branch with the approvals that pipeline needs, requests a run.
 *
 * Transport-free: `handleGitHubWebhook` takes headers and the raw body and returns a status and
 * a JSON body, so the same code serves a Lambda function URL and the local HTTP endpoint
 * (`./http.ts`). Order of checks: signature (401) before anything is read, then content type
 * (415), headers and JSON (400), payload schema (400, naming the field), repository (404),
 * delivery id (a duplicate does nothing; one still in progress is answered 409), then the
 * decision, for which GitHub's API says which approvers have write access (502 when it cannot).
 */
import { verify } from "@octokit/webhooks-methods";
import * as z from "zod";
import { BreakwaterError } from "../domain/errors.ts";
import { collectProblems, formatProblems, type Problem } from "../domain/pipeline.ts";
import type { BusEvent, Clock } from "../domain/ports.ts";
import type { RunRequestStore } from "../domain/run-requests.ts";
import {
  decisionEvents,
  evaluateApprovals,
  publishesAnything,
  type StoredReview,
  type TriggerConfig,
  type TriggerDecision,
  triggersFor,
} from "./decisions.ts";
import { ApprovalCheckError, type GitHubApi, ineligibleApprovers } from "./github-api.ts";
import {
  DEFAULT_IN_PROGRESS_MS,
  type ReviewStore,
  type TriggerLog,
  type TriggerRecord,
  type WebhookDeliveryStore,
} from "./ports.ts";
import { writeRunRequests } from "./run-requests.ts";

/** The webhook secret is missing: a deployment fault, not a bad request. */
export class WebhookConfigError extends BreakwaterError {
  override name = "WebhookConfigError";
}

const SIGNATURE = /^sha256=[0-9a-f]{64}$/;

/**
 * Checks GitHub's `X-Hub-Signature-256` (HMAC-SHA256 of the raw body, `sha256=<hex>`) in
 * constant time. False for a missing or malformed header and for an empty body; throws
 * {@link WebhookConfigError} when the secret is empty (never accept unsigned webhooks).
 *
 * @example
 * await verifySignature("s3cret", rawBody, headers["x-hub-signature-256"]); // → true | false
 */
export async function verifySignature(
  secret: string,
  rawBody: string,
  signatureHeader: string | undefined,
): Promise<boolean> {
  if (!secret) throw new WebhookConfigError("the GitHub webhook secret is empty");
  if (!rawBody || !signatureHeader || !SIGNATURE.test(signatureHeader)) return false;
  return verify(secret, rawBody, signatureHeader);
}

const sha = z
  .string()
  .regex(/^[0-9a-fA-F]{40}$/, { error: "must be a 40-character hex commit SHA" })
  .transform((s) => s.toLowerCase());
const user = z.looseObject({ login: z.string().min(1) });
const repository = z.looseObject({
  full_name: z.string().regex(/^[^/\s]+\/[^/\s]+$/, { error: 'must be "owner/name"' }),
});
const isoTime = z.iso.datetime({ offset: true });
// Webhooks send lowercase states, the REST API uppercase ones; accept both.
const reviewState = z.preprocess(
  (v) => (typeof v === "string" ? v.toLowerCase() : v),
  z.enum(["approved", "changes_requested", "commented", "dismissed"]),
);

/** The fields Breakwater reads from a `pull_request_review` webhook (submitted or dismissed). */
export const pullRequestReviewEventSchema = z.looseObject({
  action: z.enum(["submitted", "dismissed"]),
  review: z.looseObject({
    id: z.number().int(),
    user,
    state: reviewState,
    commit_id: sha,
    submitted_at: isoTime.nullable().optional(),
  }),
  pull_request: z.looseObject({
    number: z.number().int().positive(),
    user,
    head: z.looseObject({ sha }),
    base: z.looseObject({ ref: z.string().min(1) }),
  }),
  repository,
});

/** The fields Breakwater reads from a `pull_request` webhook with action `closed`. */
export const pullRequestClosedEventSchema = z
  .looseObject({
    action: z.literal("closed"),
    pull_request: z.looseObject({
      number: z.number().int().positive(),
      merged: z.boolean(),
      merge_commit_sha: sha.nullable(),
      merged_at: isoTime.nullable(),
      user,
      head: z.looseObject({ sha }),
      base: z.looseObject({ ref: z.string().min(1) }),
    }),
    repository,
  })
  .superRefine((e, ctx) => {
    // A merged pull request always has both; without them there is no version to deploy.
    if (!e.pull_request.merged) return;
    for (const field of ["merge_commit_sha", "merged_at"] as const) {
      if (e.pull_request[field] === null) {
        ctx.addIssue({
          code: "custom",
          path: ["pull_request", field],
          message: "is required when merged is true",
        });
      }
    }
  });

export type PullRequestReviewEvent = z.output<typeof pullRequestReviewEventSchema>;
export type PullRequestClosedEvent = z.output<typeof pullRequestClosedEventSchema>;

/**
 * The review a `pull_request_review` webhook reports. A dismissed action always stores
 * `dismissed`; a review without `submitted_at` is timed at its receipt.
 */
export function reviewFromEvent(event: PullRequestReviewEvent, receivedAt: Date): StoredReview {
  return {
    id: event.review.id,
    reviewer: event.review.user.login,
    state: event.action === "dismissed" ? "dismissed" : event.review.state,
    commitId: event.review.commit_id,
    submittedAt: event.review.submitted_at ?? receivedAt.toISOString(),
  };
}

/**
 * Decides what a closed pull request starts: one decision per pipeline deployed from the branch
 * it merged into. A pipeline's run starts when the merged head has at least `minApprovals`
 * approvals from people other than the author (only approvals of the head itself when
 * `requireApprovalOnHead`) and nobody's latest review requests changes. The version is the full
 * merge commit SHA (see `StartRunDecision`).
 *
 * A single rejection without a pipeline means nothing of Breakwater's is concerned (not merged,
 * or merged into a branch no pipeline deploys); a rejection with a pipeline is a change that
 * reached a pipeline's branch unapproved, to be recorded and notified.
 *
 * @example
 * decideMerge({ event, reviews, config: [{ repository: "acme/orders", branch: "main", pipeline: "orders-api", minApprovals: 1, requireApprovalOnHead: true }] });
 * // → [{ action: "start-run", pipeline: "orders-api", version: "<merge sha>", approvers: ["alice"], … }]
 */
export function decideMerge(input: {
  event: PullRequestClosedEvent;
  reviews: readonly StoredReview[];
  config: TriggerConfig;
  /**
   * Per pipeline, the reviewers whose approvals do not count (lowercase login → why): see
   * `ineligibleApprovers`, which asks GitHub who has write access.
   */
  ineligible?: ReadonlyMap<string, ReadonlyMap<string, string>>;
}): TriggerDecision[] {
  const { event, reviews, config } = input;
  const pr = event.pull_request;
  const facts = {
    trigger: "github" as const,
    repository: event.repository.full_name,
    prNumber: pr.number,
    headSha: pr.head.sha,
    author: pr.user.login,
  };
  if (!pr.merged || pr.merge_commit_sha === null || pr.merged_at === null) {
    return [{ action: "rejected", reason: "not merged", ...facts }];
  }
  const sha = pr.merge_commit_sha;
  const mergedAt = pr.merged_at;
  const triggers = triggersFor(config, event.repository.full_name);
  if (triggers.length === 0) {
    return [
      {
        action: "rejected",
        reason: `repository ${event.repository.full_name} deploys no pipeline`,
        sha,
        ...facts,
      },
    ];
  }
  const onBranch = triggers.filter((t) => t.branch === pr.base.ref);
  if (onBranch.length === 0) {
    const wanted = triggers.map((t) => `${t.pipeline} deploys ${t.branch}`).join(", ");
    return [
      {
        action: "rejected",
        reason: `branch ${pr.base.ref} is not the pipeline's branch (${wanted})`,
        sha,
        ...facts,
      },
    ];
  }
  return onBranch.map((t): TriggerDecision => {
    const verdict = evaluateApprovals(reviews, {
      author: pr.user.login,
      headSha: pr.head.sha,
      minApprovals: t.minApprovals,
      requireApprovalOnHead: t.requireApprovalOnHead,
      ...(input.ineligible?.has(t.pipeline)
        ? { ineligible: input.ineligible.get(t.pipeline) }
        : {}),
    });
    if (!verdict.approved) {
      return { action: "rejected", pipeline: t.pipeline, reason: verdict.reason, sha, ...facts };
    }
    return {
      action: "start-run",
      pipeline: t.pipeline,
      version: sha,
      sha,
      approvers: verdict.approvers,
      mergedAt,
      trigger: "github",
      repository: facts.repository,
      prNumber: facts.prNumber,
      headSha: facts.headSha,
    };
  });
}

/** An HTTP request as the transport hands it over. Header names in any case. */
export interface WebhookRequest {
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The body exactly as received: the signature is computed over these bytes. */
  rawBody: string | Uint8Array;
  /** The client's address, when the transport knows it (recorded with refused requests). */
  sourceIp?: string;
  /**
   * How long this invocation may still run (Lambda: `context.getRemainingTimeInMillis()`): the
   * delivery's claim stays in progress that long. Default `DEFAULT_IN_PROGRESS_MS`.
   */
  remainingTimeMs?: number;
}

export type WebhookResult =
  | "run-requested"
  | "rejected"
  | "review-recorded"
  | "ignored"
  | "duplicate"
  | "in-progress"
  | "approval-check-failed"
  | "pong"
  | "invalid-signature"
  | "invalid-request"
  | "unknown-repository"
  | "unsupported-media-type";

export interface WebhookResponseBody {
  result: WebhookResult;
  message: string;
  deliveryId?: string;
  /** Runs requested (202). */
  runs?: { pipeline: string; version: string; approvers: string[] }[];
  /** Pipelines whose branch the change reached without the approvals they need. */
  rejections?: { pipeline: string; reason: string }[];
  /** Payload problems (400), each with the field's path. */
  problems?: Problem[];
  /** The repository the payload names (404: the one no pipeline deploys from). */
  repository?: string;
}

export interface WebhookResponse {
  status: 200 | 202 | 400 | 401 | 404 | 409 | 415 | 502;
  body: WebhookResponseBody;
}

export interface GitHubWebhookDeps {
  /** The webhook's secret (the same string configured on GitHub). */
  secret: string;
  config: TriggerConfig;
  reviews: ReviewStore;
  deliveries: WebhookDeliveryStore;
  /** Puts events on the Breakwater bus (`EventPublisher.publish`). */
  publish(events: BusEvent[]): Promise<void>;
  /** Run requests, written before their "Approved Change Merged" pointer is published. */
  runRequests: RunRequestStore;
  clock: Clock;
  /**
   * GitHub's REST API, asked whether each approving reviewer has write access (and is an
   * approver, when the pipeline lists them). Without it no approval counts (fail closed).
   */
  github?: GitHubApi;
  /** The API URL for config entries without `apiUrl` (default `https://api.github.com`). */
  defaultApiUrl?: string;
  /**
   * Where every refused request (bad signature, malformed, unknown repository), duplicate
   * delivery, unapproved merge and run request is recorded. Optional: without it nothing is.
   */
  triggers?: TriggerLog;
}

const respond = (
  status: WebhookResponse["status"],
  result: WebhookResult,
  message: string,
  extra: Omit<WebhookResponseBody, "result" | "message"> = {},
): WebhookResponse => ({ status, body: { result, message, ...extra } });

function header(headers: WebhookRequest["headers"], name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name) continue;
    const value = typeof v === "string" ? v : v?.[0];
    return value?.trim() || undefined;
  }
  return undefined;
}

function parsePayload<S extends z.ZodType>(
  schema: S,
  body: unknown,
  event: string,
): { ok: true; value: z.output<S> } | { ok: false; response: WebhookResponse } {
  const parsed = schema.safeParse(body);
  if (parsed.success) return { ok: true, value: parsed.data };
  const problems = collectProblems(parsed.error.issues, body);
  return {
    ok: false,
    response: respond(
      400,
      "invalid-request",
      `invalid ${event} payload: ${formatProblems(problems, "; ")}`,
      { problems },
    ),
  };
}

/**
 * Handles one GitHub webhook delivery.
 *
 * - 401: missing or wrong `X-Hub-Signature-256` (the body is not read; nothing is published)
 * - 415: not `application/json` (configure the webhook's content type as JSON)
 * - 400: missing `X-GitHub-Event`/`X-GitHub-Delivery`, malformed JSON, or a payload that does
 *   not match its schema (the message names the field)
 * - 404: a repository the trigger config does not list
 * - 200: ping, ignored events and actions, a recorded review, a duplicate delivery, a merge
 *   that starts nothing (unapproved merges publish "Breakwater Change Rejected")
 * - 202: one "Approved Change Merged" published per pipeline whose branch the approved change
 *   merged into
 *
 * - 409: the same delivery is being processed by another invocation (or one that crashed, until
 *   its time is up): redeliver later
 * - 502: GitHub's API could not tell whether the approvers have write access: nothing is
 *   approved, the claim is given back, and a redelivery decides again
 *
 * A delivery id is claimed (in progress, for `req.remainingTimeMs`) before anything is recorded
 * or published, completed when that succeeded, and released when it failed (the error
 * propagates, so the transport answers 5xx and GitHub's redelivery is processed). An invocation
 * that dies mid-way leaves the claim in progress until its time is up; after that a redelivery
 * takes it over. A redelivery after a crash that followed the publish publishes "Approved Change
 * Merged" again: start-run keys runs by `pipeline@version` and starts it once.
 *
 * With `deps.triggers`, every 4xx, duplicate, rejected merge and run request leaves a
 * {@link TriggerRecord}; a 401's record keeps only the delivery id, event name and source IP.
 * A record that cannot be written is a fault like a failed publish (5xx, redelivery).
 *
 * @example
 * const res = await handleGitHubWebhook({ headers: req.headers, rawBody }, deps);
 * // → { status: 202, body: { result: "run-requested", runs: [{ pipeline: "orders-api", version: "c4295bd7…", approvers: ["alice"] }], … } }
 */
export async function handleGitHubWebhook(
  req: WebhookRequest,
  deps: GitHubWebhookDeps,
): Promise<WebhookResponse> {
  const res = await respondTo(req, deps);
  if (deps.triggers && RECORDED.has(res.body.result) && res.status !== 200 && res.status !== 202) {
    await deps.triggers.record(refusal(req, res, deps.clock.now()));
  }
  if (deps.triggers && res.body.result === "duplicate") {
    await deps.triggers.record({
      ...headerFacts(req),
      at: deps.clock.now().toISOString(),
      trigger: "github",
      outcome: "duplicate",
      status: res.status,
      reason: res.body.message,
    });
  }
  return res;
}

/** Refusals recorded by the wrapper (rejections and run requests record their own facts). */
const RECORDED = new Set<WebhookResult>([
  "in-progress",
  "invalid-signature",
  "invalid-request",
  "unknown-repository",
  "unsupported-media-type",
]);

/** Unauthenticated header values end up in the record: printable, bounded. */
function safe(value: string | undefined, max = 100): string | undefined {
  if (value === undefined) return undefined;
  const clean = value.replace(/[^\x20-\x7e]/g, "?").slice(0, max);
  return clean || undefined;
}

function headerFacts(
  req: WebhookRequest,
): Pick<TriggerRecord, "deliveryId" | "event" | "sourceIp"> {
  const facts: Pick<TriggerRecord, "deliveryId" | "event" | "sourceIp"> = {};
  const deliveryId = safe(header(req.headers, "x-github-delivery"));
  const event = safe(header(req.headers, "x-github-event"));
  const sourceIp = safe(req.sourceIp, 45);
  if (deliveryId) facts.deliveryId = deliveryId;
  if (event) facts.event = event;
  if (sourceIp) facts.sourceIp = sourceIp;
  return facts;
}

function refusal(req: WebhookRequest, res: WebhookResponse, at: Date): TriggerRecord {
  const record: TriggerRecord = {
    ...headerFacts(req),
    at: at.toISOString(),
    trigger: "github",
    outcome: res.body.result as TriggerRecord["outcome"],
    status: res.status,
    // A forged request's message is ours (never its body); others name the problem.
    reason: res.body.message.slice(0, 1000),
  };
  if (res.body.repository) record.repository = res.body.repository;
  return record;
}

async function respondTo(req: WebhookRequest, deps: GitHubWebhookDeps): Promise<WebhookResponse> {
  // GitHub always sends UTF-8 JSON; a body that is not valid UTF-8 decodes with replacement
  // characters, fails the signature check and is answered 401 like any other forgery.
  const text =
    typeof req.rawBody === "string" ? req.rawBody : Buffer.from(req.rawBody).toString("utf8");
  const signature = header(req.headers, "x-hub-signature-256");
  if (!signature) {
    return respond(401, "invalid-signature", "missing X-Hub-Signature-256 header");
  }
  if (!(await verifySignature(deps.secret, text, signature))) {
    return respond(401, "invalid-signature", "X-Hub-Signature-256 does not match the body");
  }

  const contentType = header(req.headers, "content-type");
  const mediaType = contentType?.split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "application/json") {
    return respond(
      415,
      "unsupported-media-type",
      `content type ${contentType ?? "(none)"} is not supported: set the webhook's content type to application/json`,
    );
  }
  const event = header(req.headers, "x-github-event");
  if (!event) return respond(400, "invalid-request", "missing X-GitHub-Event header");
  const deliveryId = header(req.headers, "x-github-delivery");

  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return respond(400, "invalid-request", `body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return respond(400, "invalid-request", "body is not a JSON object");
  }
  const action = (body as { action?: unknown }).action;
  const ignored = (why: string) => respond(200, "ignored", why, deliveryId ? { deliveryId } : {});

  if (event === "ping") return respond(200, "pong", "pong", deliveryId ? { deliveryId } : {});
  if (event === "pull_request_review") {
    if (typeof action === "string" && action !== "submitted" && action !== "dismissed") {
      return ignored(`pull_request_review action ${action} changes no review state`);
    }
    const parsed = parsePayload(pullRequestReviewEventSchema, body, event);
    if (!parsed.ok) return parsed.response;
    return recordReview(parsed.value, deliveryId, req, deps);
  }
  if (event === "pull_request") {
    if (typeof action === "string" && action !== "closed") {
      return ignored(`pull_request action ${action} starts nothing`);
    }
    const parsed = parsePayload(pullRequestClosedEventSchema, body, event);
    if (!parsed.ok) return parsed.response;
    return onClosed(parsed.value, deliveryId, req, deps);
  }
  return ignored(`event ${event} starts nothing`);
}

function unknownRepository(name: string): WebhookResponse {
  return respond(
    404,
    "unknown-repository",
    `repository ${name} is not configured: no pipeline deploys from it`,
    { repository: name },
  );
}

/**
 * Claims the delivery, runs `work`, and completes the claim when `work` answered below 500; gives
 * it back when `work` failed or answered 5xx (a redelivery is processed again). A claim held by
 * another invocation is answered 409, retryably; a completed one is a duplicate.
 */
async function once(
  deliveryId: string,
  req: WebhookRequest,
  deps: GitHubWebhookDeps,
  work: () => Promise<WebhookResponse>,
): Promise<WebhookResponse> {
  const claim = await deps.deliveries.claim(
    deliveryId,
    Math.max(1, req.remainingTimeMs ?? DEFAULT_IN_PROGRESS_MS),
  );
  if (claim.status === "completed") {
    return respond(200, "duplicate", `delivery ${deliveryId} was already processed`, {
      deliveryId,
    });
  }
  if (claim.status === "in-progress") {
    return respond(
      409,
      "in-progress",
      `delivery ${deliveryId} is being processed (claimed until ${claim.until.toISOString()}): redeliver it later`,
      { deliveryId },
    );
  }
  let res: WebhookResponse;
  try {
    res = await work();
  } catch (err) {
    // If the release fails too, the claim expires with this invocation's time.
    await deps.deliveries.release(deliveryId, claim.token).catch(() => {});
    throw err;
  }
  if (res.status >= 500) await deps.deliveries.release(deliveryId, claim.token);
  else await deps.deliveries.complete(deliveryId, claim.token);
  return res;
}

const missingDelivery = () => respond(400, "invalid-request", "missing X-GitHub-Delivery header");

async function recordReview(
  event: PullRequestReviewEvent,
  deliveryId: string | undefined,
  req: WebhookRequest,
  deps: GitHubWebhookDeps,
): Promise<WebhookResponse> {
  const repo = event.repository.full_name;
  if (triggersFor(deps.config, repo).length === 0) return unknownRepository(repo);
  if (!deliveryId) return missingDelivery();
  return once(deliveryId, req, deps, async () => {
    const review = reviewFromEvent(event, deps.clock.now());
    await deps.reviews.recordReview(repo, event.pull_request.number, review);
    return respond(
      200,
      "review-recorded",
      `recorded ${review.state} review ${review.id} by ${review.reviewer} on ${repo}#${event.pull_request.number}`,
      { deliveryId },
    );
  });
}

async function onClosed(
  event: PullRequestClosedEvent,
  deliveryId: string | undefined,
  req: WebhookRequest,
  deps: GitHubWebhookDeps,
): Promise<WebhookResponse> {
  const repo = event.repository.full_name;
  if (triggersFor(deps.config, repo).length === 0) return unknownRepository(repo);
  if (!deliveryId) return missingDelivery();
  const pr = event.pull_request.number;
  const unchecked = decideMerge({
    event,
    reviews: await deps.reviews.reviews(repo, pr),
    config: deps.config,
  });
  if (!publishesAnything(unchecked)) {
    const why = unchecked.map((d) => (d.action === "rejected" ? d.reason : d.action));
    return respond(200, "ignored", why.join("; "), { deliveryId });
  }
  return once(deliveryId, req, deps, async () => {
    // Decided again inside the claim: the reviews as they are now, and who of the approvers
    // counts (asked of GitHub only for the decisions that would start a run).
    const reviews = await deps.reviews.reviews(repo, pr);
    const first = decideMerge({ event, reviews, config: deps.config });
    const ineligible = new Map<string, Map<string, string>>();
    const failed: { decision: TriggerDecision; reason: string }[] = [];
    for (const d of first) {
      if (d.action !== "start-run") continue;
      const trigger = triggersFor(deps.config, repo).find(
        (t) => t.pipeline === d.pipeline && t.branch === event.pull_request.base.ref,
      );
      if (!trigger) continue;
      try {
        ineligible.set(
          d.pipeline,
          await ineligibleApprovers(deps.github, trigger, repo, d.approvers, deps.defaultApiUrl),
        );
      } catch (err) {
        if (!(err instanceof ApprovalCheckError)) throw err;
        failed.push({
          decision: d,
          reason: `approvals by ${d.approvers.join(", ")} not checked: ${err.message}`,
        });
      }
    }
    if (failed.length > 0) return approvalCheckFailed(failed, deliveryId, event.action, deps);
    const decisions = decideMerge({ event, reviews, config: deps.config, ineligible });
    // The run requests first, then their pointers (issue 10 finding 3: the bus is no proof).
    const requests = await writeRunRequests(decisions, deps.runRequests, { ref: deliveryId });
    await deps.publish(decisionEvents(decisions, deps.clock.now().toISOString(), requests));
    if (deps.triggers) {
      const at = deps.clock.now().toISOString();
      for (const d of decisions) {
        // Decisions without a pipeline concern nothing of Breakwater's; they publish nothing.
        if (d.pipeline === undefined) continue;
        await deps.triggers.record(decisionRecord(d, at, deliveryId, event.action));
      }
    }
    const runs = decisions.flatMap((d) =>
      d.action === "start-run"
        ? [{ pipeline: d.pipeline, version: d.version, approvers: d.approvers }]
        : [],
    );
    const rejections = decisions.flatMap((d) =>
      d.action === "rejected" && d.pipeline !== undefined
        ? [{ pipeline: d.pipeline, reason: d.reason }]
        : [],
    );
    const summary = [
      ...runs.map((r) => `requested a run of ${r.pipeline} at ${r.version}`),
      ...rejections.map((r) => `${r.pipeline}: ${r.reason}`),
    ].join("; ");
    return runs.length > 0
      ? respond(202, "run-requested", summary, { deliveryId, runs, rejections })
      : respond(200, "rejected", summary, { deliveryId, rejections });
  });
}

/**
 * GitHub could not say who may approve: nothing is published (fail closed), each pipeline
 * concerned gets a record saying why, and the answer is 502 so the claim is given back and a
 * redelivery decides again.
 */
async function approvalCheckFailed(
  failed: { decision: TriggerDecision; reason: string }[],
  deliveryId: string,
  action: string,
  deps: GitHubWebhookDeps,
): Promise<WebhookResponse> {
  const at = deps.clock.now().toISOString();
  for (const f of failed) {
    await deps.triggers?.record({
      ...decisionRecord(f.decision, at, deliveryId, action),
      outcome: "approval-check-failed",
      status: 502,
      reason: f.reason.slice(0, 1000),
    });
  }
  return respond(
    502,
    "approval-check-failed",
    `${failed.map((f) => `${f.decision.pipeline}: ${f.reason}`).join("; ")}; nothing was approved: redeliver once GitHub's API answers`,
    { deliveryId },
  );
}

/** The record of one merge decision: what was merged, where, and why it starts or does not. */
function decisionRecord(
  d: TriggerDecision,
  at: string,
  deliveryId: string,
  action: string,
): TriggerRecord {
  const record: TriggerRecord = {
    at,
    trigger: d.trigger,
    outcome: d.action === "start-run" ? "run-requested" : "rejected",
    status: d.action === "start-run" ? 202 : 200,
    reason: d.action === "start-run" ? `approved by ${d.approvers.join(", ")}` : d.reason,
    deliveryId,
    event: `pull_request.${action}`,
  };
  const optional = {
    pipeline: d.pipeline,
    repository: d.repository,
    pr: d.prNumber,
    sha: d.sha,
    headSha: d.headSha,
    artifactDigest: d.artifactDigest,
    ...(d.action === "start-run" ? { version: d.version, approvers: d.approvers } : {}),
  };
  for (const [k, v] of Object.entries(optional)) {
    if (v !== undefined) (record as unknown as Record<string, unknown>)[k] = v;
  }
  return record;
}
