/**
 * Deployment time windows: one of the blockers of docs/design.md ("Blocker"). A policy says when a
 * deploy step may start in a region — weekly windows in the region's local wall-clock time,
 * the region's public holidays, and one-off freezes — and {@link checkTimeWindows} decides for
 * one region and one instant, and says when the answer next changes.
 *
 * - ./schema.ts: the policy schema (cheap: no calendars)
 * - ./regions.ts: region time zones, holiday calendars, per-region overrides
 * - ./zones.ts: local wall-clock time from `Intl`
 * - ./holidays.ts: public holidays from date-holidays, loaded lazily ({@link loadHolidayCalendars})
 * - ./evaluate.ts: the verdict
 */
export { checkTimeWindows, UNTIL_HORIZON_DAYS, type WindowVerdict } from "./evaluate.ts";
export { HolidayCalendarsNotLoadedError, loadHolidayCalendars } from "./holidays.ts";
export {
  type HolidayCalendar,
  REGION_HOLIDAY_CALENDARS,
  REGION_TIME_ZONES,
  type RegionOverrides,
  regionHolidayCalendar,
  regionOverridesSchema,
  regionTimeZone,
  UnknownRegionError,
} from "./regions.ts";
export {
  effectiveTimeWindows,
  type Freeze,
  freezeSchema,
  MAX_FREEZES,
  type TimeWindows,
  type TimeWindowsInput,
  timeWindowsSchema,
  WEEK_DAYS,
  type WeekDay,
} from "./schema.ts";
