/**
 * `plan` against `simulate` (issue 14, item 1): for a healthy run with no blockers but time
 * windows, the schedule computed from the pipeline alone ends exactly when the simulated run
 * ends, on the real local control plane (DynamoDB Local, the real ASL, the real handlers, the
 * simulated fleet, the virtual clock). Every bundled example is checked, and pipelines whose
 * regions wait for windows in different time zones (the Map's pool of regionsInParallel slots).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { planSchedule } from "../../src/domain/schedule.ts";
import { loadHolidayCalendars } from "../../src/domain/time-windows/index.ts";
import { simulate } from "../../src/local/simulate.ts";
import { loadPipelineFile } from "../../src/pipeline-file.ts";
import { dynamoClient } from "../support/dynamo.ts";

const START = new Date("2026-01-05T09:00:00Z");
const examples = readdirSync("examples")
  .filter((f) => f.endsWith(".json"))
  .map((f) => join("examples", f));

async function simulated(pipeline: Awaited<ReturnType<typeof loadPipelineFile>>, start = START) {
  const result = await simulate({
    pipeline,
    fromVersion: "v1",
    version: "v2",
    start,
    dynamo: dynamoClient(),
  });
  expect(result.outcome).toBe("succeeded");
  return result;
}

describe("plan's total equals simulate's for a healthy run", () => {
  it("has examples to check", () => {
    expect(examples.length).toBeGreaterThanOrEqual(5);
  });

  it.each(examples)("%s", async (file) => {
    const pipeline = await loadPipelineFile(file);
    // As `breakwater plan` does: holiday windows need the calendars (loaded once, lazily).
    await loadHolidayCalendars();
    const plan = planSchedule(pipeline, { start: START });
    const sim = await simulated(pipeline);
    expect(plan.totalSeconds).toBe(sim.simulatedSeconds);
    expect(plan.finishedAt).toBe(sim.finishedAt);
    // Stage by stage, not only in total.
    expect(plan.stages.map((s) => [s.stage, s.startedAt, s.finishedAt])).toEqual(
      sim.stages.map((s) => [s.stage, s.startedAt, s.finishedAt]),
    );
  });

  it("with time windows and holidays: regions in three time zones wait for their own windows", async () => {
    await loadHolidayCalendars();
    const input: PipelineInput = {
      name: "billing",
      target: { type: "codebuild", project: "billing-deploy" },
      timeWindows: {
        allowed: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "09:00", to: "17:00" }],
        holidays: true,
      },
      stages: [
        { name: "beta", regions: ["us-east-1"], bake: { minutes: 30 } },
        {
          name: "prod-1",
          regions: [{ region: "eu-west-1", azs: ["euw1-az1", "euw1-az2"] }],
          oneBox: true,
          bake: { minutes: 240 },
        },
        {
          name: "prod-2",
          regions: ["ap-southeast-2", "us-west-2", "eu-central-1"],
          regionsInParallel: 2,
          oneBox: true,
          bake: { minutes: 120 },
        },
      ],
    };
    const pipeline = parsePipeline(input);
    // Thursday 1 January 2026 is a holiday in the US: beta waits for Friday 09:00 New York.
    const start = new Date("2026-01-01T12:00:00Z");
    const plan = planSchedule(pipeline, { start });
    const sim = await simulated(pipeline, start);
    expect(plan.steps[0]?.waits[0]?.reason).toMatch(/holiday/i);
    expect(
      plan.steps.some((s) => s.waits.some((w) => /outside the allowed window/.test(w.reason))),
    ).toBe(true);
    expect(plan.totalSeconds).toBe(sim.simulatedSeconds);
    const started = (scope: string, step: string) =>
      sim.timeline.find((e) => e.scope === scope && e.step === step && e.event === "deploy-started")
        ?.at;
    for (const s of plan.steps) expect(s.deployStartedAt).toBe(started(s.scope, s.kind));
  });
});
