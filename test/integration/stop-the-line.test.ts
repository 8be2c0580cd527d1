/**
 * Safety rule 3, tightened (issue 13, item 7), on the real local control plane (DynamoDB Local,
 * the real stage and rollback ASL in the local interpreter, real handlers, the local bus, a
 * simulated fleet and alarms, a virtual clock). Two versions in flight: v2 rolls back in prod-2
 * while v3 deploys prod-1's AZs one at a time.
 *
 * - Stop the line at once: from v2's rollback on, v3 starts no new deploy step anywhere (its
 *   step in flight finishes and bakes); v3 halts, with the reason, announced; a decision on v2
 *   clears the line and v3 resumes (or ends with rollback-all).
 * - Tie-breaking: v2's rollback due at the very instant v3's next step was due: no step starts.
 * - Last known-good and regional alarms: v3's rollback in prod-1 returns its scopes to v1, not
 *   to v2 (halted for a rollback), and a regional alarm rolls back every scope of the region on
 *   v3, not only the AZ in flight.
 * - Audit: the step a fast rollback ended gets its bake-finished, Unhealthy, the alarm as reason.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { applyOverride } from "../../src/app/override.ts";
import type { Run, TimelineEvent } from "../../src/domain/model.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import type { AlarmInterval } from "../../src/local/alarms.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { dynamoClient } from "../support/dynamo.ts";

const OPERATOR = {
  principal: { arn: "arn:aws:sts::123456789012:assumed-role/Operators/oncall" },
};
const START = new Date("2026-01-05T09:00:00Z");
const at = (minutes: number) => new Date(START.getTime() + minutes * 60_000);
const minute = (iso: string) => (Date.parse(iso) - START.getTime()) / 60_000;

// prod-1: three AZs one at a time (5-minute deploys, 60-minute bakes); prod-2: one region.
// v2 arrives at 0 and leaves prod-1 at 195; v3 arrives at 30 and enters prod-1 at 195: its AZ
// steps start at 195, 260 and 325. v2 bakes in prod-2 from 200 to 320.
const pipeline = parsePipeline({
  name: "orders-api",
  alarms: ["orders-api-errors-{region}"],
  stages: [
    {
      name: "prod-1",
      regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2", "use1-az3"] }],
      bake: { minutes: 60 },
    },
    { name: "prod-2", regions: ["eu-west-1"], bake: { minutes: 120 } },
  ],
});
const AZ = (n: number) => `prod-1/us-east-1/use1-az${n}`;
const PROD2 = "prod-2/eu-west-1";

/** The alarm of eu-west-1 (prod-2) in ALARM from `from` for 20 minutes. */
const prod2Alarm = (from: number): AlarmInterval => ({
  name: "orders-api-errors-eu-west-1",
  region: "eu-west-1",
  from: at(from),
  to: at(from + 20),
});

async function plane(alarms: AlarmInterval[]) {
  const p = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName: `it-stop-line-${randomUUID()}`,
    start: START,
    alarms,
    fleet: (clock) => new SimulatedFleet({ pipeline, initialVersion: "v1", clock, faults: [] }),
  });
  await p.register(pipeline, "v1");
  p.requestRun("orders-api", "v2");
  p.at(at(30), async () => p.requestRun("orders-api", "v3"));
  return p;
}

type Plane = Awaited<ReturnType<typeof plane>>;

const timeline = async (p: Plane, version: string) => p.store.timeline(`orders-api@${version}`);
const getRun = async (p: Plane, version: string) =>
  (await p.store.getRun(`orders-api@${version}`)) as Run;
const only = (tl: TimelineEvent[], event: string) => tl.filter((e) => e.event === event);
/** The run events the control plane announced for a version (what notify sends on). */
const announced = (p: Plane, version: string) =>
  p.bus.log
    .filter((e) => e["detail-type"] === "Breakwater Run Event")
    .map((e) => e.detail as { version: string; event: string; reason?: string; stage?: string })
    .filter((d) => d.version === version);

const decide = (action: string, version: string, reason = "incident 7: decided by on-call") => ({
  action,
  pipeline: "orders-api",
  version,
  actor: "alice",
  reason,
});

describe("a rollback stops the line at once (safety rule 3)", () => {
  it("from v2's rollback in prod-2 on, v3 starts no new step in prod-1; its step in flight bakes; v3 halts, announced", async () => {
    const p = await plane([prod2Alarm(280)]);
    let during: { v3: Run; line: Awaited<ReturnType<Plane["store"]["getLine"]>> } | undefined;
    p.at(at(500), async () => {
      during = { v3: await getRun(p, "v3"), line: await p.store.getLine("orders-api") };
    });
    await p.run();

    const v2 = await timeline(p, "v2");
    const rollback = only(v2, "rollback-started");
    expect(rollback.map((e) => [e.scope, minute(e.at)])).toEqual([[PROD2, 280]]);
    const v3 = await timeline(p, "v3");
    // v3's deploys: AZ1 at 195, AZ2 at 260 (before the rollback); AZ3 (due at 325) never.
    expect(only(v3, "deploy-started").map((e) => [e.scope, minute(e.at)])).toEqual([
      [AZ(1), 195],
      [AZ(2), 260],
    ]);
    // The step in flight finished its bake, judged as usual.
    expect(only(v3, "bake-finished").map((e) => [e.scope, e.outcome, minute(e.at)])).toEqual([
      [AZ(1), "Healthy", 260],
      [AZ(2), "Healthy", 325],
    ]);
    expect(during?.v3).toMatchObject({
      status: "halted",
      haltReason: "older-version-halted",
      haltedBy: "orders-api@v2",
      currentStage: "prod-1",
    });
    expect(during?.v3.haltDetail).toContain("v2 (older) rolled back");
    expect(during?.v3.nextStage).toBeUndefined();
    // The line item says who stopped it, written with v2's halt.
    expect(during?.line.stoppedAt).toBe((await getRun(p, "v2")).seq);
    expect(Object.keys(during?.line.stops ?? {})).toEqual(["orders-api@v2"]);
    // Announced once, at the halt (not waiting silently), not again at the stage's end.
    const halts = announced(p, "v3").filter((d) => d.event === "run-halted");
    expect(halts).toHaveLength(1);
    expect(halts[0]?.reason).toContain("older version v2 rolled back");
    const scopes = Object.fromEntries(
      (await p.store.listScopes("orders-api")).map((s) => [s.scope, `${s.version} ${s.status}`]),
    );
    expect(scopes).toEqual({
      [AZ(1)]: "v3 stable",
      [AZ(2)]: "v3 stable",
      [AZ(3)]: "v2 stable",
      [PROD2]: "v1 rolled-back",
    });
  });

  it("a rollback due at the very instant a newer step was due: the halt is written first and no step starts then", async () => {
    // v3's AZ2 step is due at 260, the instant the prod-2 alarm fires.
    const p = await plane([prod2Alarm(260)]);
    await p.run();
    const rollback = only(await timeline(p, "v2"), "rollback-started");
    expect(rollback.map((e) => minute(e.at))).toEqual([260]);
    const v3 = await timeline(p, "v3");
    expect(only(v3, "deploy-started").map((e) => [e.scope, minute(e.at)])).toEqual([[AZ(1), 195]]);
    expect(await getRun(p, "v3")).toMatchObject({
      status: "halted",
      haltReason: "older-version-halted",
      haltedBy: "orders-api@v2",
    });
  });

  it("retry of v2 clears the line: v3 runs prod-1 again (AZ3 only) and both versions finish", async () => {
    const p = await plane([prod2Alarm(280)]);
    p.at(at(500), async () => {
      await applyOverride(p.deps, decide("retry", "v2", "the alarm was a dependency"), OPERATOR);
    });
    await p.run();
    expect(await getRun(p, "v2")).toMatchObject({ status: "succeeded" });
    const v3run = await getRun(p, "v3");
    expect(v3run).toMatchObject({ status: "succeeded", attempts: { "prod-1": 2 } });
    const v3 = await timeline(p, "v3");
    const prod1 = only(v3, "deploy-started").filter((e) => e.stage === "prod-1");
    // AZ1 and AZ2 kept v3 from the first attempt; only AZ3 deploys after the decision.
    expect(prod1.map((e) => e.scope)).toEqual([AZ(1), AZ(2), AZ(3)]);
    expect(minute(prod1[2]?.at ?? "")).toBeGreaterThanOrEqual(500);
    expect(announced(p, "v3").some((d) => d.event === "run-resumed")).toBe(true);
    expect((await p.store.getLine("orders-api")).stoppedAt).toBeUndefined();
    const versions = new Set((await p.store.listScopes("orders-api")).map((s) => s.version));
    expect(versions).toEqual(new Set(["v3"]));
  });

  it("rollback-all of v2 ends v3 too, returns every scope to v1 and clears the line: a later v4 deploys", async () => {
    const p = await plane([prod2Alarm(280)]);
    p.at(at(500), async () => {
      await applyOverride(p.deps, decide("rollback-all", "v2"), OPERATOR);
    });
    p.at(at(600), async () => p.requestRun("orders-api", "v4"));
    await p.run();
    expect((await getRun(p, "v2")).status).toBe("rolled-back");
    expect((await getRun(p, "v3")).status).toBe("rolled-back");
    expect((await getRun(p, "v4")).status).toBe("succeeded");
    expect((await p.store.getLine("orders-api")).stoppedAt).toBeUndefined();
  });
});

describe("a rollback returns to the last known-good version; a regional alarm judges the region", () => {
  it("v3's regional alarm in us-east-1 rolls back every us-east-1 scope on v3 to v1 (not to v2, which rolled back)", async () => {
    // v2 rolls back in prod-2 at 280; v3 is halted in prod-1, AZ2 baking until 325. At 300
    // us-east-1's alarm (no {az} in the template: it judges the region) fires.
    const regional: AlarmInterval = {
      name: "orders-api-errors-us-east-1",
      region: "us-east-1",
      from: at(300),
      to: at(320),
    };
    const p = await plane([prod2Alarm(280), regional]);
    await p.run();
    const v3 = await timeline(p, "v3");
    const rollbacks = only(v3, "rollback-started");
    expect(rollbacks.map((e) => [e.scope, e.toVersion, minute(e.at)]).sort()).toEqual([
      [AZ(1), "v1", 300],
      [AZ(2), "v1", 300],
    ]);
    // The step the fast rollback ended is judged: Unhealthy, the alarm as the reason.
    const az2Bake = only(v3, "bake-finished").filter((e) => e.scope === AZ(2));
    expect(az2Bake).toHaveLength(1);
    expect(az2Bake[0]).toMatchObject({ outcome: "Unhealthy" });
    expect(minute(az2Bake[0]?.at ?? "")).toBe(300);
    expect(az2Bake[0]?.reason).toContain("orders-api-errors-us-east-1 in ALARM");
    const scopes = Object.fromEntries(
      (await p.store.listScopes("orders-api")).map((s) => [s.scope, `${s.version} ${s.status}`]),
    );
    expect(scopes).toEqual({
      [AZ(1)]: "v1 rolled-back",
      [AZ(2)]: "v1 rolled-back",
      [AZ(3)]: "v2 stable",
      [PROD2]: "v1 rolled-back",
    });
    // v3's own rollback makes its halt its own: it awaits a decision on itself now.
    expect(await getRun(p, "v3")).toMatchObject({ status: "halted", haltReason: "rollback" });
    const history = await p.store.history("orders-api", AZ(1));
    expect(history.at(-2)).toMatchObject({
      fromVersion: "v3",
      toVersion: "v1",
      status: "rolling-back",
    });
  });
});
