/**
 * The time-window policy schema (weekly windows, holidays, freezes) of pipeline steps. Cheap to
 * import: no holiday calendars (those load only where a window is judged, ./holidays.ts).
 */
import * as z from "zod";

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

/** The most freezes one list (a pipeline's, a stage's, the organisation's) may hold. */
export const MAX_FREEZES = 200;

export const freezeSchema = z
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
      .max(MAX_FREEZES, { error: `must list at most ${MAX_FREEZES} freezes` })
      .optional()
      .describe("One-off intervals [from, to) in which no step may start, whatever the windows."),
  })
  .strict();

/** A time-window policy as written (optional fields may be absent). */
export type TimeWindowsInput = z.input<typeof timeWindowsSchema>;
/** A validated time-window policy. */
export type TimeWindows = z.output<typeof timeWindowsSchema>;

export type Freeze = z.output<typeof freezeSchema>;

/**
 * The policy a deploy step of one stage is judged by. A stage's own `timeWindows` replaces the
 * pipeline's allowed windows and holidays (a stage may deploy at other hours), but freezes only
 * add up: the organisation's, the pipeline's and the stage's all hold. Replacing the whole
 * policy, as before, silently dropped the pipeline's freezes for any stage with its own windows.
 *
 * @example
 * effectiveTimeWindows({ freezes: [f1] }, { allowed: [w] }, [org]);
 * // → { allowed: [w], freezes: [org, f1] }
 */
export function effectiveTimeWindows(
  pipeline: TimeWindows | undefined,
  stage: TimeWindows | undefined,
  organisation: readonly Freeze[] = [],
): TimeWindows | undefined {
  const base = stage ?? pipeline;
  const freezes = [...organisation, ...(pipeline?.freezes ?? []), ...(stage?.freezes ?? [])];
  if (!base && freezes.length === 0) return undefined;
  const { freezes: _own, ...windows } = base ?? {};
  return freezes.length > 0 ? { ...windows, freezes } : windows;
}

/** Minutes since midnight of a validated HH:MM (24:00 is 1440). */
export function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}
