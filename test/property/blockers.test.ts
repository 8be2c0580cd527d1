/**
 * Safety rule 4 (docs/design.md): no deploy step starts while a blocker holds. The "blockers"
 * property of test/safety/properties.ts (generators and check in test/safety/blockers.ts) —
 * arbitrary pipelines and blocker schedules: organisation alarms that go in and out of ALARM,
 * app alarms, manual blocks at every level with start and end, weekly time windows in the
 * regions' local time, freezes — on the real local control plane with the in-memory stores, and
 * a sample of the same scenarios on DynamoDB Local beside the memory stores.
 */
import { describe, expect, it } from "vitest";
import { checkSuiteProperty, summary } from "../safety/properties.ts";
import { dynamoClient } from "../support/dynamo.ts";

/** Generous: it only stops a hung run (a loaded two-core machine slows scenarios tenfold). */
const PROPERTY_TIMEOUT = 20 * 60_000;

describe("safety rule 4: no deploy step starts while a blocker holds", () => {
  it("holds for arbitrary pipelines and blocker schedules (memory stores)", {
    timeout: PROPERTY_TIMEOUT,
  }, async () => {
    const report = await checkSuiteProperty("blockers", "memory");
    console.log(summary(report));
    // Most schedules hold some step back (a fixed seed keeps the suite reproducible).
    expect(report.exercised[4]).toBeGreaterThan(report.scenarios / 2);
  });

  it("the same scenarios on DynamoDB Local record what the memory stores record", {
    timeout: PROPERTY_TIMEOUT,
  }, async () => {
    console.log(summary(await checkSuiteProperty("blockers", dynamoClient())));
  });
});
