/**
 * Trigger records: every webhook or "Artifact Published" event that is refused, duplicated,
 * rejected or approved leaves a record in the table (DynamoDB Local), and the refused ones start
 * nothing. GitHub's real payloads from @octokit/webhooks-examples, re-signed.
 */

import { randomUUID } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGitHubWebhookHandler } from "../../functions/github-webhook.ts";
import { DynamoRunRequestStore } from "../../src/adapters/aws/dynamo-run-requests.ts";
import {
  DynamoDeliveryStore,
  DynamoReviewStore,
  DynamoTriggerLog,
} from "../../src/adapters/aws/dynamo-triggers.ts";
import { DetailType } from "../../src/app/events.ts";
import { InMemoryRunRequestStore } from "../../src/app/run-requests.ts";
import { InvalidInputError } from "../../src/domain/errors.ts";
import type { BusEvent } from "../../src/domain/ports.ts";
import { lambdaContext } from "../../src/local/step-functions.ts";
import { handleArtifactPublished } from "../../src/triggers/artifact.ts";
import { triggerConfigSchema } from "../../src/triggers/decisions.ts";
import { InMemoryTriggerLog } from "../../src/triggers/in-memory.ts";
import type { TriggerLog, TriggerRecord } from "../../src/triggers/ports.ts";
import { dynamoClient, freshStore } from "../support/dynamo.ts";
import { writersEverywhere } from "../support/github-api.ts";
import {
  approvedReview as approval,
  mergedPullRequest as merge,
  WEBHOOK_SECRET,
} from "../support/github-examples.ts";

const SECRET = WEBHOOK_SECRET;
const NOW = new Date("2019-05-15T15:22:00Z");
const SOURCE_IP = "192.0.2.7";

// Every reviewer has write access here: these tests are about the other approval rules.
let github: Awaited<ReturnType<typeof writersEverywhere>>;
beforeAll(async () => {
  github = await writersEverywhere();
});
afterAll(() => github.api.close());

async function setup() {
  const { table } = await freshStore();
  const triggers = new DynamoTriggerLog(dynamoClient(), table, { now: () => NOW.getTime() });
  const published: BusEvent[] = [];
  const handler = createGitHubWebhookHandler(async () => ({
    secret: SECRET,
    config: triggerConfigSchema.parse([
      { repository: "Codertocat/Hello-World", branch: "main", pipeline: "orders-api" },
    ]),
    reviews: new DynamoReviewStore(dynamoClient(), table),
    deliveries: new DynamoDeliveryStore(dynamoClient(), table),
    runRequests: new DynamoRunRequestStore(dynamoClient(), table),
    triggers,
    publish: async (events) => {
      published.push(...events);
    },
    ...github.deps,
    clock: { now: () => NOW },
  }));
  const post = async (
    event: string,
    body: string,
    over: { delivery?: string; signature?: string | null } = {},
  ) => {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": over.delivery ?? randomUUID(),
    };
    if (over.signature !== null) {
      headers["x-hub-signature-256"] = over.signature ?? (await sign(SECRET, body));
    }
    const res = (await handler(
      {
        requestContext: { http: { method: "POST", sourceIp: SOURCE_IP } },
        body,
        headers,
      },
      lambdaContext("breakwater-github-webhook", "test"),
    )) as { statusCode: number; body: string };
    return { status: res.statusCode, body: JSON.parse(res.body || "{}") };
  };
  const runRequests = () =>
    published.filter((e) => e.detailType === DetailType.ApprovedChangeMerged);
  return { table, triggers, published, post, runRequests };
}

describe("GitHub webhook: what starts nothing leaves a record", () => {
  it("a signature-invalid webhook (wrong or missing) starts nothing; the record keeps no body", async () => {
    const { post, triggers, runRequests, published } = await setup();
    const body = JSON.stringify(merge());
    const forged = await post("pull_request", body, {
      delivery: "forged-1",
      signature: await sign("not the secret", body),
    });
    const unsigned = await post("pull_request", body, { delivery: "unsigned-1", signature: null });
    expect([forged.status, unsigned.status]).toEqual([401, 401]);
    expect(published).toEqual([]);
    expect(runRequests()).toEqual([]);
    const records = await triggers.list();
    expect(records.map((r) => [r.deliveryId, r.outcome, r.status])).toEqual([
      ["unsigned-1", "invalid-signature", 401],
      ["forged-1", "invalid-signature", 401],
    ]);
    for (const r of records) {
      expect(r).toMatchObject({ trigger: "github", event: "pull_request", sourceIp: SOURCE_IP });
      // Only the header facts: nothing from the unauthenticated body.
      expect(Object.keys(r).sort()).toEqual(
        ["at", "deliveryId", "event", "outcome", "reason", "sourceIp", "status", "trigger"].sort(),
      );
      expect(JSON.stringify(r)).not.toContain("Codertocat");
    }
  });

  it("a malformed payload (valid signature) gets 400, starts nothing and is recorded with the field", async () => {
    const { post, triggers, runRequests } = await setup();
    const p = merge();
    p.pull_request.merge_commit_sha = "not-a-sha";
    const res = await post("pull_request", JSON.stringify(p), { delivery: "malformed-1" });
    const notJson = await post("pull_request", "{not json", { delivery: "malformed-2" });
    expect([res.status, notJson.status]).toEqual([400, 400]);
    expect(runRequests()).toEqual([]);
    const records = await triggers.list();
    expect(records.map((r) => [r.deliveryId, r.outcome, r.status])).toEqual([
      ["malformed-2", "invalid-request", 400],
      ["malformed-1", "invalid-request", 400],
    ]);
    expect(records[1]?.reason).toContain("pull_request.merge_commit_sha");
  });

  it("an unapproved merge starts nothing and is recorded with pipeline, PR, sha and reason", async () => {
    const { post, triggers, runRequests, published } = await setup();
    const p = merge();
    const res = await post("pull_request", JSON.stringify(p), { delivery: "unapproved-1" });
    expect(res.status).toBe(200);
    expect(res.body.result).toBe("rejected");
    expect(runRequests()).toEqual([]);
    expect(published.map((e) => e.detailType)).toEqual(["Breakwater Change Rejected"]);
    const records = await triggers.list({ pipeline: "orders-api" });
    expect(records).toEqual([
      {
        at: NOW.toISOString(),
        trigger: "github",
        outcome: "rejected",
        status: 200,
        reason: "unapproved: 0 of 1 approvals",
        deliveryId: "unapproved-1",
        event: "pull_request.closed",
        pipeline: "orders-api",
        repository: "Codertocat/Hello-World",
        pr: p.pull_request.number,
        sha: p.pull_request.merge_commit_sha,
        headSha: p.pull_request.head.sha,
      },
    ]);
  });

  it("an unknown repository gets 404 and a record naming it", async () => {
    const { post, triggers, runRequests } = await setup();
    const p = merge();
    p.repository.full_name = "someone/else";
    const res = await post("pull_request", JSON.stringify(p), { delivery: "unknown-1" });
    expect(res.status).toBe(404);
    expect(runRequests()).toEqual([]);
    expect(await triggers.list()).toMatchObject([
      {
        outcome: "unknown-repository",
        status: 404,
        repository: "someone/else",
        deliveryId: "unknown-1",
      },
    ]);
  });

  it("an approved merge records the run request; its redelivery records a duplicate", async () => {
    const { post, triggers, runRequests } = await setup();
    expect((await post("pull_request_review", JSON.stringify(approval("octocat")))).status).toBe(
      200,
    );
    const body = JSON.stringify(merge());
    expect((await post("pull_request", body, { delivery: "merge-1" })).status).toBe(202);
    expect((await post("pull_request", body, { delivery: "merge-1" })).status).toBe(200);
    expect(runRequests()).toHaveLength(1);
    const records = await triggers.list({ pipeline: "orders-api" });
    expect(records).toMatchObject([
      {
        outcome: "run-requested",
        pipeline: "orders-api",
        version: merge().pull_request.merge_commit_sha,
        approvers: ["octocat"],
        deliveryId: "merge-1",
      },
    ]);
    // The duplicate names no pipeline (nothing of the payload is read again): in the full list.
    expect((await triggers.list()).map((r) => r.outcome)).toEqual(["duplicate", "run-requested"]);
    expect(await triggers.list({ limit: 1 })).toHaveLength(1);
  });
});

describe.each([
  ["in memory", async (): Promise<TriggerLog> => new InMemoryTriggerLog()],
  [
    "DynamoDB",
    async (): Promise<TriggerLog> =>
      new DynamoTriggerLog(dynamoClient(), (await freshStore()).table),
  ],
])("Artifact Published records (%s)", (_, makeLog) => {
  const commitSha = "c4295bd74fb0f4d6e2d0c4b1f4b1f4b1f4b1f4b1";
  const artifactDigest = `sha256:${"ab".repeat(32)}`;
  const event = (detail: Record<string, unknown>, id: string = randomUUID()) => ({
    version: "0",
    id,
    "detail-type": "Artifact Published",
    source: "ci.buildkite",
    time: "2024-05-01T12:00:00Z",
    detail,
  });
  const approvals = [{ login: "alice", at: "2024-05-01T11:00:00Z" }];

  it("malformed and unapproved events start nothing and leave records; approved ones too", async () => {
    const triggers = await makeLog();
    const published: BusEvent[] = [];
    const deps = {
      triggers,
      runRequests: new InMemoryRunRequestStore(),
      publishers: [{ principalArn: "arn:aws:iam::123456789012:role/ci" }],
      publish: async (e: BusEvent[]) => {
        published.push(...e);
      },
      clock: { now: () => NOW },
    };
    await expect(
      handleArtifactPublished(event({ pipeline: "orders-api", commitSha: "x" }, "bad-1"), deps),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await handleArtifactPublished(
      event({ pipeline: "orders-api", commitSha, artifactDigest, approvals: [] }, "unapproved-1"),
      deps,
    );
    expect(published.map((e) => e.detailType)).toEqual(["Breakwater Change Rejected"]);
    await handleArtifactPublished(
      event({ pipeline: "orders-api", commitSha, artifactDigest, approvals }, "ok-1"),
      deps,
    );
    const records: TriggerRecord[] = await triggers.list();
    expect(records.map((r) => [r.deliveryId, r.outcome])).toEqual([
      ["ok-1", "run-requested"],
      ["unapproved-1", "rejected"],
      ["bad-1", "invalid-request"],
    ]);
    expect(records[0]).toMatchObject({ sha: commitSha, artifactDigest, approvers: ["alice"] });
    expect(records[1]).toMatchObject({ pipeline: "orders-api", sha: commitSha });
    expect(records[2]?.reason).toContain("detail.commitSha");
    expect(await triggers.list({ pipeline: "orders-api" })).toHaveLength(2);
    expect(await triggers.list({ pipeline: "payments" })).toEqual([]);
  });
});
