/**
 * The detector during the bake (issue 13 item 7), on the real local control plane: DynamoDB
 * Local, the real stage ASL (Bake → Evaluate → KeepBaking → Evaluate …) in the local
 * interpreter, the real handlers, a simulated fleet and the virtual clock. A regression that
 * shows at minute 10 of a 60-minute bake is rolled back at the next look, not at the end; a
 * healthy bake still ends at its minutes; `bake.checkEveryMinutes` at least the bake (or the
 * detector off) judges at the end only, as before.
 */
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../src/domain/model.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { simulate } from "../../src/local/simulate.ts";
import { dynamoClient } from "../support/dynamo.ts";

const START = new Date("2026-01-12T09:00:00Z");
/** The full deploy takes 5 simulated minutes: the bake starts at 09:05. */
const DEPLOY_SECONDS = 300;
const BAKE_START = START.getTime() + DEPLOY_SECONDS * 1000;
const minute = (n: number) => new Date(BAKE_START + n * 60_000);
const minutesIntoBake = (e: { at: string }) => (Date.parse(e.at) - BAKE_START) / 60_000;
const only = <T extends Pick<TimelineEvent, "event">>(tl: T[], event: string) =>
  tl.filter((e) => e.event === event);

const pipelineWith = (bake: Record<string, number>, extra: Partial<PipelineInput> = {}) =>
  parsePipeline({
    name: "orders-api",
    ...extra,
    stages: [
      {
        name: "prod-1",
        regions: ["eu-west-1"],
        bake: { minutes: 60, ...bake } as PipelineInput["stages"][number]["bake"],
      },
    ],
  });

const run = (pipeline: ReturnType<typeof parsePipeline>, faultSince?: Date) =>
  simulate({
    pipeline,
    fromVersion: "v1",
    version: "v2",
    start: START,
    dynamo: dynamoClient(),
    fleet: { durations: { full: DEPLOY_SECONDS } },
    ...(faultSince
      ? { faults: [{ scopes: "prod-1/*", kind: "faults" as const, since: faultSince }] }
      : {}),
  });

describe("the detector looks every bake.checkEveryMinutes", () => {
  it("a regression from minute 10 of a 60-minute bake rolls back before minute 20", async () => {
    const result = await run(pipelineWith({}), minute(10));
    expect(result.outcome).toBe("rolled-back");
    expect(result.rolledBack).toEqual(["prod-1/eu-west-1"]);
    const [bakeStarted] = only(result.timeline, "bake-started");
    expect(bakeStarted?.at).toBe(minute(0).toISOString());
    const [finished] = only(result.timeline, "bake-finished");
    expect(finished).toMatchObject({ outcome: "Unhealthy" });
    expect(finished?.reason).toMatch(/detector fault-rate: .*found at minute 15 of 60 of the bake/);
    const [rollback] = only(result.timeline, "rollback-started");
    expect(minutesIntoBake(rollback as TimelineEvent)).toBeGreaterThanOrEqual(10);
    expect(minutesIntoBake(rollback as TimelineEvent)).toBeLessThan(20);
    expect(result.scopes["prod-1/eu-west-1"]).toMatchObject({
      version: "v1",
      status: "rolled-back",
    });
  });

  it("a healthy bake is looked at quietly and still ends at its minutes", async () => {
    const result = await run(pipelineWith({}));
    expect(result.outcome).toBe("succeeded");
    const finished = only(result.timeline, "bake-finished");
    // Interim looks write nothing: one verdict per bake, at its end.
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ outcome: "Healthy", at: minute(60).toISOString() });
    // Eleven interim looks and the final one: the Evaluate task ran twelve times.
    expect(result.stats.invocations["breakwater-Evaluate"]).toBe(12);
  });

  it("checkEveryMinutes of at least the bake judges at the end only, as before", async () => {
    const result = await run(pipelineWith({ checkEveryMinutes: 60 }), minute(10));
    expect(result.outcome).toBe("rolled-back");
    const [rollback] = only(result.timeline, "rollback-started");
    expect(minutesIntoBake(rollback as TimelineEvent)).toBe(60);
    expect(result.stats.invocations["breakwater-Evaluate"]).toBe(1);
  });

  it("with the detector off there are no interim looks", async () => {
    const result = await run(pipelineWith({}, { anomalyDetection: false }));
    expect(result.outcome).toBe("succeeded");
    expect(result.stats.invocations["breakwater-Evaluate"]).toBe(1);
  });
});
