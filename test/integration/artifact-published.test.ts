/**
 * "Artifact Published" on a local control plane: the event on the bus goes through the same
 * rule pattern and function as in AWS (delivery store and trigger log on DynamoDB Local), and
 * the approved artifact's run carries the change's facts.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DetailType } from "../../src/app/events.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { dynamoClient } from "../support/dynamo.ts";

const START = new Date("2026-01-05T09:00:00Z");
const SHA = "C4295BD74FB0F4D6E2D0C4B1F4B1F4B1F4B1F4B1";
const DIGEST = `sha256:${"ab".repeat(32)}`;

const pipeline = parsePipeline({
  name: "orders-api",
  stages: [
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 5 } },
    { name: "prod", regions: ["eu-west-1"], bake: { minutes: 10 } },
  ],
});

async function plane() {
  const p = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName: `it-${randomUUID()}`,
    start: START,
    fleet: (clock) => new SimulatedFleet({ pipeline, initialVersion: "v1", clock }),
    installation: {
      // The CI allowed to publish "Artifact Published" (none: every such event is refused).
      artifactPublishers: [
        { principalArn: "arn:aws:iam::123456789012:role/buildkite-ci", sources: ["ci.buildkite"] },
      ],
      github: [
        {
          repository: "acme/orders",
          branch: "main",
          pipeline: "orders-api",
          minApprovals: 2,
          requireApprovalOnHead: true,
        },
      ],
    },
  });
  await p.register(pipeline, "v1");
  return p;
}

const artifact = (approvals: string[], id: string) => ({
  id,
  source: "ci.buildkite",
  "detail-type": "Artifact Published",
  resources: [],
  detail: {
    pipeline: "orders-api",
    commitSha: SHA,
    artifactDigest: DIGEST,
    approvals: approvals.map((login, i) => ({ login, at: `2026-01-05T08:5${i}:00Z` })),
    author: "carol",
  },
});

describe("Artifact Published, locally", () => {
  it("an approved artifact starts exactly one run carrying the change; the same event id again starts nothing", async () => {
    const p = await plane();
    p.bus.put(artifact(["alice", "bob"], "evt-1"));
    await p.run();
    // EventBridge delivers at least once: the same event again, later.
    p.bus.put(artifact(["alice", "bob"], "evt-1"));
    await p.run();

    const version = SHA.toLowerCase();
    const runs = await p.store.listRuns("orders-api");
    expect(runs.map((r) => [r.version, r.status])).toEqual([[version, "succeeded"]]);
    expect(runs[0]?.change).toEqual({
      trigger: "artifact",
      sha: version,
      artifactDigest: DIGEST,
      approvers: ["alice", "bob"],
      mergedAt: START.toISOString(),
    });
    expect(
      p.bus.log.filter((e) => e["detail-type"] === DetailType.ApprovedChangeMerged),
    ).toHaveLength(1);
    expect((await p.triggers.list()).map((r) => [r.outcome, r.deliveryId])).toEqual([
      ["duplicate", "evt-1"],
      ["run-requested", "evt-1"],
    ]);
    const scopes = await p.store.listScopes("orders-api");
    expect(scopes.map((s) => s.version)).toEqual([version, version]);
  });

  it("a second artifact of the same version with another digest is refused: versions are immutable", async () => {
    const p = await plane();
    p.bus.put(artifact(["alice", "bob"], "evt-a"));
    await p.run();
    const rebuilt = artifact(["alice", "bob"], "evt-b");
    const other = `sha256:${"cd".repeat(32)}`;
    p.bus.put({ ...rebuilt, detail: { ...rebuilt.detail, artifactDigest: other } });
    await p.run();
    const runs = await p.store.listRuns("orders-api");
    expect(runs.map((r) => r.change?.artifactDigest)).toEqual([DIGEST]);
    expect(
      p.bus.log.filter((e) => e["detail-type"] === DetailType.ApprovedChangeMerged),
    ).toHaveLength(1);
    const [refused] = await p.triggers.list();
    expect(refused).toMatchObject({
      outcome: "refused",
      deliveryId: "evt-b",
      artifactDigest: other,
    });
    expect(refused?.reason).toContain(`already requested with artifact ${DIGEST}`);
  });

  it("an artifact with fewer approvals than the installation asks for starts nothing and is recorded", async () => {
    const p = await plane();
    p.bus.put(artifact(["alice", "carol"], "evt-2")); // carol is the author: one approval of two
    await p.run();
    expect(await p.store.listRuns("orders-api")).toEqual([]);
    expect(await p.triggers.list({ pipeline: "orders-api" })).toMatchObject([
      { outcome: "rejected", reason: "unapproved: 1 of 2 approvals", sha: SHA.toLowerCase() },
    ]);
    expect(p.bus.log.map((e) => e["detail-type"])).toEqual([
      "Artifact Published",
      "Breakwater Change Rejected",
    ]);
  });

  it("a malformed artifact event is recorded and dropped, not retried into the dead letters", async () => {
    const p = await plane();
    const bad = artifact(["alice", "bob"], "evt-3");
    p.bus.put({ ...bad, detail: { ...bad.detail, artifactDigest: "latest" } });
    await p.run();
    expect(await p.store.listRuns("orders-api")).toEqual([]);
    expect(p.bus.failures).toEqual([]);
    const [record] = await p.triggers.list();
    expect(record).toMatchObject({ outcome: "invalid-request", deliveryId: "evt-3" });
    expect(record?.reason).toContain("detail.artifactDigest");
  });
});
