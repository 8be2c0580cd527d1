/**
 * The one strict parser of times given as input (CLI flags, `+offsets`): ISO 8601 instants
 * whose calendar date exists (no 30 February silently becoming 2 March), in the years 1970 to
 * 9999 (beyond, `toISOString` changes shape and ordering by string breaks), and offsets that
 * are bounded (an offset of 10^11 days overflows a Date).
 */
import * as z from "zod";
import { BreakwaterError } from "./errors.ts";

/** The latest instant accepted: the end of the year 9999. */
export const MAX_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/** The earliest instant accepted: the Unix epoch. */
export const MIN_INSTANT_MS = Date.UTC(1970, 0, 1);
/**
 * The longest offset accepted: one year, the longest a Step Functions standard execution runs
 * (nothing a run does can be further ahead).
 */
export const MAX_OFFSET_MS = 365 * 86_400_000;

/** A time given as input is not one (the message says why, without the flag's name). */
export class TimeInputError extends BreakwaterError {
  override name = "TimeInputError";
  constructor(
    message: string,
    /** What is wrong: not a time at all, outside 1970-9999, or an offset too long. */
    readonly kind: "format" | "range" | "offset",
  ) {
    super(message);
  }
}

// zod checks the calendar (leap years, days per month) and the field ranges; with or without
// seconds, always with Z or an offset (a time without one would depend on the machine's zone).
const isoInstant = z.union([
  z.iso.datetime({ offset: true }),
  z.iso.datetime({ offset: true, precision: -1 }),
]);

/**
 * Parses an ISO 8601 instant with a date that exists and a year from 1970 to 9999.
 *
 * @example
 * parseInstant("2026-01-05T09:00:00Z") // 2026-01-05T09:00:00.000Z
 * parseInstant("2026-02-30T09:00:00Z") // throws TimeInputError
 */
export function parseInstant(text: string): Date {
  if (!isoInstant.safeParse(text).success) {
    throw new TimeInputError(
      "must be an ISO time with a date that exists and Z or an offset (2026-01-05T09:00:00Z)",
      "format",
    );
  }
  return inRange(new Date(Date.parse(text)));
}

function inRange(d: Date): Date {
  const ms = d.getTime();
  if (!(ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS)) {
    throw new TimeInputError("must be in the years 1970 to 9999", "range");
  }
  return d;
}

/**
 * `+90m`, `+3h`, `+1d2h30m`, `+45s`: an offset in milliseconds; undefined when `text` is not
 * written as an offset; throws {@link TimeInputError} for one longer than a year.
 *
 * @example
 * parseOffset("+1d2h") // 93_600_000
 */
export function parseOffset(text: string): number | undefined {
  const m = /^\+(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!m || text === "+") return undefined;
  const tooLong = new TimeInputError("must be an offset of at most 365 days (+365d)", "offset");
  // Nine digits per part keep every product below exact in a double.
  if (m.slice(1).some((x) => x !== undefined && x.length > 9)) throw tooLong;
  const [d, h, min, sec] = [m[1], m[2], m[3], m[4]].map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  const ms = ((d * 24 + h) * 60 + min) * 60_000 + sec * 1000;
  if (ms > MAX_OFFSET_MS) throw tooLong;
  return ms;
}

/**
 * An ISO instant, or a `+offset` from `base`; the result lies in the years 1970 to 9999.
 *
 * @example
 * parseTimeOrOffset("+90m", new Date("2026-01-05T09:00:00Z")) // 2026-01-05T10:30:00.000Z
 */
export function parseTimeOrOffset(text: string, base: Date): Date {
  const offset = parseOffset(text);
  if (offset !== undefined) return inRange(new Date(base.getTime() + offset));
  return parseInstant(text);
}
