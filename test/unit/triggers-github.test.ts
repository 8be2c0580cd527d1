/**
 * GitHub and "Artifact Published" triggers, driven with GitHub's real webhook payloads from
 * @octokit/webhooks-examples (re-signed with a test secret, mutated per scenario).
 */

import { randomUUID } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { InMemoryRunRequestStore } from "../../src/app/run-requests.ts";
import { approvedChangeSchema } from "../../src/app/schemas.ts";
import { InvalidInputError } from "../../src/domain/errors.ts";
import type { BusEvent } from "../../src/domain/ports.ts";
import {
  decideArtifact,
  handleArtifactPublished,
  requiredApprovals,
} from "../../src/triggers/artifact.ts";
import {
  evaluateApprovals,
  parseTriggerConfig,
  type StoredReview,
  type TriggerConfigInput,
} from "../../src/triggers/decisions.ts";
import {
  decideMerge,
  type GitHubWebhookDeps,
  handleGitHubWebhook,
  pullRequestClosedEventSchema,
  verifySignature,
  WebhookConfigError,
  type WebhookRequest,
} from "../../src/triggers/github.ts";
import { InMemoryReviewStore, InMemoryWebhookDeliveryStore } from "../../src/triggers/in-memory.ts";
import { writersEverywhere } from "../support/github-api.ts";
import { example as githubExample } from "../support/github-examples.ts";

// --- Real payloads -------------------------------------------------------------------------

type Payload = Record<string, unknown> & {
  action: string;
  pull_request: Record<string, unknown> & {
    number: number;
    merged: boolean | null;
    merged_at: string | null;
    merge_commit_sha: string | null;
    head: { sha: string };
    base: { ref: string };
    user: { login: string };
  };
  repository: Record<string, unknown> & { full_name: string };
  review?: Record<string, unknown> & {
    id: number;
    state: string;
    commit_id: string;
    submitted_at: string | null;
    user: { login: string };
  };
};
const example = (name: string, action?: string) => githubExample<Payload>(name, action);

const REPO = "Codertocat/Hello-World";
const AUTHOR = "Codertocat";
const closedExample = example("pull_request", "closed");
const HEAD = closedExample.pull_request.head.sha; // ec26c3e5…, also the example reviews' commit
const MERGE_SHA = closedExample.pull_request.merge_commit_sha as string; // c4295bd7…
const PR = closedExample.pull_request.number;
const MERGED_AT = "2019-05-15T15:21:00Z";
const OLDER_COMMIT = "1111111111111111111111111111111111111111";

/** The real "pull_request.closed" example, merged into `base` (the example is closed unmerged). */
function merged(over: { base?: string; merged?: boolean } = {}): Payload {
  const p = example("pull_request", "closed");
  const isMerged = over.merged ?? true;
  p.pull_request.merged = isMerged;
  p.pull_request.merged_at = isMerged ? MERGED_AT : null;
  p.pull_request.base.ref = over.base ?? "main";
  return p;
}

let reviewSeq = 0;
/** The real "pull_request_review.submitted" (or .dismissed) example, as `login`'s review. */
function review(
  login: string,
  state: "approved" | "changes_requested" | "commented",
  opts: { id?: number; commit?: string; at?: string; action?: "submitted" | "dismissed" } = {},
): Payload {
  const p = example("pull_request_review", opts.action ?? "submitted");
  const r = p.review as NonNullable<Payload["review"]>;
  reviewSeq += 1;
  r.id = opts.id ?? 500_000_000 + reviewSeq;
  r.user.login = login;
  r.state = opts.action === "dismissed" ? "dismissed" : state;
  r.commit_id = opts.commit ?? HEAD;
  r.submitted_at = opts.at ?? `2019-05-15T15:${String(10 + (reviewSeq % 40)).padStart(2, "0")}:00Z`;
  p.pull_request.base.ref = "main";
  return p;
}

// --- Harness -------------------------------------------------------------------------------

const SECRET = "It's a Secret to Everybody";
const NOW = new Date("2019-05-15T15:22:00.000Z");

async function signed(
  event: string,
  payload: unknown,
  headers: Record<string, string> = {},
): Promise<WebhookRequest> {
  const rawBody = typeof payload === "string" ? payload : JSON.stringify(payload);
  return {
    rawBody,
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": await sign(SECRET, rawBody),
      ...headers,
    },
  };
}

const baseConfig: TriggerConfigInput = [
  { repository: REPO, branch: "main", pipeline: "orders-api", minApprovals: 1 },
];

// Every reviewer has write access here: these tests are about the other approval rules.
let github: Awaited<ReturnType<typeof writersEverywhere>>;
beforeAll(async () => {
  github = await writersEverywhere();
});
afterAll(() => github.api.close());

function harness(config: TriggerConfigInput = baseConfig) {
  const published: BusEvent[] = [];
  const reviews = new InMemoryReviewStore();
  const deliveries = new InMemoryWebhookDeliveryStore();
  const deps: GitHubWebhookDeps = {
    secret: SECRET,
    config: parseTriggerConfig(config),
    reviews,
    deliveries,
    runRequests: new InMemoryRunRequestStore(),
    publish: async (events) => {
      published.push(...events);
    },
    ...github.deps,
    clock: { now: () => NOW },
  };
  const send = (req: WebhookRequest) => handleGitHubWebhook(req, deps);
  /** Delivers reviews (each must be recorded), then returns the merge's response. */
  const mergeWith = async (reviewPayloads: Payload[], mergePayload: Payload = merged()) => {
    for (const r of reviewPayloads) {
      const res = await send(await signed("pull_request_review", r));
      expect(res.status, res.body.message).toBe(200);
      expect(res.body.result).toBe("review-recorded");
    }
    return send(await signed("pull_request", mergePayload));
  };
  const ofType = (type: string) => published.filter((e) => e.detailType === type);
  return { deps, published, reviews, deliveries, send, mergeWith, ofType };
}

const RUN_REQUESTED = "Approved Change Merged";
const CHANGE_REJECTED = "Breakwater Change Rejected";

// --- Tests ---------------------------------------------------------------------------------

describe("verifySignature", () => {
  it("accepts GitHub's signature of the exact body and nothing else", async () => {
    const body = JSON.stringify(merged());
    const good = await sign(SECRET, body);
    expect(await verifySignature(SECRET, body, good)).toBe(true);
    expect(await verifySignature("another secret", body, good)).toBe(false);
    expect(await verifySignature(SECRET, `${body} `, good)).toBe(false);
    expect(await verifySignature(SECRET, body, good.toUpperCase())).toBe(false);
    expect(await verifySignature(SECRET, body, good.replace("sha256=", "sha1="))).toBe(false);
    expect(await verifySignature(SECRET, body, undefined)).toBe(false);
    expect(await verifySignature(SECRET, "", good)).toBe(false);
  });

  it("refuses to run without a secret", async () => {
    await expect(verifySignature("", "{}", "sha256=00")).rejects.toBeInstanceOf(WebhookConfigError);
  });
});

describe("handleGitHubWebhook: requests that start nothing", () => {
  let h: ReturnType<typeof harness>;
  beforeEach(() => {
    h = harness();
  });

  it("401 for a bad, missing or foreign signature; nothing recorded, claimed or published", async () => {
    const approval = await signed("pull_request_review", review("alice", "approved"));
    const merge = await signed("pull_request", merged());
    const cases: WebhookRequest[] = [
      {
        ...approval,
        headers: { ...approval.headers, "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
      },
      { ...merge, headers: { ...merge.headers, "x-hub-signature-256": undefined } },
      // A body signed with another secret, and a tampered body under a genuine signature.
      {
        ...merge,
        headers: {
          ...merge.headers,
          "x-hub-signature-256": await sign("guess", String(merge.rawBody)),
        },
      },
      { ...merge, rawBody: String(merge.rawBody).replace('"main"', '"prod"') },
    ];
    for (const req of cases) {
      const res = await h.send(req);
      expect(res.status).toBe(401);
      expect(res.body.result).toBe("invalid-signature");
    }
    expect(h.reviews.size).toBe(0);
    expect(h.published).toEqual([]);
    expect(h.deliveries.has(String(merge.headers["x-github-delivery"]))).toBe(false);
  });

  it("checks the signature over the raw bytes as received", async () => {
    const req = await signed("ping", example("ping"));
    const bytes = new TextEncoder().encode(String(req.rawBody));
    expect((await h.send({ ...req, rawBody: bytes })).status).toBe(200);
    bytes[bytes.length - 1] = 0x20;
    expect((await h.send({ ...req, rawBody: bytes })).status).toBe(401);
  });

  it("400 for a signed body that is not JSON, or not an object", async () => {
    const res = await h.send(await signed("pull_request", '{"action":"closed",'));
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^body is not valid JSON/);
    expect((await h.send(await signed("pull_request", "[1]"))).status).toBe(400);
    expect(h.published).toEqual([]);
  });

  it("400 naming the field when the payload does not match the schema", async () => {
    const wrongType = merged();
    (wrongType.pull_request as Record<string, unknown>).merged = "yes";
    const noMergeSha = merged();
    noMergeSha.pull_request.merge_commit_sha = null;
    const badState = review("alice", "approved");
    (badState.review as Record<string, unknown>).state = "lgtm";
    const noRepo = merged();
    delete (noRepo as Record<string, unknown>).repository;

    const cases: [string, Payload, string][] = [
      ["pull_request", wrongType, "pull_request.merged"],
      [
        "pull_request",
        noMergeSha,
        "pull_request.merge_commit_sha: is required when merged is true",
      ],
      ["pull_request_review", badState, "review.state"],
      ["pull_request", noRepo, "repository: is required"],
    ];
    for (const [event, payload, field] of cases) {
      const res = await h.send(await signed(event, payload));
      expect(res.status, field).toBe(400);
      expect(res.body.result).toBe("invalid-request");
      expect(res.body.message).toContain(field);
      expect(res.body.problems?.length).toBeGreaterThan(0);
    }
    expect(h.reviews.size).toBe(0);
    expect(h.published).toEqual([]);
  });

  it("400 when the event or delivery header is missing", async () => {
    const noEvent = await signed("pull_request", merged());
    delete (noEvent.headers as Record<string, unknown>)["x-github-event"];
    expect((await h.send(noEvent)).body.message).toBe("missing X-GitHub-Event header");
    const noDelivery = await signed("pull_request", merged());
    delete (noDelivery.headers as Record<string, unknown>)["x-github-delivery"];
    const res = await h.send(noDelivery);
    expect(res.status).toBe(400);
    expect(res.body.message).toBe("missing X-GitHub-Delivery header");
  });

  it("404 for a repository no pipeline deploys from", async () => {
    const other = harness([{ repository: "acme/orders", branch: "main", pipeline: "orders-api" }]);
    for (const [event, payload] of [
      ["pull_request", merged()],
      ["pull_request_review", review("alice", "approved")],
    ] as const) {
      const res = await other.send(await signed(event, payload));
      expect(res.status).toBe(404);
      expect(res.body.message).toBe(
        "repository Codertocat/Hello-World is not configured: no pipeline deploys from it",
      );
    }
    expect(other.reviews.size).toBe(0);
    expect(other.published).toEqual([]);
  });

  it("415 for a form-encoded webhook", async () => {
    const body = `payload=${encodeURIComponent(JSON.stringify(merged()))}`;
    const res = await h.send(
      await signed("pull_request", body, { "content-type": "application/x-www-form-urlencoded" }),
    );
    expect(res.status).toBe(415);
    expect(res.body.message).toContain("application/json");
  });

  it("200 for ping, other events and other actions, and a PR closed without merging", async () => {
    const ping = await h.send(await signed("ping", example("ping")));
    expect(ping).toMatchObject({ status: 200, body: { result: "pong" } });
    const edited = { ...review("alice", "approved"), action: "edited" };
    const cases: [string, Payload][] = [
      ["pull_request", example("pull_request", "opened")],
      ["pull_request", example("pull_request", "synchronize")],
      ["pull_request_review", edited],
      ["issues", { ...example("pull_request", "opened"), action: "opened" }],
      ["pull_request", merged({ merged: false })],
    ];
    for (const [event, payload] of cases) {
      const res = await h.send(await signed(event, payload));
      expect(res.status, `${event}.${payload.action}`).toBe(200);
      expect(res.body.result).toBe("ignored");
    }
    expect(h.reviews.size).toBe(0);
    expect(h.published).toEqual([]);
  });
});

describe("handleGitHubWebhook: merges", () => {
  it("an approved merge into main requests one run at the merge commit", async () => {
    const h = harness();
    const res = await h.mergeWith([review("alice", "approved")]);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({
      result: "run-requested",
      runs: [{ pipeline: "orders-api", version: MERGE_SHA, approvers: ["alice"] }],
      rejections: [],
    });
    expect(h.published).toHaveLength(1);
    const [event] = h.published;
    // The event as the start-run rule's target receives it parses with the current schema.
    const parsed = approvedChangeSchema.parse({
      "detail-type": event?.detailType,
      source: event?.source,
      detail: event?.detail,
    });
    // Only a pointer: the facts are in the run request written before it (issue 10 finding 3).
    const request = await h.deps.runRequests.get("orders-api", MERGE_SHA);
    expect(parsed.detail).toEqual({
      pipeline: "orders-api",
      version: MERGE_SHA,
      requestId: request?.requestId,
    });
    expect(request).toMatchObject({
      source: "github",
      writtenBy: "github",
      ref: expect.any(String),
      cause: `trigger=github pr=${REPO}#${PR} sha=${MERGE_SHA} head=${HEAD} mergedAt=${MERGED_AT} approvers=alice`,
      change: {
        trigger: "github",
        sha: MERGE_SHA,
        headSha: HEAD,
        approvers: ["alice"],
        mergedAt: MERGED_AT,
        repository: REPO,
        pr: PR,
      },
    });
  });

  it("an unapproved merge starts nothing and publishes a Change Rejected record", async () => {
    const h = harness();
    const res = await h.mergeWith([review("bob", "commented")]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      result: "rejected",
      rejections: [{ pipeline: "orders-api", reason: "unapproved: 0 of 1 approvals" }],
    });
    expect(h.ofType(RUN_REQUESTED)).toEqual([]);
    expect(h.ofType(CHANGE_REJECTED)).toEqual([
      {
        source: "breakwater",
        detailType: CHANGE_REJECTED,
        detail: {
          at: NOW.toISOString(),
          trigger: "github",
          reason: "unapproved: 0 of 1 approvals",
          pipeline: "orders-api",
          repository: REPO,
          pr: PR,
          sha: MERGE_SHA,
          headSha: HEAD,
          author: AUTHOR,
        },
      },
    ]);
  });

  it("changes requested after an approval by the same reviewer rejects the merge", async () => {
    const h = harness();
    const res = await h.mergeWith([
      review("alice", "approved", { at: "2019-05-15T15:10:00Z" }),
      review("alice", "changes_requested", { at: "2019-05-15T15:12:00Z" }),
    ]);
    expect(res.body.rejections).toEqual([
      { pipeline: "orders-api", reason: "changes requested by alice" },
    ]);
    expect(h.ofType(RUN_REQUESTED)).toEqual([]);
    expect(h.ofType(CHANGE_REJECTED)).toHaveLength(1);
  });

  it("another reviewer's outstanding changes request blocks, whatever commit it was on", async () => {
    const h = harness();
    const res = await h.mergeWith([
      review("alice", "approved"),
      review("carol", "changes_requested", { commit: OLDER_COMMIT }),
    ]);
    expect(res.body.rejections?.[0]?.reason).toBe("changes requested by carol");
  });

  it("an approval after the reviewer's own changes request counts (latest review wins)", async () => {
    const h = harness();
    const res = await h.mergeWith([
      review("alice", "changes_requested", { at: "2019-05-15T15:10:00Z" }),
      review("alice", "commented", { at: "2019-05-15T15:11:00Z" }),
      review("alice", "approved", { at: "2019-05-15T15:12:00Z" }),
    ]);
    expect(res.status).toBe(202);
  });

  it("an approval that is then dismissed does not count, even if redelivered afterwards", async () => {
    const h = harness();
    const approval = review("alice", "approved", { id: 42 });
    const dismissal = review("alice", "approved", { id: 42, action: "dismissed" });
    const res = await h.mergeWith([approval, dismissal, approval]);
    expect(res.body.rejections).toEqual([
      { pipeline: "orders-api", reason: "unapproved: 0 of 1 approvals" },
    ]);
    expect(await h.reviews.reviews(REPO, PR)).toMatchObject([{ id: 42, state: "dismissed" }]);
  });

  it("the author's own approval is ignored", async () => {
    const h = harness();
    // The example review is by the PR's author (Codertocat); make it an approval.
    const self = example("pull_request_review", "submitted");
    (self.review as NonNullable<Payload["review"]>).state = "approved";
    const res = await h.mergeWith([self]);
    expect(res.body.rejections?.[0]?.reason).toBe("unapproved: 0 of 1 approvals");
  });

  it("approvals of an earlier commit do not count when approval on the head is required", async () => {
    const strict = harness();
    const res = await strict.mergeWith([review("alice", "approved", { commit: OLDER_COMMIT })]);
    expect(res.body.rejections?.[0]?.reason).toBe(
      "unapproved: 0 of 1 approvals (alice approved an earlier commit, not the merged head ec26c3e)",
    );
    const lenient = harness([
      { repository: REPO, branch: "main", pipeline: "orders-api", requireApprovalOnHead: false },
    ]);
    expect(
      (await lenient.mergeWith([review("alice", "approved", { commit: OLDER_COMMIT })])).status,
    ).toBe(202);
  });

  it("a merge into another branch starts nothing and records nothing", async () => {
    const h = harness();
    const res = await h.mergeWith([review("alice", "approved")], merged({ base: "dev" }));
    expect(res.status).toBe(200);
    expect(res.body.result).toBe("ignored");
    expect(res.body.message).toBe(
      "branch dev is not the pipeline's branch (orders-api deploys main)",
    );
    expect(h.published).toEqual([]);
  });

  it("two pipelines deployed from one branch get one run each; each applies its own policy", async () => {
    const two = harness([
      ...baseConfig,
      { repository: "codertocat/hello-world", branch: "main", pipeline: "orders-infra" },
    ]);
    const res = await two.mergeWith([review("alice", "approved")]);
    expect(res.status).toBe(202);
    expect(two.ofType(RUN_REQUESTED).map((e) => e.detail.pipeline)).toEqual([
      "orders-api",
      "orders-infra",
    ]);
    expect(new Set(two.published.map((e) => e.detail.version))).toEqual(new Set([MERGE_SHA]));

    const mixed = harness([
      ...baseConfig,
      { repository: REPO, branch: "main", pipeline: "orders-infra", minApprovals: 2 },
      { repository: REPO, branch: "release", pipeline: "orders-flags" },
    ]);
    const out = await mixed.mergeWith([review("alice", "approved")]);
    expect(out.status).toBe(202);
    expect(out.body.runs?.map((r) => r.pipeline)).toEqual(["orders-api"]);
    expect(out.body.rejections).toEqual([
      { pipeline: "orders-infra", reason: "unapproved: 1 of 2 approvals" },
    ]);
    expect(mixed.ofType(CHANGE_REJECTED)).toHaveLength(1);
  });

  it("a duplicate delivery id starts nothing the second time", async () => {
    const h = harness();
    await h.mergeWith([review("alice", "approved")]);
    const merge = await signed("pull_request", merged());
    expect((await h.send(merge)).status).toBe(202);
    const again = await h.send(merge);
    expect(again).toMatchObject({ status: 200, body: { result: "duplicate" } });
    expect(h.ofType(RUN_REQUESTED)).toHaveLength(2); // one from mergeWith, one from `merge`
  });

  it("a failed publish gives the delivery back, so GitHub's redelivery is processed", async () => {
    const h = harness();
    await h.mergeWith([review("alice", "approved")]);
    const merge = await signed("pull_request", merged());
    const publish = h.deps.publish;
    h.deps.publish = async () => {
      throw new Error("EventBridge unavailable");
    };
    await expect(h.send(merge)).rejects.toThrow("EventBridge unavailable");
    h.deps.publish = publish;
    const before = h.ofType(RUN_REQUESTED).length;
    expect((await h.send(merge)).status).toBe(202);
    expect(h.ofType(RUN_REQUESTED)).toHaveLength(before + 1);
  });
});

describe("decideMerge and evaluateApprovals", () => {
  const r = (
    id: number,
    reviewer: string,
    state: StoredReview["state"],
    at: string,
    commitId = HEAD,
  ): StoredReview => ({ id, reviewer, state, commitId, submittedAt: `2019-05-15T15:${at}:00Z` });
  const policy = { author: AUTHOR, headSha: HEAD, minApprovals: 1, requireApprovalOnHead: true };

  it.each([
    ["one approval", [r(1, "alice", "approved", "10")], true, ""],
    [
      "a comment after an approval changes nothing",
      [r(1, "alice", "approved", "10"), r(2, "alice", "commented", "11")],
      true,
      "",
    ],
    [
      "same second: the later review id wins",
      [r(2, "alice", "changes_requested", "10"), r(1, "alice", "approved", "10")],
      false,
      "changes requested by alice",
    ],
    [
      "a dismissed changes request unblocks",
      [r(1, "bob", "dismissed", "09"), r(2, "alice", "approved", "10")],
      true,
      "",
    ],
    [
      "logins compare case-insensitively (self-approval)",
      [r(1, "CODERTOCAT", "approved", "10")],
      false,
      "unapproved: 0 of 1 approvals",
    ],
    ["no reviews", [], false, "unapproved: 0 of 1 approvals"],
  ] as const)("%s", (_name, reviews, approved, reason) => {
    const verdict = evaluateApprovals(reviews, policy);
    expect(verdict.approved).toBe(approved);
    if (!verdict.approved) expect(verdict.reason).toBe(reason);
  });

  it("names distinct approvers once each, sorted", () => {
    const verdict = evaluateApprovals(
      [
        r(1, "carol", "approved", "10"),
        r(2, "alice", "approved", "11"),
        r(3, "carol", "approved", "12"),
      ],
      { ...policy, minApprovals: 2 },
    );
    expect(verdict).toEqual({ approved: true, approvers: ["alice", "carol"] });
  });

  it("approvals by ineligible reviewers do not count, and the reason says why", () => {
    const ineligible = new Map([["mallory", "mallory has no write access to o/r (role read)"]]);
    const reviews = [r(1, "Mallory", "approved", "10"), r(2, "alice", "approved", "11")];
    expect(evaluateApprovals(reviews, { ...policy, ineligible })).toEqual({
      approved: true,
      approvers: ["alice"],
    });
    const verdict = evaluateApprovals(reviews, { ...policy, minApprovals: 2, ineligible });
    expect(verdict).toMatchObject({
      approved: false,
      reason: "unapproved: 1 of 2 approvals (mallory has no write access to o/r (role read))",
    });
  });

  it("a closed, unmerged PR is 'not merged'", () => {
    const event = pullRequestClosedEventSchema.parse(merged({ merged: false }));
    expect(
      decideMerge({ event, reviews: [], config: parseTriggerConfig(baseConfig) }),
    ).toMatchObject([{ action: "rejected", reason: "not merged" }]);
  });
});

describe("trigger config", () => {
  it("defaults minApprovals to 1 and requireApprovalOnHead to true", () => {
    expect(
      parseTriggerConfig([{ repository: "acme/orders", branch: "main", pipeline: "orders-api" }]),
    ).toEqual([
      {
        repository: "acme/orders",
        branch: "main",
        pipeline: "orders-api",
        minApprovals: 1,
        requireApprovalOnHead: true,
      },
    ]);
  });

  it("reports every problem with its path", () => {
    const bad = () =>
      parseTriggerConfig([
        { repository: "acme", branch: "main", pipeline: "Orders API", minApprovals: 0 },
        { repository: "acme/orders", branch: "main", pipeline: "orders-api", typo: true },
        { repository: "acme/orders", branch: "main", pipeline: "orders-api" },
        { repository: "ACME/orders", branch: "main", pipeline: "orders-api" },
      ]);
    expect(bad).toThrow(InvalidInputError);
    try {
      bad();
    } catch (err) {
      expect((err as InvalidInputError).problems.map((p) => p.path)).toEqual([
        "[0].repository",
        "[0].pipeline",
        "[0].minApprovals",
        "[1].typo",
        "[2]",
        "[3]",
      ]);
      expect((err as InvalidInputError).message).toContain(
        "[3]: duplicates entry [1] (ACME/orders main → orders-api)",
      );
    }
  });
});

describe("Artifact Published", () => {
  const commitSha = MERGE_SHA.toUpperCase();
  const artifactDigest = `sha256:${"ab".repeat(32)}`;
  const envelope = (detail: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    version: "0",
    id: randomUUID(),
    "detail-type": "Artifact Published",
    source: "ci.buildkite",
    account: "123456789012",
    time: "2024-05-01T12:00:00Z",
    region: "eu-north-1",
    resources: [],
    detail,
    ...extra,
  });
  const approvals = [
    { login: "alice", at: "2024-05-01T11:00:00Z" },
    { login: "bob", at: "2024-05-01T11:05:00Z" },
  ];
  const deps = () => {
    const published: BusEvent[] = [];
    return {
      published,
      deliveries: new InMemoryWebhookDeliveryStore(),
      runRequests: new InMemoryRunRequestStore(),
      publishers: [{ principalArn: "arn:aws:iam::123456789012:role/ci" }],
      publish: async (events: BusEvent[]) => {
        published.push(...events);
      },
      clock: { now: () => NOW },
    };
  };

  it("an approved artifact requests a run at its commit, the digest in the cause", async () => {
    const d = deps();
    const out = await handleArtifactPublished(
      envelope({ pipeline: "orders-api", commitSha, artifactDigest, approvals }),
      d,
    );
    expect(out.outcome).toBe("run-requested");
    expect(d.published).toHaveLength(1);
    const detail = approvedChangeSchema.parse({
      "detail-type": d.published[0]?.detailType,
      source: d.published[0]?.source,
      detail: d.published[0]?.detail,
    }).detail;
    // Same version as the GitHub merge of the same commit: the two triggers converge on one run.
    const request = await d.runRequests.get("orders-api", MERGE_SHA);
    expect(detail).toEqual({
      pipeline: "orders-api",
      version: MERGE_SHA,
      requestId: request?.requestId,
      artifactDigest,
    });
    expect(request).toMatchObject({
      source: "artifact",
      artifactDigest,
      cause: `trigger=artifact sha=${MERGE_SHA} digest=${artifactDigest} mergedAt=2024-05-01T12:00:00Z approvers=alice,bob`,
      change: {
        trigger: "artifact",
        sha: MERGE_SHA,
        artifactDigest,
        approvers: ["alice", "bob"],
        mergedAt: "2024-05-01T12:00:00Z",
      },
    });
  });

  it("an invalid event throws InvalidInputError naming each field", async () => {
    const d = deps();
    const run = handleArtifactPublished(
      envelope({
        pipeline: "orders-api",
        commitSha: "c4295bd",
        artifactDigest: "sha256:abc",
        approvals: [{ login: "alice" }],
        branch: "main",
      }),
      d,
    );
    await expect(run).rejects.toBeInstanceOf(InvalidInputError);
    await expect(run).rejects.toMatchObject({
      problems: [
        { path: "detail.commitSha", message: "must be a 40-character hex commit SHA" },
        { path: "detail.artifactDigest" },
        { path: "detail.approvals[0].at", message: "is required" },
        { path: "detail.branch", message: "unknown field" },
      ],
    });
    expect(d.published).toEqual([]);
  });

  it("too few approvals (the author's own not counting) publish Change Rejected", async () => {
    const d = deps();
    const out = await handleArtifactPublished(
      envelope({
        pipeline: "orders-api",
        commitSha,
        artifactDigest,
        approvals,
        author: "bob",
        minApprovals: 2,
      }),
      d,
    );
    expect(out).toMatchObject({
      outcome: "rejected",
      decision: { reason: "unapproved: 1 of 2 approvals", pipeline: "orders-api" },
    });
    expect(d.published).toMatchObject([
      {
        detailType: CHANGE_REJECTED,
        detail: { trigger: "artifact", sha: MERGE_SHA, artifactDigest, author: "bob" },
      },
    ]);
  });

  it("the event can raise the pipeline's approval requirement, never lower it", () => {
    const config = parseTriggerConfig([
      { repository: REPO, branch: "main", pipeline: "orders-api", minApprovals: 2 },
    ]);
    expect(requiredApprovals("orders-api", config, 1)).toBe(2);
    expect(requiredApprovals("orders-api", config, 3)).toBe(3);
    expect(requiredApprovals("billing", config)).toBe(1);
    const artifact = {
      pipeline: "orders-api",
      commitSha: MERGE_SHA,
      artifactDigest,
      approvals: approvals.slice(0, 1),
    };
    expect(decideArtifact(artifact, { publishedAt: "2024-05-01T12:00:00Z", config })).toMatchObject(
      {
        action: "rejected",
        reason: "unapproved: 1 of 2 approvals",
      },
    );
  });

  it("the same event id delivered twice starts nothing the second time", async () => {
    const d = deps();
    const event = envelope({ pipeline: "orders-api", commitSha, artifactDigest, approvals });
    expect((await handleArtifactPublished(event, d)).outcome).toBe("run-requested");
    expect((await handleArtifactPublished(event, d)).outcome).toBe("duplicate");
    expect(d.published).toHaveLength(1);
  });
});

describe("InMemoryWebhookDeliveryStore", () => {
  it("in progress until completed or its time is up; a stale token neither completes nor releases", async () => {
    let now = 0;
    const store = new InMemoryWebhookDeliveryStore({ now: () => now });
    const a = await store.claim("d", 1_000);
    if (a.status !== "claimed") throw new Error(a.status);
    expect(await store.claim("d", 1_000)).toEqual({
      status: "in-progress",
      until: new Date(1_000),
    });
    now = 1_000;
    const b = await store.claim("d", 1_000); // a's time is up: taken over
    if (b.status !== "claimed") throw new Error(b.status);
    await store.complete("d", a.token);
    await store.release("d", a.token);
    expect(await store.claim("d", 1_000)).toMatchObject({ status: "in-progress" });
    await store.complete("d", b.token);
    now = 1e12;
    expect(await store.claim("d", 1_000)).toEqual({ status: "completed" });
  });

  it("forgets the oldest ids beyond its capacity", async () => {
    const store = new InMemoryWebhookDeliveryStore({ capacity: 2 });
    for (const id of ["a", "b", "c"]) await store.claim(id, 1_000);
    expect([store.has("a"), store.has("b"), store.has("c")]).toEqual([false, true, true]);
  });
});
