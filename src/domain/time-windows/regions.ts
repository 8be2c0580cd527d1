/**
 * Regions: the IANA time zone and public-holiday calendar of every AWS region, and the schema of
 * an installation's per-region overrides. Validating an override's country and state uses the
 * generated table of ./holiday-regions.ts, not date-holidays itself, so the installation schema
 * (imported by the GitHub webhook) does not carry the calendars.
 */
import * as z from "zod";
import { BreakwaterError } from "../errors.ts";
import { HOLIDAY_REGIONS } from "./holiday-regions.ts";

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

const holidayCalendarSchema = z
  .object({
    country: z
      .string({ error: "must be a country code such as US" })
      .refine((c) => Object.hasOwn(HOLIDAY_REGIONS, c), {
        error: "must be a country code known to date-holidays, such as US or DE",
      }),
    state: z.string({ error: "must be a state code such as VA" }).optional(),
  })
  .strict()
  .superRefine((cal, ctx) => {
    if (cal.state === undefined) return;
    const known = Object.hasOwn(HOLIDAY_REGIONS, cal.country)
      ? (HOLIDAY_REGIONS[cal.country] ?? [])
      : [];
    if (!known.includes(cal.state)) {
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
