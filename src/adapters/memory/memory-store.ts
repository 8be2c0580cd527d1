/**
 * In-memory twin of the DynamoDB store (`DynamoStateStore`), for the unit tier and tests only: it
 * forgets everything when the process exits and is not shared between processes. The default
 * local mode (`npm start`, simulate, serve) stays on DynamoDB Local.
 *
 * Same semantics as the DynamoDB store, checked by one contract suite run against both
 * (test/contract/state-store.ts):
 * - every conditional write checks and writes in one synchronous step (no `await` between the
 *   read and the write), so it is atomic the way a DynamoDB conditional write is;
 * - transactions (`commitOverride`, `transitionScope`, `seedScope`) check every condition
 *   before they change anything: all or nothing;
 * - items are copied in and out as JSON (undefined fields dropped, as the DynamoDB document
 *   client's `removeUndefinedValues` does), so a caller never aliases stored state;
 * - ordering follows the table's sort keys: timeline by `compareEvents` (time, EVENT_RANK),
 *   history by time, scope and rev, audit by its sequence, runs by arrival.
 */
import { blockKey, type ManualBlock } from "../../domain/blockers.ts";
import type { Installation } from "../../domain/installation.ts";
import { changedLine, type LineState, lineOpenFor } from "../../domain/line.ts";
import {
  compareEvents,
  compareHistory,
  EVENT_RANK,
  type HistoryEntry,
  type Run,
  type ScopeState,
  type TimelineEvent,
} from "../../domain/model.ts";
import type { Bypass } from "../../domain/override.ts";
import type { Pipeline } from "../../domain/pipeline.ts";
import type {
  Capabilities,
  PipelineRecord,
  PipelineRevision,
} from "../../domain/pipeline-registry.ts";
import type {
  AuditEntry,
  LocationLock,
  LockHolder,
  OverrideWrite,
  ReadManyRequest,
  ReadManyResult,
  RunUpdate,
  ScopeTransition,
  StageSlot,
  StateStore,
  TransitionResult,
} from "../../domain/ports.ts";
import { historyEntryOf, nextScopeState, seedHistoryEntryOf } from "../../domain/scope-history.ts";

const revisionKey = (name: string, revision: number) =>
  `${name}#${String(revision).padStart(8, "0")}`;
/** A stored copy: JSON drops undefined fields as DynamoDB's marshalling does. */
const copy = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
const byKey = <T>(map: Map<string, T>): T[] =>
  [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => copy(v));
/** The timeline's sort key, as in the table (dynamo-store.ts `eventSk`). */
const eventKey = (e: TimelineEvent) =>
  `${e.at}#${EVENT_RANK[e.event]}#${e.scope}#${e.step}#${e.event}`;
const scopeKey = (pipeline: string, scope: string) => `${pipeline}\u0000${scope}`;
const bypassKey = (pipeline: string, version: string) => `${pipeline}\u0000${version}`;

/** Every aggregate's port on one object (`transitionScope` reads runs: one storage). */
export class MemoryStateStore implements StateStore {
  private readonly pipelines = new Map<string, PipelineRecord & { rev?: number }>();
  /** Applied revisions, keyed `<name>#<revision zero-padded>` (the table's sort order). */
  private readonly revisions = new Map<string, PipelineRevision>();
  private capabilities: Capabilities | undefined;
  private installation: Installation | undefined;
  private readonly blocks = new Map<string, ManualBlock>();
  private readonly bypasses = new Map<string, Bypass>();
  private readonly audit: AuditEntry[] = [];
  private readonly runs = new Map<string, Run>();
  private readonly seqs = new Map<string, number>();
  private readonly events = new Map<string, Map<string, TimelineEvent>>();
  private readonly slots = new Map<string, StageSlot>();
  private readonly locks = new Map<string, LocationLock>();
  private readonly scopes = new Map<string, ScopeState>();
  private readonly histories = new Map<string, HistoryEntry[]>();
  private readonly lines = new Map<string, LineState>();

  // Configuration.

  async putPipeline(pipeline: Pipeline): Promise<void> {
    this.pipelines.set(
      pipeline.name,
      copy({ name: pipeline.name, definition: pipeline, source: "file" }),
    );
  }

  async getPipeline(name: string): Promise<Pipeline | undefined> {
    const p = this.pipelines.get(name);
    return p && copy(p.definition);
  }

  async listPipelines(): Promise<Pipeline[]> {
    return byKey(this.pipelines).map((r) => r.definition);
  }

  async getPipelineRecord(name: string): Promise<(PipelineRecord & { rev?: number }) | undefined> {
    const p = this.pipelines.get(name);
    return p && copy(p);
  }

  async listPipelineRecords(): Promise<PipelineRecord[]> {
    return byKey(this.pipelines).map(({ rev: _rev, ...r }) => r);
  }

  async listPipelineRevisions(name: string): Promise<PipelineRevision[]> {
    return byKey(this.revisions).filter((r) => r.name === name);
  }

  async getCapabilities(): Promise<Capabilities | undefined> {
    return this.capabilities && copy(this.capabilities);
  }

  /** What the stack writes at deploy; the unit tier sets it to play a deployed control plane. */
  async putCapabilities(capabilities: Capabilities): Promise<void> {
    this.capabilities = copy(capabilities);
  }

  async putInstallation(config: Installation): Promise<void> {
    this.installation = copy(config);
  }

  async getInstallation(): Promise<Installation> {
    return copy(this.installation ?? {});
  }

  // Blocks, bypasses and the audit log.

  async listBypasses(pipeline: string): Promise<Bypass[]> {
    return byKey(this.bypasses).filter((b) => b.pipeline === pipeline);
  }

  async commitOverride(writes: OverrideWrite[], audit: AuditEntry): Promise<boolean> {
    const applied = writes.filter((w) => w.kind === "pipeline");
    for (const w of applied) {
      const stored = this.pipelines.get(w.name);
      const holds =
        w.was === undefined
          ? stored === undefined
          : stored?.source === "apply" && stored.rev === w.was.rev;
      if (!holds || this.revisions.has(revisionKey(w.name, w.revision.revision))) return false;
    }
    const others = writes.filter((w) => w.kind !== "pipeline");
    const targets = others.map((w) =>
      w.kind === "block"
        ? {
            map: this.blocks as Map<string, ManualBlock | Bypass>,
            key: blockKey(w.level, w.target, w.scheduledFrom),
            w,
          }
        : {
            map: this.bypasses as Map<string, ManualBlock | Bypass>,
            key: bypassKey(w.pipeline, w.version),
            w,
          },
    );
    // Every condition first (the item is as the override read it), then every write: one
    // transaction, like the DynamoDB store's TransactWrite.
    for (const { map, key, w } of targets) {
      const stored = map.get(key);
      const holds =
        w.was === undefined
          ? stored === undefined
          : w.was.rev === undefined
            ? stored !== undefined && stored.rev === undefined
            : stored?.rev === w.was.rev;
      if (!holds) return false;
    }
    for (const { map, key, w } of targets) {
      if (w.set === null) map.delete(key);
      else if (w.set !== undefined) map.set(key, copy({ ...w.set, rev: (w.was?.rev ?? 0) + 1 }));
    }
    for (const w of applied) {
      this.pipelines.set(w.name, copy({ ...w.set, rev: (w.was?.rev ?? 0) + 1 }));
      this.revisions.set(revisionKey(w.name, w.revision.revision), copy(w.revision));
    }
    this.audit.push(copy(audit));
    return true;
  }

  async listAudit(): Promise<AuditEntry[]> {
    return this.audit.map(copy);
  }

  async putBlock(block: ManualBlock): Promise<void> {
    // An override's block (no start) is one per target; scheduled blocks are keyed by start.
    const key = blockKey(block.level, block.target, block.scheduled ? block.from : undefined);
    this.blocks.set(key, copy(block));
  }

  async listBlocks(): Promise<ManualBlock[]> {
    return byKey(this.blocks);
  }

  // Runs and their timelines.

  async createRun(run: Run): Promise<boolean> {
    if (this.runs.has(run.runId)) return false;
    this.runs.set(run.runId, copy(run));
    return true;
  }

  async getRun(runId: string): Promise<Run | undefined> {
    const run = this.runs.get(runId);
    return run && copy(run);
  }

  async listRuns(pipeline: string): Promise<Run[]> {
    return [...this.runs.values()]
      .filter((r) => r.pipeline === pipeline)
      .map(copy)
      .sort((a, b) => {
        const ka = `${a.createdAt}#${a.runId}`;
        const kb = `${b.createdAt}#${b.runId}`;
        return ka < kb ? -1 : ka > kb ? 1 : 0;
      })
      .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0) || (a.createdAt < b.createdAt ? -1 : 1));
  }

  async nextSeq(pipeline: string): Promise<number> {
    const next = (this.seqs.get(pipeline) ?? 0) + 1;
    this.seqs.set(pipeline, next);
    return next;
  }

  async updateRun(runId: string, update: RunUpdate): Promise<boolean> {
    return this.updateRunNow(runId, update) !== false;
  }

  async updateRunReturning(runId: string, update: RunUpdate): Promise<Run | undefined> {
    const run = this.updateRunNow(runId, update);
    return run ? copy(run) : undefined;
  }

  /**
   * The conditional update, in one synchronous step: false when `expect` does not hold, else
   * the run as stored after it.
   */
  private updateRunNow(runId: string, update: RunUpdate): Run | undefined | false {
    const sets = Object.entries(update.set).filter(([, v]) => v !== undefined);
    const removes = update.remove ?? [];
    const run = this.runs.get(runId) as (Run & Record<string, unknown>) | undefined;
    // As the DynamoDB store: nothing to write is a success without a condition check.
    if (sets.length === 0 && removes.length === 0 && !update.addRolledBack) return run;
    if (!run) return false;
    const e = update.expect;
    if (e?.status && !e.status.includes(run.status)) return false;
    if (e?.currentStage === null && run.currentStage !== undefined) return false;
    if (typeof e?.currentStage === "string" && run.currentStage !== e.currentStage) return false;
    for (const attr of e?.absent ?? []) if (run[attr] !== undefined) return false;
    if (e?.waitingFor !== undefined && run.waitingFor !== e.waitingFor) return false;
    if (e?.haltReason && !(run.haltReason && e.haltReason.includes(run.haltReason))) return false;
    // Idempotent: a scope is listed once however often its rollback is retried.
    if (update.addRolledBack && run.rolledBack.includes(update.addRolledBack)) return false;
    const next = copy(run) as Run & Record<string, unknown>;
    for (const [k, v] of sets) {
      // Stage progress merges per stage so concurrent writers of different stages don't clash.
      if (k === "stages") next.stages = { ...next.stages, ...copy(v as Run["stages"]) };
      else next[k] = copy(v);
    }
    if (update.addRolledBack) next.rolledBack = [...next.rolledBack, update.addRolledBack];
    for (const k of removes) delete next[k];
    this.runs.set(runId, next);
    // The line changes in the same synchronous step as the run (DynamoDB: one transaction).
    if (update.line) {
      const line = this.getLineNow(update.line.pipeline);
      const changed = changedLine(line, runId, update.line);
      if (changed) this.lines.set(line.pipeline, copy({ ...changed, rev: line.rev + 1 }));
    }
    return next;
  }

  async getLine(pipeline: string): Promise<LineState> {
    return this.getLineNow(pipeline);
  }

  private getLineNow(pipeline: string): LineState {
    const line = this.lines.get(pipeline);
    return line ? copy(line) : { pipeline, stops: {}, rev: 0 };
  }

  async appendEvents(events: TimelineEvent[]): Promise<void> {
    this.addEvents(events);
  }

  /** Synchronous, so a transaction that writes events stays one atomic step. */
  private addEvents(events: TimelineEvent[]): void {
    // Events are keyed by their content: a retried handler's re-append adds nothing.
    for (const e of events) {
      const timeline = this.events.get(e.runId) ?? new Map<string, TimelineEvent>();
      const key = eventKey(e);
      if (!timeline.has(key)) timeline.set(key, copy(e));
      this.events.set(e.runId, timeline);
    }
  }

  async timeline(runId: string): Promise<TimelineEvent[]> {
    return byKey(this.events.get(runId) ?? new Map()).sort(compareEvents);
  }

  // Stage slots and location locks.

  async getStageSlot(pipeline: string, stage: string): Promise<StageSlot> {
    const slot = this.slots.get(scopeKey(pipeline, stage));
    return slot ? copy(slot) : { pipeline, stage, waiters: {}, rev: 0 };
  }

  async putStageSlot(slot: StageSlot): Promise<boolean> {
    const key = scopeKey(slot.pipeline, slot.stage);
    if ((this.slots.get(key)?.rev ?? 0) !== slot.rev) return false;
    this.slots.set(key, copy({ ...slot, rev: slot.rev + 1 }));
    return true;
  }

  async getLocationLock(key: string): Promise<LocationLock> {
    const lock = this.locks.get(key);
    return lock ? copy(lock) : { key, holders: {}, rev: 0 };
  }

  async putLocationLock(
    key: string,
    holders: Record<string, LockHolder>,
    rev: number,
  ): Promise<boolean> {
    if ((this.locks.get(key)?.rev ?? 0) !== rev) return false;
    this.locks.set(key, copy({ key, holders, rev: rev + 1 }));
    return true;
  }

  async releaseLocationLock(key: string, holderKey: string): Promise<void> {
    const lock = this.locks.get(key);
    if (!lock?.holders[holderKey]) return;
    const { [holderKey]: _gone, ...rest } = lock.holders;
    this.locks.set(key, { key, holders: rest, rev: lock.rev + 1 });
  }

  // Scopes and their history.

  async seedScope(state: Omit<ScopeState, "rev">, actor: string): Promise<boolean> {
    const key = scopeKey(state.pipeline, state.scope);
    if (this.scopes.has(key)) return false;
    this.scopes.set(key, copy({ ...state, rev: 1 }));
    this.histories.set(key, [copy(seedHistoryEntryOf(state, actor))]);
    return true;
  }

  async seedScopes(states: Omit<ScopeState, "rev">[], actor: string): Promise<string[]> {
    const seeded: string[] = [];
    for (const state of states) if (await this.seedScope(state, actor)) seeded.push(state.scope);
    return seeded;
  }

  async getScope(pipeline: string, scope: string): Promise<ScopeState | undefined> {
    const state = this.scopes.get(scopeKey(pipeline, scope));
    return state && copy(state);
  }

  async listScopes(pipeline: string): Promise<ScopeState[]> {
    return byKey(this.scopes).filter((s) => s.pipeline === pipeline);
  }

  async history(pipeline: string, scope?: string): Promise<HistoryEntry[]> {
    const entries = [...this.histories.entries()]
      .filter(
        ([, h]) => h[0]?.pipeline === pipeline && (scope === undefined || h[0]?.scope === scope),
      )
      .flatMap(([, h]) => h.map(copy));
    // The same order as the DynamoDB store (the table's keys).
    return entries.sort(compareHistory);
  }

  async transitionScope(t: ScopeTransition): Promise<TransitionResult> {
    const key = scopeKey(t.pipeline, t.scope);
    const current = this.scopes.get(key);
    if (!current) return { ok: false, reason: "scope-changed" };
    const expected =
      (!t.expect.status || t.expect.status.includes(current.status)) &&
      (t.expect.version === undefined || t.expect.version === current.version) &&
      (t.expect.runId === undefined || t.expect.runId === current.runId);
    if (!expected) return { ok: false, reason: "scope-changed", current: copy(current) };
    // Safety rule 3: no step after a halt (a missing run is not running either).
    if (t.requireRunning && this.runs.get(t.requireRunning)?.status !== "running") {
      return { ok: false, reason: "run-not-running" };
    }
    if (t.lineOpenFor !== undefined && !lineOpenFor(this.getLineNow(t.pipeline), t.lineOpenFor)) {
      return { ok: false, reason: "line-stopped" };
    }
    // The DynamoDB transaction puts each event conditionally: a recorded one cancels it all.
    const timelineOf = (e: TimelineEvent) => this.events.get(e.runId);
    if ((t.events ?? []).some((e) => timelineOf(e)?.has(eventKey(e)))) {
      return { ok: false, reason: "scope-changed", current: copy(current) };
    }
    const next = nextScopeState(copy(current), t);
    const entry = historyEntryOf(current, t);
    this.scopes.set(key, copy(next));
    this.histories.set(key, [...(this.histories.get(key) ?? []), copy(entry)]);
    this.addEvents(t.events ?? []);
    // The basis needs no use here: the read and the write are one synchronous step.
    return { ok: true, state: copy(next) };
  }

  // Several aggregates at once.

  async readMany(request: ReadManyRequest): Promise<ReadManyResult> {
    const run = request.run === undefined ? undefined : await this.getRun(request.run);
    const scope =
      request.scope && (await this.getScope(request.scope.pipeline, request.scope.scope));
    return {
      ...(run ? { run } : {}),
      ...(scope ? { scope } : {}),
      ...(request.installation ? { installation: await this.getInstallation() } : {}),
      ...(request.blocks ? { blocks: await this.listBlocks() } : {}),
    };
  }
}
