/**
 * What every trigger shares, whatever the source (GitHub webhooks, "Artifact Published" events
 * from other CI systems): the repository → pipelines configuration, the approval rules, the
 * start-run / rejected decision, and the bus events a decision publishes.
 *
 * Pure: no I/O, no clock. The GitHub and artifact modules parse their inputs at the boundary and
 * call into here.
 */
import { SOURCE } from "../app/events.ts";
import { runRequestedEvent } from "../app/run-requests.ts";
import type { ChangeFacts } from "../domain/model.ts";
import type { BusEvent } from "../domain/ports.ts";
import type { RunRequest } from "../domain/run-requests.ts";
import type { PipelineTrigger, TriggerConfig } from "../domain/trigger-config.ts";

/** Bus events the triggers publish beyond the ones in `src/app/events.ts`. */
export const TriggerDetailType = {
  /** A merge (or artifact) that reached a pipeline's branch without the approvals it needs. */
  ChangeRejected: "Breakwater Change Rejected",
} as const;

// The configuration's schema is pure data validation that the installation file embeds, so it
// lives in the domain (dependencies point inward); re-exported here for the triggers' callers.
export {
  type PipelineTrigger,
  parseTriggerConfig,
  pipelineTriggerSchema,
  type TriggerConfig,
  type TriggerConfigInput,
  triggerConfigSchema,
} from "../domain/trigger-config.ts";

/** The config entries of one repository (GitHub repository names are case-insensitive). */
export function triggersFor(config: TriggerConfig, repository: string): PipelineTrigger[] {
  const wanted = repository.toLowerCase();
  return config.filter((t) => t.repository.toLowerCase() === wanted);
}

export type ReviewState = "approved" | "changes_requested" | "commented" | "dismissed";

/** A pull request review as Breakwater keeps it. */
export interface StoredReview {
  /** GitHub's review id: one review is one record, whatever its later state. */
  id: number;
  reviewer: string;
  state: ReviewState;
  /** The commit the review was made on. */
  commitId: string;
  /** ISO time the review was submitted; orders a reviewer's reviews. */
  submittedAt: string;
}

/**
 * Combines a stored review with a newly delivered state of the same review. A dismissal is final:
 * GitHub cannot un-dismiss, so a late or re-delivered "submitted" never revives an approval.
 *
 * @example
 * mergeReview({ ...approval, state: "dismissed" }, approval).state; // → "dismissed"
 */
export function mergeReview(existing: StoredReview | undefined, incoming: StoredReview) {
  if (existing?.state === "dismissed") return existing;
  return incoming;
}

export interface ApprovalPolicy {
  /** The change's author: their own reviews never count, neither approving nor blocking. */
  author?: string;
  /** The commit that was merged (GitHub: the PR head); see `requireApprovalOnHead`. */
  headSha: string;
  minApprovals: number;
  requireApprovalOnHead: boolean;
  /**
   * Reviewers (lowercase login → why) whose approvals do not count: no write access, or not in
   * the pipeline's `approvers` (see `ineligibleApprovers`). Their change requests still block.
   */
  ineligible?: ReadonlyMap<string, string>;
}

export type ApprovalVerdict =
  | { approved: true; approvers: string[] }
  | { approved: false; approvers: string[]; reason: string };

const short = (sha: string) => sha.slice(0, 7);
const byTime = (a: StoredReview, b: StoredReview) =>
  a.submittedAt === b.submittedAt ? a.id - b.id : a.submittedAt < b.submittedAt ? -1 : 1;

/**
 * Judges a change's reviews the way GitHub computes a pull request's review decision: per
 * reviewer the latest approving, change-requesting or dismissed review wins (comments change
 * nothing; a dismissed latest review leaves that reviewer with no say). Outstanding "changes
 * requested" blocks whatever commit it was made on, until the reviewer approves or it is
 * dismissed. The author's own reviews are ignored.
 *
 * @example
 * evaluateApprovals(
 *   [{ id: 1, reviewer: "alice", state: "approved", commitId: head, submittedAt: "2024-05-01T10:00:00Z" }],
 *   { author: "bob", headSha: head, minApprovals: 1, requireApprovalOnHead: true },
 * ); // → { approved: true, approvers: ["alice"] }
 */
export function evaluateApprovals(
  reviews: readonly StoredReview[],
  policy: ApprovalPolicy,
): ApprovalVerdict {
  const author = policy.author?.toLowerCase();
  const latest = new Map<string, StoredReview>();
  for (const r of [...reviews].sort(byTime)) {
    const who = r.reviewer.toLowerCase();
    if (who === author || r.state === "commented") continue;
    latest.set(who, r);
  }
  const decisive = [...latest.values()];
  const blocking = decisive.filter((r) => r.state === "changes_requested").map((r) => r.reviewer);
  const approvals = decisive.filter((r) => r.state === "approved");
  const head = policy.headSha.toLowerCase();
  const onHead = approvals.filter(
    (r) => !policy.requireApprovalOnHead || r.commitId.toLowerCase() === head,
  );
  const refused = onHead.filter((r) => policy.ineligible?.has(r.reviewer.toLowerCase()));
  const counted = onHead.filter((r) => !refused.includes(r));
  const approvers = counted.map((r) => r.reviewer).sort();
  if (blocking.length > 0) {
    return {
      approved: false,
      approvers,
      reason: `changes requested by ${blocking.sort().join(", ")}`,
    };
  }
  if (counted.length < policy.minApprovals) {
    const stale = approvals.filter((r) => !onHead.includes(r)).map((r) => r.reviewer);
    const notes = [
      ...(stale.length > 0
        ? [
            `${stale.sort().join(", ")} approved an earlier commit, not the merged head ${short(head)}`,
          ]
        : []),
      ...refused.map((r) => policy.ineligible?.get(r.reviewer.toLowerCase()) ?? r.reviewer).sort(),
    ];
    const note = notes.length > 0 ? ` (${notes.join("; ")})` : "";
    return {
      approved: false,
      approvers,
      reason: `unapproved: ${counted.length} of ${policy.minApprovals} approvals${note}`,
    };
  }
  return { approved: true, approvers };
}

/**
 * Start a run of `pipeline` at `version`.
 *
 * The version is the full 40-character lowercase commit SHA that was merged (GitHub: the merge
 * commit, which for squash and rebase merges is the new commit on the branch; artifacts: their
 * `commitSha`). Full, not abbreviated: abbreviations grow ambiguous as a repository grows, and
 * the same commit must name the same version whichever trigger reports it, so a GitHub merge and
 * the CI artifact built from it converge on one run id (`pipeline@sha`) and start one run.
 */
export interface StartRunDecision {
  action: "start-run";
  pipeline: string;
  version: string;
  /** The merged commit (same as `version` today; kept apart so the version can gain a suffix). */
  sha: string;
  /** Logins whose approvals counted, sorted. */
  approvers: string[];
  /** When the change merged (GitHub `merged_at`; artifacts: when they were published). */
  mergedAt: string;
  trigger: "github" | "artifact";
  repository?: string;
  prNumber?: number;
  /** GitHub: the PR's head commit, the one the approvals were given on. */
  headSha?: string;
  artifactDigest?: string;
}

export interface RejectedDecision {
  action: "rejected";
  /** Set when the change reached a pipeline's branch: then the rejection is recorded. */
  pipeline?: string;
  reason: string;
  trigger: "github" | "artifact";
  repository?: string;
  prNumber?: number;
  sha?: string;
  headSha?: string;
  author?: string;
  artifactDigest?: string;
}

export type TriggerDecision = StartRunDecision | RejectedDecision;

/**
 * The facts of a run request as one `key=value` line: the run's `cause` (they are also recorded
 * as fields, in `change`).
 *
 * @example
 * describeRunCause(decision);
 * // → "trigger=github pr=acme/orders#7 sha=c4295bd… head=ec26c3e… mergedAt=2024-05-01T10:00:00Z approvers=alice,bob"
 */
export function describeRunCause(d: StartRunDecision): string {
  const parts = [`trigger=${d.trigger}`];
  if (d.repository !== undefined && d.prNumber !== undefined) {
    parts.push(`pr=${d.repository}#${d.prNumber}`);
  }
  parts.push(`sha=${d.sha}`);
  if (d.headSha) parts.push(`head=${d.headSha}`);
  if (d.artifactDigest) parts.push(`digest=${d.artifactDigest}`);
  parts.push(`mergedAt=${d.mergedAt}`, `approvers=${d.approvers.join(",")}`);
  return parts.join(" ");
}

/** The change facts a start-run decision's run request records (and its run keeps). */
export function changeFactsOf(d: StartRunDecision): ChangeFacts {
  const change: Record<string, unknown> = {
    trigger: d.trigger,
    sha: d.sha,
    approvers: d.approvers,
    mergedAt: d.mergedAt,
  };
  const optional = {
    artifactDigest: d.artifactDigest,
    repository: d.repository,
    pr: d.prNumber,
    headSha: d.headSha,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) change[k] = v;
  return change as unknown as ChangeFacts;
}

/**
 * "Approved Change Merged" for a start-run decision whose run request is stored: only the
 * pointer (see src/app/run-requests.ts; the bus is not proof of approval).
 */
export function approvedChangeEvent(request: RunRequest): BusEvent {
  return runRequestedEvent(request);
}

/** "Breakwater Change Rejected": a change reached a pipeline's branch and starts nothing. */
export function changeRejectedEvent(d: RejectedDecision, at: string): BusEvent {
  const detail: Record<string, unknown> = { at, trigger: d.trigger, reason: d.reason };
  const optional = {
    pipeline: d.pipeline,
    repository: d.repository,
    pr: d.prNumber,
    sha: d.sha,
    headSha: d.headSha,
    author: d.author,
    artifactDigest: d.artifactDigest,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) detail[k] = v;
  return { source: SOURCE, detailType: TriggerDetailType.ChangeRejected, detail };
}

/**
 * The bus events of a set of decisions: one per run to start (the pointer to its stored run
 * request, from `requests`: see `writeRunRequests`), one per recorded rejection. A start-run
 * decision without a stored request is a fault: nothing is published unbacked.
 */
export function decisionEvents(
  decisions: readonly TriggerDecision[],
  at: string,
  requests: ReadonlyMap<StartRunDecision, RunRequest>,
): BusEvent[] {
  return decisions.flatMap((d) => {
    if (d.action === "start-run") {
      const request = requests.get(d);
      if (!request) throw new Error(`no run request was written for ${d.pipeline}@${d.version}`);
      return [approvedChangeEvent(request)];
    }
    return d.pipeline !== undefined ? [changeRejectedEvent(d, at)] : [];
  });
}

/** Whether the decisions publish anything (a run to start, or a rejection to record). */
export function publishesAnything(decisions: readonly TriggerDecision[]): boolean {
  return decisions.some((d) => d.action === "start-run" || d.pipeline !== undefined);
}
