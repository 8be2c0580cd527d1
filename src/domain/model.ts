/**
 * The records Breakwater keeps: version-per-scope state, its append-only history, runs and
 * their timelines. Shapes only; persistence lives in adapters.
 */
import type { Pipeline } from "./pipeline.ts";
import type { StepKind } from "./planner.ts";

/**
 * - `stable`: the scope serves `version` (at `percent`) and nothing is in progress.
 * - `deploying`: a deploy step is moving the scope to `version`.
 * - `baking`: the step finished; the scope serves `version` and is being watched.
 * - `rolling-back`: the scope is returning to the version before the bad one.
 * - `rolled-back`: the scope alarmed and was reverted; it serves `version` (the old one).
 */
export type ScopeStatus = "stable" | "deploying" | "baking" | "rolling-back" | "rolled-back";

export interface ScopeState {
  pipeline: string;
  scope: string;
  /** The newest version the scope serves (to `percent` of its traffic). */
  version: string;
  /** The version the scope served before `version`; the target of a rollback. */
  previousVersion?: string;
  /** Share of the scope's traffic on `version`; the rest is on `previousVersion`. */
  percent: number;
  status: ScopeStatus;
  /** When the scope entered `status` (ISO time). */
  since: string;
  /** Why the scope is in this state: which run and step, or which engineer. */
  cause: string;
  runId?: string;
  /** Set while the scope's next deploy step waits on blockers (notified once when set and once when cleared). */
  blocked?: {
    reason: string;
    since: string;
    kinds: string[];
    /** When every blocker is known to end (a window opening, a block's end); absent: unknown. */
    until?: string;
  };
  /** Incremented on every write; a compare-and-set token for writers. */
  rev: number;
}

/** One append-only history record: every change of a scope's version or status. */
export interface HistoryEntry {
  pipeline: string;
  scope: string;
  at: string;
  /** The scope's rev after this change: history is totally ordered per scope. */
  rev?: number;
  fromVersion?: string;
  toVersion: string;
  fromStatus?: ScopeStatus;
  status: ScopeStatus;
  percent: number;
  /** Who or what made the change: `breakwater/deploy`, `engineer:alice`, `seed`. */
  actor: string;
  cause: string;
  runId?: string;
}

export type TimelineEventName =
  | "deploy-started"
  | "deploy-finished"
  | "bake-started"
  | "bake-finished"
  /** The bake was extended: `reason` says why (requests served so far), `until` until when. */
  | "bake-extended"
  | "rollback-started"
  | "rollback-finished"
  | "blocked"
  | "unblocked"
  | "approval-requested"
  | "approved"
  | "rejected"
  | "approval-timed-out"
  | "tests-started"
  | "tests-finished";

export interface TimelineEvent {
  at: string;
  runId: string;
  pipeline: string;
  version: string;
  stage: string;
  /** The scope of the step; for a stage's approval events, the stage's name. */
  scope: string;
  /** The step's kind; `approval` for a stage's manual approval (before its first step). */
  step: StepKind | "approval";
  event: TimelineEventName;
  percent?: number;
  /**
   * bake-finished: the health verdict; deploy-finished: succeeded/failed/cancelled (by its
   * scope's rollback); tests-finished: passed/failed (the reason: the tests' own reports).
   */
  outcome?: string;
  reason?: string;
  toVersion?: string;
  /** bake-extended: when the extended bake is judged again (ISO time). */
  until?: string;
}

/**
 * Ordering of events that share a timestamp: what finishes comes before what starts, so a
 * timeline reads causally (az1 bake-finished, then az2 deploy-started).
 */
export const EVENT_RANK: Record<TimelineEventName, number> = {
  "bake-finished": 0,
  "rollback-finished": 1,
  "deploy-finished": 2,
  unblocked: 3,
  // An approval decided ends a wait (like unblocked); an approval asked for is a wait (like blocked).
  approved: 3,
  rejected: 3,
  "approval-timed-out": 3,
  "approval-requested": 6,
  "bake-started": 4,
  "rollback-started": 5,
  blocked: 6,
  "deploy-started": 7,
  // Appended last (ranks are part of the table's sort keys; existing ones must not move).
  "bake-extended": 8,
  // Added after the ranks above were in stored keys, so between them: a step's tests start
  // after its deploy finished and end before its bake starts, at one instant (2026-12-02).
  "tests-finished": 2.5,
  "tests-started": 4.5,
};

/**
 * The order of a pipeline's history, as the table's keys give it: within a scope by rev;
 * across scopes by time, then scope, then rev.
 */
export function compareHistory(a: HistoryEntry, b: HistoryEntry): number {
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  if (a.scope !== b.scope) return a.scope < b.scope ? -1 : 1;
  return (a.rev ?? 0) - (b.rev ?? 0);
}

export function compareEvents(a: TimelineEvent, b: TimelineEvent): number {
  if (a.at !== b.at) return a.at < b.at ? -1 : 1;
  const rank = EVENT_RANK[a.event] - EVENT_RANK[b.event];
  if (rank !== 0) return rank;
  return a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0;
}

/**
 * - `waiting`: the run waits to enter `waitingFor` (another version holds that stage).
 * - `awaiting-approval`: the run holds `currentStage` (the stage's `approval`) but it has not
 *   started: an operator approves or rejects it (`approval` says since and until when).
 * - `running`: the run is in `currentStage`; deploy steps may start.
 * - `halted`: a scope rolled back (or the run was stopped, or an older version halted); no new
 *   deploy step starts anywhere; an engineer decides what happens next.
 * - `succeeded`: every stage finished, bakes included.
 * - `superseded`: a newer version took its place (waiting for a stage, or by a roll-forward).
 * - `rolled-back`: an engineer's `rollback-all` returned its scopes to the version before.
 * - `cancelled`: an engineer cancelled it.
 * - `failed`: the control plane itself failed (not the version).
 */
export type RunStatus =
  | "waiting"
  | "awaiting-approval"
  | "running"
  | "halted"
  | "succeeded"
  | "superseded"
  | "rolled-back"
  | "cancelled"
  | "failed";

/** Statuses a run never leaves. */
export const FINAL_RUN_STATUSES: readonly RunStatus[] = [
  "succeeded",
  "superseded",
  "rolled-back",
  "cancelled",
  "failed",
];

/** Whether the run is in a status it never leaves (see {@link FINAL_RUN_STATUSES}). */
export function isFinal(run: Run): boolean {
  return FINAL_RUN_STATUSES.includes(run.status);
}

/** A run halted on its own account (rolled back, failed, inconclusive): it awaits a decision. */
export function awaitsDecision(run: Run): boolean {
  return run.status === "halted" && run.haltReason !== "older-version-halted";
}

/**
 * A halted run that stops the line: newer versions (which contain it) stop at their next stage
 * boundary behind it. An approval that timed out says nothing bad about the version, so it does
 * not stop the line: a newer version supersedes it instead (safety rule 6).
 */
export function stopsTheLine(run: Run): boolean {
  return awaitsDecision(run) && run.haltReason !== "approval-timeout";
}

/** Why a run halted. `older-version-halted`: it stopped at a stage boundary behind an older halt. */
export type HaltReason =
  | "rollback"
  | "deploy-failed"
  | "inconclusive"
  | "control-plane-error"
  | "approval-timeout"
  | "older-version-halted";

/** What the run's trigger said about the change (see `changeFactsSchema`). */
export interface ChangeFacts {
  trigger: "github" | "artifact" | "local" | "manual";
  sha?: string;
  artifactDigest?: string;
  approvers: string[];
  mergedAt?: string;
  repository?: string;
  pr?: number;
  headSha?: string;
}

/** An engineer's decision on a halted run, or on one awaiting approval (through the override function). */
export interface RunDecision {
  action: "rollback-all" | "retry" | "roll-forward" | "cancel" | "approve" | "reject";
  actor: string;
  /** Who decided, as authenticated (IAM principal ARN; `local:…` locally). Absent before 2026-12-01. */
  principal?: string;
  reason: string;
  /** A `rollback-all` asked fast: every scope at once instead of wave by wave. */
  fast?: boolean;
  at: string;
}

/** A stage's manual approval, asked for when the run entered the stage (see `Stage.approval`). */
export interface ApprovalRequest {
  stage: string;
  requestedAt: string;
  /** The run halts (`approval-timeout`) if nobody decided by then. */
  deadline: string;
  /** When it was announced (set after the publish: a retry announces it again until then). */
  announcedAt?: string;
}

export type StageStatus = "running" | "succeeded" | "failed";

export interface StageProgress {
  status: StageStatus;
  startedAt: string;
  finishedAt?: string;
  execution?: string;
}

export interface Run {
  runId: string;
  pipeline: string;
  version: string;
  status: RunStatus;
  /** Arrival order among the pipeline's versions (1, 2, …): a newer version contains older ones. */
  seq: number;
  /** The change the run deploys: SHA, artifact digest, approvers, merge time. */
  change?: ChangeFacts;
  /** While `waiting`: the stage the run waits to enter. */
  waitingFor?: string;
  /** While halted at a stage boundary (`older-version-halted`): the stage it enters on resuming. */
  nextStage?: string;
  /** While `awaiting-approval` (and after its timeout): the approval asked for. */
  approval?: ApprovalRequest;
  /** Each stage's approval as given: who approved it, as authenticated, and when. */
  approvals?: Record<string, RunDecision>;
  /** Execution attempt per stage (a `retry` decision starts the stage again). */
  attempts?: Record<string, number>;
  /** The run that superseded this one. */
  supersededBy?: string;
  /** The engineer's decision that ended or resumed the run (latest). */
  decision?: RunDecision;
  /** Snapshot of the definition the run started with; later edits do not change a run. */
  definition: Pipeline;
  createdAt: string;
  updatedAt: string;
  currentStage?: string;
  stages: Record<string, StageProgress>;
  haltReason?: HaltReason;
  /** A human sentence: why the run halted. */
  haltDetail?: string;
  haltedAt?: string;
  /** The scope whose rollback halted the run. */
  haltedBy?: string;
  rolledBack: string[];
  finishedAt?: string;
  /** When the halt was announced (once, whatever the number of status-change deliveries). */
  haltAnnouncedAt?: string;
  cause: string;
}
