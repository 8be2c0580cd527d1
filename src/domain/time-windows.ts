/**
 * Deployment time windows: one of the blockers of docs/design.md ("Blocker"). A policy says when a
 * deploy step may start in a region — weekly windows in the region's local wall-clock time,
 * the region's public holidays, and one-off freezes — and {@link checkTimeWindows} decides for
 * one region and one instant, and says when the answer next changes.
 *
 * Pure: no I/O, no clock (the instant is an argument). Local time comes from
 * `Intl.DateTimeFormat` with `timeZone` (the ICU time zone data Node ships), holidays from the
 * `date-holidays` package (its data is bundled JavaScript; no install script, no network).
 */
import Holidays from "date-holidays";
import { z } from "zod";
import { BreakwaterError } from "./errors.ts";

// ---------------------------------------------------------------------------------------------
// Policy schema
// ---------------------------------------------------------------------------------------------

/** Days of the week, in the order windows are written and described (Monday first). */
export const WEEK_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type WeekDay = (typeof WEEK_DAYS)[number];

const START_TIME_ERROR = "must be a time such as 09:00 (24-hour HH:MM)";
const END_TIME_ERROR = "must be a time such as 17:00 (24-hour HH:MM; 24:00 for the end of the day)";
const INSTANT_ERROR =
  "must be an ISO 8601 timestamp with Z or an offset, such as 2026-12-20T00:00:00Z";
const DAY_ERROR = "must be a day: mon, tue, wed, thu, fri, sat or sun";

const START_TIME = /^([01]\d|2[0-3]):[0-5]\d$/;
const END_TIME = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

const startTime = z
  .string({ error: START_TIME_ERROR })
  .regex(START_TIME, { error: START_TIME_ERROR });

// "24:00" is accepted only as an end: it closes a window at the end of the local day, which
// "23:59" cannot express (that would leave the last minute closed).
const endTime = z.string({ error: END_TIME_ERROR }).regex(END_TIME, { error: END_TIME_ERROR });

const instant = z.iso.datetime({ offset: true, error: INSTANT_ERROR });

const weeklyWindowSchema = z
  .object({
    days: z
      .array(z.enum(WEEK_DAYS, { error: DAY_ERROR }), {
        error: 'must be a list of days such as ["mon", "tue"]',
      })
      .min(1, { error: "must list at least one day" })
      .describe("Days of the week (in the region's local time) on which the window is open."),
    from: startTime.describe("Local wall-clock time at which the window opens (inclusive)."),
    to: endTime.describe(
      "Local wall-clock time at which the window closes (exclusive); 24:00 is the end of the day.",
    ),
  })
  .strict()
  .superRefine((w, ctx) => {
    const seen = new Map<string, number>();
    w.days.forEach((day, i) => {
      const first = seen.get(day);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["days", i],
          message: `duplicate day "${day}" (also days[${first}])`,
        });
      } else seen.set(day, i);
    });
    // Windows never wrap past midnight: one rule, one local day, so DST and holidays stay
    // unambiguous. An overnight window is two windows (22:00-24:00 and 00:00-06:00 next day).
    // (zod runs this refinement even after a format error; compare only well-formed times.)
    if (!START_TIME.test(w.from) || !END_TIME.test(w.to)) return;
    if (minutesOf(w.to) <= minutesOf(w.from)) {
      ctx.addIssue({
        code: "custom",
        path: ["to"],
        message: `must be later than from (${w.from}); split an overnight window into two windows`,
      });
    }
  });

const freezeSchema = z
  .object({
    from: instant.describe("Start of the freeze (inclusive), an absolute instant."),
    to: instant.describe("End of the freeze (exclusive), an absolute instant."),
    reason: z
      .string({ error: "must be a non-empty reason" })
      .regex(/\S/, { error: "must be a non-empty reason" })
      .describe("Why deployments are frozen; shown to whoever is blocked."),
  })
  .strict()
  .superRefine((f, ctx) => {
    // (zod runs this refinement even after a format error; compare only well-formed instants.)
    if (!instant.safeParse(f.from).success || !instant.safeParse(f.to).success) return;
    if (Date.parse(f.to) <= Date.parse(f.from)) {
      ctx.addIssue({
        code: "custom",
        path: ["to"],
        message: `must be later than from (${f.from})`,
      });
    }
  });

/**
 * When deploy steps may start in a region. Every part is optional; `{}` allows any time.
 * Weekly windows and holidays are in the region's local time (see {@link REGION_TIME_ZONES});
 * freezes are absolute instants.
 */
export const timeWindowsSchema = z
  .object({
    allowed: z
      .array(weeklyWindowSchema, { error: "must be a list of weekly windows" })
      .optional()
      .describe(
        "Weekly windows in the region's local time; a step may start inside any of them. Absent or empty: any time of the week.",
      ),
    holidays: z
      .boolean({ error: "must be true or false" })
      .optional()
      .describe(
        "Default false. When true, the region's public holidays (whole local days) are not allowed.",
      ),
    freezes: z
      .array(freezeSchema, { error: "must be a list of freezes" })
      .optional()
      .describe("One-off intervals [from, to) in which no step may start, whatever the windows."),
  })
  .strict();

/** A time-window policy as written (optional fields may be absent). */
export type TimeWindowsInput = z.input<typeof timeWindowsSchema>;
/** A validated time-window policy. */
export type TimeWindows = z.output<typeof timeWindowsSchema>;

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

// ---------------------------------------------------------------------------------------------
// Regions: time zones and holiday calendars
// ---------------------------------------------------------------------------------------------

/**
 * The IANA time zone of every AWS region (commercial, GovCloud, China): the zone of the city
 * the region is named after, which is what "local business hours" means to its operators.
 * Regions not listed here (new ones, ISO partitions) need a {@link RegionOverrides} entry.
 */
export const REGION_TIME_ZONES: Readonly<Record<string, string>> = Object.freeze({
  "us-east-1": "America/New_York", // N. Virginia
  "us-east-2": "America/New_York", // Ohio
  "us-west-1": "America/Los_Angeles", // N. California
  "us-west-2": "America/Los_Angeles", // Oregon
  "af-south-1": "Africa/Johannesburg", // Cape Town (SAST, the same offset, no DST)
  "ap-east-1": "Asia/Hong_Kong",
  "ap-east-2": "Asia/Taipei",
  "ap-south-1": "Asia/Kolkata", // Mumbai
  "ap-south-2": "Asia/Kolkata", // Hyderabad
  "ap-southeast-1": "Asia/Singapore",
  "ap-southeast-2": "Australia/Sydney",
  "ap-southeast-3": "Asia/Jakarta",
  "ap-southeast-4": "Australia/Melbourne",
  "ap-southeast-5": "Asia/Kuala_Lumpur", // Malaysia
  "ap-southeast-6": "Pacific/Auckland", // New Zealand
  "ap-southeast-7": "Asia/Bangkok", // Thailand
  "ap-northeast-1": "Asia/Tokyo",
  "ap-northeast-2": "Asia/Seoul",
  "ap-northeast-3": "Asia/Tokyo", // Osaka
  "ca-central-1": "America/Toronto", // Montréal (America/Montreal is a link to Toronto)
  "ca-west-1": "America/Edmonton", // Calgary
  "eu-central-1": "Europe/Berlin", // Frankfurt
  "eu-central-2": "Europe/Zurich",
  "eu-north-1": "Europe/Stockholm",
  "eu-south-1": "Europe/Rome", // Milan
  "eu-south-2": "Europe/Madrid", // Aragón
  "eu-west-1": "Europe/Dublin",
  "eu-west-2": "Europe/London",
  "eu-west-3": "Europe/Paris",
  "il-central-1": "Asia/Jerusalem", // Tel Aviv
  "me-central-1": "Asia/Dubai", // UAE
  "me-south-1": "Asia/Bahrain",
  "mx-central-1": "America/Mexico_City", // Querétaro
  "sa-east-1": "America/Sao_Paulo",
  "us-gov-east-1": "America/New_York", // Ohio
  "us-gov-west-1": "America/Los_Angeles", // Oregon
  "cn-north-1": "Asia/Shanghai", // Beijing
  "cn-northwest-1": "Asia/Shanghai", // Ningxia
});

/** A `date-holidays` calendar: ISO 3166-1 country and, where holidays differ, its state code. */
export interface HolidayCalendar {
  country: string;
  state?: string;
}

/**
 * The public-holiday calendar of every region in {@link REGION_TIME_ZONES}: the country and,
 * where holidays differ by state, the state the region is in (a regional holiday of another
 * state does not close the region).
 */
export const REGION_HOLIDAY_CALENDARS: Readonly<Record<string, Readonly<HolidayCalendar>>> =
  Object.freeze({
    "us-east-1": { country: "US", state: "VA" },
    "us-east-2": { country: "US", state: "OH" },
    "us-west-1": { country: "US", state: "CA" },
    "us-west-2": { country: "US", state: "OR" },
    "af-south-1": { country: "ZA" },
    "ap-east-1": { country: "HK" },
    "ap-east-2": { country: "TW" },
    "ap-south-1": { country: "IN", state: "MH" }, // Maharashtra
    "ap-south-2": { country: "IN", state: "TG" }, // Telangana
    "ap-southeast-1": { country: "SG" },
    "ap-southeast-2": { country: "AU", state: "NSW" },
    "ap-southeast-3": { country: "ID" },
    "ap-southeast-4": { country: "AU", state: "VIC" },
    "ap-southeast-5": { country: "MY", state: "14" }, // Kuala Lumpur
    "ap-southeast-6": { country: "NZ", state: "AUK" },
    "ap-southeast-7": { country: "TH" },
    "ap-northeast-1": { country: "JP" },
    "ap-northeast-2": { country: "KR" },
    "ap-northeast-3": { country: "JP" },
    "ca-central-1": { country: "CA", state: "QC" },
    "ca-west-1": { country: "CA", state: "AB" },
    "eu-central-1": { country: "DE", state: "HE" }, // Hessen
    "eu-central-2": { country: "CH", state: "ZH" },
    "eu-north-1": { country: "SE" },
    "eu-south-1": { country: "IT", state: "25" }, // Lombardy
    "eu-south-2": { country: "ES", state: "AR" }, // Aragón
    "eu-west-1": { country: "IE" },
    "eu-west-2": { country: "GB", state: "ENG" },
    "eu-west-3": { country: "FR" },
    "il-central-1": { country: "IL" },
    "me-central-1": { country: "AE" },
    "me-south-1": { country: "BH" },
    "mx-central-1": { country: "MX" },
    "sa-east-1": { country: "BR", state: "SP" },
    "us-gov-east-1": { country: "US", state: "OH" },
    "us-gov-west-1": { country: "US", state: "OR" },
    "cn-north-1": { country: "CN" },
    "cn-northwest-1": { country: "CN" },
  });

/**
 * Per-region replacements for the built-in tables: a region AWS launched after this table, an
 * organisation that runs a region on another zone's business hours, or `holidays: false` to
 * ignore holidays in a region even where a policy asks for them.
 */
export type RegionOverrides = Record<
  string,
  { timeZone?: string; holidays?: { country: string; state?: string } | false }
>;

// The same rule as pipeline.ts's REGION_PATTERN, repeated rather than imported: pipeline.ts
// imports this module (for its `timeWindows` fields), and a cycle would leave one side's
// constants uninitialised at load time.
const REGION_NAME = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$/;

function isTimeZone(zone: string): boolean {
  // Intl also takes offsets such as "+05:00" on newer runtimes; an offset has no DST and no
  // name, so it is not what an override means.
  if (!/^[A-Za-z]/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch (err) {
    if (err instanceof RangeError) return false;
    throw err;
  }
}

const holidayIndex = new Holidays();
const knownCountries = (): Record<string, string> => holidayIndex.getCountries("en") ?? {};
const knownStates = (country: string): Record<string, string> =>
  holidayIndex.getStates(country, "en") ?? {};

const holidayCalendarSchema = z
  .object({
    country: z
      .string({ error: "must be a country code such as US" })
      .refine((c) => Object.hasOwn(knownCountries(), c), {
        error: "must be a country code known to date-holidays, such as US or DE",
      }),
    state: z.string({ error: "must be a state code such as VA" }).optional(),
  })
  .strict()
  .superRefine((cal, ctx) => {
    if (cal.state === undefined) return;
    const states = knownStates(cal.country);
    if (!Object.hasOwn(states, cal.state)) {
      const known = Object.keys(states);
      ctx.addIssue({
        code: "custom",
        path: ["state"],
        message: known.length
          ? `must be a state of ${cal.country} known to date-holidays: ${known.join(", ")}`
          : `must be absent: date-holidays has no states for ${cal.country}`,
      });
    }
  });

/** Validates {@link RegionOverrides}: real IANA zones, countries and states date-holidays knows. */
export const regionOverridesSchema = z.record(
  z.string().regex(REGION_NAME),
  z
    .object({
      timeZone: z
        .string({ error: "must be an IANA time zone such as Europe/Berlin" })
        .refine(isTimeZone, { error: "must be an IANA time zone such as Europe/Berlin" })
        .optional(),
      holidays: z
        .union([z.literal(false), holidayCalendarSchema], {
          error: 'must be false or { "country": "US", "state": "VA" } (state optional)',
        })
        .optional(),
    })
    .strict(),
  {
    error: (issue) =>
      issue.code === "invalid_key"
        ? "must be an AWS region name such as us-east-1"
        : "must be an object of region overrides",
  },
);

/** Raised for a region with neither a built-in entry nor an override; a configuration fault. */
export class UnknownRegionError extends BreakwaterError {
  override name = "UnknownRegionError";
}

/**
 * The IANA time zone whose wall clock a region's weekly windows and holidays use: the
 * override's if any, else the built-in table's.
 *
 * @throws {UnknownRegionError} when the region is in neither — guessing a zone would open a
 *   window at the wrong hour, so the caller must add an override.
 * @example
 * regionTimeZone("eu-north-1"); // "Europe/Stockholm"
 * regionTimeZone("eu-north-1", { "eu-north-1": { timeZone: "Europe/Helsinki" } }); // "Europe/Helsinki"
 */
export function regionTimeZone(region: string, overrides?: RegionOverrides): string {
  const zone = overrides?.[region]?.timeZone ?? REGION_TIME_ZONES[region];
  if (zone === undefined) {
    throw new UnknownRegionError(
      `unknown region "${region}": no built-in time zone; add an override such as { "${region}": { "timeZone": "Europe/Berlin" } }`,
    );
  }
  return zone;
}

/**
 * The public-holiday calendar of a region: the override's if any, else the built-in table's;
 * `undefined` when an override says `holidays: false` (the region observes none).
 *
 * @throws {UnknownRegionError} when the region is in neither table nor overridden.
 * @example
 * regionHolidayCalendar("us-east-1"); // { country: "US", state: "VA" }
 * regionHolidayCalendar("us-east-1", { "us-east-1": { holidays: false } }); // undefined
 */
export function regionHolidayCalendar(
  region: string,
  overrides?: RegionOverrides,
): HolidayCalendar | undefined {
  const override = overrides?.[region]?.holidays;
  if (override === false) return undefined;
  const calendar = override ?? REGION_HOLIDAY_CALENDARS[region];
  if (calendar === undefined) {
    throw new UnknownRegionError(
      `unknown region "${region}": no built-in holiday calendar; add an override such as { "${region}": { "holidays": { "country": "DE", "state": "BE" } } } or { "holidays": false }`,
    );
  }
  return calendar.state === undefined
    ? { country: calendar.country }
    : { country: calendar.country, state: calendar.state };
}

// ---------------------------------------------------------------------------------------------
// Local wall-clock time
// ---------------------------------------------------------------------------------------------

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23", // never "24:xx" at midnight
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * The zone's UTC offset at instant `t`, in ms: local wall-clock time (read as if it were UTC)
 * minus the instant. Everything else works on `t + offset`, plain arithmetic, so Intl is asked
 * only for offsets — about once per day of search — and never for the inverse (wall clock to
 * instant), which is ambiguous or undefined around DST changes.
 */
function offsetAt(zone: string | undefined, t: number): number {
  if (zone === undefined) return 0;
  const fields: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(t)) {
    if (part.type !== "literal") fields[part.type] = Number(part.value);
  }
  const wall = Date.UTC(
    fields.year ?? 1970,
    (fields.month ?? 1) - 1,
    fields.day ?? 1,
    fields.hour ?? 0,
    fields.minute ?? 0,
    fields.second ?? 0,
  );
  // Intl has no milliseconds; offsets are whole seconds, so compare with the whole second.
  return wall - Math.floor(t / 1000) * 1000;
}

/**
 * The first instant after `lo` (where the offset is `offsetLo`) and at or before `hi` (where
 * it differs) at which the zone's offset changes. Binary search over whole seconds: tz
 * transitions fall on whole seconds, so the result is exact.
 */
function findTransition(zone: string | undefined, lo: number, hi: number, offsetLo: number) {
  let loS = Math.floor(lo / 1000);
  let hiS = Math.floor(hi / 1000);
  while (hiS - loS > 1) {
    const mid = Math.floor((loS + hiS) / 2);
    if (offsetAt(zone, mid * 1000) === offsetLo) loS = mid;
    else hiS = mid;
  }
  return hiS * 1000;
}

interface LocalTime {
  /** Days since 1970-01-01 of the local date. */
  day: number;
  /** Minute of the local day, 0..1439. */
  minute: number;
  /** 0 = Monday ... 6 = Sunday. */
  weekday: number;
}

function localTime(t: number, offset: number): LocalTime {
  const wall = t + offset;
  const day = Math.floor(wall / DAY_MS);
  const minute = Math.floor((wall - day * DAY_MS) / MINUTE_MS);
  // 1970-01-01 was a Thursday (index 3 counting from Monday).
  const weekday = (((day + 3) % 7) + 7) % 7;
  return { day, minute, weekday };
}

const isoDate = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
const hhmm = (minute: number) =>
  `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;

// ---------------------------------------------------------------------------------------------
// Holidays
// ---------------------------------------------------------------------------------------------

const calendars = new Map<string, Holidays>();
/** calendar key → year → local date (YYYY-MM-DD) → holiday names. */
const holidayDays = new Map<string, Map<number, Map<string, string[]>>>();

const calendarKey = (c: HolidayCalendar) => (c.state ? `${c.country}-${c.state}` : c.country);

/** Public holidays of one year, by local date; a multi-day holiday fills each of its days. */
function publicHolidays(calendar: HolidayCalendar, year: number): Map<string, string[]> {
  const key = calendarKey(calendar);
  let years = holidayDays.get(key);
  if (!years) {
    years = new Map();
    holidayDays.set(key, years);
  }
  let days = years.get(year);
  if (days) return days;
  let hd = calendars.get(key);
  if (!hd) {
    hd = calendar.state
      ? new Holidays(calendar.country, calendar.state)
      : new Holidays(calendar.country);
    calendars.set(key, hd);
  }
  days = new Map();
  for (const h of hd.getHolidays(year, "en")) {
    // Bank holidays, observances and optional days do not close a region; public ones do.
    if (h.type !== "public") continue;
    // `date` is the holiday's local date and start time ("2026-12-24 19:00:00", sometimes with
    // a suffix such as " -0600" for holidays that begin the evening before). A holiday blocks
    // whole local days: from that date, for as many days as its start time plus duration
    // reaches (rounded, so a 23 h or 25 h day across a DST change is still one day).
    const first = Date.parse(`${h.date.slice(0, 10)}T00:00:00Z`) / DAY_MS;
    const startMinute = minutesOf(h.date.slice(11, 16));
    const durationMinutes = (h.end.getTime() - h.start.getTime()) / MINUTE_MS;
    const count = Math.max(1, Math.round((startMinute + durationMinutes) / 1440));
    for (let i = 0; i < count; i++) {
      const date = isoDate(first + i);
      const names = days.get(date);
      if (!names) days.set(date, [h.name]);
      else if (!names.includes(h.name)) names.push(h.name);
    }
  }
  years.set(year, days);
  return days;
}

/** Names of the public holidays on a local date ([] if none). */
function holidaysOn(calendar: HolidayCalendar, day: number): string[] {
  const date = isoDate(day);
  const year = Number(date.slice(0, 4));
  // A multi-day holiday that starts late in December spills into the next year.
  return [
    ...(publicHolidays(calendar, year - 1).get(date) ?? []),
    ...(publicHolidays(calendar, year).get(date) ?? []),
  ];
}

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
 * @example
 * const policy = timeWindowsSchema.parse({
 *   allowed: [{ days: ["mon", "tue", "wed", "thu", "fri"], from: "09:00", to: "17:00" }],
 * });
 * checkTimeWindows(policy, "eu-north-1", new Date("2026-03-07T17:02:00Z"));
 * // { allowed: false, kind: "outside-window",
 * //   reason: "outside the allowed window (mon-fri 09:00-17:00 Europe/Stockholm); local time is Sat 18:02",
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
  const { kind, reason } = explain(block, policy, region, rules);
  return until ? { allowed: false, kind, reason, until } : { allowed: false, kind, reason };
}
