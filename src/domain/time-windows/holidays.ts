/**
 * Public holidays of a region's calendar, from the `date-holidays` package (its data is bundled
 * JavaScript; no install script, no network). The package and the moment-timezone it depends on
 * are over 1 MB minified and take most of a cold start to load, so they are loaded lazily: the one
 * caller that judges holidays (the gate, src/app/stage-steps/gate.ts) awaits {@link loadHolidayCalendars}
 * first; the synchronous evaluation then reads them.
 */
import type HolidaysClass from "date-holidays";
import { BreakwaterError } from "../errors.ts";
import type { HolidayCalendar } from "./regions.ts";
import { minutesOf } from "./schema.ts";
import { DAY_MS, isoDate, MINUTE_MS } from "./zones.ts";

type Holidays = HolidaysClass;
let HolidaysCtor: typeof HolidaysClass | undefined;
let loading: Promise<void> | undefined;

/** Raised when holidays are judged before {@link loadHolidayCalendars} finished; a wiring fault. */
export class HolidayCalendarsNotLoadedError extends BreakwaterError {
  override name = "HolidayCalendarsNotLoadedError";
}

/**
 * Loads the holiday calendars (once; later calls return the same promise). Await it before
 * {@link checkTimeWindows} judges a policy with `holidays: true`.
 *
 * @example
 * await loadHolidayCalendars();
 * checkTimeWindows({ holidays: true }, "us-east-1", new Date("2026-12-25T15:00:00Z")); // blocked
 */
export function loadHolidayCalendars(): Promise<void> {
  loading ??= import("date-holidays").then(
    (m) => {
      HolidaysCtor = m.default;
    },
    (err: unknown) => {
      loading = undefined; // a failed load may be retried by the next caller
      throw err;
    },
  );
  return loading;
}

function holidaysFor(calendar: HolidayCalendar): Holidays {
  // Fail closed: without the calendars a holiday cannot be told from a working day.
  if (!HolidaysCtor) {
    throw new HolidayCalendarsNotLoadedError(
      "holiday calendars are not loaded: await loadHolidayCalendars() before checkTimeWindows judges holidays",
    );
  }
  return calendar.state
    ? new HolidaysCtor(calendar.country, calendar.state)
    : new HolidaysCtor(calendar.country);
}

const calendars = new Map<string, Holidays>();
/** calendar key → year → local date (YYYY-MM-DD) → holiday names. */
const holidayDays = new Map<string, Map<number, Map<string, string[]>>>();

/** "US-VA", or "SE" for a calendar without states: the cache key and the name in reasons. */
export const calendarKey = (c: HolidayCalendar) =>
  c.state ? `${c.country}-${c.state}` : c.country;

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
    hd = holidaysFor(calendar);
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
export function holidaysOn(calendar: HolidayCalendar, day: number): string[] {
  const date = isoDate(day);
  const year = Number(date.slice(0, 4));
  // A multi-day holiday that starts late in December spills into the next year.
  return [
    ...(publicHolidays(calendar, year - 1).get(date) ?? []),
    ...(publicHolidays(calendar, year).get(date) ?? []),
  ];
}
