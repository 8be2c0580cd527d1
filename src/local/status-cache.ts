/**
 * `serve`'s read cache for `GET /status` (and any report computed from the table): a report is
 * computed once and shared until the table is written (table-writes.ts) or it grows old, and
 * the requests that arrive while it is being computed wait for that one computation
 * (single flight) instead of each reading the table. Reads stay read-your-writes: a request that
 * follows a write never gets a report computed before it. A report that is only old (nothing
 * written since) is still answered while its replacement is computed in the background.
 *
 * Without it every `/status` read every pipeline's scopes, runs and bypasses from DynamoDB Local
 * (5–17 ms a call): serve saturated at about 34 requests/s, and under 10 with a busy table.
 */
export interface CacheClock {
  /** Real time, ms (how old a report may get while nothing is written). */
  realMs(): number;
}

/** A report is recomputed at least this often even when nothing was written (time-based fields). */
export const MAX_REPORT_AGE_MS = 1_000;
/** Distinct keys kept (one per `?pipeline=` asked for); past it the cache starts again. */
const MAX_KEYS = 256;

interface Entry<T> {
  version: number;
  computedAtMs: number;
  value: Promise<T>;
  /** The computation finished (an unsettled entry is shared by the readers that wait for it). */
  settled: boolean;
}

export class ReportCache<T> {
  private version = 0;
  private readonly entries = new Map<string, Entry<T>>();
  private readonly refreshing = new Set<string>();
  computations = 0;

  constructor(
    private readonly clock: CacheClock = { realMs: () => performance.now() },
    private readonly maxAgeMs = MAX_REPORT_AGE_MS,
  ) {}

  /** The table changed: every report computed before now is stale. */
  invalidate(): void {
    this.version++;
  }

  /**
   * The report for `key`: the shared one if nothing was written since its computation started
   * and it is younger than the maximum age, else a new computation (shared by the requests that
   * come while it runs). A failed computation is not kept.
   */
  get(key: string, compute: () => Promise<T>): Promise<T> {
    const now = this.clock.realMs();
    const hit = this.entries.get(key);
    if (hit && hit.version === this.version) {
      // Being computed (share it), or computed less than the maximum age ago.
      if (!hit.settled || now - hit.computedAtMs < this.maxAgeMs) return hit.value;
      // Only old, nothing written since: answer with it while a fresh one is computed (its
      // time-based fields, such as an expired bypass, are at most one computation late).
      this.refresh(key, compute, now);
      return hit.value;
    }
    // Never computed, or the table was written since: every reader waits for a new computation.
    if (this.entries.size >= MAX_KEYS) this.entries.clear();
    const entry: Entry<T> = {
      version: this.version,
      computedAtMs: now,
      value: compute(),
      settled: false,
    };
    this.computations++;
    this.entries.set(key, entry);
    entry.value.then(
      () => {
        entry.settled = true;
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.value;
  }

  private refresh(key: string, compute: () => Promise<T>, now: number): void {
    if (this.refreshing.has(key)) return;
    this.refreshing.add(key);
    const version = this.version;
    this.computations++;
    compute()
      .then((value) => {
        // A write since makes this one stale too: the next reader computes afresh.
        if (this.version !== version) return;
        this.entries.set(key, {
          version,
          computedAtMs: now,
          value: Promise.resolve(value),
          settled: true,
        });
      })
      .catch(() => undefined)
      .finally(() => this.refreshing.delete(key));
  }
}
