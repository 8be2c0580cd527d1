/**
 * The bus is not a proof of approval (issue 10, finding 3): on the local control plane (DynamoDB
 * Local, the real handlers and rules), an "Approved Change Merged" starts a run only when it
 * points at a run request a trigger (or an operator's audited manual start) wrote first, and an
 * "Artifact Published" counts only from a source the installation names.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createOverrideHandler } from "../../functions/override.ts";
import { DetailType, SOURCE } from "../../src/app/events.ts";
import type { Installation } from "../../src/domain/installation.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { lambdaContext } from "../../src/local/step-functions.ts";
import { dynamoClient } from "../support/dynamo.ts";
import { ALICE, urlRequest } from "../support/override-url.ts";

const START = new Date("2026-01-05T09:00:00Z");
const SHA = "c4295bd74fb0f4d6e2d0c4b1f4b1f4b1f4b1f4b1";
const DIGEST = `sha256:${"ab".repeat(32)}`;
const OTHER_DIGEST = `sha256:${"cd".repeat(32)}`;

const pipeline = parsePipeline({
  name: "orders-api",
  stages: [{ name: "beta", regions: ["us-east-1"], bake: { minutes: 5 } }],
});

async function plane(installation: Installation = {}) {
  const p = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName: `busauth-${randomUUID()}`,
    start: START,
    fleet: (clock) => new SimulatedFleet({ pipeline, initialVersion: "v1", clock }),
    installation,
  });
  await p.register(pipeline, "v1");
  const handler = createOverrideHandler(() => p.deps);
  // Through the function URL, as alice's IAM-signed request arrives.
  const override = async (body: unknown) => {
    const res = await handler(
      urlRequest(body, ALICE),
      lambdaContext("breakwater-override", "test"),
    );
    const parsed = JSON.parse(res.body) as { changed: boolean; effect: string; error?: string };
    if (res.statusCode !== 200) throw new Error(parsed.error);
    return parsed;
  };
  return { p, override };
}

const artifact = (source: string, id: string) => ({
  id,
  source,
  "detail-type": "Artifact Published",
  resources: [],
  detail: {
    pipeline: "orders-api",
    commitSha: SHA,
    artifactDigest: DIGEST,
    approvals: [{ login: "mallory", at: "2026-01-05T08:50:00Z" }],
  },
});

const CI: Installation = {
  artifactPublishers: [
    { principalArn: "arn:aws:iam::123456789012:role/buildkite-ci", sources: ["ci.buildkite"] },
  ],
};

describe("the bus is not a proof of approval", () => {
  it("a bare Approved Change Merged (no run request behind it) starts nothing and is recorded", async () => {
    const { p } = await plane();
    p.bus.put({
      source: SOURCE,
      "detail-type": DetailType.ApprovedChangeMerged,
      resources: [],
      detail: {
        pipeline: "orders-api",
        version: SHA,
        cause: "forged",
        change: { trigger: "github", approvers: ["alice", "bob"] },
      },
    });
    await p.run();
    expect(await p.store.listRuns("orders-api")).toEqual([]);
    expect(p.bus.failures).toEqual([]);
    const [record] = await p.triggers.list({ pipeline: "orders-api" });
    expect(record).toMatchObject({ trigger: "start-run", outcome: "refused", version: SHA });
  });

  it("a pointer at a request id that was never written starts nothing and is recorded", async () => {
    const { p } = await plane();
    p.bus.put({
      source: SOURCE,
      "detail-type": DetailType.ApprovedChangeMerged,
      resources: [],
      detail: { pipeline: "orders-api", version: SHA, requestId: randomUUID() },
    });
    await p.run();
    expect(await p.store.listRuns("orders-api")).toEqual([]);
    const [record] = await p.triggers.list({ pipeline: "orders-api" });
    expect(record).toMatchObject({ trigger: "start-run", outcome: "refused" });
    expect(record?.reason).toContain("no run request");
  });

  it("a pointer whose digest differs from the recorded request starts nothing", async () => {
    const { p } = await plane();
    const request = await p.runRequests.put({
      pipeline: "orders-api",
      version: SHA,
      artifactDigest: DIGEST,
      source: "artifact",
      writtenBy: "artifact",
      cause: "trigger=artifact",
      change: { trigger: "artifact", sha: SHA, artifactDigest: DIGEST, approvers: ["alice"] },
    });
    p.bus.put({
      source: SOURCE,
      "detail-type": DetailType.ApprovedChangeMerged,
      resources: [],
      detail: {
        pipeline: "orders-api",
        version: SHA,
        requestId: request.requestId,
        artifactDigest: OTHER_DIGEST,
      },
    });
    await p.run();
    expect(await p.store.listRuns("orders-api")).toEqual([]);
    const [record] = await p.triggers.list({ pipeline: "orders-api" });
    expect(record).toMatchObject({ trigger: "start-run", outcome: "refused" });
    expect(record?.reason).toContain("artifactDigest");
  });

  it("a forged Artifact Published (no CI publisher named) starts nothing and is recorded", async () => {
    const { p } = await plane();
    p.bus.put(artifact("ci.buildkite", "evt-forged"));
    await p.run();
    expect(await p.store.listRuns("orders-api")).toEqual([]);
    expect(p.bus.log.map((e) => e["detail-type"])).toEqual(["Artifact Published"]);
    const [record] = await p.triggers.list();
    expect(record).toMatchObject({ trigger: "artifact", outcome: "refused" });
    expect(record?.reason).toContain("artifactPublishers");
  });

  it("an Artifact Published from a source the installation does not name starts nothing", async () => {
    const { p } = await plane(CI);
    p.bus.put(artifact("ci.someone-else", "evt-other"));
    await p.run();
    expect(await p.store.listRuns("orders-api")).toEqual([]);
    const [record] = await p.triggers.list();
    expect(record).toMatchObject({ trigger: "artifact", outcome: "refused" });
    expect(record?.reason).toContain("ci.someone-else");
  });

  it("an Artifact Published from a named CI source writes the run request; the run's facts come from it", async () => {
    const { p } = await plane(CI);
    p.bus.put(artifact("ci.buildkite", "evt-ok"));
    await p.run();
    const runs = await p.store.listRuns("orders-api");
    expect(runs.map((r) => [r.version, r.status])).toEqual([[SHA, "succeeded"]]);
    expect(runs[0]?.change).toMatchObject({ trigger: "artifact", artifactDigest: DIGEST });
    const request = await p.runRequests.get("orders-api", SHA);
    expect(request).toMatchObject({ source: "artifact", writtenBy: "artifact", ref: "evt-ok" });
    const pointer = p.bus.log.find((e) => e["detail-type"] === DetailType.ApprovedChangeMerged);
    expect(pointer?.detail).toEqual({
      pipeline: "orders-api",
      version: SHA,
      requestId: request?.requestId,
      artifactDigest: DIGEST,
    });
  });

  it("an operator's manual start writes the request and an audit entry, and the run starts", async () => {
    const { p, override } = await plane();
    const out = await override({
      action: "start",
      pipeline: "orders-api",
      version: "v2",
      actor: "alice",
      reason: "hotfix for INC-42",
    });
    expect(out).toMatchObject({ changed: true });
    await p.run();
    const run = await p.store.getRun("orders-api@v2");
    expect(run?.status).toBe("succeeded");
    expect(run?.change).toMatchObject({ trigger: "manual", approvers: [] });
    expect(await p.runRequests.get("orders-api", "v2")).toMatchObject({
      source: "operator",
      writtenBy: ALICE,
    });
    const audit = await p.store.listAudit();
    expect(audit).toMatchObject([
      {
        action: "start",
        actor: "alice",
        principal: ALICE,
        target: "orders-api@v2",
        reason: "hotfix for INC-42",
      },
    ]);
    // Asking again changes nothing and says so (one request, one run).
    const again = await override({
      action: "start",
      pipeline: "orders-api",
      version: "v2",
      actor: "alice",
      reason: "hotfix for INC-42",
    });
    expect(again).toMatchObject({ changed: false });
    await p.run();
    expect(await p.store.listRuns("orders-api")).toHaveLength(1);
  });

  it("a manual start names unknown pipelines and bad fields, and writes nothing", async () => {
    const { p, override } = await plane();
    await expect(
      override({
        action: "start",
        pipeline: "nope",
        version: "v2",
        actor: "alice",
        reason: "x y z",
      }),
    ).rejects.toThrow(/pipeline: no pipeline named "nope"/);
    await expect(
      override({
        action: "start",
        pipeline: "orders-api",
        version: "v2",
        artifactDigest: "latest",
        actor: "alice",
        reason: "x y z",
      }),
    ).rejects.toThrow(/artifactDigest: must be "sha256:"/);
    expect(await p.runRequests.get("orders-api", "v2")).toBeUndefined();
    expect(await p.store.listAudit()).toEqual([]);
  });
});
