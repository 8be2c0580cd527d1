/**
 * The GitHub webhook over real HTTP: a node:http server on 127.0.0.1 with
 * `createWebhookHttpHandler`, driven with `fetch` and GitHub's real payloads.
 */

import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sign } from "@octokit/webhooks-methods";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InMemoryRunRequestStore } from "../../src/app/run-requests.ts";
import type { BusEvent } from "../../src/domain/ports.ts";
import { parseTriggerConfig } from "../../src/triggers/decisions.ts";
import type { GitHubWebhookDeps } from "../../src/triggers/github.ts";
import {
  createWebhookHttpHandler,
  DEFAULT_MAX_BODY_BYTES,
  GITHUB_MAX_PAYLOAD_BYTES,
  type WebhookHttpOptions,
} from "../../src/triggers/http.ts";
import { InMemoryReviewStore, InMemoryWebhookDeliveryStore } from "../../src/triggers/in-memory.ts";
import { writersEverywhere } from "../support/github-api.ts";
import { approvedReview, mergedPullRequest, WEBHOOK_SECRET } from "../support/github-examples.ts";

const SECRET = WEBHOOK_SECRET;

const approval = approvedReview("alice");
const merge = mergedPullRequest();

// Every reviewer has write access here: these tests are about the other approval rules.
let github: Awaited<ReturnType<typeof writersEverywhere>>;
beforeAll(async () => {
  github = await writersEverywhere();
});
afterAll(() => github.api.close());

async function start(options: WebhookHttpOptions = {}) {
  const published: BusEvent[] = [];
  const errors: unknown[] = [];
  const deps: GitHubWebhookDeps = {
    secret: SECRET,
    config: parseTriggerConfig([
      { repository: "Codertocat/Hello-World", branch: "main", pipeline: "orders-api" },
    ]),
    reviews: new InMemoryReviewStore(),
    deliveries: new InMemoryWebhookDeliveryStore(),
    runRequests: new InMemoryRunRequestStore(),
    publish: async (events) => {
      published.push(...events);
    },
    ...github.deps,
    clock: { now: () => new Date("2019-05-15T15:22:00Z") },
  };
  const server: Server = createServer(
    createWebhookHttpHandler(deps, { onError: (e) => errors.push(e), ...options }),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/github`;
  const stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { url, published, errors, deps, stop, server };
}

async function post(url: string, event: string, payload: unknown, signature?: string) {
  const body = JSON.stringify(payload);
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/test",
      "x-github-event": event,
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": signature ?? (await sign(SECRET, body)),
    },
    body,
  });
}

describe("webhook over HTTP", () => {
  let srv: Awaited<ReturnType<typeof start>>;
  beforeAll(async () => {
    srv = await start();
  });
  afterAll(async () => {
    await srv.stop();
  });

  it("a signed, approved merge gets 202 and requests a run", async () => {
    const recorded = await post(srv.url, "pull_request_review", approval);
    expect(recorded.status).toBe(200);
    expect(await recorded.json()).toMatchObject({ result: "review-recorded" });

    const res = await post(srv.url, "pull_request", merge);
    expect(res.status).toBe(202);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await res.json()).toMatchObject({
      result: "run-requested",
      runs: [{ pipeline: "orders-api", version: "c4295bd74fb0f4fda03689c3df3f2803b658fd85" }],
    });
    expect(srv.published.map((e) => e.detailType)).toEqual(["Approved Change Merged"]);
  });

  it("a bad signature gets 401 and starts nothing", async () => {
    const before = srv.published.length;
    const res = await post(srv.url, "pull_request", merge, `sha256=${"f".repeat(64)}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      result: "invalid-signature",
      message: "X-Hub-Signature-256 does not match the body",
    });
    expect(srv.published).toHaveLength(before);
  });

  it("a body over the limit gets 413 without being handled", async () => {
    const before = srv.published.length;
    const huge = { ...merge, padding: "x".repeat(DEFAULT_MAX_BODY_BYTES) };
    const res = await post(srv.url, "pull_request", huge);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ result: "payload-too-large" });
    expect(srv.published).toHaveLength(before);
  });

  it("a GET gets 405 with Allow: POST", async () => {
    const res = await fetch(srv.url);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    await res.body?.cancel();
  });
});

describe("webhook over HTTP: limits and faults", () => {
  it("a streamed body (no Content-Length) is cut off at the limit with 413", async () => {
    const srv = await start({ maxBodyBytes: 1024 });
    try {
      const chunk = new TextEncoder().encode("x".repeat(512));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 8) controller.enqueue(chunk);
          else controller.close();
        },
      });
      const res = await fetch(srv.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        duplex: "half",
      } as RequestInit);
      expect(res.status).toBe(413);
      await res.body?.cancel();
    } finally {
      await srv.stop();
    }
  });

  it("refuses a body limit above GitHub's 25 MB cap", async () => {
    await expect(start({ maxBodyBytes: GITHUB_MAX_PAYLOAD_BYTES + 1 })).rejects.toThrow(
      /maxBodyBytes: must be a whole number of bytes from 1 to 26214400/,
    );
  });

  it("a fault in the handler gets a bare 500 and is reported", async () => {
    const srv = await start({
      handle: async () => {
        throw new Error("DynamoDB unavailable");
      },
    });
    try {
      const res = await post(srv.url, "pull_request", merge);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ result: "error", message: "internal error" });
      expect(srv.errors).toHaveLength(1);
    } finally {
      await srv.stop();
    }
  });
});
