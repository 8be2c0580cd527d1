/**
 * The inputs of `breakwater metrics` (and serve's `GET /metrics`): `pipeline` and `since`,
 * checked once here so the local and the deployed control plane refuse the same input with the
 * same message.
 */
import { DEFAULT_DORA_DAYS, type DoraReport } from "../domain/dora.ts";
import { InvalidInputError } from "../domain/errors.ts";
import type { StateStore } from "../domain/ports.ts";
import { parseInstant, parseOffset, TimeInputError } from "../domain/time-input.ts";
import { collectMetrics } from "./dashboard.ts";

const SINCE_HELP =
  "must be a duration back from now (30d, 12h, at most 365d) or an ISO time (2026-11-01T00:00:00Z) in the past";

/**
 * `since`: how far back the figures look. `30d`/`+30d` is that long before `now`; an ISO time
 * is taken as is. Absent: {@link DEFAULT_DORA_DAYS} days.
 *
 * @example
 * parseSince("7d", new Date("2026-12-02T00:00:00Z")) // 2026-11-25T00:00:00.000Z
 */
export function parseSince(text: string | undefined, now: Date): Date {
  if (text === undefined || text === "") {
    return new Date(now.getTime() - DEFAULT_DORA_DAYS * 86_400_000);
  }
  const bad = () =>
    new InvalidInputError(`since: ${SINCE_HELP}`, [{ path: "since", message: SINCE_HELP }]);
  let at: Date;
  try {
    const offset =
      /^\+?\d/.test(text) && !/^\d{4}-/.test(text)
        ? parseOffset(text.startsWith("+") ? text : `+${text}`)
        : undefined;
    if (offset !== undefined) at = new Date(now.getTime() - offset);
    else at = parseInstant(text);
  } catch (err) {
    if (err instanceof TimeInputError) throw bad();
    throw err;
  }
  if (at.getTime() >= now.getTime()) throw bad();
  return at;
}

const PIPELINE_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

/** The DORA figures for `?pipeline=&since=` at `now`. */
export async function metricsQuery(
  store: StateStore,
  query: URLSearchParams,
  now: Date,
): Promise<DoraReport> {
  const pipeline = query.get("pipeline") ?? undefined;
  if (pipeline !== undefined && !PIPELINE_NAME.test(pipeline)) {
    const message = "must be a pipeline name (lowercase letters, digits and hyphens, at most 40)";
    throw new InvalidInputError(`pipeline: ${message}`, [{ path: "pipeline", message }]);
  }
  const since = parseSince(query.get("since") ?? undefined, now);
  return collectMetrics(store, { now, since, ...(pipeline ? { pipeline } : {}) });
}
