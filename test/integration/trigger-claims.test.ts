/**
 * A merge cannot be lost for good (issue 10, finding 2): the real GitHub webhook and Artifact
 * Published functions, their claims on DynamoDB Local, crashed between claim and publish and
 * between publish and completion. A crash is an invocation that never finishes (a timeout, an
 * OOM kill): its promise is abandoned mid-way, so nothing after the crash point runs, not even a
 * `catch`. A claim stays in progress for the invocation's remaining time, is refused (retryably)
 * meanwhile, and is taken over after it.
 */

import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createArtifactPublishedHandler } from "../../functions/artifact-published.ts";
import { createGitHubWebhookHandler } from "../../functions/github-webhook.ts";
import { DynamoRunRequestStore } from "../../src/adapters/aws/dynamo-run-requests.ts";
import {
  DynamoDeliveryStore,
  DynamoReviewStore,
  DynamoTriggerLog,
} from "../../src/adapters/aws/dynamo-triggers.ts";
import { runIdFor } from "../../src/app/runs.ts";
import type { BusEvent } from "../../src/domain/ports.ts";
import { lambdaContext } from "../../src/local/step-functions.ts";
import { parseTriggerConfig } from "../../src/triggers/decisions.ts";
import { GitHubRestApi } from "../../src/triggers/github-api.ts";
import { InMemoryWebhookDeliveryStore } from "../../src/triggers/in-memory.ts";
import type { WebhookDeliveryStore } from "../../src/triggers/ports.ts";
import { dynamoClient, freshStore } from "../support/dynamo.ts";
import { GITHUB_TOKEN, grant, startGitHubApi } from "../support/github-api.ts";
import {
  approvedReview as approval,
  mergedPullRequest as merge,
  signedWebhookRequest,
  WEBHOOK_SECRET,
} from "../support/github-examples.ts";

const REMAINING_MS = 30_000;
type Crash = "before-publish" | "after-publish" | "publish-fails" | undefined;

/** A bus whose publish can crash the invocation before or after the events are put. */
function crashingBus() {
  const published: BusEvent[] = [];
  let crash: Crash;
  let markCrashed = () => {};
  let crashed = Promise.resolve();
  return {
    published,
    /** The next publish crashes at `at`. */
    crashAt(at: Crash) {
      crash = at;
      crashed = new Promise<void>((resolve) => {
        markCrashed = resolve;
      });
    },
    /** Resolves when the crashing invocation reached its crash point. */
    crashed: () => crashed,
    publish: async (events: BusEvent[]) => {
      const at = crash;
      crash = undefined;
      if (at === "publish-fails") throw new Error("EventBridge: InternalException");
      if (at === "after-publish") published.push(...events);
      if (at) {
        markCrashed();
        await new Promise<never>(() => {});
      }
      published.push(...events);
    },
  };
}

const context = () => ({
  ...lambdaContext("breakwater-trigger", randomUUID()),
  getRemainingTimeInMillis: () => REMAINING_MS,
});

/** Distinct runs the published "Approved Change Merged" events ask for (start-run keys by id). */
const runIds = (events: BusEvent[]) =>
  new Set(
    events
      .filter((e) => e.detailType === "Approved Change Merged")
      .map((e) => {
        const d = e.detail as { pipeline: string; version: string };
        return runIdFor(d.pipeline, d.version);
      }),
  );

async function webhook(deliveries?: (now: () => number, table: string) => WebhookDeliveryStore) {
  const { table } = await freshStore();
  let now = Date.parse("2019-05-15T15:22:00Z");
  const api = await startGitHubApi();
  grant(api, "Codertocat/Hello-World", "octocat", "write");
  const bus = crashingBus();
  const triggers = new DynamoTriggerLog(dynamoClient(), table, { now: () => now });
  const store = deliveries
    ? deliveries(() => now, table)
    : new DynamoDeliveryStore(dynamoClient(), table, () => now);
  const handler = createGitHubWebhookHandler(async () => ({
    secret: WEBHOOK_SECRET,
    config: parseTriggerConfig([
      {
        repository: "Codertocat/Hello-World",
        branch: "main",
        pipeline: "orders-api",
        apiUrl: api.url,
      },
    ]),
    reviews: new DynamoReviewStore(dynamoClient(), table),
    runRequests: new DynamoRunRequestStore(dynamoClient(), table),
    deliveries: store,
    triggers,
    github: new GitHubRestApi({ token: async () => GITHUB_TOKEN }),
    publish: bus.publish,
    clock: { now: () => new Date(now) },
  }));
  const post = async (event: string, payload: unknown, delivery: string) => {
    const res = (await handler(
      await signedWebhookRequest(event, payload, delivery),
      context(),
    )) as { statusCode: number; body: string };
    return { status: res.statusCode, body: JSON.parse(res.body || "{}") };
  };
  expect((await post("pull_request_review", approval("octocat"), randomUUID())).status).toBe(200);
  const delivery = randomUUID();
  return {
    bus,
    triggers,
    post: () => post("pull_request", merge(), delivery),
    /** The next merge delivery's publish fails (throws). */
    failNextPublish: () => bus.crashAt("publish-fails"),
    /** Delivers the merge and lets it crash at `at` (the invocation never returns). */
    crash: async (at: "before-publish" | "after-publish") => {
      bus.crashAt(at);
      void post("pull_request", merge(), delivery);
      await bus.crashed();
    },
    advance: (ms: number) => {
      now += ms;
    },
    close: () => api.close(),
  };
}

describe("GitHub webhook: a crashed delivery is redelivered, not lost", () => {
  const scenarios: [string, ("before-publish" | "after-publish")[]][] = [
    ["between claim and publish", ["before-publish"]],
    ["between claim and publish, twice in a row", ["before-publish", "before-publish"]],
    ["after publish, before completion", ["after-publish"]],
    ["after publish, before completion, twice in a row", ["after-publish", "after-publish"]],
    ["once before publish, then once after it", ["before-publish", "after-publish"]],
  ];
  for (const [name, crashes] of scenarios) {
    it(`crash ${name}: refused while in progress, one run after the expiry`, async () => {
      const w = await webhook();
      try {
        for (const at of crashes) {
          await w.crash(at);
          // GitHub (or an operator) redelivers at once: refused, retryable, and not a duplicate.
          const early = await w.post();
          expect(early.status).toBe(409);
          expect(early.body.result).toBe("in-progress");
          expect((await w.triggers.list())[0]).toMatchObject({
            outcome: "in-progress",
            status: 409,
          });
          w.advance(REMAINING_MS - 1_000);
          expect((await w.post()).status).toBe(409);
          w.advance(2_000); // the crashed invocation's time is up: its claim may be taken over
        }
        const res = await w.post();
        expect(res.status).toBe(202);
        expect(res.body.result).toBe("run-requested");
        expect(runIds(w.bus.published).size).toBe(1);
        const records = await w.triggers.list({ pipeline: "orders-api" });
        expect(records.filter((r) => r.outcome === "run-requested")).toHaveLength(1);
        // Completed: every later redelivery is a duplicate, at any time.
        const published = w.bus.published.length;
        w.advance(REMAINING_MS * 10);
        const dup = await w.post();
        expect(dup.status).toBe(200);
        expect(dup.body.result).toBe("duplicate");
        expect(w.bus.published).toHaveLength(published);
      } finally {
        await w.close();
      }
    });
  }

  it("a publish that fails and a release that fails too: the claim expires, the redelivery runs", async () => {
    const w = await webhook((now, table) => {
      const inner = new DynamoDeliveryStore(dynamoClient(), table, now);
      return {
        claim: (id, ms) => inner.claim(id, ms),
        complete: (id, token) => inner.complete(id, token),
        release: async () => {
          throw new Error("DynamoDB: ProvisionedThroughputExceededException");
        },
      };
    });
    try {
      w.failNextPublish();
      // The function fails (Lambda answers 5xx); the release failed as well, the claim stays.
      await expect(w.post()).rejects.toThrow(/EventBridge/);
      expect((await w.post()).status).toBe(409);
      w.advance(REMAINING_MS);
      expect((await w.post()).status).toBe(202);
      expect(runIds(w.bus.published).size).toBe(1);
    } finally {
      await w.close();
    }
  });

  it("the in-memory delivery store (local mode, tests) behaves the same", async () => {
    const w = await webhook((now) => new InMemoryWebhookDeliveryStore({ now }));
    try {
      await w.crash("before-publish");
      expect((await w.post()).status).toBe(409);
      w.advance(REMAINING_MS + 1);
      expect((await w.post()).status).toBe(202);
      expect((await w.post()).body.result).toBe("duplicate");
      expect(runIds(w.bus.published).size).toBe(1);
    } finally {
      await w.close();
    }
  });
});

describe("Artifact Published: a crashed event is retried, not lost", () => {
  const SHA = "c4295bd74fb0f4d6e2d0c4b1f4b1f4b1f4b1f4b1";
  const event = (id: string) => ({
    id,
    source: "ci.buildkite",
    "detail-type": "Artifact Published",
    time: "2026-01-05T09:00:00Z",
    detail: {
      pipeline: "orders-api",
      commitSha: SHA,
      artifactDigest: `sha256:${"ab".repeat(32)}`,
      approvals: [{ login: "alice", at: "2026-01-05T08:50:00Z" }],
    },
  });

  async function artifact() {
    const { table } = await freshStore();
    let now = Date.parse("2026-01-05T09:00:00Z");
    const bus = crashingBus();
    const triggers = new DynamoTriggerLog(dynamoClient(), table, { now: () => now });
    const handler = createArtifactPublishedHandler(() => ({
      publish: bus.publish,
      clock: { now: () => new Date(now) },
      deliveries: new DynamoDeliveryStore(dynamoClient(), table, () => now),
      runRequests: new DynamoRunRequestStore(dynamoClient(), table),
      publishers: [
        { principalArn: "arn:aws:iam::123456789012:role/buildkite-ci", sources: ["ci.buildkite"] },
      ],
      triggers,
    }));
    const id = randomUUID();
    const invoke = () => handler(event(id), context()) as Promise<{ outcome: string }>;
    return {
      bus,
      triggers,
      invoke,
      crash: async (at: "before-publish" | "after-publish") => {
        bus.crashAt(at);
        void invoke();
        await bus.crashed();
      },
      advance: (ms: number) => {
        now += ms;
      },
    };
  }

  for (const crashes of [
    ["before-publish"],
    ["before-publish", "before-publish"],
    ["after-publish"],
    ["after-publish", "after-publish"],
  ] as ("before-publish" | "after-publish")[][]) {
    it(`crash ${crashes.join(", then ")}: a retry while in progress throws, one run after the expiry`, async () => {
      const a = await artifact();
      for (const at of crashes) {
        await a.crash(at);
        // Thrown, so Lambda's asynchronous retry comes back later.
        await expect(a.invoke()).rejects.toMatchObject({ name: "DeliveryInProgressError" });
        a.advance(REMAINING_MS + 1);
      }
      expect((await a.invoke()).outcome).toBe("run-requested");
      expect(runIds(a.bus.published).size).toBe(1);
      const records = await a.triggers.list({ pipeline: "orders-api" });
      expect(records.filter((r) => r.outcome === "run-requested")).toHaveLength(1);
      expect((await a.invoke()).outcome).toBe("duplicate");
    });
  }
});
