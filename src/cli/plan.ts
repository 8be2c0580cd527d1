/**
 * `breakwater plan`: the expected schedule of a healthy run, computed from the pipeline alone
 * (src/domain/schedule.ts): no DynamoDB, no state machine interpreter, no fleet.
 */
import type { Command } from "commander";
import { Option } from "commander";
import type { Pipeline } from "../domain/pipeline.ts";
import {
  type BlastRadius,
  planSchedule,
  type Schedule,
  type ScheduledStep,
  usesHolidays,
} from "../domain/schedule.ts";
import { scopeGlobProblem, scopeMatcher } from "../domain/scope.ts";
import { loadHolidayCalendars } from "../domain/time-windows/index.ts";
import { loadInstallationFile, loadPipelineFile } from "../pipeline-file.ts";
import { elapsed, formatDuration, formatSeconds } from "./render.ts";

interface PlanFlags {
  pipeline: string;
  start?: string;
  json?: boolean;
  traffic: string[];
  config?: string;
}

/** The parsers `simulate` uses, passed in by main.ts (one parser per flag, shared). */
export interface PlanParsers {
  parseStart(value: string | undefined): Date;
  parseTraffic(value: string): { scopes: string; requestsPerMinute: number };
  usageError(message: string): Error;
}

/** A scope's requests per minute from `--traffic` (first matching glob wins, as in the fleet). */
function trafficOf(
  traffic: { scopes: string; requestsPerMinute: number }[],
): ((scope: string) => number | undefined) | undefined {
  if (traffic.length === 0) return undefined;
  const rules = traffic.map((t) => ({ match: scopeMatcher(t.scopes), rpm: t.requestsPerMinute }));
  return (scope) => rules.find((r) => r.match(scope))?.rpm;
}

/** Regions, AZs and traffic exposed so far (empty for a pre-production step). */
const blastCells = (b: BlastRadius | undefined): string[] =>
  b
    ? [
        `${b.regions.exposed}/${b.regions.total}`,
        b.azs.total ? `${b.azs.exposed}/${b.azs.total}` : "-",
        `${b.trafficPercent}%`,
      ]
    : ["", "", ""];

function stepRow(start: Date, s: ScheduledStep): string[] {
  const kind = s.kind === "one-box" ? `one-box ${s.percent}%` : "full";
  const bake =
    s.bakeExtendedMinutes !== undefined
      ? `${s.bakeMinutes} min +${s.bakeExtendedMinutes} (minRequests)`
      : `${s.bakeMinutes} min`;
  return [
    s.deployStartedAt ? elapsed(start, s.deployStartedAt) : "never",
    s.scope,
    kind,
    formatSeconds(s.deploySeconds),
    bake,
    s.bakeEndsAt ? elapsed(start, s.bakeEndsAt) : "-",
    ...blastCells(s.blast),
  ];
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] as number))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)].join("\n");
}

/** The human form: one row per step, the waits under their step, then the totals. */
export function renderPlan(schedule: Schedule): string {
  const start = new Date(schedule.startedAt);
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const s of schedule.steps) {
    rows.push(stepRow(start, s));
    for (const w of s.waits) {
      notes.push(
        `  ${s.scope}: waits from ${elapsed(start, w.from)}${w.until ? ` until ${w.until} (${elapsed(start, w.until)})` : ""}: ${w.reason}`,
      );
    }
  }
  const out = [
    `Plan: ${schedule.pipeline}, from ${schedule.startedAt}`,
    `stages: ${schedule.stages.map((s) => `${s.stage} ${elapsed(start, s.startedAt)}${s.finishedAt ? `..${elapsed(start, s.finishedAt)}` : ""}`).join(", ")}`,
    "",
    table(["start", "scope", "step", "deploy", "bake", "ends", "regions", "AZs", "traffic"], rows),
    "",
    "(regions, AZs, traffic: the share of production exposed to the new version once the step has deployed)",
    "",
  ];
  if (notes.length) out.push("waits (time windows and holidays):", ...notes, "");
  if (schedule.stoppedAt) {
    out.push(`does not finish: ${schedule.stoppedAt.scope}: ${schedule.stoppedAt.reason}`);
  } else {
    out.push(
      `expected end: ${schedule.finishedAt} (${elapsed(start, schedule.finishedAt as string)})`,
      `total: ${formatDuration(schedule.totalSeconds as number)} (${schedule.totalSeconds} s)`,
    );
  }
  out.push(...schedule.assumptions.map((a) => `assumes ${a}`));
  return `${out.join("\n")}\n`;
}

async function runPlan(
  flags: PlanFlags,
  out: NodeJS.WritableStream,
  parsers: PlanParsers,
): Promise<number> {
  const start = parsers.parseStart(flags.start);
  const traffic = flags.traffic.map((t) => parsers.parseTraffic(t));
  const pipeline: Pipeline = await loadPipelineFile(flags.pipeline);
  for (const t of traffic) {
    const problem = scopeGlobProblem(t.scopes, pipeline);
    if (problem) throw parsers.usageError(`--traffic "${t.scopes}": ${problem}`);
  }
  const installation = flags.config ? await loadInstallationFile(flags.config) : undefined;
  // The calendars are over 1 MB: loaded only when a policy judges holidays.
  if (usesHolidays(pipeline)) await loadHolidayCalendars();
  const rpm = trafficOf(traffic);
  const schedule = planSchedule(pipeline, {
    start,
    ...(installation?.regions ? { regionOverrides: installation.regions } : {}),
    ...(rpm ? { requestsPerMinute: rpm } : {}),
  });
  out.write(flags.json ? `${JSON.stringify(schedule, null, 2)}\n` : renderPlan(schedule));
  return 0;
}

export function registerPlanCommand(
  program: Command,
  io: { out: NodeJS.WritableStream },
  setCode: (code: number) => void,
  parsers: PlanParsers,
): void {
  program
    .command("plan")
    .description(
      "Print the expected schedule of a healthy run (every step's start, deploy and bake, the waits for time windows and holidays, the blast radius so far, the expected end), computed from the pipeline alone.",
    )
    .requiredOption("--pipeline <file>", "pipeline definition (.json or .ts)")
    .option("--start <iso-time>", "when the run starts (default: now)")
    .addOption(
      new Option(
        "--traffic <scope-glob=rpm>",
        "requests per minute in matching scopes: estimates bake.minRequests extensions and weighs the traffic share",
      )
        .argParser((v: string, prev: string[] = []) => [...prev, v])
        .default([]),
    )
    .option("--config <file>", "installation config (region time zones and holiday calendars)")
    .option("--json", "print the schedule as one JSON object")
    .action(async (flags: PlanFlags) => {
      setCode(await runPlan(flags, io.out, parsers));
    });
}
