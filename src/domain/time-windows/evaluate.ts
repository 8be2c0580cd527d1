/**
 * Deployment time windows: one of the blockers of docs/design.md ("Blocker"). A policy says when a
 * deploy step may start in a region — weekly windows in the region's local wall-clock time,
 * the region's public holidays, and one-off freezes — and {@link checkTimeWindows} decides for
 * one region and one instant, and says when the answer next changes.
 *
 * Pure: no I/O, no clock (the instant is an argument). Local time comes from
 * `Intl.DateTimeFormat` with `timeZone` (the ICU time zone data Node ships, ./zones.ts), holidays
 * from the `date-holidays` package (./holidays.ts; loaded by `loadHolidayCalendars()`, which
 * a caller judging `holidays: true` awaits first).
 */
import { calendarKey, holidaysOn } from "./holidays.ts";
import {
  type HolidayCalendar,
  type RegionOverrides,
  regionHolidayCalendar,
  regionTimeZone,
} from "./regions.ts";
import { minutesOf, type TimeWindows, WEEK_DAYS, type WeekDay } from "./schema.ts";
import {
  DAY_MS,
  DAY_NAMES,
  findTransition,
  hhmm,
  type LocalTime,
  localTime,
  MINUTE_MS,
  offsetAt,
} from "./zones.ts";

// ---------------------------------------------------------------------------------------------
// Verdicts
// ---------------------------------------------------------------------------------------------

/**
 * Whether a deploy step may start now under a time-window policy. `until` on a block is the
 * earliest instant at which the policy allows deploying again; on an allowed verdict it is when
 * the current allowed period ends. Absent when that is beyond {@link UNTIL_HORIZON_DAYS}.
 */
export type WindowVerdict =
  | { allowed: true; until?: Date }
  | {
      allowed: false;
      kind: "outside-window" | "holiday" | "freeze";
      reason: string;
      until?: Date;
    };

/** How far ahead {@link checkTimeWindows} looks for `until`. */
export const UNTIL_HORIZON_DAYS = 60;

interface CompiledWindow {
  days: boolean[];
  from: number;
  to: number;
}

interface Freeze {
  from: number;
  to: number;
  reason: string;
}

interface Rules {
  windows: CompiledWindow[];
  freezes: Freeze[];
  calendar: HolidayCalendar | undefined;
  /** Undefined when no rule reads the local clock (then offsets are irrelevant). */
  zone: string | undefined;
  /** Minutes of the local day at which a local rule can change its answer, sorted. */
  boundaries: number[];
}

type Block =
  | { kind: "freeze"; freezes: Freeze[] }
  | { kind: "holiday"; names: string[] }
  | { kind: "outside-window"; local: LocalTime };

/** Why `t` is blocked (the most specific rule first), or undefined if a step may start. */
function blockAt(rules: Rules, t: number, offset: number): Block | undefined {
  const active = rules.freezes.filter((f) => f.from <= t && t < f.to);
  if (active.length > 0) return { kind: "freeze", freezes: active };
  if (rules.zone === undefined) return undefined;
  const local = localTime(t, offset);
  if (rules.calendar) {
    const names = holidaysOn(rules.calendar, local.day);
    if (names.length > 0) return { kind: "holiday", names };
  }
  if (rules.windows.length === 0) return undefined;
  const open = rules.windows.some(
    (w) => w.days[local.weekday] && w.from <= local.minute && local.minute < w.to,
  );
  return open ? undefined : { kind: "outside-window", local };
}

/**
 * The first instant after `at` (within the horizon) at which "allowed" differs from
 * `allowedAt`. The answer can only change where some rule's input changes: a freeze edge, a
 * local window edge or local midnight (day, weekday, holiday), or a UTC-offset change. Time is
 * walked one day at a time; in each day the offset is constant except at (at most) one DST
 * transition, found by binary search, and within a constant-offset stretch every local edge
 * maps to exactly one instant (edge − offset). Only those candidate instants are evaluated, in
 * order, so the result is exact to the millisecond for about two Intl calls per day walked.
 */
function nextChange(rules: Rules, at: number, allowedAt: boolean): number | undefined {
  const horizon = at + UNTIL_HORIZON_DAYS * DAY_MS;
  const freezeEdges = rules.freezes.flatMap((f) => [f.from, f.to]);
  let start = at;
  let offset = offsetAt(rules.zone, start);
  while (start < horizon) {
    const end = Math.min(start + DAY_MS, horizon);
    const offsetEnd = offsetAt(rules.zone, end);
    const stretches: [number, number, number, boolean][] = [];
    if (offsetEnd === offset) stretches.push([start, end, offset, false]);
    else {
      const transition = findTransition(rules.zone, start, end, offset);
      stretches.push([start, transition, offset, false], [transition, end, offsetEnd, true]);
    }
    for (const [from, to, off, startsWithTransition] of stretches) {
      const candidates: number[] = [];
      if (startsWithTransition) candidates.push(from);
      for (const edge of freezeEdges) if (edge >= from && edge < to) candidates.push(edge);
      if (rules.boundaries.length > 0) {
        const firstDay = Math.floor((from + off) / DAY_MS);
        const lastDay = Math.floor((to - 1 + off) / DAY_MS);
        for (let day = firstDay; day <= lastDay; day++) {
          for (const minute of rules.boundaries) {
            const t = day * DAY_MS + minute * MINUTE_MS - off;
            if (t >= from && t < to) candidates.push(t);
          }
        }
      }
      candidates.sort((a, b) => a - b);
      for (const t of candidates) {
        if (t <= at) continue;
        if ((blockAt(rules, t, off) === undefined) !== allowedAt) return t;
      }
    }
    start = end;
    offset = offsetEnd;
  }
  return undefined;
}

const dayList = (days: readonly WeekDay[]): string => {
  // "mon-fri", "sat,sun", "mon,wed,fri": runs of three or more days become ranges.
  const on = WEEK_DAYS.map((d) => days.includes(d));
  const parts: string[] = [];
  for (let i = 0; i < 7; i++) {
    if (!on[i]) continue;
    let j = i;
    while (j + 1 < 7 && on[j + 1]) j++;
    if (j - i >= 2) parts.push(`${WEEK_DAYS[i]}-${WEEK_DAYS[j]}`);
    else for (let k = i; k <= j; k++) parts.push(WEEK_DAYS[k] as string);
    i = j;
  }
  return parts.join(",");
};

/** "Tue 09:00 Europe/Dublin": an instant as the region's local weekday and time. */
function opensAt(t: number, zone: string): string {
  const local = localTime(t, offsetAt(zone, t));
  return `${DAY_NAMES[local.weekday]} ${hhmm(local.minute)} ${zone}`;
}

function explain(
  block: Block,
  policy: TimeWindows,
  region: string,
  rules: Rules,
): { kind: "outside-window" | "holiday" | "freeze"; reason: string } {
  switch (block.kind) {
    case "freeze":
      return {
        kind: "freeze",
        reason: block.freezes
          .map((f) => `freeze "${f.reason}" until ${new Date(f.to).toISOString()}`)
          .join("; "),
      };
    case "holiday":
      return {
        kind: "holiday",
        reason: `public holiday in ${region} (${calendarKey(rules.calendar as HolidayCalendar)}): ${block.names.join(", ")}`,
      };
    case "outside-window": {
      const windows = policy.allowed ?? [];
      const list = windows.map((w) => `${dayList(w.days)} ${w.from}-${w.to}`).join(", ");
      const local = `${DAY_NAMES[block.local.weekday]} ${hhmm(block.local.minute)}`;
      return {
        kind: "outside-window",
        reason: `outside the allowed window${windows.length > 1 ? "s" : ""} (${list} ${rules.zone}); local time is ${local}`,
      };
    }
  }
}

/**
 * Decides whether a deploy step may start in `region` at instant `at` under `policy`, and
 * when that answer next changes.
 *
 * A step is blocked by, in this order of precedence (the reason names the first that
 * applies): a freeze covering `at`; a public holiday of the region on the local date (when
 * `policy.holidays`); being outside every weekly window (when `policy.allowed` is non-empty).
 * Windows are local wall-clock times, so "09:00-17:00" is 09:00-17:00 on both sides of a DST
 * change; local times skipped by a spring-forward simply do not occur, and the window opens at
 * the first instant whose local time is inside it.
 *
 * The region's time zone and calendar are resolved only when a rule needs them, so a policy of
 * freezes alone (or no policy) works in any region.
 *
 * @throws {UnknownRegionError} when a rule needs the region's zone or calendar and neither the
 *   built-in tables nor `overrides` have it.
 * @throws {HolidayCalendarsNotLoadedError} when the policy asks for holidays and
 *   `loadHolidayCalendars()` has not finished (fail closed: a holiday cannot be told apart).
 * @example
 * const policy = timeWindowsSchema.parse({
 *   allowed: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "09:00", to: "17:00" }],
 * });
 * checkTimeWindows(policy, "eu-north-1", new Date("2026-03-07T17:02:00Z"));
 * // { allowed: false, kind: "outside-window",
 * //   reason: "outside the allowed window (mon-fri 09:00-17:00 Europe/Stockholm); local time is Sat 18:02; window opens Mon 09:00 Europe/Stockholm",
 * //   until: 2026-03-09T08:00:00.000Z }
 */
export function checkTimeWindows(
  policy: TimeWindows | undefined,
  region: string,
  at: Date,
  overrides?: RegionOverrides,
): WindowVerdict {
  const now = at.getTime();
  if (Number.isNaN(now)) throw new TypeError("checkTimeWindows: `at` is an invalid Date");
  if (!policy) return { allowed: true };

  const windows = (policy.allowed ?? []).map(
    (w): CompiledWindow => ({
      days: WEEK_DAYS.map((d) => w.days.includes(d)),
      from: minutesOf(w.from),
      to: minutesOf(w.to),
    }),
  );
  // Freezes that ended already can never matter again.
  const freezes = (policy.freezes ?? [])
    .map((f) => ({ from: Date.parse(f.from), to: Date.parse(f.to), reason: f.reason }))
    .filter((f) => f.to > now);
  const calendar = policy.holidays ? regionHolidayCalendar(region, overrides) : undefined;
  const zone =
    windows.length > 0 || calendar !== undefined ? regionTimeZone(region, overrides) : undefined;
  const boundaries = new Set<number>();
  if (zone !== undefined) {
    boundaries.add(0); // local midnight: new date (holiday) and new weekday
    for (const w of windows) {
      boundaries.add(w.from);
      if (w.to < 1440) boundaries.add(w.to); // 24:00 is the next day's midnight
    }
  }
  const rules: Rules = {
    windows,
    freezes,
    calendar,
    zone,
    boundaries: [...boundaries].sort((a, b) => a - b),
  };

  // Nothing reads the clock (e.g. `{}`, or only past freezes): allowed for good.
  if (zone === undefined && freezes.length === 0) return { allowed: true };
  const block = blockAt(rules, now, offsetAt(zone, now));
  const change = nextChange(rules, now, block === undefined);
  const until = change === undefined ? undefined : new Date(change);
  if (block === undefined) return until ? { allowed: true, until } : { allowed: true };
  const { kind, reason: why } = explain(block, policy, region, rules);
  // "Every wait says why, and until when": the opening in the region's own wall-clock time.
  const reason =
    until && zone !== undefined && kind !== "freeze"
      ? `${why}; ${kind === "holiday" ? "allowed again" : "window opens"} ${opensAt(until.getTime(), zone)}`
      : why;
  return until ? { allowed: false, kind, reason, until } : { allowed: false, kind, reason };
}
