/**
 * The generic trigger for CI systems other than GitHub: an "Artifact Published" event on the bus
 * (any `source`) names the pipeline, the commit, the immutable artifact built from it and who
 * approved the change. It leads to the same start-run / rejected decision as a GitHub merge.
 */
import * as z from "zod";
import { BreakwaterError, InvalidInputError } from "../domain/errors.ts";
import { type ArtifactPublisher, artifactSourceRefusal } from "../domain/installation.ts";
import { collectProblems, formatProblems } from "../domain/pipeline.ts";
import type { BusEvent, Clock } from "../domain/ports.ts";
import type { RunRequestStore } from "../domain/run-requests.ts";
import {
  decisionEvents,
  evaluateApprovals,
  type TriggerConfig,
  type TriggerDecision,
} from "./decisions.ts";
import {
  DEFAULT_IN_PROGRESS_MS,
  type TriggerLog,
  type TriggerRecord,
  type WebhookDeliveryStore,
} from "./ports.ts";
import { writeRunRequests } from "./run-requests.ts";

/**
 * The event is being processed by another invocation (or by one that died, until its time is
 * up). Thrown so that Lambda's asynchronous retry delivers the event again later.
 */
export class DeliveryInProgressError extends BreakwaterError {
  override name = "DeliveryInProgressError";
}

export const ARTIFACT_PUBLISHED = "Artifact Published";

// Logins end up in `key=value` cause text and comma-separated lists: no spaces, no commas.
const login = z.string().regex(/^[^\s,]+$/, { error: "must be a login without spaces or commas" });

export const artifactPublishedDetailSchema = z
  .object({
    pipeline: z.string().min(1),
    commitSha: z
      .string()
      .regex(/^[0-9a-fA-F]{40}$/, { error: "must be a 40-character hex commit SHA" })
      .transform((s) => s.toLowerCase()),
    artifactDigest: z.string().regex(/^sha256:[0-9a-f]{64}$/, {
      error: 'must be "sha256:" followed by 64 lowercase hex characters',
    }),
    approvals: z.array(z.object({ login, at: z.iso.datetime({ offset: true }) }).strict()),
    /** Can raise the pipeline's requirement, never lower it. */
    minApprovals: z.number().int().min(1).optional(),
    /** The change's author, when the CI knows it: their own approval does not count. */
    author: login.optional(),
  })
  .strict();

/** The EventBridge envelope as a rule target receives it (other envelope fields pass through). */
export const artifactPublishedEventSchema = z.looseObject({
  "detail-type": z.literal(ARTIFACT_PUBLISHED),
  source: z.string().min(1),
  id: z.string().min(1).optional(),
  time: z.iso.datetime({ offset: true }).optional(),
  detail: artifactPublishedDetailSchema,
});

export type ArtifactPublished = z.output<typeof artifactPublishedDetailSchema>;
export type ArtifactPublishedEvent = z.output<typeof artifactPublishedEventSchema>;

/**
 * The approvals a pipeline needs: the most any trigger config entry of the pipeline asks for
 * (at least 1), raised by the event's own `minApprovals` if higher.
 */
export function requiredApprovals(pipeline: string, config: TriggerConfig, asked?: number): number {
  const configured = config.filter((t) => t.pipeline === pipeline).map((t) => t.minApprovals);
  return Math.max(1, asked ?? 1, ...configured);
}

/**
 * Decides whether a published artifact starts a run. Version: the full lowercase commit SHA, as
 * for GitHub merges, so the merge and the artifact of one commit request the same run (which
 * starts once); the digest is recorded with the run. Approvals count once per login; the
 * author's own approval does not count.
 *
 * @example
 * decideArtifact({ pipeline: "orders-api", commitSha, artifactDigest, approvals: [{ login: "alice", at }] }, { publishedAt: at });
 * // → { action: "start-run", pipeline: "orders-api", version: commitSha, approvers: ["alice"], … }
 */
export function decideArtifact(
  artifact: ArtifactPublished,
  opts: { publishedAt: string; config?: TriggerConfig },
): TriggerDecision {
  const verdict = evaluateApprovals(
    artifact.approvals.map((a, i) => ({
      id: i,
      reviewer: a.login,
      state: "approved" as const,
      commitId: artifact.commitSha,
      submittedAt: a.at,
    })),
    {
      author: artifact.author,
      headSha: artifact.commitSha,
      minApprovals: requiredApprovals(artifact.pipeline, opts.config ?? [], artifact.minApprovals),
      requireApprovalOnHead: false,
    },
  );
  const facts = { trigger: "artifact" as const, artifactDigest: artifact.artifactDigest };
  if (!verdict.approved) {
    return {
      action: "rejected",
      pipeline: artifact.pipeline,
      reason: verdict.reason,
      sha: artifact.commitSha,
      author: artifact.author,
      ...facts,
    };
  }
  return {
    action: "start-run",
    pipeline: artifact.pipeline,
    version: artifact.commitSha,
    sha: artifact.commitSha,
    approvers: verdict.approvers,
    mergedAt: opts.publishedAt,
    ...facts,
  };
}

export interface ArtifactTriggerDeps {
  publish(events: BusEvent[]): Promise<void>;
  /** Run requests, written before their "Approved Change Merged" pointer is published. */
  runRequests: RunRequestStore;
  /**
   * The installation's `artifactPublishers`: the CI principals (and their sources) whose
   * "Artifact Published" counts. None: every such event is refused (fail closed).
   */
  publishers: readonly ArtifactPublisher[];
  clock: Clock;
  /** Pipelines' approval requirements (the GitHub trigger config). */
  config?: TriggerConfig;
  /**
   * When set, an event id already processed (EventBridge delivers at least once) does nothing,
   * and one being processed is refused with {@link DeliveryInProgressError}.
   */
  deliveries?: WebhookDeliveryStore;
  /** When set, every malformed, duplicate, rejected or approved event leaves a record. */
  triggers?: TriggerLog;
}

export type ArtifactTriggerResult =
  | { outcome: "run-requested" | "rejected"; decision: TriggerDecision }
  | { outcome: "duplicate"; id: string }
  | { outcome: "refused"; reason: string };

/**
 * Handles an "Artifact Published" event: publishes "Approved Change Merged" when the artifact
 * is approved, else "Breakwater Change Rejected". Throws `InvalidInputError` (never retried)
 * naming every field that does not match the schema.
 *
 * The event id is claimed in progress for `options.remainingTimeMs` (the invocation's remaining
 * time), completed after the publish and the record, released when they fail. While another
 * invocation holds the claim, throws {@link DeliveryInProgressError} (retried by Lambda); an
 * invocation that died leaves the claim until its time is up, then a retry takes it over. A
 * retry after a crash that followed the publish publishes "Approved Change Merged" again, which
 * start-run deduplicates by run id (`pipeline@version`).
 *
 * @example
 * await handleArtifactPublished(eventBridgeEvent, { publish, clock }); // → { outcome: "run-requested", decision }
 */
export async function handleArtifactPublished(
  input: unknown,
  deps: ArtifactTriggerDeps,
  options: { remainingTimeMs?: number } = {},
): Promise<ArtifactTriggerResult> {
  const parsed = artifactPublishedEventSchema.safeParse(input);
  const now = deps.clock.now().toISOString();
  if (!parsed.success) {
    const problems = collectProblems(parsed.error.issues, input);
    const error = new InvalidInputError(
      `invalid ${ARTIFACT_PUBLISHED} event: ${formatProblems(problems, "; ")}`,
      problems,
    );
    await deps.triggers?.record({
      ...envelopeFacts(input),
      at: now,
      trigger: "artifact",
      outcome: "invalid-request",
      reason: error.message.slice(0, 1000),
    });
    throw error;
  }
  const event = parsed.data;
  const facts: Pick<TriggerRecord, "deliveryId" | "event"> = {
    event: event.source,
    ...(event.id ? { deliveryId: event.id } : {}),
  };
  // Only the installation's CI publishers count (the bus policy checks their principals in
  // AWS; here, their sources). Issue 10 finding 3: the bus is not proof of approval.
  const refusal = artifactSourceRefusal(deps.publishers, event.source);
  if (refusal) {
    await deps.triggers?.record({
      ...facts,
      at: now,
      trigger: "artifact",
      outcome: "refused",
      reason: refusal,
      pipeline: event.detail.pipeline,
      sha: event.detail.commitSha,
      artifactDigest: event.detail.artifactDigest,
    });
    return { outcome: "refused", reason: refusal };
  }
  const decision = decideArtifact(event.detail, {
    publishedAt: event.time ?? now,
    config: deps.config,
  });
  const id = event.id && deps.deliveries ? `artifact:${event.id}` : undefined;
  const claim =
    id && deps.deliveries
      ? await deps.deliveries.claim(
          id,
          Math.max(1, options.remainingTimeMs ?? DEFAULT_IN_PROGRESS_MS),
        )
      : undefined;
  if (id && claim?.status === "completed") {
    await deps.triggers?.record({
      ...facts,
      at: now,
      trigger: "artifact",
      outcome: "duplicate",
      reason: `event ${event.id} was already processed`,
      pipeline: event.detail.pipeline,
      sha: event.detail.commitSha,
      artifactDigest: event.detail.artifactDigest,
    });
    return { outcome: "duplicate", id };
  }
  if (claim?.status === "in-progress") {
    throw new DeliveryInProgressError(
      `event ${event.id} is being processed (claimed until ${claim.until.toISOString()}): retry later`,
    );
  }
  try {
    const requests = await writeRunRequests([decision], deps.runRequests, {
      ...(event.id ? { ref: event.id } : {}),
    });
    // Versions are immutable: a version already requested with another artifact keeps its
    // first one (the conditional put kept it), and this artifact is refused, not deployed.
    const kept = decision.action === "start-run" ? requests.get(decision) : undefined;
    if (kept?.artifactDigest && kept.artifactDigest !== event.detail.artifactDigest) {
      const reason = `version ${kept.version} of ${kept.pipeline} was already requested with artifact ${kept.artifactDigest}: a version is immutable (publish the new artifact as a new version)`;
      await deps.triggers?.record({
        ...facts,
        at: now,
        trigger: "artifact",
        outcome: "refused",
        reason,
        pipeline: event.detail.pipeline,
        sha: event.detail.commitSha,
        artifactDigest: event.detail.artifactDigest,
      });
      if (id && claim?.status === "claimed") await deps.deliveries?.complete(id, claim.token);
      return { outcome: "refused", reason };
    }
    await deps.publish(decisionEvents([decision], now, requests));
    await deps.triggers?.record(artifactRecord(decision, now, facts));
  } catch (err) {
    // If the release fails too, the claim expires with this invocation's time.
    if (id && claim?.status === "claimed") {
      await deps.deliveries?.release(id, claim.token).catch(() => {});
    }
    throw err;
  }
  if (id && claim?.status === "claimed") await deps.deliveries?.complete(id, claim.token);
  return {
    outcome: decision.action === "start-run" ? "run-requested" : "rejected",
    decision,
  };
}

/** The id and source of an event that failed its schema, if they are plain short strings. */
function envelopeFacts(input: unknown): Pick<TriggerRecord, "deliveryId" | "event"> {
  const out: Pick<TriggerRecord, "deliveryId" | "event"> = {};
  if (typeof input !== "object" || input === null) return out;
  const { id, source } = input as { id?: unknown; source?: unknown };
  if (typeof id === "string" && id) out.deliveryId = id.slice(0, 100);
  if (typeof source === "string" && source) out.event = source.slice(0, 100);
  return out;
}

function artifactRecord(
  d: TriggerDecision,
  at: string,
  facts: Pick<TriggerRecord, "deliveryId" | "event">,
): TriggerRecord {
  const base = { ...facts, at, trigger: "artifact" as const };
  if (d.action === "start-run") {
    return {
      ...base,
      outcome: "run-requested",
      reason: `approved by ${d.approvers.join(", ")}`,
      pipeline: d.pipeline,
      sha: d.sha,
      version: d.version,
      approvers: d.approvers,
      ...(d.artifactDigest ? { artifactDigest: d.artifactDigest } : {}),
    };
  }
  return {
    ...base,
    outcome: "rejected",
    reason: d.reason,
    ...(d.pipeline ? { pipeline: d.pipeline } : {}),
    ...(d.sha ? { sha: d.sha } : {}),
    ...(d.artifactDigest ? { artifactDigest: d.artifactDigest } : {}),
  };
}
