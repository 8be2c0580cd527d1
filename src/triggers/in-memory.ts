/**
 * In-memory twins of the trigger ports, for tests and the local control plane only: they forget
 * everything when the process exits, and they are not shared between processes.
 */
import { randomUUID } from "node:crypto";
import { mergeReview, type StoredReview } from "./decisions.ts";
import type {
  DeliveryClaim,
  ReviewStore,
  TriggerLog,
  TriggerRecord,
  WebhookDeliveryStore,
} from "./ports.ts";

const prKey = (repository: string, pr: number) => `${repository.toLowerCase()}#${pr}`;

export class InMemoryReviewStore implements ReviewStore {
  private readonly byPr = new Map<string, Map<number, StoredReview>>();

  async recordReview(repository: string, pr: number, review: StoredReview): Promise<void> {
    const key = prKey(repository, pr);
    const reviews = this.byPr.get(key) ?? new Map<number, StoredReview>();
    reviews.set(review.id, { ...mergeReview(reviews.get(review.id), review) });
    this.byPr.set(key, reviews);
  }

  async reviews(repository: string, pr: number): Promise<StoredReview[]> {
    return [...(this.byPr.get(prKey(repository, pr))?.values() ?? [])].map((r) => ({ ...r }));
  }

  /** Number of reviews recorded, all pull requests together (for tests). */
  get size(): number {
    let n = 0;
    for (const reviews of this.byPr.values()) n += reviews.size;
    return n;
  }
}

/** Same semantics as the DynamoDB store (`DynamoDeliveryStore`): in progress, then completed. */
export class InMemoryWebhookDeliveryStore implements WebhookDeliveryStore {
  // Insertion-ordered, so the oldest ids are forgotten first once `capacity` is reached: a local
  // control plane that runs for days must not grow without bound. Redeliveries come soon after
  // the original, so the recent ids are the ones that matter.
  private readonly claims = new Map<
    string,
    { status: "in-progress"; token: string; until: number } | { status: "completed" }
  >();
  private readonly capacity: number;
  private readonly now: () => number;

  constructor(options: { capacity?: number; now?: () => number } = {}) {
    this.capacity = options.capacity ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  async claim(deliveryId: string, inProgressMs: number): Promise<DeliveryClaim> {
    const existing = this.claims.get(deliveryId);
    if (existing?.status === "completed") return { status: "completed" };
    const now = this.now();
    if (existing && existing.until > now) {
      return { status: "in-progress", until: new Date(existing.until) };
    }
    const token = randomUUID();
    this.claims.delete(deliveryId); // re-inserted as the newest
    this.claims.set(deliveryId, { status: "in-progress", token, until: now + inProgressMs });
    if (this.claims.size > this.capacity) {
      const oldest = this.claims.keys().next().value;
      if (oldest !== undefined) this.claims.delete(oldest);
    }
    return { status: "claimed", token };
  }

  async complete(deliveryId: string, token: string): Promise<void> {
    const existing = this.claims.get(deliveryId);
    if (existing?.status === "in-progress" && existing.token === token) {
      this.claims.set(deliveryId, { status: "completed" });
    }
  }

  async release(deliveryId: string, token: string): Promise<void> {
    const existing = this.claims.get(deliveryId);
    if (existing?.status === "in-progress" && existing.token === token) {
      this.claims.delete(deliveryId);
    }
  }

  /** Whether the id is claimed or completed (for tests). */
  has(deliveryId: string): boolean {
    return this.claims.has(deliveryId);
  }
}

export class InMemoryTriggerLog implements TriggerLog {
  // Bounded like the delivery store: the oldest records are forgotten first.
  private readonly records: TriggerRecord[] = [];

  constructor(private readonly capacity = 10_000) {}

  async record(entry: TriggerRecord): Promise<void> {
    this.records.push(structuredClone(entry));
    if (this.records.length > this.capacity) this.records.shift();
  }

  async list(query: { pipeline?: string; limit?: number } = {}): Promise<TriggerRecord[]> {
    const limit = query.limit ?? 50;
    return (
      this.records
        .map((r, i) => ({ r, i }))
        .filter(({ r }) => query.pipeline === undefined || r.pipeline === query.pipeline)
        // Newest first; records of the same instant in reverse order of arrival.
        .sort((a, b) => (a.r.at === b.r.at ? b.i - a.i : a.r.at < b.r.at ? 1 : -1))
        .slice(0, limit)
        .map(({ r }) => structuredClone(r))
    );
  }
}
