/**
 * A stage's manual approval on the real local control plane: DynamoDB Local, the real stage and
 * approval-timer ASL in the local interpreter, the real handlers (promote reacts to the timer's
 * status change), the local bus, a simulated fleet, a virtual clock. Operators decide through the
 * override path (applyOverride), as authenticated.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { applyOverride } from "../../src/app/override.ts";
import type { Run, TimelineEvent } from "../../src/domain/model.ts";
import { OverrideRejectedError } from "../../src/domain/override.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { type FaultSpec, SimulatedFleet } from "../../src/local/fleet.ts";
import { dynamoClient } from "../support/dynamo.ts";

const OPERATOR = { principal: { arn: "arn:aws:sts::123456789012:assumed-role/Operators/oncall" } };
const START = new Date("2026-01-05T09:00:00Z");
const at = (minutes: number) => new Date(START.getTime() + minutes * 60_000);

const pipeline: PipelineInput = {
  name: "orders-api",
  stages: [
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 30 } },
    {
      name: "prod",
      regions: ["eu-west-1", "eu-central-1"],
      approval: { timeoutMinutes: 120 },
      bake: { minutes: 30 },
    },
  ],
};

async function plane(input: PipelineInput = pipeline, faults: FaultSpec[] = []) {
  const definition = parsePipeline(input);
  const p = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName: `it-approvals-${randomUUID()}`,
    start: START,
    fleet: (clock) =>
      new SimulatedFleet({ pipeline: definition, initialVersion: "v1", clock, faults }),
  });
  await p.register(definition, "v1");
  return p;
}

const decide = (action: string, version: string, reason = "change ticket CHG-7 signed off") => ({
  action,
  pipeline: "orders-api",
  version,
  actor: "alice",
  reason,
});

const prodEvents = (timeline: TimelineEvent[]) =>
  timeline.filter((e) => e.stage === "prod" && e.step !== "approval");
const approvalEvents = (timeline: TimelineEvent[]) =>
  timeline.filter((e) => e.step === "approval").map((e) => `${e.event} ${e.scope}`);

describe("a stage's manual approval", () => {
  it("the run waits awaiting-approval before the stage, announced and recorded; approve starts it with the operator's identity", async () => {
    const p = await plane();
    p.requestRun("orders-api", "v2");
    let waiting: Run | undefined;
    p.at(at(90), async () => {
      waiting = await p.store.getRun("orders-api@v2");
      await applyOverride(p.deps, decide("approve", "v2"), OPERATOR);
    });
    await p.run();

    expect(waiting).toMatchObject({ status: "awaiting-approval", currentStage: "prod" });
    expect(waiting?.stages.beta?.status).toBe("succeeded");
    expect(waiting?.stages.prod).toBeUndefined();
    const asked = waiting?.approval;
    expect(asked?.stage).toBe("prod");
    expect(Date.parse(asked?.deadline ?? "") - Date.parse(asked?.requestedAt ?? "")).toBe(
      120 * 60_000,
    );

    const run = await p.store.getRun("orders-api@v2");
    expect(run?.status).toBe("succeeded");
    expect(run?.approvals?.prod).toMatchObject({
      action: "approve",
      actor: "alice",
      principal: OPERATOR.principal.arn,
      at: at(90).toISOString(),
    });
    const timeline = await p.store.timeline("orders-api@v2");
    expect(approvalEvents(timeline)).toEqual(["approval-requested prod", "approved prod"]);
    // Nothing of prod started before the approval.
    const prod = prodEvents(timeline);
    expect(prod.length).toBeGreaterThan(0);
    expect(Math.min(...prod.map((e) => Date.parse(e.at)))).toBeGreaterThanOrEqual(at(90).getTime());
    const announced = p.bus.log
      .filter((e) => e["detail-type"] === "Breakwater Run Event" && e.detail.version === "v2")
      .map((e) => e.detail.event)
      .filter((e) => e === "approval-requested" || e === "approved");
    expect(announced).toEqual(["approval-requested", "approved"]);
    const audit = await p.store.listAudit();
    expect(audit.at(-1)).toMatchObject({
      action: "approve",
      principal: OPERATOR.principal.arn,
      target: "orders-api@v2",
      changed: true,
    });
    // One timer per approval asked for; stopped by the approval (it never ran out).
    expect([...p.sfn.approvalTimer.executions.values()].map((e) => e.status)).toEqual(["ABORTED"]);
    for (const s of await p.store.listScopes("orders-api")) expect(s.version).toBe("v2");
  });

  it("reject ends the run before the stage; its scopes keep the version they had", async () => {
    const p = await plane();
    p.requestRun("orders-api", "v2");
    let repeated: string | undefined;
    p.at(at(90), async () => {
      await applyOverride(p.deps, decide("reject", "v2", "CHG-7 not signed off"), OPERATOR);
      repeated = (await applyOverride(p.deps, decide("reject", "v2", "again"), OPERATOR)).effect;
    });
    await p.run();

    const run = await p.store.getRun("orders-api@v2");
    expect(run).toMatchObject({
      status: "cancelled",
      decision: { action: "reject", principal: OPERATOR.principal.arn },
    });
    expect(repeated).toMatch(/^unchanged/);
    const timeline = await p.store.timeline("orders-api@v2");
    expect(approvalEvents(timeline)).toEqual(["approval-requested prod", "rejected prod"]);
    expect(prodEvents(timeline)).toEqual([]);
    const scopes = await p.store.listScopes("orders-api");
    for (const s of scopes) {
      expect(`${s.scope} ${s.version}`).toBe(
        `${s.scope} ${s.scope.startsWith("beta") ? "v2" : "v1"}`,
      );
    }
    expect((await p.store.getStageSlot("orders-api", "prod")).holder).toBeUndefined();
  });

  it("nobody decides: the timer halts the run at the deadline (recorded); retry is refused, a late approve still starts it", async () => {
    const p = await plane();
    p.requestRun("orders-api", "v2");
    let halted: Run | undefined;
    let retry: unknown;
    p.at(at(300), async () => {
      halted = await p.store.getRun("orders-api@v2");
      retry = await applyOverride(p.deps, decide("retry", "v2"), OPERATOR).catch((e) => e);
      await applyOverride(p.deps, decide("approve", "v2", "late sign-off"), OPERATOR);
    });
    await p.run();

    expect(halted).toMatchObject({
      status: "halted",
      haltReason: "approval-timeout",
      currentStage: "prod",
      haltedAt: halted?.approval?.deadline,
    });
    expect(halted?.haltDetail).toContain("within 120 minutes");
    expect(retry).toBeInstanceOf(OverrideRejectedError);
    expect(String((retry as Error).message)).toContain("approve or reject it");
    const timeline = await p.store.timeline("orders-api@v2");
    expect(approvalEvents(timeline)).toEqual([
      "approval-requested prod",
      "approval-timed-out prod",
      "approved prod",
    ]);
    expect(
      p.bus.log.some(
        (e) => e.detail.event === "run-halted" && String(e.detail.reason).includes("120 minutes"),
      ),
    ).toBe(true);
    expect((await p.store.getRun("orders-api@v2"))?.status).toBe("succeeded");
  });

  it("a newer version arriving supersedes the one awaiting approval (safety rule 6); only the newer one deploys", async () => {
    const p = await plane();
    p.requestRun("orders-api", "v2");
    p.at(at(60), async () => p.requestRun("orders-api", "v3"));
    let v3Waiting: Run | undefined;
    p.at(at(200), async () => {
      v3Waiting = await p.store.getRun("orders-api@v3");
      await applyOverride(p.deps, decide("approve", "v3"), OPERATOR);
    });
    await p.run();

    const v2 = await p.store.getRun("orders-api@v2");
    expect(v2).toMatchObject({ status: "superseded", supersededBy: "orders-api@v3" });
    expect(prodEvents(await p.store.timeline("orders-api@v2"))).toEqual([]);
    expect(v3Waiting).toMatchObject({ status: "awaiting-approval", currentStage: "prod" });
    expect((await p.store.getRun("orders-api@v3"))?.status).toBe("succeeded");
    const reason = p.bus.log.find(
      (e) => e.detail.event === "run-superseded" && e.detail.version === "v2",
    )?.detail.reason;
    expect(reason).toContain("v3");
    // Approving the superseded version is refused with a clear reason.
    await expect(applyOverride(p.deps, decide("approve", "v2"), OPERATOR)).rejects.toThrow(
      /v2 is superseded: approve decides a run awaiting approval/,
    );
    for (const s of await p.store.listScopes("orders-api")) expect(s.version).toBe("v3");
    const history = await p.store.history("orders-api", "prod/eu-west-1");
    expect(history.map((h) => h.toVersion).filter((v, i, a) => a.indexOf(v) === i)).toEqual([
      "v1",
      "v3",
    ]);
  });

  it("an older version halting stops a newer one awaiting approval at that boundary; it asks again when the line resumes", async () => {
    const three: PipelineInput = {
      name: "orders-api",
      stages: [
        { name: "beta", regions: ["us-east-1"], bake: { minutes: 30 } },
        {
          name: "prod-1",
          regions: ["eu-west-1"],
          approval: { timeoutMinutes: 600 },
          bake: { minutes: 30 },
        },
        { name: "prod-2", regions: ["eu-central-1"], bake: { minutes: 30 } },
      ],
    };
    const p = await plane(three, [{ version: "v2", scopes: "prod-2/*", kind: "faults" }]);
    p.requestRun("orders-api", "v2");
    p.at(at(40), async () => {
      await applyOverride(p.deps, decide("approve", "v2"), OPERATOR);
    });
    // v3 arrives early enough to be awaiting prod-1's approval when v2 rolls back in prod-2
    // (the detector's first look into prod-2's bake, about minute 85).
    p.at(at(10), async () => p.requestRun("orders-api", "v3"));
    let v3Stopped: Run | undefined;
    let refused: unknown;
    p.at(at(400), async () => {
      v3Stopped = await p.store.getRun("orders-api@v3");
      refused = await applyOverride(p.deps, decide("approve", "v3"), OPERATOR).catch((e) => e);
      await applyOverride(p.deps, decide("cancel", "v2", "v2 is bad, v3 has the fix"), OPERATOR);
    });
    p.at(at(420), async () => {
      await applyOverride(p.deps, decide("approve", "v3"), OPERATOR);
    });
    await p.run();

    expect((await p.store.getRun("orders-api@v2"))?.status).toBe("cancelled");
    expect(v3Stopped).toMatchObject({
      status: "halted",
      haltReason: "older-version-halted",
      haltedBy: "orders-api@v2",
      nextStage: "prod-1",
    });
    expect(refused).toBeInstanceOf(OverrideRejectedError);
    const v3 = await p.store.timeline("orders-api@v3");
    expect(approvalEvents(v3)).toEqual([
      "approval-requested prod-1",
      "approval-requested prod-1",
      "approved prod-1",
    ]);
    // No step of v3 in prod-1 before the approval given after the line resumed.
    const prod1 = v3.filter((e) => e.stage === "prod-1" && e.event === "deploy-started");
    expect(Math.min(...prod1.map((e) => Date.parse(e.at)))).toBeGreaterThanOrEqual(
      at(420).getTime(),
    );
    expect((await p.store.getRun("orders-api@v3"))?.status).toBe("succeeded");
  });
});
