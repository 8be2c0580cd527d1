/**
 * One contract for the trigger stores (reviews, webhook delivery claims, the trigger log) and the
 * run-request store, run against the DynamoDB implementations
 * (test/integration/trigger-stores.test.ts) and their in-memory twins
 * (test/unit/trigger-stores.test.ts): claims are exclusive while in progress, taken over once
 * expired, completed for good; a dismissal is final; the log is newest first; one run request
 * per pipeline version.
 */
import { describe, expect, it } from "vitest";
import type { NewRunRequest, RunRequestStore } from "../../src/app/run-requests.ts";
import type { StoredReview } from "../../src/triggers/decisions.ts";
import type { ReviewStore, TriggerLog, WebhookDeliveryStore } from "../../src/triggers/ports.ts";

export interface TriggerStores {
  reviews: ReviewStore;
  deliveries: WebhookDeliveryStore;
  log: TriggerLog;
  runRequests: RunRequestStore;
}

/** Defines the contract's tests; `make` gives empty stores on the clock `now` (ms). */
export function describeTriggerStoresContract(
  name: string,
  make: (now: () => number) => Promise<TriggerStores>,
): void {
  const start = Date.parse("2026-01-05T10:00:00.000Z");
  const clock = () => {
    const c = { t: start, now: () => c.t };
    return c;
  };
  const review = (over: Partial<StoredReview> = {}): StoredReview => ({
    id: 1,
    reviewer: "ana",
    state: "approved",
    commitId: "abc123",
    submittedAt: "2026-01-05T09:00:00.000Z",
    ...over,
  });

  describe(`${name}: the trigger stores contract`, () => {
    it("keeps one record per review id, repositories compared case-insensitively", async () => {
      const { reviews } = await make(clock().now);
      await reviews.recordReview("Acme/Orders", 7, review());
      await reviews.recordReview("acme/orders", 7, review({ state: "changes_requested" }));
      await reviews.recordReview("acme/orders", 7, review({ id: 2, reviewer: "bo" }));
      await reviews.recordReview("acme/orders", 8, review({ id: 3 }));
      const stored = (await reviews.reviews("ACME/orders", 7)).sort((a, b) => a.id - b.id);
      expect(stored).toEqual([
        review({ state: "changes_requested" }),
        review({ id: 2, reviewer: "bo" }),
      ]);
    });

    it("keeps a dismissed review dismissed whatever arrives later", async () => {
      const { reviews } = await make(clock().now);
      await reviews.recordReview("acme/orders", 7, review({ state: "dismissed" }));
      await reviews.recordReview("acme/orders", 7, review({ state: "approved" }));
      expect((await reviews.reviews("acme/orders", 7)).map((r) => r.state)).toEqual(["dismissed"]);
    });

    it("gives a delivery to exactly one of many concurrent claimants", async () => {
      const { deliveries } = await make(clock().now);
      const claims = await Promise.all(
        Array.from({ length: 6 }, () => deliveries.claim("d-1", 60_000)),
      );
      expect(claims.filter((c) => c.status === "claimed")).toHaveLength(1);
      for (const c of claims.filter((c) => c.status !== "claimed")) {
        expect(c).toEqual({ status: "in-progress", until: new Date(start + 60_000) });
      }
    });

    it("completes a claim for good: every later claim, even after the claim time, is completed", async () => {
      const c = clock();
      const { deliveries } = await make(c.now);
      const claim = await deliveries.claim("d-1", 60_000);
      if (claim.status !== "claimed") throw new Error("not claimed");
      await deliveries.complete("d-1", claim.token);
      // A retried completion is harmless.
      await deliveries.complete("d-1", claim.token);
      expect(await deliveries.claim("d-1", 60_000)).toEqual({ status: "completed" });
      c.t += 3_600_000;
      expect(await deliveries.claim("d-1", 60_000)).toEqual({ status: "completed" });
    });

    it("lets a released claim, or an expired one, be claimed again; a stale token does nothing", async () => {
      const c = clock();
      const { deliveries } = await make(c.now);
      const first = await deliveries.claim("d-1", 60_000);
      if (first.status !== "claimed") throw new Error("not claimed");
      // A release with another token (not the caller's claim) leaves the claim alone.
      await deliveries.release("d-1", "not-the-token");
      expect((await deliveries.claim("d-1", 60_000)).status).toBe("in-progress");
      await deliveries.release("d-1", first.token);
      const second = await deliveries.claim("d-1", 60_000);
      if (second.status !== "claimed") throw new Error("not claimed again");
      expect(second.token).not.toBe(first.token);
      // The claim expires (the invocation died): the next claimant takes it over.
      c.t += 60_000;
      const third = await deliveries.claim("d-1", 60_000);
      if (third.status !== "claimed") throw new Error("not taken over");
      // The dead invocation's late completion does not complete the new claim.
      await deliveries.complete("d-1", second.token);
      expect(await deliveries.claim("d-1", 60_000)).toEqual({
        status: "in-progress",
        until: new Date(c.t + 60_000),
      });
      await deliveries.complete("d-1", third.token);
      expect(await deliveries.claim("d-1", 60_000)).toEqual({ status: "completed" });
    });

    it("lists trigger records newest first, by pipeline, up to the limit", async () => {
      const { log } = await make(clock().now);
      const at = (m: number) => new Date(start + m * 60_000).toISOString();
      await log.record({ at: at(1), trigger: "github", outcome: "rejected", reason: "r1" });
      await log.record({
        at: at(3),
        trigger: "artifact",
        outcome: "run-requested",
        reason: "r3",
        pipeline: "orders-api",
      });
      await log.record({
        at: at(2),
        trigger: "github",
        outcome: "run-requested",
        reason: "r2",
        pipeline: "orders-api",
        approvers: ["ana"],
      });
      expect((await log.list()).map((r) => r.reason)).toEqual(["r3", "r2", "r1"]);
      expect((await log.list({ pipeline: "orders-api" })).map((r) => r.reason)).toEqual([
        "r3",
        "r2",
      ]);
      expect((await log.list({ limit: 1 })).map((r) => r.reason)).toEqual(["r3"]);
      expect((await log.list({ pipeline: "orders-api" }))[1]?.approvers).toEqual(["ana"]);
    });

    it("lists records of one instant in reverse order of arrival, however many, up to the limit", async () => {
      const { log } = await make(clock().now);
      const at = new Date(start).toISOString();
      for (let i = 0; i < 30; i++) {
        await log.record({ at, trigger: "github", outcome: "rejected", reason: `s${i}` });
      }
      const newestFirst = Array.from({ length: 30 }, (_, i) => `s${29 - i}`);
      expect((await log.list({ limit: 10 })).map((r) => r.reason)).toEqual(
        newestFirst.slice(0, 10),
      );
      expect((await log.list()).map((r) => r.reason)).toEqual(newestFirst);
    });

    const request = (over: Partial<NewRunRequest> = {}): NewRunRequest => ({
      pipeline: "orders-api",
      version: "v2",
      source: "github",
      writtenBy: "github",
      ref: "delivery-1",
      cause: "trigger=github",
      change: { trigger: "github", approvers: ["ana"], repository: "acme/orders", pr: 7 },
      ...over,
    });

    it("writes one run request per pipeline version: a retry gets the first one back", async () => {
      const { runRequests } = await make(clock().now);
      expect(await runRequests.get("orders-api", "v2")).toBeUndefined();
      const [a, b] = await Promise.all([
        runRequests.put(request()),
        runRequests.put(request({ ref: "delivery-2", writtenBy: "artifact" })),
      ]);
      expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
      const winner = a.created ? a : b;
      const loser = a.created ? b : a;
      expect(loser.requestId).toBe(winner.requestId);
      const { created: _c, ...stored } = winner;
      expect(await runRequests.get("orders-api", "v2")).toEqual(stored);
      expect((await runRequests.put(request({ version: "v3" }))).created).toBe(true);
    });
  });
}
