/**
 * A virtual clock owned by the local runtime, driven by a discrete-event loop.
 *
 * The Step Functions interpreter sleeps with the global `setTimeout`. Code that runs "inside"
 * a simulated control plane (the interpreter, the local event bus) carries the clock in an
 * AsyncLocalStorage context; the global `setTimeout`/`clearTimeout` are routed to the virtual
 * clock in that context and to the real timers everywhere else. Handlers are invoked outside
 * the virtual context, so their I/O (DynamoDB Local over HTTP) uses real timers.
 *
 * The loop fires one timer at a time, and only when nothing is in flight (no handler running,
 * no pending microtasks); handlers run one at a time in call order. Hours of bake pass in
 * milliseconds and the same inputs give the same timeline.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Clock } from "../domain/ports.ts";

const context = new AsyncLocalStorage<VirtualClock | null>();

const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
let installed = false;

/** A virtual timer handle; shaped enough like Node's Timeout for libraries that call unref(). */
export class VirtualTimer {
  constructor(
    readonly clock: VirtualClock,
    readonly at: number,
    readonly seq: number,
    readonly fn: (...args: unknown[]) => void,
    readonly args: unknown[],
    /** 1: fires after every ordinary timer due at the same instant (see `endOfInstant`). */
    readonly late = 0,
  ) {}
  unref(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  refresh(): this {
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.seq;
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  const routedSetTimeout = (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const clock = context.getStore();
    if (clock) return clock.schedule(fn, ms ?? 0, args);
    return realSetTimeout(fn, ms, ...args);
  };
  const routedClearTimeout = (handle: unknown) => {
    if (handle instanceof VirtualTimer) handle.clock.cancel(handle);
    else realClearTimeout(handle as Parameters<typeof clearTimeout>[0]);
  };
  globalThis.setTimeout = routedSetTimeout as unknown as typeof setTimeout;
  globalThis.clearTimeout = routedClearTimeout as typeof clearTimeout;
}

const immediate = () => new Promise<void>((resolve) => setImmediate(resolve));

export class VirtualClock implements Clock {
  private nowMs: number;
  private seq = 0;
  private readonly timers: VirtualTimer[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private failure: unknown;
  private queue: Promise<void> = Promise.resolve();
  /** Timers fired so far (a measure of state transitions that waited). */
  fired = 0;
  /** Live mode only: how virtual time follows real time while the loop is idle. */
  private live: { realAnchor: number; virtualAnchor: number; speed: number } | undefined;
  private idle = false;
  private wakeLive: (() => void) | undefined;

  constructor(start: Date) {
    install();
    this.nowMs = start.getTime();
  }

  now(): Date {
    return new Date(this.nowMillis());
  }

  nowMillis(): number {
    // Live mode, loop idle: virtual time runs on with real time, but never past the next timer
    // (a timer is never overdue when something outside the loop reads the clock).
    if (this.live && this.idle) {
      const next = this.timers[0]?.at ?? Number.POSITIVE_INFINITY;
      return Math.max(this.nowMs, Math.min(next, this.liveTarget()));
    }
    return this.nowMs;
  }

  private liveTarget(): number {
    const live = this.live as NonNullable<typeof this.live>;
    return live.virtualAnchor + (performance.now() - live.realAnchor) * live.speed;
  }

  /** Runs `fn` inside the virtual context: its timers are virtual. */
  enter<T>(fn: () => T): T {
    return context.run(this, fn);
  }

  schedule(fn: (...args: unknown[]) => void, ms: number, args: unknown[], late = 0): VirtualTimer {
    const delay = Number.isFinite(ms) && ms > 0 ? ms : 0;
    const timer = new VirtualTimer(this, this.nowMillis() + delay, this.seq++, fn, args, late);
    // Keep the queue ordered by (time, lateness, sequence): binary insertion.
    let lo = 0;
    let hi = this.timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const t = this.timers[mid] as VirtualTimer;
      const before =
        t.at < timer.at ||
        (t.at === timer.at &&
          (t.late < timer.late || (t.late === timer.late && t.seq < timer.seq)));
      if (before) lo = mid + 1;
      else hi = mid;
    }
    this.timers.splice(lo, 0, timer);
    // Live mode: work put in from outside (an HTTP request) must not wait for the idle sleep.
    this.wakeLive?.();
    return timer;
  }

  /**
   * Resolves at the current instant, once everything else due at it has run: every ordinary
   * timer of this instant (including those its work schedules for the same instant) fires
   * first. The local mode starts deploy steps this way, so a rollback due at the same simulated
   * instant writes its halt first and no new step starts at that instant (safety rule 3,
   * tie-breaking); among themselves, late work keeps its order.
   */
  endOfInstant(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.schedule(() => resolve(), 0, [], 1);
    });
  }

  cancel(timer: VirtualTimer): void {
    const i = this.timers.indexOf(timer);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /**
   * Runs real work (a handler with its I/O) outside the virtual context, counted as in flight
   * so the loop does not advance time under it. Tracked work runs one at a time, in the order
   * it was asked for: parallel Map branches that reach a handler at the same simulated instant
   * finish in a deterministic order, whatever their I/O latencies. (Nothing tracked awaits
   * other tracked work: a handler that starts an execution does not wait for it.)
   */
  async track<T>(fn: () => Promise<T>): Promise<T> {
    this.inFlight++;
    const turn = this.queue.then(() => context.run(null, fn));
    this.queue = turn.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await turn;
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  /** Records a failure raised where nobody awaits it (a local event target); `run` rethrows it. */
  fail(err: unknown): void {
    this.failure ??= err;
  }

  pending(): number {
    return this.timers.length;
  }

  private async settle(): Promise<void> {
    let quietTurns = 0;
    while (quietTurns < 2) {
      if (this.inFlight > 0) {
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
        quietTurns = 0;
      }
      await immediate();
      quietTurns = this.inFlight === 0 ? quietTurns + 1 : 0;
    }
  }

  /**
   * Fires timers in order until none is left (or the next one is after `until`).
   * Returns the number of timers fired.
   */
  async run(options: { until?: Date; maxTimers?: number } = {}): Promise<number> {
    const until = options.until?.getTime();
    const max = options.maxTimers ?? 5_000_000;
    let count = 0;
    for (;;) {
      await this.settle();
      if (this.failure) throw this.failure;
      const next = this.timers[0];
      if (!next) return count;
      if (until !== undefined && next.at > until) {
        this.nowMs = Math.max(this.nowMs, until);
        return count;
      }
      if (count >= max) throw new Error(`virtual clock: more than ${max} timers fired`);
      this.timers.shift();
      this.nowMs = Math.max(this.nowMs, next.at);
      count++;
      this.fired++;
      context.run(this, () => next.fn(...next.args));
    }
  }

  /**
   * Live mode (`breakwater serve`): virtual time advances at `speed` × real time. Due timers
   * fire in the same order and one at a time as in `run` (each only when nothing is in flight);
   * when nothing is due the loop sleeps on a real timer, outside the virtual context, until the
   * next timer is due, new work is scheduled, or `signal` aborts. Virtual time never goes
   * backwards; when work is slower than `speed` allows, timers fire late in real time, in order.
   *
   * A failure raised where nobody awaits it goes to `onError` and the loop goes on (a server
   * keeps serving); without `onError` it ends the loop like `run`. Resolves with the number of
   * timers fired when `signal` aborts.
   *
   * @example
   * const stop = new AbortController();
   * const done = clock.runLive({ speed: 600, signal: stop.signal }); // 10 simulated minutes per second
   */
  async runLive(options: {
    speed: number;
    signal: AbortSignal;
    onError?: (err: unknown) => void;
  }): Promise<number> {
    if (!(options.speed > 0) || !Number.isFinite(options.speed)) {
      throw new RangeError(`virtual clock: speed must be a positive number, got ${options.speed}`);
    }
    if (this.live) throw new Error("virtual clock: already running live");
    const { signal } = options;
    this.live = { realAnchor: performance.now(), virtualAnchor: this.nowMs, speed: options.speed };
    let count = 0;
    try {
      for (;;) {
        await this.settle();
        if (this.failure) {
          const err = this.failure;
          this.failure = undefined;
          if (!options.onError) throw err;
          options.onError(err);
        }
        if (signal.aborted) return count;
        const target = this.liveTarget();
        const next = this.timers[0];
        if (next && next.at <= target) {
          this.timers.shift();
          this.nowMs = Math.max(this.nowMs, next.at);
          count++;
          this.fired++;
          context.run(this, () => next.fn(...next.args));
          continue;
        }
        // Nothing due: time passes (up to the next timer), and the loop sleeps in real time.
        this.nowMs = Math.max(this.nowMs, target);
        const waitMs = next
          ? Math.max(1, Math.ceil((next.at - this.nowMs) / options.speed))
          : 60_000;
        await this.sleepLive(Math.min(waitMs, 60_000), signal);
      }
    } finally {
      this.nowMs = Math.max(
        this.nowMs,
        Math.min(this.timers[0]?.at ?? Infinity, this.liveTarget()),
      );
      this.live = undefined;
      this.idle = false;
    }
  }

  private sleepLive(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      this.idle = true;
      const done = () => {
        if (!this.idle) return;
        // Time read while idle becomes the loop's time: nothing moves backwards on waking.
        this.nowMs = this.nowMillis();
        this.idle = false;
        this.wakeLive = undefined;
        realClearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = context.run(null, () => realSetTimeout(done, ms));
      this.wakeLive = done;
      signal.addEventListener("abort", done);
    });
  }
}
