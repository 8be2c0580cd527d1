/**
 * Project-owned ports. The domain and the application services depend on these; adapters
 * (AWS and local twins) implement them and are injected.
 */

import type { BlockLevel, ManualBlock } from "./blockers.ts";
import type { CanaryObservation, ResolvedTest, TestState } from "./checks.ts";
import type { Installation } from "./installation.ts";
import type { LineState, LineStop } from "./line.ts";
import type {
  HaltReason,
  HistoryEntry,
  Run,
  RunStatus,
  ScopeState,
  ScopeStatus,
  TimelineEvent,
} from "./model.ts";
import type { Bypass } from "./override.ts";
import type { Pipeline } from "./pipeline.ts";
import type { Capabilities, PipelineRecord, PipelineRevision } from "./pipeline-registry.ts";
import type { ScopeRef } from "./scope.ts";

export interface Clock {
  now(): Date;
}

export interface ScopeTransition {
  pipeline: string;
  scope: string;
  at: string;
  actor: string;
  cause: string;
  /** The write happens only if the scope is in one of these states (compare-and-set). */
  expect: { status?: ScopeStatus[]; version?: string; runId?: string };
  /** The write happens only while this run is `running` (safety rule 3: no step after a halt). */
  requireRunning?: string;
  /**
   * The write happens only while the pipeline's line is not stopped at or before this arrival
   * number (safety rule 3: from the first rollback of a version on, no deploy step of it or of
   * any newer version starts). Checked in the same transaction as the write.
   */
  lineOpenFor?: number;
  set: {
    version: string;
    previousVersion?: string | null;
    percent: number;
    status: ScopeStatus;
    runId?: string;
    /** Set or clear (null) the scope's blocked marker; absent: unchanged. */
    blocked?: ScopeState["blocked"] | null;
  };
  /** Timeline events written in the same transaction. */
  events?: TimelineEvent[];
  /**
   * The scope as the caller last read or wrote it (a `TransitionResult`'s `state`, carried in
   * the state machine's data). When it is still the stored state (same `rev`) the store writes
   * conditionally on that rev without reading first: one round trip. When it is stale the
   * store reads and decides as without it, so the outcome never depends on the basis.
   */
  basis?: ScopeState;
}

export type TransitionResult =
  | {
      ok: true /** The scope as written (its new rev): the basis of its next transition. */;
      state: ScopeState;
    }
  | {
      ok: false;
      reason: "run-not-running" | "line-stopped" | "scope-changed";
      current?: ScopeState;
    };

/** Independent reads that one round trip answers (DynamoDB BatchGetItem, strongly consistent). */
export interface ReadManyRequest {
  run?: string;
  scope?: { pipeline: string; scope: string };
  installation?: true;
  /** The manual blocks (in the DynamoDB store: read only when its index says there are some). */
  blocks?: true;
}

export interface ReadManyResult {
  run?: Run;
  scope?: ScopeState;
  /** Present (defaults when unset) when it was asked for. */
  installation?: Installation;
  /** Present when asked for. */
  blocks?: ManualBlock[];
}

/** Reads of several aggregates at once: a deploy step's independent reads in one round trip. */
export interface BatchReader {
  readMany(request: ReadManyRequest): Promise<ReadManyResult>;
}

export interface RunUpdate {
  /** The update happens only if these hold (`absent`: attributes that must not be set yet). */
  expect?: {
    status?: RunStatus[];
    currentStage?: string | null;
    waitingFor?: string;
    haltReason?: HaltReason[];
    absent?: (keyof Run)[];
  };
  set: Partial<Omit<Run, "runId" | "pipeline" | "version" | "definition" | "rolledBack" | "seq">>;
  /** Attributes to remove (cleared by the same conditional write). */
  remove?: (keyof Run)[];
  addRolledBack?: string;
  /**
   * The pipeline's line, changed in the same transaction as the run (safety rule 3): `stop`
   * adds this run's rollback as a stop (kept as it is when the run already stops the line);
   * `clear` removes this run's stop. Nothing is written when the run's condition fails.
   */
  line?: { pipeline: string; stop?: LineStop; clear?: true };
}

/**
 * A stage of a pipeline: who holds it and who waits for it (safety rule 6: one version per stage
 * at a time). Written only by compare-and-set on `rev`.
 */
export interface StageSlot {
  pipeline: string;
  stage: string;
  /** The run in the stage. */
  holder?: string;
  since?: string;
  /** Runs waiting to enter, with their arrival numbers. */
  waiters: Record<string, number>;
  /** Runs superseded by the last admission (kept so a crashed admission is finished by the next). */
  superseded?: string[];
  /** 0 when the slot was never written. */
  rev: number;
}

/** One holder of a location lock: a pipeline deploying or baking one scope there. */
export interface LockHolder {
  pipeline: string;
  scope: string;
  runId: string;
  /** The AZ the scope covers; absent: the whole region. */
  az?: string;
  /** The cell the scope covers; absent: the whole AZ (or region). */
  cell?: string;
  since: string;
}

/** A location lock of one service in one region (pipelines of one service never overlap there). */
export interface LocationLock {
  key: string;
  holders: Record<string, LockHolder>;
  /** Compare-and-set token; 0 when the lock was never written. */
  rev: number;
}

/**
 * One item an override decided on: `set` a new value, `null` to delete it, or absent to leave
 * it as it is (the audit entry is still written only if the item is still `was`). `was`
 * absent: the item did not exist.
 */
export type OverrideWrite =
  | {
      kind: "block";
      level: BlockLevel;
      target: string;
      /** The start of a scheduled block (they are keyed by it); absent: the target's open block. */
      scheduledFrom?: string;
      was?: ManualBlock;
      set?: ManualBlock | null;
    }
  | { kind: "bypass"; pipeline: string; version: string; was?: Bypass; set?: Bypass }
  | {
      /**
       * An applied pipeline definition (`pipelines apply`): the current record, conditional on
       * the record being as read (`was`: absent, no record; else its `rev`), and the revision,
       * written once.
       */
      kind: "pipeline";
      name: string;
      was?: { rev: number };
      set: PipelineRecord;
      revision: PipelineRevision;
    };

/** Pipeline definitions and the installation's configuration. */
export interface ConfigStore {
  /** Registers a pipeline from a file (the stack at deploy, `serve --pipeline`): `source: "file"`. */
  putPipeline(pipeline: Pipeline): Promise<void>;
  getPipeline(name: string): Promise<Pipeline | undefined>;
  listPipelines(): Promise<Pipeline[]>;
  /** The current definition with where it came from and, when applied, its revision and `rev`. */
  getPipelineRecord(name: string): Promise<(PipelineRecord & { rev?: number }) | undefined>;
  listPipelineRecords(): Promise<PipelineRecord[]>;
  /** Every applied revision of a pipeline, oldest first. */
  listPipelineRevisions(name: string): Promise<PipelineRevision[]>;
  /** What the deployed control plane can do for applied pipelines (absent: none written). */
  getCapabilities(): Promise<Capabilities | undefined>;

  putInstallation(config: Installation): Promise<void>;
  /** The installation's configuration (organisation alarms, region overrides); defaults when unset. */
  getInstallation(): Promise<Installation>;
}

/** Manual blocks, bypasses and the override audit log: what engineers decided, and its record. */
export interface OverrideStore {
  /** Bypasses: one version may ignore named blocker kinds until they expire. */
  listBypasses(pipeline: string): Promise<Bypass[]>;

  /**
   * Applies an override's writes and appends its audit entry in ONE transaction, each write
   * conditional on the item being as the override read it (`was`). False, and nothing written,
   * when any of them changed meanwhile: the caller reads again and decides again. The audit
   * log's order is the order in which these transactions took effect. It is the only way to
   * change a block or bypass or to audit anything, so no change goes unaudited.
   */
  commitOverride(writes: OverrideWrite[], audit: AuditEntry): Promise<boolean>;
  listAudit(): Promise<AuditEntry[]>;

  /** Manual blocks (stop the line). `putBlock` seeds the local mode's scheduled blocks (`--block`). */
  putBlock(block: ManualBlock): Promise<void>;
  listBlocks(): Promise<ManualBlock[]>;
}

/** Runs, their arrival numbers and their timelines. */
export interface RunStore {
  /** Creates the run; false when a run with that id already exists (duplicate trigger). */
  createRun(run: Run): Promise<boolean>;
  getRun(runId: string): Promise<Run | undefined>;
  /** Every run of the pipeline, oldest first (by arrival). */
  listRuns(pipeline: string): Promise<Run[]>;
  /** The next arrival number of the pipeline's versions (atomic; gaps are possible). */
  nextSeq(pipeline: string): Promise<number>;
  /** Conditional update; false when `expect` does not hold. */
  updateRun(runId: string, update: RunUpdate): Promise<boolean>;
  /**
   * As `updateRun`, answering the run as the update left it (undefined when `expect` does not
   * hold and nothing was written): a caller that goes on with the run needs no read after it.
   */
  updateRunReturning(runId: string, update: RunUpdate): Promise<Run | undefined>;
  /** The pipeline's line: which rollbacks stop it (safety rule 3). */
  getLine(pipeline: string): Promise<LineState>;

  /** Appends timeline events; re-appending a recorded event is a no-op (idempotent retries). */
  appendEvents(events: TimelineEvent[]): Promise<void>;
  /** The run's timeline, in `compareEvents` order (time, then EVENT_RANK). */
  timeline(runId: string): Promise<TimelineEvent[]>;
}

/** Stage slots (safety rule 6) and location locks: who may hold a stage or a location now. */
export interface SlotStore {
  getStageSlot(pipeline: string, stage: string): Promise<StageSlot>;
  /** Writes the slot if it is still at `slot.rev` (compare-and-set; the stored rev becomes rev+1). */
  putStageSlot(slot: StageSlot): Promise<boolean>;

  getLocationLock(key: string): Promise<LocationLock>;
  /** Replaces the holders if the lock is still at `rev` (compare-and-set); false otherwise. */
  putLocationLock(key: string, holders: Record<string, LockHolder>, rev: number): Promise<boolean>;
  /** Removes one holder (idempotent). */
  releaseLocationLock(key: string, holderKey: string): Promise<void>;
}

/**
 * The version on each scope and its history. `transitionScope` needs the run store's data too
 * (safety rule 3: `requireRunning`), so an implementation of it shares its storage with a
 * `RunStore`.
 */
export interface ScopeStore {
  /** Seeds a scope if it has no state yet (initial version); returns false when present. */
  seedScope(state: Omit<ScopeState, "rev">, actor: string): Promise<boolean>;
  /**
   * Seeds each scope that has no state yet, as `seedScope` does, in as few writes as the store
   * allows (registering a pipeline seeds every scope at once); returns the scope ids seeded.
   */
  seedScopes(states: Omit<ScopeState, "rev">[], actor: string): Promise<string[]>;
  getScope(pipeline: string, scope: string): Promise<ScopeState | undefined>;
  listScopes(pipeline: string): Promise<ScopeState[]>;
  transitionScope(t: ScopeTransition): Promise<TransitionResult>;
  /** History, by time, then scope, then rev (one scope: by rev). */
  history(pipeline: string, scope?: string): Promise<HistoryEntry[]>;
}

/**
 * The whole control-plane state: every aggregate's port. Callers that need one aggregate may ask
 * for its port alone; the implementations (DynamoDB, memory) provide all of them on one object.
 */
export type StateStore = ConfigStore &
  OverrideStore &
  RunStore &
  SlotStore &
  ScopeStore &
  BatchReader;

/** `rolling`: a traffic step of a full step below 100% (`stages[].rolling`), like a one-box share. */
export type DeploymentKind = "one-box" | "rolling" | "full" | "rollback";

export interface DeploymentRequest {
  deploymentId: string;
  pipeline: Pipeline;
  scope: ScopeRef;
  version: string;
  /** Share of the scope's traffic the version serves when the deployment completes. */
  percent: number;
  kind: DeploymentKind;
  /** The version's artifact digest (`sha256:…`) from its run request, when it names one. */
  artifactDigest?: string;
}

export type DeploymentStatus =
  | { state: "in-progress"; pollSeconds: number }
  | { state: "succeeded" }
  | { state: "failed"; reason: string };

/**
 * Puts a version on a scope's hosts through the stage's deploy target. The control plane never
 * sleeps: it polls from Wait states. Every method is idempotent per `deploymentId`: a retried
 * start starts nothing new, and status and cancel can be asked again at any time.
 */
export interface Deployer {
  start(req: DeploymentRequest): Promise<{ pollSeconds: number }>;
  status(req: DeploymentRequest): Promise<DeploymentStatus>;
  /**
   * Stops the deployment if it is still in progress (the control plane rolls its scope back).
   * A finished or unknown deployment is left as it is.
   */
  cancel(req: DeploymentRequest): Promise<void>;
}

// The observation is a value the rules judge (blockers, health), so it lives with no port around
// it: blockers.ts importing it from here made an import cycle.
export type { AlarmObservation, AlarmValue } from "./alarms.ts";

import type { AlarmObservation } from "./alarms.ts";

/** Reads alarm states by name (CloudWatch DescribeAlarms in AWS; simulated alarms locally). */
/**
 * Whose alarms a query reads: a target account's through the target's role (`roleArn`), else
 * the control plane's own account (issue 12, item 7).
 */
export interface AlarmAccount {
  roleArn?: string | undefined;
}

export interface AlarmSource {
  describe(
    names: string[],
    region: string,
    at: Date,
    account?: AlarmAccount,
  ): Promise<AlarmObservation[]>;
}

/** One minute of one version's traffic in one scope. */
export type { MinuteSample } from "./anomaly/index.ts";

import type { MinuteSample } from "./anomaly/index.ts";

export interface MetricQuery {
  pipeline: Pipeline;
  scope: ScopeRef;
  /** `{ version }`: that version's traffic in the scope; `all`: the scope's, every version. */
  select: { version: string } | "all";
  from: Date;
  to: Date;
}

/** Per-minute traffic metrics of a scope (CloudWatch in AWS, the simulated fleet locally). */
export interface MetricSource {
  /** Undefined when the scope has no metrics to read (the detector then abstains). */
  minutes(query: MetricQuery): Promise<MinuteSample[] | undefined>;
}

/** One test of one deploy step, as a runner is asked to run it. */
export interface TestRequest {
  /** Unique per (step, test): start and status of one test carry the same one (idempotency key). */
  testId: string;
  pipeline: Pipeline;
  scope: ScopeRef;
  version: string;
  /** The step the test follows and the share of traffic the version serves. */
  kind: "one-box" | "rolling" | "full";
  percent: number;
  test: ResolvedTest;
  /** The stage target's role: the test lives in the target's account, reached through it. */
  roleArn?: string;
  artifactDigest?: string;
}

/**
 * Runs a stage's tests after a deploy step (Lambda functions, CodeBuild projects in AWS;
 * simulated locally). Never waits: `start` answers at once (a quick test may answer its
 * result), the state machine polls `status` from Wait states until the test's timeout.
 */
export interface TestRunner {
  start(req: TestRequest): Promise<{ handle: string; status: TestState }>;
  status(req: TestRequest, handle: string): Promise<TestState>;
  /** Stops a test that timed out, if it still runs (best effort; its verdict is already failed). */
  stop(req: TestRequest, handle: string): Promise<void>;
}

export interface CanaryQuery {
  pipeline: Pipeline;
  scope: ScopeRef;
  names: string[];
  from: Date;
  to: Date;
  /** The stage target's role, when the canaries live in its account. */
  account?: AlarmAccount;
}

/** Canaries' success rates over a window (CloudWatch Synthetics' metrics; simulated locally). */
export interface CanarySource {
  successPercent(query: CanaryQuery): Promise<CanaryObservation[]>;
}

export interface StageExecutionInput {
  runId: string;
  pipeline: string;
  version: string;
  stage: string;
  /** The stage's execution attempt after a `retry` decision (2, 3, …); absent: the first. */
  attempt?: number;
  /** The run's arrival number (the deploy step's line check); absent: the steps read the run. */
  seq?: number;
  /**
   * The run's immutable snapshot, carried so no step re-reads the run for it: the pipeline
   * definition the run was created with and its artifact digest. Absent in executions started
   * before 2026-12-02: the steps then read the run.
   */
  definition?: Pipeline;
  artifactDigest?: string;
}

export interface RollbackExecutionInput {
  ctx: StageExecutionInput;
  step: import("./planner.ts").DeployStep;
  why:
    | { kind: "alarm"; details: string }
    | { kind: "decision"; details: string; toVersion: string };
}

/**
 * One scope of a wave-by-wave `rollback-all`: its rollback execution's input, with the version
 * it returns to; the decision's details are the execution's own, once.
 */
export interface RollbackWaveScope {
  ctx: StageExecutionInput;
  step: import("./planner.ts").DeployStep;
  toVersion: string;
}

/**
 * A wave-by-wave `rollback-all` (src/domain/rollback.ts, `rollbackWaves`): one execution of the
 * rollback machine that walks the stages (newest first, one at a time), their regions (all at
 * once) and each region's phases (one at a time), rolling back each phase's scopes together.
 */
export interface RollbackWavesInput {
  /** The decision's bad version and its run (the execution's name derives from them). */
  rollbackAll: { runId: string; pipeline: string; version: string };
  /** Why, for every scope's rollback (`why.details` of a single-scope rollback). */
  details: string;
  stages: { stage: string; regions: { region: string; phases: RollbackWaveScope[][] }[] }[];
}

/** Starts state machine executions; idempotent per (run, stage) and per (run, scope) rollback. */
/**
 * An approval timer execution's input (statemachines/approval-timer.asl.json): it waits
 * `waitSeconds`, then ends; its status change tells promote that the approval asked for at
 * `requestedAt` ran out of time.
 */
export interface ApprovalTimerInput {
  approvalTimer: true;
  runId: string;
  pipeline: string;
  version: string;
  stage: string;
  requestedAt: string;
  waitSeconds: number;
}

export interface WorkflowStarter {
  startStage(input: StageExecutionInput): Promise<{ executionId: string }>;
  /** Rolls one scope back outside its stage execution (fast rollback on an alarm event). */
  startRollback(input: RollbackExecutionInput): Promise<{ executionId: string }>;
  /** A wave-by-wave `rollback-all`, on the rollback machine; idempotent per bad run. */
  startRollbackWaves(input: RollbackWavesInput): Promise<{ executionId: string }>;
  /** Starts the timer of a stage's approval (one execution per approval asked for). */
  startApprovalTimer(input: ApprovalTimerInput): Promise<{ executionId: string }>;
  /**
   * Stops a timer no longer needed (its approval was decided or superseded). Optional: in AWS
   * a timer runs out and promote ignores it (stopping would need StopExecution on every
   * execution of the machine, a wildcard grant); locally it stops so the clock has nothing left.
   */
  stopApprovalTimer?(input: ApprovalTimerInput): Promise<void>;
}

export interface BusEvent {
  source: string;
  detailType: string;
  detail: Record<string, unknown>;
}

export interface EventPublisher {
  publish(events: BusEvent[]): Promise<void>;
}

/** One engineer action through the override function, as audited. */
export interface AuditEntry {
  at: string;
  /** Unique per action; repeating an identical request writes a new entry with `effect: unchanged`. */
  id: string;
  /** The name the caller typed (a login, a bot's name): a claim, kept for readers. */
  actor: string;
  /** Who acted, as authenticated: the caller's IAM principal ARN (`local:…` on `serve`). Absent before 2026-12-01. */
  principal?: string;
  action: string;
  reason: string;
  /** What the action was aimed at: `org`, `pipeline orders-api`, `scopes orders-api:prod-2/*`, `orders-api@v7`. */
  target: string;
  /** What it did: `blocked`, `unblocked`, `unchanged (already blocked)`, `bypass until …`. */
  effect: string;
  /**
   * Whether the action changed anything. Repeats are audited too (who tried what), with
   * `changed: false` and an `unchanged (…)` effect. Absent on entries written before 2026-12-01.
   */
  changed?: boolean;
}
