/**
 * What every trigger shares, whatever the source (GitHub webhooks, "Artifact Published" events
 * from other CI systems): the repository → pipelines configuration, the approval rules, the
 * start-run / rejected decision, and the bus events a decision publishes.
 *
 * Pure: no I/O, no clock. The GitHub and artifact modules parse their inputs at the boundary and
 * call into here.
 */
import { z } from "zod";
import { SOURCE } from "../app/events.ts";
import { type RunRequest, runRequestedEvent } from "../app/run-requests.ts";
import { InvalidInputError } from "../domain/errors.ts";
import type { ChangeFacts } from "../domain/model.ts";
import { collectProblems, formatProblems } from "../domain/pipeline.ts";
import type { BusEvent } from "../domain/ports.ts";

/** Bus events the triggers publish beyond the ones in `src/app/events.ts`. */
export const TriggerDetailType = {
  /** A merge (or artifact) that reached a pipeline's branch without the approvals it needs. */
  ChangeRejected: "Breakwater Change Rejected",
} as const;

/** Same rule as pipeline names in pipeline files, so a config can only name a valid pipeline. */
const PIPELINE_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const TEAM = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9_.-]+$/;
const LOOPBACK = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(:\d+)?(\/|$)/;

/** One pipeline deployed from one branch of one repository. */
export const pipelineTriggerSchema = z
  .object({
    /** `owner/name`, as GitHub's `repository.full_name` (compared case-insensitively). */
    repository: z.string().regex(REPOSITORY, { error: 'must be "owner/name"' }),
    /** The base branch a merge must land on (exact, case-sensitive like git refs). */
    branch: z.string().min(1),
    pipeline: z.string().regex(PIPELINE_NAME, {
      error: "must be a pipeline name (lowercase letters, digits and hyphens, at most 40)",
    }),
    /** Distinct approvers needed, not counting the author. At least 1: every change is reviewed. */
    minApprovals: z.number().int().min(1).default(1),
    /**
     * Only approvals of the merged head commit count (an approval of an earlier push does not
     * vouch for what was pushed after it). On by default.
     */
    requireApprovalOnHead: z.boolean().default(true),
    /**
     * GitHub's REST API, asked who the reviewers are (default `https://api.github.com`; GitHub
     * Enterprise Server: `https://<host>/api/v3`). It receives the API token: https, or http on
     * the loopback interface only (local mode, tests).
     */
    apiUrl: z
      .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
      .refine((u) => u.startsWith("https://") || LOOPBACK.test(u), {
        error: "must be https (http only on 127.0.0.1, [::1] or localhost)",
      })
      .optional(),
    /**
     * Who may approve, beyond having write access to the repository: these users, or active
     * members of these teams (`org/team-slug`). Without it, every writer may.
     */
    approvers: z
      .object({
        users: z
          .array(z.string().regex(LOGIN, { error: "must be a GitHub login" }))
          .min(1)
          .optional(),
        teams: z
          .array(z.string().regex(TEAM, { error: 'must be "org/team-slug"' }))
          .min(1)
          .optional(),
      })
      .strict()
      .refine((a) => a.users !== undefined || a.teams !== undefined, {
        error: "must list users or teams",
      })
      .optional(),
  })
  .strict();

/** Several pipelines per repository (and per branch) are allowed; duplicates are not. */
export const triggerConfigSchema = z.array(pipelineTriggerSchema).superRefine((entries, ctx) => {
  const seen = new Map<string, number>();
  entries.forEach((e, i) => {
    const key = `${e.repository.toLowerCase()}|${e.branch}|${e.pipeline}`;
    const first = seen.get(key);
    if (first === undefined) seen.set(key, i);
    else
      ctx.addIssue({
        code: "custom",
        path: [i],
        message: `duplicates entry [${first}] (${e.repository} ${e.branch} → ${e.pipeline})`,
      });
  });
});

export type PipelineTrigger = z.output<typeof pipelineTriggerSchema>;
export type TriggerConfig = z.output<typeof triggerConfigSchema>;
export type TriggerConfigInput = z.input<typeof triggerConfigSchema>;

/**
 * Validates the trigger configuration, reporting every problem with its path.
 *
 * @example
 * parseTriggerConfig([{ repository: "acme/orders", branch: "main", pipeline: "orders-api" }]);
 * // → [{ repository: "acme/orders", branch: "main", pipeline: "orders-api", minApprovals: 1, requireApprovalOnHead: true }]
 */
export function parseTriggerConfig(input: unknown): TriggerConfig {
  const parsed = triggerConfigSchema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = collectProblems(parsed.error.issues, input);
  throw new InvalidInputError(
    `invalid trigger config: ${formatProblems(problems, "; ")}`,
    problems,
  );
}

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
