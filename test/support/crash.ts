/**
 * Crash injection for the crash-survival tests: wraps a handler's dependencies so that the
 * function "dies" right after its N-th side effect — a store write, a bus publish, a deploy
 * target's `start`, a Step Functions `StartExecution` — the way a Lambda function is killed by a
 * timeout or running out of memory. The side effect itself is durable (it happened); nothing
 * after it in that invocation happens: every later call of any wrapped port throws too, so the
 * dead invocation cannot write, publish or start anything more.
 *
 * The injector does not know where invocations begin: the caller says so (`begin`), with the
 * name of the step (handler) now running. Every effect of every invocation is recorded, so a
 * crash-free baseline tells the tests which crash points exist.
 */
import type { Deps } from "../../src/app/deps.ts";
import type { StateStore } from "../../src/domain/ports.ts";

/** A function killed mid-invocation, as Step Functions names it (a `Lambda.Unknown` task error). */
export class LambdaCrash extends Error {
  override name = "Lambda.Unknown";
}

/** The store methods that write. */
export const STORE_WRITES = new Set<string>([
  "putPipeline",
  "putInstallation",
  "commitOverride",
  "putBlock",
  "createRun",
  "nextSeq",
  "putStageSlot",
  "putLocationLock",
  "releaseLocationLock",
  "updateRun",
  "updateRunReturning",
  "seedScope",
  "seedScopes",
  "transitionScope",
  "appendEvents",
] satisfies (keyof StateStore)[]);

/** The kinds of side effect a crash may follow. */
export type EffectKind = "write" | "publish" | "deploy-start" | "deploy-cancel" | "start-execution";

export interface CrashPoint {
  step: string;
  /** Die right after this many side effects of the invocation. */
  afterEffects: number;
  /**
   * How many invocations of the step die at that point (default 1). With 2, the retry of the
   * crashed invocation — the step's next invocation that gets as far — dies there too.
   */
  times?: number;
}

/** Everything the injector saw: per step, the effect kinds of each invocation in order. */
export type EffectLog = Record<string, EffectKind[][]>;

export class CrashInjector {
  /** Per step, each invocation's side effects in order. */
  readonly effects: EffectLog = {};
  /** Every deploy target `start` call's deploymentId, in order (repeats included). */
  readonly deployStarts: string[] = [];
  /** Every deploy target `cancel` call's deploymentId, in order (repeats included). */
  readonly deployCancels: string[] = [];
  /** How many invocations were killed. */
  crashes = 0;
  private step: string | undefined;
  private count = 0;
  private dead = false;
  private pending: (() => string | undefined) | undefined;

  constructor(private readonly crash?: CrashPoint) {}

  /**
   * A new invocation begins: of `step` (undefined: not a step the test watches), or of the step
   * `step()` names at the invocation's first port call (a stack trace knows it only then).
   */
  begin(step: string | undefined | (() => string | undefined)): void {
    this.pending = typeof step === "function" ? step : undefined;
    this.count = 0;
    this.dead = false;
    this.enter(typeof step === "function" ? undefined : step);
  }

  private enter(step: string | undefined): void {
    this.step = step;
    if (step) {
      const list = this.effects[step] ?? [];
      list.push([]);
      this.effects[step] = list;
    }
  }

  /** Called before every port call of the current invocation: a dead one makes no more calls. */
  private beforeCall(): void {
    if (this.dead) throw new LambdaCrash("the function is no longer running");
    if (this.pending) {
      const which = this.pending;
      this.pending = undefined;
      this.enter(which());
    }
  }

  /** Called after a side effect succeeded: records it, and dies here if this is the point. */
  private afterEffect(kind: EffectKind): void {
    this.count++;
    const step = this.step;
    if (step) this.effects[step]?.at(-1)?.push(kind);
    const c = this.crash;
    if (c && step === c.step && this.count === c.afterEffects && this.crashes < (c.times ?? 1)) {
      this.crashes++;
      this.dead = true;
      throw new LambdaCrash(`${step} died after side effect ${this.count} (${kind})`);
    }
  }

  /** A proxy of `target` whose methods count as the side effect `effectOf(name)` returns. */
  guard<T extends object>(target: T, effectOf: (method: string) => EffectKind | undefined): T {
    return new Proxy(target, {
      get: (t, prop, receiver) => {
        const value = Reflect.get(t, prop, receiver);
        if (typeof value !== "function") return value;
        return async (...args: unknown[]) => {
          this.beforeCall();
          const out = await value.apply(t, args);
          const kind = effectOf(String(prop));
          if (kind === "deploy-start") {
            this.deployStarts.push((args[0] as { deploymentId: string }).deploymentId);
          }
          if (kind === "deploy-cancel") {
            this.deployCancels.push((args[0] as { deploymentId: string }).deploymentId);
          }
          if (kind) this.afterEffect(kind);
          return out;
        };
      },
    });
  }

  /** The handlers' dependencies with every side-effecting port guarded. */
  wrapDeps(deps: Deps): Deps {
    return {
      ...deps,
      store: this.guard(deps.store, (m) => (STORE_WRITES.has(m) ? "write" : undefined)),
      events: this.guard(deps.events, (m) => (m === "publish" ? "publish" : undefined)),
      deployer: this.guard(deps.deployer, (m) =>
        m === "start" ? "deploy-start" : m === "cancel" ? "deploy-cancel" : undefined,
      ),
      workflows: this.guard(deps.workflows, (m) =>
        m === "startStage" || m === "startRollback" || m === "startRollbackWaves"
          ? "start-execution"
          : undefined,
      ),
    };
  }
}

/**
 * The crash points of `step` in a baseline: after each side effect of its busiest invocation,
 * with the kind of that effect.
 */
export function crashPoints(
  log: EffectLog,
  step: string,
): { afterEffects: number; kind: EffectKind }[] {
  const invocations = log[step] ?? [];
  const busiest = invocations.reduce<EffectKind[]>((a, b) => (b.length > a.length ? b : a), []);
  return busiest.map((kind, i) => ({ afterEffects: i + 1, kind }));
}
