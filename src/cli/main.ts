/**
 * The `breakwater` command line. Exit codes:
 *   0 success (the newest version's run succeeded, or was superseded or cancelled), 1 internal
 *   error, 2 bad input, 3 the run rolled back, 4 the run halted without a rollback (inconclusive
 *   bake, or stopped behind an older halted version) or was still blocked at the simulation
 *   horizon, 5 with --expect: the outcome was not the expected one,
 *   6 (status, history, override) the control plane could not be reached.
 * serve, status, history and override live in ./ops.ts (2: bad input or a refused request).
 */
import { readFileSync } from "node:fs";
import { rename, stat, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { Command, CommanderError, Option } from "commander";
import type { ManualBlock } from "../domain/blockers.ts";
import { BreakwaterError } from "../domain/errors.ts";
import { DECISION_ACTIONS } from "../domain/override.ts";
import { clip, PipelineValidationError } from "../domain/pipeline.ts";
import { scopeGlobProblem } from "../domain/scope.ts";
import {
  MAX_INSTANT_MS,
  parseInstant,
  parseOffset,
  parseTimeOrOffset,
  TimeInputError,
} from "../domain/time-input.ts";
import type { AlarmInterval } from "../local/alarms.ts";
import type { FaultKind, FaultSpec } from "../local/fleet.ts";
import {
  type Arrival,
  checkSimulationInput,
  DEFAULT_HORIZON_MS,
  type ScriptedDecision,
  SimulationInputError,
  type SimulationResult,
  simulate,
} from "../local/simulate.ts";
import { loadInstallationFile, loadPipelineFile } from "../pipeline-file.ts";
import { registerCompletionCommand } from "./completion.ts";
import { type DashboardCommandOptions, registerDashboardCommand } from "./dashboard.ts";
import { registerLintCommand } from "./lint.ts";
import { registerMetricsCommand } from "./metrics.ts";
import { localNotifiers } from "./notifiers.ts";
import { type OpsCommandOptions, registerOpsCommands } from "./ops.ts";
import { registerPipelinesCommands } from "./pipelines.ts";
import { registerPlanCommand } from "./plan.ts";
import { ProgressView, renderScopeTable } from "./render.ts";
import { renderReport } from "./report.ts";
import { registerRunCommands } from "./run-commands.ts";

export const EXIT = {
  ok: 0,
  internal: 1,
  badInput: 2,
  rolledBack: 3,
  halted: 4,
  unexpected: 5,
  unreachable: 6,
} as const;

class UsageError extends BreakwaterError {
  override name = "UsageError";
}

/** The package's version (read from package.json next to the sources, also in the bundle). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  return String(pkg.version);
}

const FAULT_KINDS: FaultKind[] = ["faults", "latency", "traffic-drop", "tests", "canary"];

/**
 * `--fault [<version>:]<scope-glob>[:<kind>]`. The version prefix names one of the `--version`
 * values (default: the first one).
 */
export function parseFault(value: string, versions: string[] = []): FaultSpec {
  const first = value.indexOf(":");
  const prefix = first > 0 ? value.slice(0, first) : undefined;
  const version = prefix !== undefined && versions.includes(prefix) ? prefix : undefined;
  const rest = version !== undefined ? value.slice(first + 1) : value;
  const i = rest.lastIndexOf(":");
  const [glob, kind] = i >= 0 ? [rest.slice(0, i), rest.slice(i + 1)] : [rest, "faults"];
  if (!FAULT_KINDS.includes(kind as FaultKind)) {
    throw new UsageError(
      `--fault "${value}": unknown fault kind "${kind}" (use ${FAULT_KINDS.join(", ")})`,
    );
  }
  if (!glob)
    throw new UsageError(`--fault "${value}": needs a scope glob such as 'prod-2/us-east-1/*'`);
  return { scopes: glob, kind: kind as FaultKind, ...(version ? { version } : {}) };
}

/** `--version <version>[@<when>]`: a version arriving at the start, or at an offset/ISO time. */
export function parseArrival(value: string, start: Date): Arrival {
  const i = value.indexOf("@");
  if (i < 0) return { version: value, at: start };
  if (i === 0) throw new UsageError(`--version "${value}": must be <version>[@<when>]`);
  return {
    version: value.slice(0, i),
    at: parseWhen(value.slice(i + 1), start, "--version", value),
  };
}

const DECISIONS = DECISION_ACTIONS;

/** `--decide <action>[:<version>]@<when>`: the engineer's decision, scripted. */
export function parseDecision(value: string, start: Date): ScriptedDecision {
  const i = value.lastIndexOf("@");
  if (i <= 0) {
    throw new UsageError(
      `--decide "${value}": must be <${DECISIONS.join("|")}>[:<version>]@<when> (for example rollback-all@+6h)`,
    );
  }
  const [named, version, ...extra] = value.slice(0, i).split(":");
  // rollback-all!fast: every scope at once (the decision's fast: true).
  const fast = named === "rollback-all!fast";
  const action = fast ? "rollback-all" : named;
  if (!DECISIONS.includes(action as never) || extra.length > 0 || version === "") {
    throw new UsageError(
      `--decide "${value}": the action must be one of ${DECISIONS.join(", ")} (or rollback-all!fast), optionally with :<version>`,
    );
  }
  return {
    action: action as ScriptedDecision["action"],
    ...(version ? { version } : {}),
    ...(fast ? { fast: true } : {}),
    at: parseWhen(value.slice(i + 1), start, "--decide", value),
  };
}

/**
 * An ISO time or a `+offset` from the start, through the one strict parser
 * (`src/domain/time-input.ts`): a date that exists, years 1970-9999, offsets up to a year.
 */
export function parseWhen(text: string, start: Date, flag: string, whole: string): Date {
  if (looksLikeOffset(text) || /^\d{4}-\d{2}-\d{2}T/.test(text)) {
    try {
      return parseTimeOrOffset(text, start);
    } catch (err) {
      if (err instanceof TimeInputError) {
        throw new UsageError(`${flag} "${clip(whole)}": "${clip(text)}" ${err.message}`);
      }
      throw err;
    }
  }
  throw new UsageError(
    `${flag} "${clip(whole)}": "${clip(text)}" must be an ISO time (2026-01-05T09:00:00Z) or an offset from --start (+90m, +3h, +1d2h)`,
  );
}

/** Whether `text` is written as an offset (whatever its size). */
function looksLikeOffset(text: string): boolean {
  return /^\+\d/.test(text);
}

/** `from..to` or `from` (open-ended); both ISO times or offsets. */
function parseInterval(
  text: string,
  start: Date,
  flag: string,
  whole: string,
): { from: Date; to?: Date } {
  const [a, b, ...rest] = text.split("..");
  if (!a || rest.length > 0 || b === "") {
    throw new UsageError(`${flag} "${whole}": the interval must be <from> or <from>..<to>`);
  }
  const from = parseWhen(a, start, flag, whole);
  if (b === undefined) return { from };
  const to = parseWhen(b, start, flag, whole);
  if (to.getTime() <= from.getTime())
    throw new UsageError(`${flag} "${whole}": the end must be after the start`);
  return { from, to };
}

/** `--alarm <name>@<from>[..<to>]`: the alarm is in ALARM during that interval. */
export function parseAlarm(value: string, start: Date): AlarmInterval {
  const i = value.lastIndexOf("@");
  if (i <= 0) throw new UsageError(`--alarm "${value}": must be <alarm name>@<from>[..<to>]`);
  return { name: value.slice(0, i), ...parseInterval(value.slice(i + 1), start, "--alarm", value) };
}

/**
 * The most requests per minute `--traffic` takes for one scope (about 17,000 a second): far
 * above what a one-box step sees, small enough that the simulated fleet and the anomaly
 * detector's exact binomial tail stay fast.
 */
export const MAX_TRAFFIC_RPM = 1_000_000;

/** `--traffic <scope-glob>=<requests per minute>`. */
export function parseTraffic(value: string): { scopes: string; requestsPerMinute: number } {
  const i = value.lastIndexOf("=");
  const text = value.slice(i + 1);
  const rpm = /^\d{1,7}$/.test(text) ? Number(text) : Number.NaN;
  if (i <= 0 || !Number.isInteger(rpm) || rpm < 0 || rpm > MAX_TRAFFIC_RPM) {
    throw new UsageError(
      `--traffic "${clip(value)}": must be <scope-glob>=<requests per minute, a whole number from 0 to ${MAX_TRAFFIC_RPM}>`,
    );
  }
  return { scopes: value.slice(0, i), requestsPerMinute: rpm };
}

/** `--block <org|pipeline|scope-glob>[@<from>[..<to>]]`: a manual block (stop the line). */
export function parseBlock(value: string, start: Date, pipeline: string): ManualBlock {
  const i = value.lastIndexOf("@");
  const target = i < 0 ? value : value.slice(0, i);
  const interval =
    i < 0 ? { from: start } : parseInterval(value.slice(i + 1), start, "--block", value);
  if (!target) throw new UsageError(`--block "${value}": must name org, pipeline or a scope glob`);
  const base = {
    scheduled: true,
    reason: "blocked from the command line",
    actor: "simulate",
    createdAt: start.toISOString(),
    from: interval.from.toISOString(),
    ...(interval.to ? { to: interval.to.toISOString() } : {}),
  };
  if (target === "org") return { level: "org", target: "", ...base };
  if (target === "pipeline") return { level: "pipeline", target: pipeline, ...base };
  return { level: "scope", target: `${pipeline}:${target}`, ...base };
}

export function parseStart(value: string | undefined, now = new Date()): Date {
  if (value === undefined) return new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  try {
    return parseInstant(value);
  } catch (err) {
    if (!(err instanceof TimeInputError)) throw err;
    throw new UsageError(
      `--start "${clip(value)}": ${err.kind === "range" ? err.message : "must be an ISO time such as 2026-01-05T09:00:00Z, with a date that exists"}`,
    );
  }
}

interface SimulateFlags {
  pipeline: string;
  fromVersion: string;
  version: string[];
  decide: string[];
  fault: string[];
  alarm: string[];
  traffic: string[];
  block: string[];
  config?: string;
  horizon?: string;
  notifications?: boolean;
  slackUrl?: string;
  start?: string;
  json?: boolean;
  report?: string;
  expect?: string;
}

/**
 * `--report`: checked before the simulation starts (bad input runs nothing): an .html file in
 * a folder that exists.
 */
async function checkReportPath(path: string): Promise<void> {
  if (!/\.html?$/i.test(path)) {
    throw new UsageError(`--report "${clip(path)}": must name an .html file`);
  }
  const folder = await stat(dirname(resolve(path))).catch(() => undefined);
  if (!folder?.isDirectory()) {
    throw new UsageError(`--report "${clip(path)}": the folder ${dirname(path)} does not exist`);
  }
}

/** Written whole or not at all: a temporary file beside it, then a rename. */
async function writeReport(path: string, html: string): Promise<void> {
  const tmp = `${resolve(path)}.${process.pid}.tmp`;
  await writeFile(tmp, html, "utf8");
  await rename(tmp, resolve(path));
}

const OUTCOMES = ["succeeded", "rolled-back", "halted", "blocked", "superseded", "cancelled"];

function exitCodeFor(result: SimulationResult, expected?: string): number {
  if (expected !== undefined) return result.outcome === expected ? EXIT.ok : EXIT.unexpected;
  if (result.outcome === "succeeded") return EXIT.ok;
  if (result.outcome === "rolled-back") return EXIT.rolledBack;
  if (result.outcome === "halted" || result.outcome === "blocked") return EXIT.halted;
  if (result.outcome === "superseded" || result.outcome === "cancelled") return EXIT.ok;
  return EXIT.internal;
}

export type Simulator = typeof simulate;

async function runSimulate(
  flags: SimulateFlags,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  run: Simulator,
): Promise<number> {
  if (flags.expect !== undefined && !OUTCOMES.includes(flags.expect)) {
    throw new UsageError(`--expect "${flags.expect}": must be one of ${OUTCOMES.join(", ")}`);
  }
  const start = parseStart(flags.start);
  const arrivals = (flags.version.length ? flags.version : ["v2"]).map((v) =>
    parseArrival(v, start),
  );
  const faults = flags.fault.map((f) =>
    parseFault(
      f,
      arrivals.map((a) => a.version),
    ),
  );
  const decisions = flags.decide.map((d) => parseDecision(d, start));
  if (flags.report !== undefined) await checkReportPath(flags.report);
  const pipeline = await loadPipelineFile(flags.pipeline);
  const alarms = flags.alarm.map((a) => parseAlarm(a, start));
  const traffic = flags.traffic.map(parseTraffic);
  const blocks = flags.block.map((b) => parseBlock(b, start, pipeline.name));
  const installation = flags.config ? await loadInstallationFile(flags.config) : undefined;
  let horizon: Date | undefined;
  let horizonMs = DEFAULT_HORIZON_MS;
  if (flags.horizon !== undefined) {
    const what = `--horizon "${clip(flags.horizon)}": must be a duration such as 3d or 36h, at most 365d`;
    let offset: number | undefined;
    try {
      offset = parseOffset(flags.horizon.startsWith("+") ? flags.horizon : `+${flags.horizon}`);
    } catch (err) {
      if (err instanceof TimeInputError) throw new UsageError(what);
      throw err;
    }
    if (!offset) throw new UsageError(what);
    horizonMs = offset;
    horizon = new Date(start.getTime() + offset);
  }
  // The whole simulated interval must stay within the years a time is valid in: past 9999 the
  // clock's ISO times change shape and the state's ordering by time breaks.
  if (start.getTime() + horizonMs > MAX_INSTANT_MS) {
    throw new UsageError(
      `--start "${clip(flags.start ?? start.toISOString())}": the simulation would run past the end of the year 9999 (start earlier, or a shorter --horizon)`,
    );
  }
  // Every input is checked before anything starts: bad input writes nothing.
  checkSimulationInput({
    pipeline,
    fromVersion: flags.fromVersion,
    version: (arrivals[0] as Arrival).version,
    versions: arrivals,
    faults,
  });
  for (const d of decisions) {
    if (d.version !== undefined && !arrivals.some((a) => a.version === d.version)) {
      throw new UsageError(`--decide: version "${d.version}" is not one of the --version values`);
    }
  }
  for (const t of traffic) {
    const problem = scopeGlobProblem(t.scopes, pipeline);
    if (problem) throw new UsageError(`--traffic "${t.scopes}": ${problem}`);
  }
  for (const [i, b] of blocks.entries()) {
    if (b.level !== "scope") continue;
    const problem = scopeGlobProblem(b.target.slice(pipeline.name.length + 1), pipeline);
    if (problem) throw new UsageError(`--block "${flags.block[i]}": ${problem}`);
  }
  const notifiers = localNotifiers(flags, err, (m) => new UsageError(m));
  const view = flags.json ? undefined : new ProgressView(out, start, pipeline);
  view?.header(flags.fromVersion, arrivals, faults);
  const result = await run({
    pipeline,
    fromVersion: flags.fromVersion,
    version: (arrivals[0] as Arrival).version,
    versions: arrivals,
    ...(decisions.length ? { decisions } : {}),
    faults,
    start,
    alarms,
    blocks,
    ...(installation ? { installation } : {}),
    ...(horizon ? { horizon } : {}),
    ...(traffic.length ? { fleet: { traffic } } : {}),
    ...(notifiers.length ? { notifiers } : {}),
    ...(view ? { onEvent: (e) => view.onEvent(e) } : {}),
  });
  if (flags.report !== undefined) await writeReport(flags.report, renderReport(result));
  if (flags.json) {
    // Of the measures, the deterministic ones: the same input gives the same JSON (timers and
    // wall time depend on the machine).
    const { stats, ...shown } = result;
    const { deploySteps, stateTransitions, storeCalls, storeCallsPerStep } = stats;
    const { latencyMs: _latency, ...calls } = storeCalls;
    const measures = { deploySteps, stateTransitions, storeCalls: calls, storeCallsPerStep };
    out.write(`${JSON.stringify({ ...shown, stats: measures }, null, 2)}\n`);
  } else {
    out.write(renderScopeTable(result, pipeline));
  }
  if (flags.expect !== undefined && result.outcome !== flags.expect && !flags.json) {
    out.write(`expected outcome ${flags.expect}, got ${result.outcome}\n`);
  }
  return exitCodeFor(result, flags.expect);
}

export async function main(
  argv: string[],
  io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream } = {
    out: process.stdout,
    err: process.stderr,
  },
  /** The simulator; tests inject a spy to prove that bad input starts nothing. */
  simulator: Simulator = simulate,
  /** serve/status/history/override settings (tests stop serve and set the environment). */
  ops: OpsCommandOptions = {},
): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command("breakwater")
    .description(
      "Safe, hands-off deployments: waves, one-box, bake times, scoped automatic rollback.",
    )
    .version(packageVersion(), "-V, --version", "print the version of breakwater")
    // `breakwater --version` is the tool's; `simulate --version v2` stays simulate's own.
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out.write(s),
      writeErr: (s) => io.err.write(s),
    });

  program
    .command("simulate")
    .description(
      "Run one version through a pipeline on the local control plane (DynamoDB Local, the real state machine and handlers, a simulated fleet, a virtual clock).",
    )
    .requiredOption("--pipeline <file>", "pipeline definition (.json or .ts)")
    .option("--from-version <version>", "version every scope runs before the run", "v1")
    .addOption(
      new Option(
        "--version <version[@when]>",
        "a version to deploy, arriving at the start or at an offset (+90m) or ISO time; repeat for several versions in flight (default v2)",
      )
        .argParser((v: string, prev: string[] = []) => [...prev, v])
        .default([]),
    )
    .addOption(
      new Option(
        "--fault <[version:]scope-glob[:kind]>",
        "make a version (default: the first) unhealthy in matching scopes; kind: faults (default), latency, traffic-drop, tests (only the stage's tests fail), canary (only its canaries fail)",
      )
        .argParser((v: string, prev: string[] = []) => [...prev, v])
        .default([]),
    )
    .addOption(
      new Option(
        "--decide <action[:version]@when>",
        "the engineer's decision at that time: rollback-all (wave by wave; rollback-all!fast: all at once), retry, roll-forward or cancel on a halted run, approve or reject on a run awaiting approval (default version: the run awaiting a decision or an approval; roll-forward: the newest)",
      )
        .argParser((v: string, prev: string[] = []) => [...prev, v])
        .default([]),
    )
    .option("--start <iso-time>", "simulated start time (default: now)")
    .addOption(
      new Option(
        "--alarm <name@from[..to]>",
        "an alarm in ALARM during that interval (ISO times or +offsets from --start); a name the pipeline does not use is organisation-wide",
      )
        .argParser((v: string, prev: string[] = []) => [...prev, v])
        .default([]),
    )
    .addOption(
      new Option(
        "--traffic <scope-glob=rpm>",
        "requests per minute in matching scopes (default 1000)",
      )
        .argParser((v: string, prev: string[] = []) => [...prev, v])
        .default([]),
    )
    .addOption(
      new Option(
        "--block <org|pipeline|scope-glob[@from[..to]]>",
        "a manual block (stop the line) at organisation, pipeline or scope level",
      )
        .argParser((v: string, prev: string[] = []) => [...prev, v])
        .default([]),
    )
    .option("--config <file>", "installation config (organisation alarms, region overrides)")
    .option("--horizon <duration>", "stop simulating after this much simulated time (default 14d)")
    .option("--notifications", "print every notification a human would get (to standard error)")
    .option(
      "--slack-url <url>",
      "also post notifications to this Slack-compatible incoming webhook",
    )
    .option("--json", "print one JSON object instead of the live view")
    .option(
      "--report <file.html>",
      "also write a self-contained HTML report: the rollout as a timeline (Gantt), openable offline",
    )
    .option(
      "--expect <outcome>",
      "exit 0 when the outcome is this one (succeeded, rolled-back), else 5",
    )
    .action(async (flags: SimulateFlags) => {
      code = await runSimulate(flags, io.out, io.err, simulator);
    });

  const setCode = (c: number) => {
    code = c;
  };
  const usageError = (m: string) => new UsageError(m);
  registerPlanCommand(program, io, setCode, { parseStart, parseTraffic, usageError });
  registerLintCommand(program, io, setCode, usageError);

  registerOpsCommands(program, io, setCode, ops);
  registerMetricsCommand(program, io, setCode, ops.env);
  registerDashboardCommand(program, io, setCode, {
    ...(ops.env ? { env: ops.env } : {}),
    ...(ops.dashboardUntil ? { until: ops.dashboardUntil } : {}),
  } satisfies DashboardCommandOptions);
  registerPipelinesCommands(program, io, setCode, ops.env);
  registerRunCommands(program, io, setCode, ops.env);

  // Last, so the script completes every command registered above.
  registerCompletionCommand(program, io, usageError);

  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" ||
        err.code === "commander.version" ||
        err.exitCode === 0
      ) {
        return EXIT.ok;
      }
      return EXIT.badInput;
    }
    if (err instanceof PipelineValidationError) {
      io.err.write(`error: ${err.message}\n`);
      return EXIT.badInput;
    }
    if (err instanceof UsageError || err instanceof SimulationInputError) {
      io.err.write(`error: ${err.message}\n`);
      return EXIT.badInput;
    }
    io.err.write(`internal error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.internal;
  }
}
