/**
 * Freezes only add up (issue 13 item 8): a stage's own timeWindows replaces the pipeline's
 * allowed windows and holidays, never a freeze; the installation's freezes hold everywhere.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseInstallation } from "../../src/domain/installation.ts";
import { PipelineValidationError } from "../../src/domain/pipeline.ts";
import {
  checkTimeWindows,
  effectiveTimeWindows,
  type Freeze,
  MAX_FREEZES,
  type TimeWindows,
} from "../../src/domain/time-windows/index.ts";

const f = (from: string, to: string, reason: string): Freeze => ({ from, to, reason });
const org = f("2026-12-20T00:00:00Z", "2027-01-04T00:00:00Z", "org year-end");
const pipe = f("2026-11-26T00:00:00Z", "2026-11-28T00:00:00Z", "pipeline thanksgiving");
const own = f("2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z", "stage migration");
const window = { days: ["mon" as const], from: "09:00", to: "17:00" };

describe("effectiveTimeWindows", () => {
  it("no policy anywhere and no organisation freeze: none (any time)", () => {
    expect(effectiveTimeWindows(undefined, undefined, [])).toBeUndefined();
  });

  it("the stage's windows and holidays replace the pipeline's; every freeze is kept", () => {
    const pipeline: TimeWindows = { allowed: [window], holidays: true, freezes: [pipe] };
    const stage: TimeWindows = { allowed: [], freezes: [own] };
    expect(effectiveTimeWindows(pipeline, stage, [org])).toEqual({
      allowed: [],
      freezes: [org, pipe, own],
    });
  });

  it("a stage without its own policy takes the pipeline's, plus the organisation's freezes", () => {
    expect(effectiveTimeWindows({ allowed: [window] }, undefined, [org])).toEqual({
      allowed: [window],
      freezes: [org],
    });
  });

  it("the organisation's freeze blocks a stage whose own windows are open", () => {
    const policy = effectiveTimeWindows(undefined, { allowed: [] }, [org]);
    const verdict = checkTimeWindows(policy, "eu-west-1", new Date("2026-12-24T10:00:00Z"));
    expect(verdict).toMatchObject({ allowed: false, kind: "freeze" });
    expect(verdict.allowed === false && verdict.reason).toContain('freeze "org year-end"');
  });

  it("property: whatever the stage sets, an instant inside any freeze is blocked", () => {
    const instant = fc
      .integer({ min: Date.parse("2026-01-01T00:00:00Z"), max: Date.parse("2027-01-01T00:00:00Z") })
      .map((t) => new Date(t).toISOString());
    const freeze = fc
      .tuple(instant, fc.integer({ min: 1, max: 10 * 24 * 60 }))
      .map(([from, minutes]) =>
        f(from, new Date(Date.parse(from) + minutes * 60_000).toISOString(), "x"),
      );
    const list = fc.array(freeze, { maxLength: 3 });
    const stage = fc.option(
      fc.record(
        { allowed: fc.constant<TimeWindows["allowed"]>([]), freezes: list },
        { requiredKeys: ["allowed"] },
      ),
      { nil: undefined },
    );
    const pipeline = fc.option(fc.record({ freezes: list }), { nil: undefined });
    fc.assert(
      fc.property(pipeline, stage, list, (p, s, o) => {
        const policy = effectiveTimeWindows(p, s, o);
        for (const fr of [...(p?.freezes ?? []), ...(s?.freezes ?? []), ...o]) {
          const verdict = checkTimeWindows(policy, "eu-west-1", new Date(fr.from));
          expect(verdict.allowed).toBe(false);
        }
      }),
    );
  });
});

describe("installation freezes", () => {
  it("are accepted as { from, to, reason }", () => {
    expect(parseInstallation({ freezes: [org] }).freezes).toEqual([org]);
  });

  it("a bad freeze names its path; too many are refused", () => {
    const bad = () =>
      parseInstallation(
        { freezes: [{ from: "2026-12-20T00:00:00Z", to: "2026-12-19T00:00:00Z", reason: "" }] },
        "breakwater.config.json",
      );
    expect(bad).toThrow(PipelineValidationError);
    try {
      bad();
    } catch (err) {
      expect((err as PipelineValidationError).problems).toEqual([
        { path: "freezes[0].reason", message: "must be a non-empty reason" },
        { path: "freezes[0].to", message: "must be later than from (2026-12-20T00:00:00Z)" },
      ]);
    }
    expect(() => parseInstallation({ freezes: Array(MAX_FREEZES + 1).fill(org) })).toThrow(
      `freezes: must list at most ${MAX_FREEZES} freezes`,
    );
  });
});
