/**
 * Safety rule 4 (docs/design.md): no deploy step starts while a blocker holds. Arbitrary pipelines
 * and arbitrary blocker schedules — organisation alarms that go in and out of ALARM, app alarms,
 * manual blocks at every level with start and end, weekly time windows in the regions' local
 * time, freezes — go through the real local control plane (on the in-memory stores or DynamoDB
 * Local); every deploy step recorded must
 * have started at an instant when none of the blockers that apply to its scope held.
 */

import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import { azIdsOf } from "../../src/domain/aws-regions.ts";
import { blockApplies, type ManualBlock, resolveAlarmNames } from "../../src/domain/blockers.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { parseScopeId } from "../../src/domain/scope.ts";
import {
  checkTimeWindows,
  loadHolidayCalendars,
  WEEK_DAYS,
} from "../../src/domain/time-windows/index.ts";
import type { AlarmInterval } from "../../src/local/alarms.ts";
import { type SimulationResult, simulate } from "../../src/local/simulate.ts";

const START = Date.parse("2026-03-06T15:00:00Z"); // a Friday afternoon, weeks before DST in Europe
const REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"] as const;
const minute = 60_000;

const arbInterval = fc
  .record({
    from: fc.integer({ min: -60, max: 36 * 60 }),
    length: fc.integer({ min: 5, max: 12 * 60 }),
  })
  .map(({ from, length }) => ({
    from: new Date(START + from * minute),
    to: new Date(START + (from + length) * minute),
  }));

export const arbPipeline = fc
  .record({
    stages: fc.array(
      fc.record({
        regions: fc.subarray([...REGIONS], { minLength: 1, maxLength: 2 }),
        azs: fc.boolean(),
        parallel: fc.integer({ min: 1, max: 2 }),
        oneBox: fc.boolean(),
        bake: fc.integer({ min: 10, max: 90 }),
      }),
      { minLength: 1, maxLength: 2 },
    ),
    window: fc.option(
      fc.record({
        days: fc.subarray([...WEEK_DAYS], { minLength: 2 }),
        from: fc.integer({ min: 6, max: 12 }),
        length: fc.integer({ min: 4, max: 10 }),
      }),
      { nil: undefined },
    ),
  })
  .map(
    ({ stages, window }): PipelineInput => ({
      name: "orders",
      alarms: ["orders-{stage}-{region}"],
      ...(window
        ? {
            timeWindows: {
              allowed: [
                {
                  days: window.days,
                  from: `${String(window.from).padStart(2, "0")}:00`,
                  to: `${String(window.from + window.length).padStart(2, "0")}:00`,
                },
              ],
            },
          }
        : {}),
      stages: stages.map((s, i) => ({
        name: `s${i + 1}`,
        regions: s.regions.map((r) => (s.azs ? { region: r, azs: azIdsOf(r).slice(0, 2) } : r)),
        // At most the stage's regions (the schema refuses more; more meant "all at once").
        regionsInParallel: Math.min(s.parallel, s.regions.length),
        oneBox: s.oneBox,
        bake: { minutes: s.bake },
      })),
    }),
  );

export const arbBlockers = fc.record({
  org: fc.array(arbInterval, { maxLength: 2 }),
  app: fc.array(
    fc.record({
      stage: fc.constantFrom("s1", "s2"),
      region: fc.constantFrom(...REGIONS),
      at: arbInterval,
    }),
    {
      maxLength: 2,
    },
  ),
  manual: fc.array(
    fc.record({
      level: fc.constantFrom("org", "pipeline", "scope"),
      glob: fc.constantFrom("s1/*", "s2/*", "*/eu-west-1*", "*/us-east-1/*"),
      at: arbInterval,
    }),
    { maxLength: 2 },
  ),
});

/** One blocker schedule: organisation and app alarm intervals, manual blocks. */
export type BlockerSchedule = typeof arbBlockers extends fc.Arbitrary<infer T> ? T : never;

/**
 * Runs one pipeline under one blocker schedule and returns every deploy step that started while
 * a blocker that applies to its scope held (safety rule 4), and how many steps were blocked.
 */
export async function checkBlockers(
  input: PipelineInput,
  b: BlockerSchedule,
  dynamo: DynamoDBClient | "memory",
): Promise<{ result: SimulationResult; violations: string[]; blocked: number }> {
  // The calendars load lazily (src/domain/time-windows/holidays.ts), as the gate awaits them.
  await loadHolidayCalendars();

  const pipeline = parsePipeline(input);
  const alarms: AlarmInterval[] = [
    ...b.org.map((i) => ({ name: "org-sev1-open", ...i })),
    ...b.app.map((a) => ({ name: `orders-${a.stage}-${a.region}`, ...a.at })),
  ];
  const blocks: ManualBlock[] = b.manual.map((m, i) => ({
    level: m.level as ManualBlock["level"],
    target: m.level === "org" ? "" : m.level === "pipeline" ? "orders" : `orders:${m.glob}`,
    reason: `block ${i}`,
    scheduled: true,
    actor: "prop",
    createdAt: new Date(START).toISOString(),
    from: m.at.from.toISOString(),
    to: m.at.to.toISOString(),
  }));
  const result = await simulate({
    pipeline,
    fromVersion: "v1",
    version: "v2",
    start: new Date(START),
    horizon: new Date(START + 6 * 86_400_000),
    dynamo,
    alarms,
    blocks,
    installation: { orgAlarms: ["org-sev1-open"], blockerRecheckMinutes: 5 },
  });
  // Every message names the rule (the soak counts and prints them).
  const violations: string[] = [];
  const violated = (what: string) => violations.push(`rule 4: ${what}`);
  for (const e of result.timeline.filter((x) => x.event === "deploy-started")) {
    const t = new Date(e.at);
    const scope = parseScopeId(e.scope);
    const held = (i: { from: Date; to?: Date }) =>
      i.from.getTime() <= t.getTime() && (i.to === undefined || t.getTime() < i.to.getTime());
    for (const a of b.org) if (held(a)) violated(`${e.scope} ${e.at}: org alarm`);
    const names = resolveAlarmNames(pipeline.alarms, pipeline.name, scope);
    for (const a of alarms) {
      if (names.includes(a.name) && held(a)) violated(`${e.scope} ${e.at}: ${a.name}`);
    }
    for (const block of blocks) {
      if (blockApplies(block, pipeline.name, scope, t))
        violated(`${e.scope} ${e.at}: ${block.reason}`);
    }
    const stage = pipeline.stages.find((s) => s.name === scope.stage);
    const window = checkTimeWindows(stage?.timeWindows ?? pipeline.timeWindows, scope.region, t);
    if (!window.allowed) violated(`${e.scope} ${e.at}: ${window.reason}`);
  }
  // Blocked steps were recorded, and every recorded block was later lifted or still holds.
  const blocked = result.timeline.filter((x) => x.event === "blocked").length;
  const unblocked = result.timeline.filter((x) => x.event === "unblocked").length;
  if (unblocked > blocked) violated(`${unblocked} unblocked events for ${blocked} blocked`);
  if (!["succeeded", "blocked", "rolled-back"].includes(result.outcome)) {
    violated(`outcome ${result.outcome}: expected succeeded, blocked or rolled-back`);
  }
  return { result, violations, blocked };
}
