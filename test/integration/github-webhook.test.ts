/**
 * The GitHub webhook as deployed: a Lambda function URL request, the real payloads from
 * @octokit/webhooks-examples (re-signed), and the triggers' stores on DynamoDB Local.
 */

import { randomUUID } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGitHubWebhookHandler } from "../../functions/github-webhook.ts";
import { DynamoRunRequestStore } from "../../src/adapters/aws/dynamo-run-requests.ts";
import { DynamoDeliveryStore, DynamoReviewStore } from "../../src/adapters/aws/dynamo-triggers.ts";
import type { BusEvent } from "../../src/domain/ports.ts";
import { lambdaContext } from "../../src/local/step-functions.ts";
import { triggerConfigSchema } from "../../src/triggers/decisions.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../../src/triggers/http.ts";
import { dynamoClient, freshStore } from "../support/dynamo.ts";
import { writersEverywhere } from "../support/github-api.ts";
import {
  approvedReview as approval,
  mergedPullRequest as merge,
  WEBHOOK_SECRET,
} from "../support/github-examples.ts";

const SECRET = WEBHOOK_SECRET;

// Every reviewer has write access here: these tests are about the other approval rules.
let github: Awaited<ReturnType<typeof writersEverywhere>>;
beforeAll(async () => {
  github = await writersEverywhere();
});
afterAll(() => github.api.close());

async function setup() {
  const { table } = await freshStore();
  const reviews = new DynamoReviewStore(dynamoClient(), table);
  const deliveries = new DynamoDeliveryStore(dynamoClient(), table);
  const published: BusEvent[] = [];
  const handler = createGitHubWebhookHandler(async () => ({
    secret: SECRET,
    config: triggerConfigSchema.parse([
      { repository: "Codertocat/Hello-World", branch: "main", pipeline: "orders-api" },
    ]),
    reviews,
    deliveries,
    runRequests: new DynamoRunRequestStore(dynamoClient(), table),
    publish: async (events) => {
      published.push(...events);
    },
    ...github.deps,
    clock: { now: () => new Date("2019-05-15T15:22:00Z") },
  }));
  const post = async (
    event: string,
    payload: unknown,
    over: { delivery?: string; signature?: string } = {},
  ) => {
    const body = JSON.stringify(payload);
    const res = (await handler(
      {
        requestContext: { http: { method: "POST" } },
        isBase64Encoded: true,
        body: Buffer.from(body).toString("base64"),
        headers: {
          "content-type": "application/json",
          "x-github-event": event,
          "x-github-delivery": over.delivery ?? randomUUID(),
          "x-hub-signature-256": over.signature ?? (await sign(SECRET, body)),
        },
      },
      lambdaContext("breakwater-github-webhook", "test"),
    )) as { statusCode: number; body: string };
    return { status: res.statusCode, body: JSON.parse(res.body || "{}") };
  };
  return { reviews, deliveries, published, handler, post };
}

describe("GitHub webhook function (function URL)", () => {
  it("records an approval, then a merge into main requests one run, keyed by the merge commit", async () => {
    const { post, published, reviews } = await setup();
    expect((await post("pull_request_review", approval("octocat"))).status).toBe(200);
    const pr = merge().pull_request.number as number;
    expect((await reviews.reviews("codertocat/hello-world", pr)).map((r) => r.reviewer)).toEqual([
      "octocat",
    ]);
    const delivery = randomUUID();
    const res = await post("pull_request", merge(), { delivery });
    expect(res.status).toBe(202);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      source: "breakwater",
      detailType: "Approved Change Merged",
      detail: { pipeline: "orders-api", version: merge().pull_request.merge_commit_sha },
    });
    // GitHub redelivers: the same delivery id starts nothing.
    expect((await post("pull_request", merge(), { delivery })).status).toBe(200);
    expect(published).toHaveLength(1);
  });

  it("an unapproved merge starts nothing and is recorded as rejected", async () => {
    const { post, published } = await setup();
    const res = await post("pull_request", merge());
    expect(res.status).toBe(200);
    expect(published.map((e) => e.detailType)).toEqual(["Breakwater Change Rejected"]);
  });

  it("a bad signature gets 401 and records nothing; a GET gets 405", async () => {
    const { post, published, reviews, handler } = await setup();
    const res = await post("pull_request_review", approval("octocat"), { signature: "sha256=00" });
    expect(res.status).toBe(401);
    const pr = merge().pull_request.number as number;
    expect(await reviews.reviews("Codertocat/Hello-World", pr)).toEqual([]);
    expect(published).toEqual([]);
    const get = (await handler(
      { requestContext: { http: { method: "GET" } }, headers: {} },
      lambdaContext("breakwater-github-webhook", "test"),
    )) as { statusCode: number };
    expect(get.statusCode).toBe(405);
  });

  it.each([
    ["a base64 body", true],
    ["a plain body", false],
  ])(
    "%s over the limit gets 413 before the secret is loaded or the signature checked",
    async (_, isBase64Encoded) => {
      let provided = 0;
      const handler = createGitHubWebhookHandler(async () => {
        provided++;
        throw new Error("the dependencies must not be needed for an oversize body");
      });
      const raw = "x".repeat(DEFAULT_MAX_BODY_BYTES + 1);
      const res = (await handler(
        {
          requestContext: { http: { method: "POST" } },
          isBase64Encoded,
          body: isBase64Encoded ? Buffer.from(raw).toString("base64") : raw,
          headers: { "x-github-event": "pull_request", "x-hub-signature-256": "sha256=00" },
        },
        lambdaContext("breakwater-github-webhook", "test"),
      )) as { statusCode: number; body: string; headers: Record<string, string> };
      expect(res.statusCode).toBe(413);
      expect(JSON.parse(res.body)).toEqual({
        result: "payload-too-large",
        message: `request body exceeds ${DEFAULT_MAX_BODY_BYTES} bytes`,
      });
      expect(provided).toBe(0);
    },
  );

  it("a declared Content-Length over the limit gets 413 too; a body at the limit is handled", async () => {
    const { handler, published } = await setup();
    const declared = (await handler(
      {
        requestContext: { http: { method: "POST" } },
        body: "{}",
        headers: { "content-length": String(DEFAULT_MAX_BODY_BYTES + 1) },
      },
      lambdaContext("breakwater-github-webhook", "test"),
    )) as { statusCode: number };
    expect(declared.statusCode).toBe(413);
    const atLimit = (await handler(
      {
        requestContext: { http: { method: "POST" } },
        isBase64Encoded: true,
        body: Buffer.from("x".repeat(DEFAULT_MAX_BODY_BYTES)).toString("base64"),
        headers: { "x-github-event": "pull_request", "x-hub-signature-256": "sha256=00" },
      },
      lambdaContext("breakwater-github-webhook", "test"),
    )) as { statusCode: number };
    expect(atLimit.statusCode).toBe(401); // read, and refused for its signature
    expect(published).toEqual([]);
  });

  it("stores: a dismissal is final; a claim is in progress, then completed, or given back", async () => {
    const { reviews, deliveries } = await setup();
    const base = {
      id: 7,
      reviewer: "octocat",
      commitId: "a".repeat(40),
      submittedAt: "2019-05-15T15:10:00Z",
    };
    await reviews.recordReview("o/r", 1, { ...base, state: "approved" });
    await reviews.recordReview("o/r", 1, { ...base, state: "dismissed" });
    await reviews.recordReview("o/r", 1, { ...base, state: "approved" });
    expect((await reviews.reviews("O/R", 1)).map((r) => r.state)).toEqual(["dismissed"]);
    const first = await deliveries.claim("d-1", 60_000);
    if (first.status !== "claimed") throw new Error(`claimed: ${first.status}`);
    expect(await deliveries.claim("d-1", 60_000)).toMatchObject({ status: "in-progress" });
    await deliveries.release("d-1", "someone else's token"); // not ours: changes nothing
    expect(await deliveries.claim("d-1", 60_000)).toMatchObject({ status: "in-progress" });
    await deliveries.release("d-1", first.token);
    const second = await deliveries.claim("d-1", 60_000);
    if (second.status !== "claimed") throw new Error(`claimed again: ${second.status}`);
    await deliveries.complete("d-1", second.token);
    expect(await deliveries.claim("d-1", 60_000)).toEqual({ status: "completed" });
  });
});
