/**
 * Freezes only add up (README "Time windows"; issue 13 item 8): a stage's own `timeWindows`
 * replaces the pipeline's allowed windows and holidays, never the pipeline's or the
 * organisation's freezes. Through the real local control plane (DynamoDB Local, the real ASL
 * and handlers, the virtual clock).
 */
import { describe, expect, it } from "vitest";
import type { TimelineEvent } from "../../src/domain/model.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { simulate } from "../../src/local/simulate.ts";
import { dynamoClient } from "../support/dynamo.ts";

const at = (iso: string) => new Date(iso);
const ms = (iso: string) => Date.parse(iso);
const events = <T extends Pick<TimelineEvent, "event">>(timeline: T[], name: string): T[] =>
  timeline.filter((e) => e.event === name);

// Monday 12 January 2026; a weekday window that is open all of the test's working day.
const weekdays = {
  allowed: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "00:00", to: "24:00" }],
} as const;

describe("freezes only add up", () => {
  it("a stage with its own timeWindows still honours the pipeline's freeze", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      timeWindows: {
        freezes: [
          { from: "2026-01-12T09:00:00Z", to: "2026-01-12T15:00:00Z", reason: "year-end close" },
        ],
      },
      stages: [
        {
          name: "prod-1",
          regions: ["eu-west-1"],
          bake: { minutes: 10 },
          timeWindows: { allowed: [...weekdays.allowed] },
        },
      ],
    });
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
    });
    expect(result.outcome).toBe("succeeded");
    const [blocked] = events(result.timeline, "blocked");
    expect(blocked?.reason).toContain('freeze "year-end close"');
    const first = events(result.timeline, "deploy-started")[0];
    expect(first?.at).toBe("2026-01-12T15:00:00.000Z");
  });

  it("an organisation freeze in the installation config blocks a stage with its own timeWindows", async () => {
    const pipeline = parsePipeline({
      name: "billing",
      stages: [
        { name: "alpha", regions: ["eu-west-1"], bake: { minutes: 10 } },
        {
          name: "prod-1",
          regions: ["eu-west-1"],
          bake: { minutes: 10 },
          timeWindows: { allowed: [...weekdays.allowed], holidays: false },
        },
      ],
    });
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: at("2026-01-12T09:00:00Z"),
      dynamo: dynamoClient(),
      installation: {
        freezes: [
          { from: "2026-01-12T09:05:00Z", to: "2026-01-13T09:00:00Z", reason: "org-wide freeze" },
        ],
      },
    });
    expect(result.outcome).toBe("succeeded");
    const starts = events(result.timeline, "deploy-started");
    // alpha started before the freeze; prod-1 (with its own windows) waited for its end.
    expect(starts.find((e) => e.scope.startsWith("alpha"))?.at).toBe("2026-01-12T09:00:00.000Z");
    const prod = starts.find((e) => e.scope.startsWith("prod-1"));
    expect(prod?.at).toBe("2026-01-13T09:00:00.000Z");
    const blocked = events(result.timeline, "blocked").find((e) => e.scope.startsWith("prod-1"));
    expect(blocked?.reason).toContain('freeze "org-wide freeze"');
    for (const e of starts) {
      const t = ms(e.at);
      expect(t < ms("2026-01-12T09:05:00Z") || t >= ms("2026-01-13T09:00:00Z"), e.at).toBe(true);
    }
  });
});
