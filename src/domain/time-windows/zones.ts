/**
 * Local wall-clock time of an IANA zone at an instant, from `Intl.DateTimeFormat` with
 * `timeZone` (the ICU time zone data Node ships; no moment-timezone).
 */
// ---------------------------------------------------------------------------------------------
// Local wall-clock time
// ---------------------------------------------------------------------------------------------

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
export const DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;

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
export function offsetAt(zone: string | undefined, t: number): number {
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
export function findTransition(zone: string | undefined, lo: number, hi: number, offsetLo: number) {
  let loS = Math.floor(lo / 1000);
  let hiS = Math.floor(hi / 1000);
  while (hiS - loS > 1) {
    const mid = Math.floor((loS + hiS) / 2);
    if (offsetAt(zone, mid * 1000) === offsetLo) loS = mid;
    else hiS = mid;
  }
  return hiS * 1000;
}

export interface LocalTime {
  /** Days since 1970-01-01 of the local date. */
  day: number;
  /** Minute of the local day, 0..1439. */
  minute: number;
  /** 0 = Monday ... 6 = Sunday. */
  weekday: number;
}

export function localTime(t: number, offset: number): LocalTime {
  const wall = t + offset;
  const day = Math.floor(wall / DAY_MS);
  const minute = Math.floor((wall - day * DAY_MS) / MINUTE_MS);
  // 1970-01-01 was a Thursday (index 3 counting from Monday).
  const weekday = (((day + 3) % 7) + 7) % 7;
  return { day, minute, weekday };
}

export const isoDate = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
export const hhmm = (minute: number) =>
  `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
