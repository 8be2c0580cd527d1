/**
 * The triggers' stores in the single table:
 *
 *   REVIEWS#<owner/name lowercased>#<pr> / REVIEW#<id>   a pull request review
 *   DELIVERY#<id>                        / DELIVERY      a webhook delivery's claim (in progress / completed)
 *   TRIGGERS#<shard>                     / TRIG#<at>#<arrival>  a trigger record (gsi1: PIPELINE#<name> /
 *                                                          the same sk, when it names a pipeline)
 *   TRIGGERS                             / TRIG#<at>#<arrival>  a trigger record written before sharding
 *                                                          (read, never written any more)
 *
 * Trigger records are spread over TRIGGER_SHARDS partitions (`TRIGGERS#00` … `TRIGGERS#15`, a
 * stable hash of the record's sort key) so no single partition takes every webhook; the listing
 * reads every shard and the legacy `TRIGGERS` partition and merges them in sort-key order.
 *
 * A review stored as dismissed stays dismissed (conditional put); a delivery is claimed once
 * (conditional put), in progress until completed, and given back (marked `released`, never
 * deleted: the trigger functions may delete nothing) when its processing failed. Deliveries and trigger records
 * expire (`expiresAt`, the table's TTL attribute).
 */
import { createHash, randomUUID } from "node:crypto";
import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import * as z from "zod";
import type { StoredReview } from "../../triggers/decisions.ts";
import type {
  DeliveryClaim,
  ReviewStore,
  TriggerLog,
  TriggerRecord,
  WebhookDeliveryStore,
} from "../../triggers/ports.ts";
import { documentClient, TABLE_KEYS } from "./dynamo-store.ts";

/** Deliveries are remembered this long (GitHub redelivers within days, not weeks). */
const DELIVERY_TTL_SECONDS = 14 * 86_400;

const reviewsPk = (repository: string, pr: number) => `REVIEWS#${repository.toLowerCase()}#${pr}`;

export class DynamoReviewStore implements ReviewStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
  ) {
    this.doc = documentClient(client);
  }

  async recordReview(repository: string, pr: number, review: StoredReview): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: reviewsPk(repository, pr), sk: `REVIEW#${review.id}`, ...review },
          ConditionExpression: "attribute_not_exists(pk) OR #state <> :dismissed",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":dismissed": "dismissed" },
        }),
      );
    } catch (err) {
      // Already dismissed: a dismissal is final, the late delivery changes nothing.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async reviews(repository: string, pr: number): Promise<StoredReview[]> {
    const out: StoredReview[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :p)",
          ExpressionAttributeValues: { ":pk": reviewsPk(repository, pr), ":p": "REVIEW#" },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        out.push({
          id: item.id as number,
          reviewer: item.reviewer as string,
          state: item.state as StoredReview["state"],
          commitId: item.commitId as string,
          submittedAt: item.submittedAt as string,
        });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }
}

const IN_PROGRESS = "IN_PROGRESS";
const COMPLETED = "COMPLETED";
/** Given back after a failure: the next delivery claims it again. */
const RELEASED = "RELEASED";

/**
 * Delivery claims with the semantics of Powertools Idempotency (`INPROGRESS` with
 * `in_progress_expiration`, then `COMPLETED`), written as conditional writes of our own: one item
 * per delivery (its own partition key), timed by the store's clock (the local control plane's
 * virtual clock), and three calls the handlers make around their own work. See
 * docs/decisions.md (2026-12-01).
 *
 * A claim is a conditional put that succeeds when the id is new or its in-progress claim has
 * expired (`inProgressUntil`, epoch milliseconds). Completion and release are conditional on the
 * claim's random token, so an invocation whose claim was taken over cannot complete or delete
 * the claim of the one that took over. An item written before claims had a status (the first
 * version of this store) counts as completed.
 */
export class DynamoDeliveryStore implements WebhookDeliveryStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {
    this.doc = documentClient(client);
  }

  private key(deliveryId: string) {
    return { pk: `DELIVERY#${deliveryId}`, sk: "DELIVERY" };
  }

  async claim(deliveryId: string, inProgressMs: number): Promise<DeliveryClaim> {
    // Two rounds at most: a claim released between our put and our read leaves no item, and the
    // second put then succeeds (or finds the next claimant's).
    for (let round = 0; ; round++) {
      const now = this.now();
      const token = randomUUID();
      try {
        await this.doc.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              ...this.key(deliveryId),
              status: IN_PROGRESS,
              token,
              inProgressUntil: now + inProgressMs,
              expiresAt: Math.floor(now / 1000) + DELIVERY_TTL_SECONDS,
            },
            ConditionExpression:
              "attribute_not_exists(pk) OR #status = :released OR (#status = :inProgress AND inProgressUntil <= :now)",
            ExpressionAttributeNames: { "#status": "status" },
            ExpressionAttributeValues: {
              ":inProgress": IN_PROGRESS,
              ":released": RELEASED,
              ":now": now,
            },
          }),
        );
        return { status: "claimed", token };
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
      const { Item: item } = await this.doc.send(
        new GetCommand({ TableName: this.table, Key: this.key(deliveryId), ConsistentRead: true }),
      );
      if (!item || item.status === RELEASED) {
        if (round === 0) continue;
        throw new Error(`delivery ${deliveryId}: its claim changed twice while being read`);
      }
      if (item.status === IN_PROGRESS) {
        return { status: "in-progress", until: new Date(Number(item.inProgressUntil)) };
      }
      return { status: "completed" };
    }
  }

  async complete(deliveryId: string, token: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.table,
          Key: this.key(deliveryId),
          UpdateExpression: "SET #status = :completed, expiresAt = :ttl REMOVE inProgressUntil",
          ConditionExpression: "#token = :token AND #status = :inProgress",
          ExpressionAttributeNames: { "#status": "status", "#token": "token" },
          ExpressionAttributeValues: {
            ":completed": COMPLETED,
            ":inProgress": IN_PROGRESS,
            ":token": token,
            ":ttl": Math.floor(this.now() / 1000) + DELIVERY_TTL_SECONDS,
          },
        }),
      );
    } catch (err) {
      // Taken over after our claim expired: the invocation that took it completes it.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async release(deliveryId: string, token: string): Promise<void> {
    try {
      await this.doc.send(
        // Marked, not deleted: the trigger functions' roles may not delete any item.
        new UpdateCommand({
          TableName: this.table,
          Key: this.key(deliveryId),
          UpdateExpression: "SET #status = :released REMOVE inProgressUntil",
          ConditionExpression: "#token = :token AND #status = :inProgress",
          ExpressionAttributeNames: { "#status": "status", "#token": "token" },
          ExpressionAttributeValues: {
            ":inProgress": IN_PROGRESS,
            ":released": RELEASED,
            ":token": token,
          },
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }
}

let recordSeq = 0;

/** Trigger records are kept this long by default (an audit trail of what started nothing, too). */
const TRIGGER_RECORD_TTL_DAYS = 90;

const triggerRecordSchema = z.object({
  at: z.string(),
  trigger: z.enum(["github", "artifact", "start-run"]),
  outcome: z.enum([
    "run-requested",
    "rejected",
    "duplicate",
    "in-progress",
    "approval-check-failed",
    "invalid-signature",
    "invalid-request",
    "unknown-repository",
    "unsupported-media-type",
    "refused",
  ]),
  status: z.number().int().optional(),
  reason: z.string(),
  deliveryId: z.string().optional(),
  event: z.string().optional(),
  sourceIp: z.string().optional(),
  pipeline: z.string().optional(),
  repository: z.string().optional(),
  pr: z.number().int().optional(),
  sha: z.string().optional(),
  headSha: z.string().optional(),
  artifactDigest: z.string().optional(),
  version: z.string().optional(),
  approvers: z.array(z.string()).optional(),
}) satisfies z.ZodType<TriggerRecord>;

/** How many partitions the trigger records are spread over (decisions log, 2026-12-02). */
export const TRIGGER_SHARDS = 16;
/** The partition of the records written before sharding: still read, never written. */
export const LEGACY_TRIGGERS_PK = "TRIGGERS";

/** The shard partition of a record, from a stable hash of its (unique) sort key. */
export function triggerShardPk(sk: string): string {
  const shard = createHash("sha256").update(sk).digest().readUInt32BE(0) % TRIGGER_SHARDS;
  return `${LEGACY_TRIGGERS_PK}#${String(shard).padStart(2, "0")}`;
}

/** Every partition a trigger record may be in: the shards, then the legacy one. */
export const TRIGGER_PARTITIONS: readonly string[] = [
  ...Array.from(
    { length: TRIGGER_SHARDS },
    (_, i) => `${LEGACY_TRIGGERS_PK}#${String(i).padStart(2, "0")}`,
  ),
  LEGACY_TRIGGERS_PK,
];

/**
 * Trigger records in the single table, newest first. Records are spread over TRIGGER_SHARDS
 * partitions (no hot partition however many webhooks arrive), read back from every shard and the
 * legacy unsharded partition and merged by sort key; a record that names a pipeline is also
 * indexed under that pipeline (gsi1), next to its runs.
 */
export class DynamoTriggerLog implements TriggerLog {
  private readonly doc: DynamoDBDocumentClient;
  private readonly now: () => number;
  private readonly retentionDays: number;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
    /** `retentionDays: 0` keeps records forever (no `expiresAt`). */
    options: { now?: () => number; retentionDays?: number } = {},
  ) {
    this.doc = documentClient(client);
    this.now = options.now ?? Date.now;
    this.retentionDays = options.retentionDays ?? TRIGGER_RECORD_TTL_DAYS;
  }

  async record(entry: TriggerRecord): Promise<void> {
    // Records of one instant keep their order of arrival: wall time, then a per-process counter
    // (both fixed width), then a random suffix so two processes never collide.
    const arrival = `${String(Date.now()).padStart(15, "0")}#${String(++recordSeq).padStart(10, "0")}`;
    const sk = `TRIG#${entry.at}#${arrival}#${randomUUID().slice(0, 8)}`;
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: {
          ...entry,
          pk: triggerShardPk(sk),
          sk,
          ...(entry.pipeline ? { gsi1pk: `PIPELINE#${entry.pipeline}`, gsi1sk: sk } : {}),
          ...(this.retentionDays > 0
            ? { expiresAt: Math.floor(this.now() / 1000) + this.retentionDays * 86_400 }
            : {}),
        },
      }),
    );
  }

  async list(query: { pipeline?: string; limit?: number } = {}): Promise<TriggerRecord[]> {
    const limit = query.limit ?? 50;
    if (limit <= 0) return [];
    let items: Record<string, unknown>[];
    if (query.pipeline) {
      // The per-pipeline index is one partition per pipeline: not sharded.
      items = await this.newest(limit, {
        IndexName: TABLE_KEYS.gsi1.name,
        KeyConditionExpression: "gsi1pk = :pk AND begins_with(gsi1sk, :p)",
        ExpressionAttributeValues: { ":pk": `PIPELINE#${query.pipeline}`, ":p": "TRIG#" },
      });
    } else {
      // The newest `limit` of all are among the newest `limit` of each partition.
      const perPartition = await Promise.all(
        TRIGGER_PARTITIONS.map((pk) =>
          this.newest(limit, {
            KeyConditionExpression: "pk = :pk AND begins_with(sk, :p)",
            ExpressionAttributeValues: { ":pk": pk, ":p": "TRIG#" },
            ConsistentRead: true,
          }),
        ),
      );
      items = perPartition
        .flat()
        .sort((a, b) => (String(a.sk) < String(b.sk) ? 1 : String(a.sk) > String(b.sk) ? -1 : 0))
        .slice(0, limit);
    }
    return items.map((item) => {
      const { pk: _pk, sk: _sk, gsi1pk: _g1, gsi1sk: _g2, expiresAt: _e, ...rest } = item;
      const parsed = triggerRecordSchema.safeParse(rest);
      if (!parsed.success) {
        throw new Error(`trigger record ${String(item.sk)}: ${parsed.error.message}`);
      }
      return parsed.data as TriggerRecord;
    });
  }

  /** Up to `limit` items of one partition, newest (highest sort key) first. */
  private async newest(
    limit: number,
    keys: Pick<
      ConstructorParameters<typeof QueryCommand>[0],
      "IndexName" | "KeyConditionExpression" | "ExpressionAttributeValues" | "ConsistentRead"
    >,
  ): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          ...keys,
          ScanIndexForward: false,
          Limit: limit - out.length,
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start && out.length < limit);
    return out;
  }
}
