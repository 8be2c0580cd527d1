/**
 * In-memory twins of the trigger ports, for tests and the local control plane only: they forget
 * everything when the process exits, and they are not shared between processes.
 */
import { mergeReview, type StoredReview } from "./decisions.ts";
import type { ReviewStore, TriggerLog, TriggerRecord, WebhookDeliveryStore } from "./ports.ts";

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

export class InMemoryWebhookDeliveryStore implements WebhookDeliveryStore {
  // Insertion-ordered, so the oldest ids are forgotten first once `capacity` is reached: a local
  // control plane that runs for days must not grow without bound. Redeliveries come soon after
  // the original, so the recent ids are the ones that matter.
  private readonly seen = new Set<string>();

  constructor(private readonly capacity = 10_000) {}

  async firstDelivery(deliveryId: string): Promise<boolean> {
    if (this.seen.has(deliveryId)) return false;
    this.seen.add(deliveryId);
    if (this.seen.size > this.capacity) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    return true;
  }

  async releaseDelivery(deliveryId: string): Promise<void> {
    this.seen.delete(deliveryId);
  }

  /** Whether the id is claimed (for tests). */
  has(deliveryId: string): boolean {
    return this.seen.has(deliveryId);
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
