/**
 * Time windows (docs/design.md "Blocker"): weekly windows in the region's local time, public
 * holidays, freezes, and the `until` search. Instants in the tables are written with the
 * region's own UTC offset so each row reads as local wall-clock time.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { holidayRegionsTable } from "../../scripts/write-holiday-regions.ts";
import { HOLIDAY_REGIONS } from "../../src/domain/time-windows/holiday-regions.ts";
import {
  checkTimeWindows,
  HolidayCalendarsNotLoadedError,
  loadHolidayCalendars,
  REGION_HOLIDAY_CALENDARS,
  REGION_TIME_ZONES,
  type RegionOverrides,
  regionHolidayCalendar,
  regionOverridesSchema,
  regionTimeZone,
  type TimeWindowsInput,
  timeWindowsSchema,
  UnknownRegionError,
  WEEK_DAYS,
  type WeekDay,
  type WindowVerdict,
} from "../../src/domain/time-windows/index.ts";

// The calendars load lazily (src/domain/time-windows/holidays.ts); the gate awaits this too.
beforeAll(loadHolidayCalendars);

describe("lazy holiday calendars", () => {
  it("judging holidays before loadHolidayCalendars fails closed", async () => {
    vi.resetModules();
    const fresh = await import("../../src/domain/time-windows/index.ts");
    const policy = fresh.timeWindowsSchema.parse({ holidays: true });
    expect(() =>
      fresh.checkTimeWindows(policy, "us-east-1", new Date("2026-12-25T15:00:00Z")),
    ).toThrow(fresh.HolidayCalendarsNotLoadedError);
    // Windows and freezes alone never need the calendars.
    const windows = fresh.timeWindowsSchema.parse(daily("09:00", "17:00"));
    expect(
      fresh.checkTimeWindows(windows, "us-east-1", new Date("2026-12-25T15:00:00Z")),
    ).toMatchObject({ allowed: true });
    await fresh.loadHolidayCalendars();
    expect(
      fresh.checkTimeWindows(policy, "us-east-1", new Date("2026-12-25T15:00:00Z")),
    ).toMatchObject({ allowed: false, kind: "holiday" });
    expect(HolidayCalendarsNotLoadedError.name).toBe("HolidayCalendarsNotLoadedError");
  });

  it("the generated country/state table matches the installed date-holidays", () => {
    // Regenerate with: node bin/run-ts.mjs scripts/write-holiday-regions.ts
    expect(HOLIDAY_REGIONS).toEqual(holidayRegionsTable());
  });
});

const WEEKDAYS: WeekDay[] = ["mon", "tue", "wed", "thu", "fri"];
const EVERY_DAY: WeekDay[] = [...WEEK_DAYS];
const officeHours: TimeWindowsInput = { allowed: [{ days: WEEKDAYS, from: "09:00", to: "17:00" }] };
const daily = (from: string, to: string): TimeWindowsInput => ({
  allowed: [{ days: EVERY_DAY, from, to }],
});

function check(
  policy: TimeWindowsInput | undefined,
  region: string,
  at: string | number | Date,
  overrides?: RegionOverrides,
): WindowVerdict {
  const parsed = policy === undefined ? undefined : timeWindowsSchema.parse(policy);
  return checkTimeWindows(parsed, region, new Date(at), overrides);
}

/** The verdict's decision and `until` (as ISO), without the reason text. */
function summary(v: WindowVerdict): { allowed: boolean; kind?: string; until?: string } {
  const until = v.until?.toISOString();
  const base = v.allowed ? { allowed: true } : { allowed: false, kind: v.kind };
  return until ? { ...base, until } : base;
}

const iso = (s: string) => new Date(s).toISOString();

interface Row {
  name: string;
  policy: TimeWindowsInput | undefined;
  region: string;
  at: string;
  allowed: boolean;
  kind?: "outside-window" | "holiday" | "freeze";
  /** Expected `until`, any ISO form (compared as an instant); omitted: no `until`. */
  until?: string;
  overrides?: RegionOverrides;
}

function runTable(rows: Row[]) {
  it.each(rows.map((r) => [r.name, r] as const))("%s", (_name, r) => {
    const expected: { allowed: boolean; kind?: string; until?: string } = { allowed: r.allowed };
    if (r.kind) expected.kind = r.kind;
    if (r.until) expected.until = iso(r.until);
    expect(summary(check(r.policy, r.region, r.at, r.overrides))).toEqual(expected);
  });
}

describe("weekly windows", () => {
  describe("edges (eu-north-1, Europe/Stockholm, winter: +01:00)", () => {
    runTable([
      {
        name: "a minute before from: blocked until from",
        policy: officeHours,
        region: "eu-north-1",
        at: "2026-03-04T08:59:00+01:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-04T09:00:00+01:00",
      },
      {
        name: "a millisecond before from: blocked until from",
        policy: officeHours,
        region: "eu-north-1",
        at: "2026-03-04T08:59:59.999+01:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-04T09:00:00+01:00",
      },
      {
        name: "exactly at from: allowed until to",
        policy: officeHours,
        region: "eu-north-1",
        at: "2026-03-04T09:00:00+01:00",
        allowed: true,
        until: "2026-03-04T17:00:00+01:00",
      },
      {
        name: "a millisecond before to: allowed until to",
        policy: officeHours,
        region: "eu-north-1",
        at: "2026-03-04T16:59:59.999+01:00",
        allowed: true,
        until: "2026-03-04T17:00:00+01:00",
      },
      {
        name: "exactly at to: blocked until the next day's from",
        policy: officeHours,
        region: "eu-north-1",
        at: "2026-03-04T17:00:00+01:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-05T09:00:00+01:00",
      },
      {
        name: "Friday at to: blocked until Monday",
        policy: officeHours,
        region: "eu-north-1",
        at: "2026-03-06T17:00:00+01:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-09T09:00:00+01:00",
      },
      {
        name: "Saturday noon: blocked until Monday",
        policy: officeHours,
        region: "eu-north-1",
        at: "2026-03-07T12:00:00+01:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-09T09:00:00+01:00",
      },
      {
        name: "the window is local: 16:30 UTC is 17:30 in Stockholm, outside",
        policy: officeHours,
        region: "eu-north-1",
        at: "2026-03-04T16:30:00Z",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-05T09:00:00+01:00",
      },
      {
        name: "no policy: allowed, no until",
        policy: undefined,
        region: "eu-north-1",
        at: "2026-03-07T12:00:00+01:00",
        allowed: true,
      },
      {
        name: "empty policy: allowed, no until",
        policy: {},
        region: "eu-north-1",
        at: "2026-03-07T12:00:00+01:00",
        allowed: true,
      },
      {
        name: "empty allowed list means any time",
        policy: { allowed: [] },
        region: "eu-north-1",
        at: "2026-03-07T03:00:00+01:00",
        allowed: true,
      },
    ]);
  });

  describe("day boundaries, overlaps and 24:00 (ap-northeast-1, Asia/Tokyo: +09:00)", () => {
    runTable([
      {
        name: "Saturday-only 00:00-24:00: a minute before Saturday",
        policy: { allowed: [{ days: ["sat"], from: "00:00", to: "24:00" }] },
        region: "ap-northeast-1",
        at: "2026-03-06T23:59:00+09:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-07T00:00:00+09:00",
      },
      {
        name: "Saturday-only 00:00-24:00: last minute of Saturday, allowed until midnight",
        policy: { allowed: [{ days: ["sat"], from: "00:00", to: "24:00" }] },
        region: "ap-northeast-1",
        at: "2026-03-07T23:59:00+09:00",
        allowed: true,
        until: "2026-03-08T00:00:00+09:00",
      },
      {
        name: "Saturday-only 00:00-24:00: Sunday midnight is blocked until next Saturday",
        policy: { allowed: [{ days: ["sat"], from: "00:00", to: "24:00" }] },
        region: "ap-northeast-1",
        at: "2026-03-08T00:00:00+09:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-14T00:00:00+09:00",
      },
      {
        name: "an overnight window as two windows is one allowed period across midnight",
        policy: {
          allowed: [
            { days: ["mon"], from: "22:00", to: "24:00" },
            { days: ["tue"], from: "00:00", to: "02:00" },
          ],
        },
        region: "ap-northeast-1",
        at: "2026-03-09T23:00:00+09:00",
        allowed: true,
        until: "2026-03-10T02:00:00+09:00",
      },
      {
        name: "overlapping windows: allowed until the later end",
        policy: {
          allowed: [
            { days: WEEKDAYS, from: "09:00", to: "12:00" },
            { days: WEEKDAYS, from: "11:00", to: "15:00" },
          ],
        },
        region: "ap-northeast-1",
        at: "2026-03-04T10:00:00+09:00",
        allowed: true,
        until: "2026-03-04T15:00:00+09:00",
      },
      {
        name: "overlapping windows: the end of the first inside the second changes nothing",
        policy: {
          allowed: [
            { days: WEEKDAYS, from: "09:00", to: "12:00" },
            { days: WEEKDAYS, from: "11:00", to: "15:00" },
          ],
        },
        region: "ap-northeast-1",
        at: "2026-03-04T12:00:00+09:00",
        allowed: true,
        until: "2026-03-04T15:00:00+09:00",
      },
      {
        name: "overlapping windows on different days: Saturday uses only its own window",
        policy: {
          allowed: [
            { days: WEEKDAYS, from: "09:00", to: "17:00" },
            { days: ["fri", "sat"], from: "13:00", to: "20:00" },
          ],
        },
        region: "ap-northeast-1",
        at: "2026-03-07T10:00:00+09:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-07T13:00:00+09:00",
      },
      {
        name: "overlapping windows on different days: Friday runs to the later end",
        policy: {
          allowed: [
            { days: WEEKDAYS, from: "09:00", to: "17:00" },
            { days: ["fri", "sat"], from: "13:00", to: "20:00" },
          ],
        },
        region: "ap-northeast-1",
        at: "2026-03-06T16:00:00+09:00",
        allowed: true,
        until: "2026-03-06T20:00:00+09:00",
      },
      {
        name: "every day 00:00-24:00: always allowed, no until",
        policy: daily("00:00", "24:00"),
        region: "ap-northeast-1",
        at: "2026-03-06T23:59:59.999+09:00",
        allowed: true,
      },
      {
        name: "20:00-24:00 on Friday: the last millisecond is allowed until midnight",
        policy: { allowed: [{ days: ["fri"], from: "20:00", to: "24:00" }] },
        region: "ap-northeast-1",
        at: "2026-03-06T23:59:59.999+09:00",
        allowed: true,
        until: "2026-03-07T00:00:00+09:00",
      },
      {
        name: "20:00-24:00 on Friday: midnight is blocked until next Friday 20:00",
        policy: { allowed: [{ days: ["fri"], from: "20:00", to: "24:00" }] },
        region: "ap-northeast-1",
        at: "2026-03-07T00:00:00+09:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-13T20:00:00+09:00",
      },
    ]);
  });

  it("names the windows, the zone and the local time in the reason", () => {
    expect(check(officeHours, "eu-north-1", "2026-03-07T18:02:00+01:00")).toEqual({
      allowed: false,
      kind: "outside-window",
      reason:
        "outside the allowed window (mon-fri 09:00-17:00 Europe/Stockholm); local time is Sat 18:02; window opens Mon 09:00 Europe/Stockholm",
      until: new Date("2026-03-09T09:00:00+01:00"),
    });
    const two = check(
      {
        allowed: [
          { days: ["mon", "wed", "fri"], from: "06:00", to: "08:00" },
          { days: ["sat", "sun"], from: "10:00", to: "24:00" },
        ],
      },
      "us-west-2",
      "2026-03-04T09:15:00-08:00",
    );
    expect(two.allowed === false && two.reason).toBe(
      "outside the allowed windows (mon,wed,fri 06:00-08:00, sat,sun 10:00-24:00 America/Los_Angeles); local time is Wed 09:15; window opens Fri 06:00 America/Los_Angeles",
    );
  });
});

describe("DST changes in the region's zone", () => {
  describe("America/New_York (us-east-1): spring forward 2026-03-08 02:00 EST → 03:00 EDT", () => {
    runTable([
      {
        name: "Friday 18:00 EST waits until Monday 09:00 EDT (mon-fri 09:00-17:00)",
        policy: officeHours,
        region: "us-east-1",
        at: "2026-03-06T18:00:00-05:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-09T09:00:00-04:00",
      },
      {
        name: "before the window on the DST day: until is exactly 09:00 EDT",
        policy: daily("09:00", "17:00"),
        region: "us-east-1",
        at: "2026-03-08T01:00:00-05:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-08T09:00:00-04:00",
      },
      {
        name: "the DST day's window is 8 wall-clock hours: ends 17:00 EDT",
        policy: daily("09:00", "17:00"),
        region: "us-east-1",
        at: "2026-03-08T09:00:00-04:00",
        allowed: true,
        until: "2026-03-08T17:00:00-04:00",
      },
      {
        name: "a window from 02:30 (a local time that does not exist) opens at 03:00 EDT",
        policy: daily("02:30", "04:00"),
        region: "us-east-1",
        at: "2026-03-08T01:59:00-05:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-08T03:00:00-04:00",
      },
      {
        name: "a window wholly inside the skipped hour does not occur that day",
        policy: daily("02:00", "02:30"),
        region: "us-east-1",
        at: "2026-03-08T01:00:00-05:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-09T02:00:00-04:00",
      },
      {
        name: "allowed before the jump, the jump past the window's end closes it",
        policy: daily("01:00", "02:30"),
        region: "us-east-1",
        at: "2026-03-08T01:30:00-05:00",
        allowed: true,
        until: "2026-03-08T03:00:00-04:00",
      },
    ]);
  });

  describe("America/New_York (us-east-1): fall back 2026-11-01 02:00 EDT → 01:00 EST", () => {
    runTable([
      {
        name: "Friday 18:00 EDT waits until Monday 09:00 EST",
        policy: officeHours,
        region: "us-east-1",
        at: "2026-10-30T18:00:00-04:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-11-02T09:00:00-05:00",
      },
      {
        name: "before the window on the DST day: until is exactly 09:00 EST",
        policy: daily("09:00", "17:00"),
        region: "us-east-1",
        at: "2026-11-01T00:30:00-04:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-11-01T09:00:00-05:00",
      },
      {
        name: "01:00-01:30 in the first (EDT) pass: allowed until 01:30 EDT",
        policy: daily("01:00", "01:30"),
        region: "us-east-1",
        at: "2026-11-01T01:15:00-04:00",
        allowed: true,
        until: "2026-11-01T01:30:00-04:00",
      },
      {
        name: "01:30 EDT: blocked until the repeated 01:00 (EST)",
        policy: daily("01:00", "01:30"),
        region: "us-east-1",
        at: "2026-11-01T01:30:00-04:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-11-01T01:00:00-05:00",
      },
      {
        name: "01:00-01:30 in the second (EST) pass: allowed until 01:30 EST",
        policy: daily("01:00", "01:30"),
        region: "us-east-1",
        at: "2026-11-01T01:00:00-05:00",
        allowed: true,
        until: "2026-11-01T01:30:00-05:00",
      },
    ]);
  });

  describe("Europe/Stockholm (eu-north-1): 2026-03-29 02:00 CET → 03:00 CEST, 2026-10-25 03:00 CEST → 02:00 CET", () => {
    runTable([
      {
        name: "Friday 18:00 CET waits until Monday 09:00 CEST",
        policy: officeHours,
        region: "eu-north-1",
        at: "2026-03-27T18:00:00+01:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-30T09:00:00+02:00",
      },
      {
        name: "Friday 18:00 CEST waits until Monday 09:00 CET",
        policy: officeHours,
        region: "eu-north-1",
        at: "2026-10-23T18:00:00+02:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-10-26T09:00:00+01:00",
      },
      {
        name: "spring day: until is exactly 09:00 CEST",
        policy: daily("09:00", "17:00"),
        region: "eu-north-1",
        at: "2026-03-29T01:00:00+01:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-29T09:00:00+02:00",
      },
      {
        name: "autumn day: until is exactly 09:00 CET",
        policy: daily("09:00", "17:00"),
        region: "eu-north-1",
        at: "2026-10-25T01:00:00+02:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-10-25T09:00:00+01:00",
      },
      {
        name: "a window in the skipped hour (02:15-02:45) opens the next day",
        policy: daily("02:15", "02:45"),
        region: "eu-north-1",
        at: "2026-03-29T01:59:00+01:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-03-30T02:15:00+02:00",
      },
      {
        name: "a window in the repeated hour is open twice: after the first pass, the second",
        policy: daily("02:15", "02:45"),
        region: "eu-north-1",
        at: "2026-10-25T02:45:00+02:00",
        allowed: false,
        kind: "outside-window",
        until: "2026-10-25T02:15:00+01:00",
      },
    ]);
  });

  it("a nonexistent local time never crashes: every minute around the jump has a verdict", () => {
    const policy = timeWindowsSchema.parse(daily("02:30", "02:31"));
    const start = Date.parse("2026-03-08T01:00:00-05:00");
    for (let t = start; t < start + 3 * 3_600_000; t += 60_000) {
      const v = checkTimeWindows(policy, "us-east-1", new Date(t));
      expect(v.allowed).toBe(false); // 02:30 does not exist on this day
      expect(v.until?.toISOString()).toBe(iso("2026-03-09T02:30:00-04:00"));
    }
  });
});

describe("holidays", () => {
  runTable([
    {
      name: "Christmas Day in Ireland, with office hours: Stephen's Day and the weekend follow",
      policy: { ...officeHours, holidays: true },
      region: "eu-west-1",
      at: "2026-12-25T12:00:00Z",
      allowed: false,
      kind: "holiday",
      // Mon 28 Dec is only a bank holiday in date-holidays (the substitute for St. Stephen's
      // Day); only public holidays count.
      until: "2026-12-28T09:00:00Z",
    },
    {
      name: "Christmas Day in Ireland without windows: blocked for two whole local days",
      policy: { holidays: true },
      region: "eu-west-1",
      at: "2026-12-25T00:00:00Z",
      allowed: false,
      kind: "holiday",
      until: "2026-12-27T00:00:00Z",
    },
    {
      name: "the last minute before Christmas in Ireland is allowed until midnight",
      policy: { holidays: true },
      region: "eu-west-1",
      at: "2026-12-24T23:59:00Z",
      allowed: true,
      until: "2026-12-25T00:00:00Z",
    },
    {
      name: "holidays are ignored unless the policy asks (default false)",
      policy: officeHours,
      region: "eu-west-1",
      at: "2026-12-25T12:00:00Z",
      allowed: true,
      until: "2026-12-25T17:00:00Z",
    },
    {
      name: "US Independence Day in us-east-1: the whole local day",
      policy: { holidays: true },
      region: "us-east-1",
      at: "2026-07-04T12:00:00-04:00",
      allowed: false,
      kind: "holiday",
      until: "2026-07-05T00:00:00-04:00",
    },
    {
      name: "Independence Day's observed Friday (public substitute day) chains with the day",
      policy: { holidays: true },
      region: "us-east-1",
      at: "2026-07-03T08:00:00-04:00",
      allowed: false,
      kind: "holiday",
      until: "2026-07-05T00:00:00-04:00",
    },
    {
      name: "a holiday is a local day: 23:30 in New York on 4 July is already 5 July in UTC",
      policy: { holidays: true },
      region: "us-east-1",
      at: "2026-07-04T23:30:00-04:00",
      allowed: false,
      kind: "holiday",
      until: "2026-07-05T00:00:00-04:00",
    },
    {
      name: "Election Day is a Virginia holiday: us-east-1 is closed",
      policy: { holidays: true },
      region: "us-east-1",
      at: "2026-11-03T12:00:00-05:00",
      allowed: false,
      kind: "holiday",
      until: "2026-11-04T00:00:00-05:00",
    },
    {
      name: "Election Day is not an Oregon holiday: us-west-2 is open",
      policy: { holidays: true },
      region: "us-west-2",
      at: "2026-11-03T12:00:00-08:00",
      allowed: true,
      until: "2026-11-11T00:00:00-08:00", // Veterans Day
    },
    {
      name: "Corpus Christi is a Hessen holiday: eu-central-1 (Frankfurt) is closed",
      policy: { holidays: true },
      region: "eu-central-1",
      at: "2026-06-04T10:00:00+02:00",
      allowed: false,
      kind: "holiday",
      until: "2026-06-05T00:00:00+02:00",
    },
    {
      name: "a holiday on a weekday and office hours: until the next day's window",
      policy: { ...officeHours, holidays: true },
      region: "eu-central-1",
      at: "2026-06-03T18:00:00+02:00",
      allowed: false,
      kind: "outside-window",
      until: "2026-06-05T09:00:00+02:00",
    },
  ]);

  it("names the region, the calendar and the holiday", () => {
    const ie = check({ holidays: true }, "eu-west-1", "2026-12-25T12:00:00Z");
    expect(ie.allowed === false && ie.reason).toBe(
      "public holiday in eu-west-1 (IE): Christmas Day; allowed again Sun 00:00 Europe/Dublin",
    );
    const va = check({ holidays: true }, "us-east-1", "2026-07-04T12:00:00-04:00");
    expect(va.allowed === false && va.reason).toBe(
      "public holiday in us-east-1 (US-VA): Independence Day; allowed again Sun 00:00 America/New_York",
    );
  });
});

describe("freezes", () => {
  const yearEnd = {
    from: "2026-12-20T00:00:00Z",
    to: "2027-01-04T00:00:00Z",
    reason: "year-end freeze",
  };
  runTable([
    {
      name: "inside a freeze: blocked until its end",
      policy: { freezes: [yearEnd] },
      region: "eu-west-1",
      at: "2026-12-24T10:00:00Z",
      allowed: false,
      kind: "freeze",
      until: "2027-01-04T00:00:00Z",
    },
    {
      name: "exactly at a freeze's from: blocked",
      policy: { freezes: [yearEnd] },
      region: "eu-west-1",
      at: "2026-12-20T00:00:00Z",
      allowed: false,
      kind: "freeze",
      until: "2027-01-04T00:00:00Z",
    },
    {
      name: "exactly at a freeze's to: allowed, no until",
      policy: { freezes: [yearEnd] },
      region: "eu-west-1",
      at: "2027-01-04T00:00:00Z",
      allowed: true,
    },
    {
      name: "before a freeze: allowed until it starts",
      policy: { freezes: [yearEnd] },
      region: "eu-west-1",
      at: "2026-12-19T23:00:00Z",
      allowed: true,
      until: "2026-12-20T00:00:00Z",
    },
    {
      name: "overlapping freezes: until the end of the later one",
      policy: {
        freezes: [
          yearEnd,
          { from: "2027-01-02T00:00:00Z", to: "2027-01-10T00:00:00Z", reason: "b" },
        ],
      },
      region: "eu-west-1",
      at: "2026-12-22T00:00:00Z",
      allowed: false,
      kind: "freeze",
      until: "2027-01-10T00:00:00Z",
    },
    {
      name: "chained freezes (one ends where the next starts): until the end of the last",
      policy: {
        freezes: [
          { from: "2027-01-04T00:00:00Z", to: "2027-01-06T12:00:00+01:00", reason: "c" },
          yearEnd,
          { from: "2027-01-06T11:00:00Z", to: "2027-01-07T00:00:00Z", reason: "d" },
        ],
      },
      region: "eu-west-1",
      at: "2026-12-22T00:00:00Z",
      allowed: false,
      kind: "freeze",
      until: "2027-01-07T00:00:00Z",
    },
    {
      name: "freezes with a gap: until the gap",
      policy: {
        freezes: [
          yearEnd,
          { from: "2027-01-04T00:01:00Z", to: "2027-01-10T00:00:00Z", reason: "e" },
        ],
      },
      region: "eu-west-1",
      at: "2026-12-22T00:00:00Z",
      allowed: false,
      kind: "freeze",
      until: "2027-01-04T00:00:00Z",
    },
    {
      name: "a freeze ending on a Saturday, with office hours: until Monday 09:00",
      policy: {
        ...officeHours,
        freezes: [{ from: "2026-12-20T00:00:00Z", to: "2027-01-02T00:00:00Z", reason: "y" }],
      },
      region: "eu-west-1",
      at: "2026-12-22T10:00:00Z",
      allowed: false,
      kind: "freeze",
      until: "2027-01-04T09:00:00Z",
    },
    {
      name: "a freeze ending inside the window: until exactly its end",
      policy: {
        ...officeHours,
        freezes: [{ from: "2027-01-05T10:00:00Z", to: "2027-01-06T12:34:56.789Z", reason: "z" }],
      },
      region: "eu-west-1",
      at: "2027-01-05T16:00:00Z",
      allowed: false,
      kind: "freeze",
      until: "2027-01-06T12:34:56.789Z",
    },
    {
      name: "a freeze starting inside the window: the allowed period ends at the freeze",
      policy: {
        ...officeHours,
        freezes: [{ from: "2027-01-05T14:00:00Z", to: "2027-01-06T00:00:00Z", reason: "z" }],
      },
      region: "eu-west-1",
      at: "2027-01-05T10:00:00Z",
      allowed: true,
      until: "2027-01-05T14:00:00Z",
    },
    {
      name: "a freeze longer than the 60-day horizon: no until",
      policy: {
        freezes: [{ from: "2026-01-01T00:00:00Z", to: "2026-06-01T00:00:00Z", reason: "long" }],
      },
      region: "eu-west-1",
      at: "2026-02-01T00:00:00Z",
      allowed: false,
      kind: "freeze",
    },
    {
      name: "a freeze-only policy needs no time zone: any region works",
      policy: { freezes: [yearEnd] },
      region: "xx-future-1",
      at: "2026-12-24T10:00:00Z",
      allowed: false,
      kind: "freeze",
      until: "2027-01-04T00:00:00Z",
    },
  ]);

  it("names every active freeze and its end", () => {
    const v = check(
      {
        freezes: [
          { from: "2026-12-20T00:00:00Z", to: "2027-01-04T00:00:00Z", reason: "year-end freeze" },
          { from: "2026-12-24T00:00:00+01:00", to: "2026-12-27T00:00:00+01:00", reason: "xmas" },
        ],
      },
      "eu-central-1",
      "2026-12-25T00:00:00Z",
    );
    expect(v.allowed === false && v.reason).toBe(
      'freeze "year-end freeze" until 2027-01-04T00:00:00.000Z; freeze "xmas" until 2026-12-26T23:00:00.000Z',
    );
  });

  it("a freeze takes precedence over a holiday and the windows in the reason", () => {
    const v = check(
      {
        ...officeHours,
        holidays: true,
        freezes: [
          { from: "2026-12-20T00:00:00Z", to: "2027-01-04T00:00:00Z", reason: "year-end freeze" },
        ],
      },
      "eu-west-1",
      "2026-12-25T20:00:00Z",
    );
    expect(v).toEqual({
      allowed: false,
      kind: "freeze",
      reason: 'freeze "year-end freeze" until 2027-01-04T00:00:00.000Z',
      until: new Date("2027-01-04T09:00:00Z"),
    });
  });
});

describe("regions and overrides", () => {
  it("has a zone and a holiday calendar for every region, all of them valid", () => {
    expect(Object.keys(REGION_HOLIDAY_CALENDARS).sort()).toEqual(
      Object.keys(REGION_TIME_ZONES).sort(),
    );
    const asOverrides = Object.fromEntries(
      Object.keys(REGION_TIME_ZONES).map((r) => [
        r,
        { timeZone: REGION_TIME_ZONES[r], holidays: REGION_HOLIDAY_CALENDARS[r] },
      ]),
    );
    const result = z.safeParse(regionOverridesSchema, asOverrides);
    expect(result.error?.issues ?? []).toEqual([]);
    for (const region of [
      "us-east-1",
      "us-east-2",
      "us-west-1",
      "us-west-2",
      "us-gov-east-1",
      "us-gov-west-1",
      "cn-north-1",
      "cn-northwest-1",
      "ca-central-1",
      "ca-west-1",
      "mx-central-1",
      "sa-east-1",
      "eu-west-1",
      "eu-west-2",
      "eu-west-3",
      "eu-central-1",
      "eu-central-2",
      "eu-north-1",
      "eu-south-1",
      "eu-south-2",
      "il-central-1",
      "me-central-1",
      "me-south-1",
      "af-south-1",
      "ap-east-1",
      "ap-east-2",
      "ap-south-1",
      "ap-south-2",
      "ap-northeast-1",
      "ap-northeast-2",
      "ap-northeast-3",
      "ap-southeast-1",
      "ap-southeast-2",
      "ap-southeast-3",
      "ap-southeast-4",
      "ap-southeast-5",
      "ap-southeast-6",
      "ap-southeast-7",
    ]) {
      expect(REGION_TIME_ZONES, region).toHaveProperty([region]);
    }
  });

  it.each([
    ["us-east-1", "America/New_York", { country: "US", state: "VA" }],
    ["us-west-2", "America/Los_Angeles", { country: "US", state: "OR" }],
    ["eu-north-1", "Europe/Stockholm", { country: "SE" }],
    ["eu-west-1", "Europe/Dublin", { country: "IE" }],
    ["eu-central-1", "Europe/Berlin", { country: "DE", state: "HE" }],
    ["ap-southeast-2", "Australia/Sydney", { country: "AU", state: "NSW" }],
    ["ap-northeast-1", "Asia/Tokyo", { country: "JP" }],
    ["me-central-1", "Asia/Dubai", { country: "AE" }],
    ["sa-east-1", "America/Sao_Paulo", { country: "BR", state: "SP" }],
  ])("%s → %s, %o", (region, zone, calendar) => {
    expect(regionTimeZone(region)).toBe(zone);
    expect(regionHolidayCalendar(region)).toEqual(calendar);
  });

  it("applies overrides of the zone and of the calendar, separately", () => {
    const overrides: RegionOverrides = {
      "eu-north-1": { timeZone: "Asia/Tokyo" },
      "us-east-1": { holidays: { country: "IE" } },
      "us-west-2": { holidays: false },
      "xx-future-1": { timeZone: "Europe/Berlin", holidays: { country: "DE", state: "BE" } },
    };
    expect(regionTimeZone("eu-north-1", overrides)).toBe("Asia/Tokyo");
    expect(regionHolidayCalendar("eu-north-1", overrides)).toEqual({ country: "SE" });
    expect(regionTimeZone("us-east-1", overrides)).toBe("America/New_York");
    expect(regionHolidayCalendar("us-east-1", overrides)).toEqual({ country: "IE" });
    expect(regionHolidayCalendar("us-west-2", overrides)).toBeUndefined();
    expect(regionTimeZone("xx-future-1", overrides)).toBe("Europe/Berlin");
    expect(regionHolidayCalendar("xx-future-1", overrides)).toEqual({ country: "DE", state: "BE" });
  });

  const overrides: RegionOverrides = {
    "eu-north-1": { timeZone: "Asia/Tokyo" },
    "us-east-1": { holidays: { country: "IE" } },
    "us-west-2": { holidays: false },
    "eu-central-1": { holidays: { country: "DE", state: "BE" } },
    "xx-future-1": { timeZone: "Europe/Berlin", holidays: { country: "DE", state: "BE" } },
  };
  runTable([
    {
      name: "zone override: office hours follow Tokyo, not Stockholm",
      policy: officeHours,
      region: "eu-north-1",
      at: "2026-03-04T10:00:00+09:00",
      overrides,
      allowed: true,
      until: "2026-03-04T17:00:00+09:00",
    },
    {
      name: "calendar override: St Patrick's Day closes us-east-1 when it uses the IE calendar",
      policy: { holidays: true },
      region: "us-east-1",
      at: "2026-03-17T12:00:00-04:00",
      overrides,
      allowed: false,
      kind: "holiday",
      until: "2026-03-18T00:00:00-04:00",
    },
    {
      name: "calendar override: Independence Day is then an ordinary day",
      policy: { holidays: true },
      region: "us-east-1",
      at: "2026-07-04T12:00:00-04:00",
      overrides,
      allowed: true,
      until: "2026-08-03T00:00:00-04:00", // First Monday in August (IE)
    },
    {
      name: "holidays: false: no holidays even where the policy asks",
      policy: { holidays: true },
      region: "us-west-2",
      at: "2026-12-25T12:00:00-08:00",
      overrides,
      allowed: true,
    },
    {
      name: "calendar override to Berlin: Corpus Christi is not a Berlin holiday",
      policy: { holidays: true },
      region: "eu-central-1",
      at: "2026-06-04T10:00:00+02:00",
      overrides,
      // The next Berlin holiday, German Unity Day on 3 October, is beyond the 60-day horizon.
      allowed: true,
    },
    {
      name: "an unknown region with both overrides",
      policy: { ...officeHours, holidays: true },
      region: "xx-future-1",
      at: "2026-03-08T12:00:00+01:00", // International Women's Day, a Berlin holiday (Sunday)
      overrides,
      allowed: false,
      kind: "holiday",
      until: "2026-03-09T09:00:00+01:00",
    },
  ]);

  it("rejects an unknown region without an override, naming it and asking for an override", () => {
    expect(() => regionTimeZone("xx-future-1")).toThrow(UnknownRegionError);
    expect(() => regionTimeZone("xx-future-1")).toThrow(/"xx-future-1".*add an override/);
    expect(() => regionHolidayCalendar("xx-future-1")).toThrow(/"xx-future-1".*add an override/);
    expect(() => check(officeHours, "xx-future-1", "2026-03-04T10:00:00Z")).toThrow(
      /unknown region "xx-future-1": no built-in time zone; add an override/,
    );
    // A zone alone is not enough when the policy also wants holidays.
    expect(() =>
      check({ holidays: true }, "xx-future-1", "2026-03-04T10:00:00Z", {
        "xx-future-1": { timeZone: "Europe/Berlin" },
      }),
    ).toThrow(/unknown region "xx-future-1": no built-in holiday calendar; add an override/);
    try {
      regionTimeZone("xx-future-1");
    } catch (err) {
      expect((err as Error).name).toBe("UnknownRegionError");
    }
  });
});

/** Issues as `path: message` (unrecognized keys as `path: unknown field <key>`). */
function problems(schema: z.ZodType, input: unknown): string[] {
  const result = z.safeParse(schema, input);
  if (result.success) return [];
  return result.error.issues
    .flatMap((issue) => {
      const path = issue.path.map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`));
      const where = path.join("").replace(/^\./, "");
      if (issue.code === "unrecognized_keys") {
        return issue.keys.map((k) => `${where ? `${where}.` : ""}${k}: unknown field`);
      }
      return [`${where}: ${issue.message}`];
    })
    .sort();
}

describe("timeWindowsSchema", () => {
  const START = "must be a time such as 09:00 (24-hour HH:MM)";
  const END = "must be a time such as 17:00 (24-hour HH:MM; 24:00 for the end of the day)";
  const INSTANT = "must be an ISO 8601 timestamp with Z or an offset, such as 2026-12-20T00:00:00Z";
  const w = (over: Record<string, unknown>) => ({
    allowed: [{ days: ["mon"], from: "09:00", to: "17:00", ...over }],
  });
  const f = (over: Record<string, unknown>) => ({
    freezes: [{ from: "2026-12-20T00:00:00Z", to: "2027-01-04T00:00:00Z", reason: "r", ...over }],
  });

  it("accepts the documented example and adds no defaults (holidays off unless true)", () => {
    const input = {
      allowed: [{ days: WEEKDAYS, from: "09:00", to: "17:00" }],
      holidays: true,
      freezes: [
        {
          from: "2026-12-20T00:00:00Z",
          to: "2027-01-04T00:00:00+01:00",
          reason: "year-end freeze",
        },
      ],
    };
    expect(problems(timeWindowsSchema, input)).toEqual([]);
    expect(timeWindowsSchema.parse({})).toEqual({});
    expect(problems(timeWindowsSchema, w({ from: "00:00", to: "24:00" }))).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ["from without a leading zero", w({ from: "9:00" }), [`allowed[0].from: ${START}`]],
    ["from 24:00", w({ from: "24:00", to: "24:00" }), [`allowed[0].from: ${START}`]],
    [
      "malformed from and to (no spurious order error)",
      w({ from: "late", to: "early" }),
      [`allowed[0].from: ${START}`, `allowed[0].to: ${END}`],
    ],
    [
      "a malformed freeze start (no spurious order error)",
      f({ from: "2027-02-01" }),
      [`freezes[0].from: ${INSTANT}`],
    ],
    ["to 24:01", w({ to: "24:01" }), [`allowed[0].to: ${END}`]],
    ["to 25:00", w({ to: "25:00" }), [`allowed[0].to: ${END}`]],
    ["a number as time", w({ from: 900 }), [`allowed[0].from: ${START}`]],
    [
      "from after to",
      w({ from: "17:00", to: "09:00" }),
      [
        "allowed[0].to: must be later than from (17:00); split an overnight window into two windows",
      ],
    ],
    [
      "from equal to to",
      w({ from: "09:00", to: "09:00" }),
      [
        "allowed[0].to: must be later than from (09:00); split an overnight window into two windows",
      ],
    ],
    ["no days", w({ days: [] }), ["allowed[0].days: must list at least one day"]],
    [
      "an unknown day",
      w({ days: ["mon", "funday"] }),
      ["allowed[0].days[1]: must be a day: mon, tue, wed, thu, fri, sat or sun"],
    ],
    [
      "a duplicate day",
      w({ days: ["mon", "tue", "mon"] }),
      ['allowed[0].days[2]: duplicate day "mon" (also days[0])'],
    ],
    ["an unknown window field", w({ zone: "UTC" }), ["allowed[0].zone: unknown field"]],
    ["a typo at the top", { holiday: true }, ["holiday: unknown field"]],
    ["holidays not a boolean", { holidays: "yes" }, ["holidays: must be true or false"]],
    ["allowed not a list", { allowed: {} }, ["allowed: must be a list of weekly windows"]],
    ["a date without a time", f({ from: "2026-12-20" }), [`freezes[0].from: ${INSTANT}`]],
    [
      "a local time without offset",
      f({ to: "2027-01-04T00:00:00" }),
      [`freezes[0].to: ${INSTANT}`],
    ],
    ["an impossible date", f({ to: "2027-02-30T00:00:00Z" }), [`freezes[0].to: ${INSTANT}`]],
    [
      "a freeze ending before it starts",
      f({ to: "2026-12-19T00:00:00Z" }),
      ["freezes[0].to: must be later than from (2026-12-20T00:00:00Z)"],
    ],
    [
      "a freeze ending when it starts (same instant, other offset)",
      f({ to: "2026-12-20T01:00:00+01:00" }),
      ["freezes[0].to: must be later than from (2026-12-20T00:00:00Z)"],
    ],
    ["an empty reason", f({ reason: "" }), ["freezes[0].reason: must be a non-empty reason"]],
    ["a blank reason", f({ reason: "   " }), ["freezes[0].reason: must be a non-empty reason"]],
    [
      "a missing reason",
      f({ reason: undefined }),
      ["freezes[0].reason: must be a non-empty reason"],
    ],
    [
      "several problems at once, each with its path",
      {
        allowed: [
          { days: ["mon"], from: "09:00", to: "17:00" },
          { days: [], from: "9", to: "17:00" },
        ],
        freezes: [
          { from: "2026-12-20T00:00:00Z", to: "2027-01-04T00:00:00Z", reason: "ok" },
          { from: "2026-12-20T00:00:00Z", to: "2027-01-04T00:00:00Z", reason: "" },
        ],
        holidays: 1,
      },
      [
        `allowed[1].from: ${START}`,
        "allowed[1].days: must list at least one day",
        "freezes[1].reason: must be a non-empty reason",
        "holidays: must be true or false",
      ].sort(),
    ],
  ])("rejects %s", (_name, input, expected) => {
    expect(problems(timeWindowsSchema, input)).toEqual(expected);
  });
});

describe("regionOverridesSchema", () => {
  it.each<[string, unknown, string[]]>([
    [
      "a valid override",
      { "eu-north-1": { timeZone: "Europe/Helsinki", holidays: { country: "FI" } } },
      [],
    ],
    ["holidays: false", { "us-west-2": { holidays: false } }, []],
    [
      "an unknown time zone",
      { "eu-north-1": { timeZone: "Mars/Olympus_Mons" } },
      ["eu-north-1.timeZone: must be an IANA time zone such as Europe/Berlin"],
    ],
    [
      "an offset instead of a zone",
      { "eu-north-1": { timeZone: "+02:00" } },
      ["eu-north-1.timeZone: must be an IANA time zone such as Europe/Berlin"],
    ],
    [
      "an unknown country",
      { "eu-north-1": { holidays: { country: "XX" } } },
      [
        "eu-north-1.holidays.country: must be a country code known to date-holidays, such as US or DE",
      ],
    ],
    [
      "an unknown state",
      { "us-east-1": { holidays: { country: "US", state: "ZZ" } } },
      [
        expect.stringMatching(
          /^us-east-1\.holidays\.state: must be a state of US known to date-holidays: AL, AK, /,
        ),
      ],
    ],
    [
      "a state where the country has none",
      { "eu-west-1": { holidays: { country: "IE", state: "D" } } },
      ["eu-west-1.holidays.state: must be absent: date-holidays has no states for IE"],
    ],
    [
      "holidays: true",
      { "us-east-1": { holidays: true } },
      ['us-east-1.holidays: must be false or { "country": "US", "state": "VA" } (state optional)'],
    ],
    ["an unknown field", { "us-east-1": { tz: "UTC" } }, ["us-east-1.tz: unknown field"]],
    [
      "not a region name",
      { "US East": {} },
      ["US East: must be an AWS region name such as us-east-1"],
    ],
  ])("%s", (_name, input, expected) => {
    expect(problems(regionOverridesSchema, input)).toEqual(expected);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const PROPERTY_REGIONS = [
  "us-east-1",
  "eu-north-1",
  "eu-west-1",
  "ap-southeast-2", // southern hemisphere DST
  "ap-northeast-1", // no DST
  "me-central-1",
  "ap-south-1", // +05:30
] as const;

/** Instants near DST changes, holidays and a year end, where mistakes would hide. */
const ANCHORS = [
  "2026-03-08T07:00:00Z", // New York spring forward
  "2026-11-01T06:00:00Z", // New York fall back
  "2026-03-29T01:00:00Z", // Europe spring forward
  "2026-10-25T01:00:00Z", // Europe fall back
  "2026-04-04T16:00:00Z", // Sydney fall back (Easter)
  "2026-10-03T16:00:00Z", // Sydney spring forward
  "2026-12-24T12:00:00Z",
  "2026-07-03T12:00:00Z",
].map(Date.parse);

const minuteOfDay = fc.integer({ min: 0, max: 1440 });
const hhmmOf = (m: number) =>
  `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;

const windowArb = fc
  .record({
    days: fc.subarray([...WEEK_DAYS], { minLength: 1 }),
    a: minuteOfDay,
    b: minuteOfDay,
  })
  .filter(({ a, b }) => a !== b)
  .map(({ days, a, b }) => ({
    days,
    from: hhmmOf(Math.min(a, b)),
    to: hhmmOf(Math.max(a, b)),
  }));

const caseArb = fc
  .record({
    region: fc.constantFrom(...PROPERTY_REGIONS),
    anchor: fc.constantFrom(...ANCHORS),
    // up to ±3 days around the anchor, at any millisecond
    shift: fc.integer({ min: -3 * 86_400_000, max: 3 * 86_400_000 }),
    allowed: fc.option(fc.array(windowArb, { maxLength: 3 }), { nil: undefined }),
    holidays: fc.boolean(),
    freezes: fc.array(
      fc.record({
        start: fc.integer({ min: -5 * 1440, max: 10 * 1440 }), // minutes from `at`
        minutes: fc.integer({ min: 1, max: 6 * 1440 }),
      }),
      { maxLength: 3 },
    ),
  })
  .map(({ region, anchor, shift, allowed, holidays, freezes }) => {
    const at = anchor + shift;
    const policy = timeWindowsSchema.parse({
      ...(allowed ? { allowed } : {}),
      holidays,
      freezes: freezes.map((fz, i) => ({
        from: new Date(at + fz.start * 60_000).toISOString(),
        to: new Date(at + (fz.start + fz.minutes) * 60_000).toISOString(),
        reason: `f${i}`,
      })),
    });
    return { region, at, policy };
  });

describe("properties", () => {
  it("until is the first instant the answer changes: all samples before it agree with `at`", () => {
    fc.assert(
      fc.property(
        caseArb,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 30, maxLength: 30 }),
        ({ region, at, policy }, fractions) => {
          const v = checkTimeWindows(policy, region, new Date(at));
          if (v.until === undefined) return;
          const until = v.until.getTime();
          expect(until).toBeGreaterThan(at);
          // At `until` the answer has flipped.
          expect(checkTimeWindows(policy, region, v.until).allowed).toBe(!v.allowed);
          // Strictly between: ~50 samples (evenly spaced, random, and the last millisecond).
          const samples = [until - 1, ...fractions.map((x) => at + Math.floor(x * (until - at)))];
          for (let k = 1; k < 20; k++) samples.push(at + Math.floor(((until - at) * k) / 20));
          for (const t of samples) {
            if (t <= at || t >= until) continue;
            const s = checkTimeWindows(policy, region, new Date(t));
            expect(s.allowed, `at ${new Date(t).toISOString()}`).toBe(v.allowed);
            if (!v.allowed) {
              // Blocked samples agree on when deploying becomes possible again.
              expect(s.until?.getTime()).toBe(until);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("weekly windows agree with a direct Intl reading of the local clock", () => {
    const weekday = new Map([
      ["Mon", 0],
      ["Tue", 1],
      ["Wed", 2],
      ["Thu", 3],
      ["Fri", 4],
      ["Sat", 5],
      ["Sun", 6],
    ]);
    fc.assert(
      fc.property(
        caseArb.filter((c) => (c.policy.allowed?.length ?? 0) > 0),
        ({ region, at, policy }) => {
          const windowsOnly = { allowed: policy.allowed, holidays: false };
          const parts = Object.fromEntries(
            new Intl.DateTimeFormat("en-US", {
              timeZone: REGION_TIME_ZONES[region],
              weekday: "short",
              hour: "2-digit",
              minute: "2-digit",
              hourCycle: "h23",
            })
              .formatToParts(at)
              .map((p) => [p.type, p.value]),
          );
          const day = WEEK_DAYS[weekday.get(parts.weekday as string) as number] as WeekDay;
          const minute = Number(parts.hour) * 60 + Number(parts.minute);
          const expected = (policy.allowed ?? []).some((w) => {
            const [fh, fm] = w.from.split(":").map(Number) as [number, number];
            const [th, tm] = w.to.split(":").map(Number) as [number, number];
            return w.days.includes(day) && fh * 60 + fm <= minute && minute < th * 60 + tm;
          });
          expect(checkTimeWindows(windowsOnly, region, new Date(at)).allowed).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
