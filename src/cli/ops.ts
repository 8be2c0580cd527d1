/**
 * The commands for people running the control plane: `serve` (the local control plane on
 * localhost), `status`, `history` and `override` (against `serve`, or against a deployed stage
 * with `--aws --stage <stage>`). Registered on the `breakwater` program by `main.ts`.
 *
 * Exit codes: 0 ok, 1 internal error, 2 bad input or a request the control plane refused
 * (override rejected, unknown pipeline or scope), 6 the control plane could not be reached.
 */
import { styleText } from "node:util";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type Command, Option } from "commander";
import type { OverrideResult } from "../app/override.ts";
import { BreakwaterError, InvalidInputError } from "../domain/errors.ts";
import {
  clip,
  formatProblems,
  type Pipeline,
  PipelineValidationError,
  type Problem,
} from "../domain/pipeline.ts";
import { parseOffset, TimeInputError } from "../domain/time-input.ts";
import { versionProblem } from "../domain/version.ts";
import { waitNote } from "../domain/waits.ts";
import {
  banner,
  DEFAULT_PORT,
  DEFAULT_SPEED,
  type RunningServer,
  startServe,
} from "../local/serve.ts";
import type { HistoryReport, StatusReport } from "../ops/status.ts";
import { loadInstallationFile, loadPipelineFile } from "../pipeline-file.ts";
import { pipelineTriggerSchema } from "../triggers/decisions.ts";
import { localNotifiers } from "./notifiers.ts";
import {
  AwsOpsBackend,
  ControlPlaneUnreachableError,
  HttpOpsBackend,
  type OpsBackend,
  RequestRejectedError,
} from "./ops-client.ts";
import { runWatch } from "./watch.ts";

export const OPS_EXIT = { ok: 0, internal: 1, badInput: 2, unreachable: 6 } as const;

export const DEFAULT_ENDPOINT = `http://127.0.0.1:${DEFAULT_PORT}`;

export class OpsUsageError extends BreakwaterError {
  override name = "OpsUsageError";
}

export interface IO {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export interface TargetFlags {
  endpoint?: string;
  aws?: boolean;
  stage?: string;
  region?: string;
  table?: string;
  overrideUrl?: string;
  /** serve's bearer token (default $BREAKWATER_TOKEN). */
  token?: string;
  json?: boolean;
}

/** Picks the backend from the flags: `--aws --stage s` → the deployed stage; else `--endpoint`. */
export function backendFor(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): OpsBackend {
  if (flags.aws) {
    if (flags.endpoint !== undefined) {
      throw new OpsUsageError(
        "--endpoint and --aws: choose one (a local control plane or a deployed stage)",
      );
    }
    if (!flags.stage)
      throw new OpsUsageError("--aws needs --stage <stage> (the stage you deployed, e.g. prod)");
    if (flags.token !== undefined) {
      throw new OpsUsageError(
        "--token is only for the local control plane: with --aws your AWS credentials sign the request",
      );
    }
    if (!/^[A-Za-z0-9-]+$/.test(flags.stage)) {
      throw new OpsUsageError(`--stage "${flags.stage}": must be letters, digits and hyphens`);
    }
    return new AwsOpsBackend({
      stage: flags.stage,
      ...(flags.region ? { region: flags.region } : {}),
      ...(flags.table ? { table: flags.table } : {}),
      ...(flags.overrideUrl ? { overrideUrl: flags.overrideUrl } : {}),
    });
  }
  for (const [flag, value] of [
    ["--stage", flags.stage],
    ["--region", flags.region],
    ["--table", flags.table],
    ["--override-url", flags.overrideUrl],
  ] as const) {
    if (value !== undefined) throw new OpsUsageError(`${flag} is only for --aws`);
  }
  const endpoint = flags.endpoint ?? env.BREAKWATER_ENDPOINT ?? DEFAULT_ENDPOINT;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new OpsUsageError(
      `--endpoint "${endpoint}": must be an http URL such as ${DEFAULT_ENDPOINT}`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new OpsUsageError(
      `--endpoint "${endpoint}": must be an http URL such as ${DEFAULT_ENDPOINT}`,
    );
  }
  const token = flags.token ?? env.BREAKWATER_TOKEN;
  return new HttpOpsBackend(url.toString(), fetch, token || undefined);
}

/**
 * `+2h`, `+90m`, `+1d2h30m`: an offset from `now` (the one strict parser of
 * `src/domain/time-input.ts`); undefined when `text` is not one.
 */
export function resolveRelative(text: string, now: Date): string | undefined {
  try {
    const offset = parseOffset(text);
    return offset === undefined ? undefined : new Date(now.getTime() + offset).toISOString();
  } catch (err) {
    if (err instanceof TimeInputError) throw new OpsUsageError(`"${clip(text)}": ${err.message}`);
    throw err;
  }
}

export interface OverrideFlags extends TargetFlags {
  pipeline?: string;
  version?: string;
  level?: string;
  scopes?: string;
  kinds?: string;
  expiresAt?: string;
  until?: string;
  actor?: string;
  reason?: string;
  /** start: the artifact's digest (`sha256:…`), recorded with the run request. */
  artifactDigest?: string;
  /** rollback-all: every scope at once instead of wave by wave (incidents). */
  fast?: boolean;
  dryRun?: boolean;
}

/**
 * The override function's input from the command line. The action and the fields pass through
 * as given (the function validates them and names every problem, so new actions need no CLI
 * change); only `--kinds a,b` becomes a list and `+2h`-style times become ISO times on the
 * control plane's clock.
 *
 * @example
 * buildOverrideRequest("block", { level: "pipeline", pipeline: "orders-api", actor: "alice", reason: "sev-2" }, now);
 * // → { action: "block", level: "pipeline", pipeline: "orders-api", actor: "alice", reason: "sev-2" }
 */
export function buildOverrideRequest(
  action: string,
  flags: OverrideFlags,
  now: Date,
): Record<string, unknown> {
  const time = (v: string | undefined) =>
    v === undefined ? undefined : (resolveRelative(v, now) ?? v);
  const kinds = flags.kinds
    ?.split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  const fields: Record<string, unknown> = {
    action,
    level: flags.level,
    pipeline: flags.pipeline,
    scopes: flags.scopes,
    version: flags.version,
    kinds,
    expiresAt: time(flags.expiresAt),
    until: time(flags.until),
    actor: flags.actor,
    reason: flags.reason,
    artifactDigest: flags.artifactDigest,
    fast: flags.fast,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

// ---- rendering -------------------------------------------------------------------------------

type Style = Parameters<typeof styleText>[0];

function colorer(out: NodeJS.WritableStream) {
  const tty = (out as NodeJS.WriteStream).isTTY === true && !process.env.NO_COLOR;
  return (style: Style, text: string) => (tty ? styleText(style, text) : text);
}

/** A plain text table: a header, a rule, rows; columns padded to their widest cell. */
export function renderTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [fmt(head), fmt(widths.map((w) => "─".repeat(w))), ...rows.map(fmt)].join("\n");
}

function blockTargetText(b: StatusReport["blocks"][number]): string {
  return b.level === "org"
    ? "org"
    : b.level === "pipeline"
      ? `pipeline ${b.target}`
      : `scopes ${b.target}`;
}

export function renderStatus(report: StatusReport, out?: NodeJS.WritableStream): string {
  const c = out ? colorer(out) : (_s: Style, t: string) => t;
  const lines: string[] = [`control plane time ${report.at}`, ""];
  for (const p of report.pipelines) {
    lines.push(`${c("bold", p.pipeline)}  (${p.stages.join(" → ")})`, "");
    lines.push(
      renderTable(
        ["scope", "version", "status", "since", "note"],
        p.scopes.map((s) => [
          s.scope,
          `${s.version}${s.percent < 100 ? ` (${s.percent}%)` : ""}`,
          s.status,
          s.since,
          s.wait
            ? waitNote(s.wait)
            : s.blocked
              ? `blocked: ${s.blocked.reason}`
              : s.previousVersion && s.status !== "stable"
                ? `previous ${s.previousVersion}`
                : "",
        ]),
      ),
      "",
    );
    const inFlight = p.runs.filter((r) => r.inFlight);
    const finished = p.runs.filter((r) => !r.inFlight);
    if (inFlight.length === 0) lines.push("runs in flight: none");
    else {
      lines.push(
        "runs in flight:",
        renderTable(
          ["#", "version", "status", "stage", "waiting for", "halt"],
          inFlight.map((r) => [
            String(r.seq),
            r.version,
            r.status,
            r.currentStage ?? "",
            r.status === "awaiting-approval" && r.approval
              ? `approval (until ${r.approval.deadline})`
              : (r.waitingFor ?? ""),
            r.haltReason
              ? `${r.haltReason}${r.haltedBy ? ` at ${r.haltedBy}` : ""}${r.haltDetail ? `: ${r.haltDetail}` : ""}`
              : "",
          ]),
        ),
      );
    }
    if (finished.length > 0) {
      lines.push(
        `last finished: ${finished.map((r) => `#${r.seq} ${r.version} ${r.status}${r.supersededBy ? ` (by ${r.supersededBy})` : ""}`).join(", ")}`,
      );
    }
    lines.push(
      p.bypasses.length === 0
        ? "bypasses: none"
        : `bypasses: ${p.bypasses.map((b) => `${b.version} ignores ${b.kinds.join(", ")} until ${b.expiresAt} (${b.actor}: ${b.reason})`).join("; ")}`,
      "",
    );
  }
  if (report.blocks.length === 0) lines.push("blockers: none");
  else {
    lines.push(
      "blockers:",
      renderTable(
        ["target", "from", "until", "actor", "reason"],
        report.blocks.map((b) => [
          blockTargetText(b),
          b.from ?? b.createdAt,
          b.to ?? "removed by unblock",
          b.actor,
          b.reason,
        ]),
      ),
    );
  }
  return `${lines.join("\n")}\n`;
}

export function renderHistory(report: HistoryReport): string {
  const lines: string[] = [`history of ${report.target}`, ""];
  if (report.entries.length === 0) lines.push("no history");
  else {
    lines.push(
      renderTable(
        ["at", ...(report.scope ? [] : ["scope"]), "version", "status", "actor", "cause"],
        report.entries.map((h) => [
          h.at,
          ...(report.scope ? [] : [h.scope]),
          `${h.fromVersion && h.fromVersion !== h.toVersion ? `${h.fromVersion} → ` : ""}${h.toVersion}${h.percent < 100 ? ` (${h.percent}%)` : ""}`,
          h.status,
          h.actor,
          h.cause,
        ]),
      ),
    );
  }
  lines.push("", "overrides:");
  if (report.audit.length === 0) lines.push("none");
  else {
    lines.push(
      renderTable(
        // The principal is who acted, as authenticated; the actor is the name they typed.
        ["at", "action", "target", "actor", "reason", "effect", "principal"],
        report.audit.map((a) => [
          a.at,
          a.action,
          a.target,
          a.actor,
          a.reason,
          a.effect,
          a.principal ?? "-",
        ]),
      ),
    );
  }
  return `${lines.join("\n")}\n`;
}

export function renderOverride(result: OverrideResult): string {
  return `${result.action}: ${result.effect}${result.changed ? "" : " — nothing changed"}\n  audited ${result.audit.at} as ${result.audit.id}\n`;
}

function renderProblems(message: string, problems: Problem[]): string {
  return `error: ${message}\n${problems.length > 1 ? `${formatProblems(problems, "\n", "  ")}\n` : ""}`;
}

// ---- commands --------------------------------------------------------------------------------

/** Runs a command body and maps its errors to the documented exit codes. */
export async function guarded(
  io: IO,
  json: boolean | undefined,
  body: () => Promise<void>,
): Promise<number> {
  const fail = (code: number, message: string, problems: Problem[] = []) => {
    if (json)
      io.out.write(
        `${JSON.stringify({ error: message, ...(problems.length ? { problems } : {}) }, null, 2)}\n`,
      );
    io.err.write(renderProblems(message, problems));
    return code;
  };
  try {
    await body();
    return OPS_EXIT.ok;
  } catch (err) {
    if (err instanceof ControlPlaneUnreachableError) return fail(OPS_EXIT.unreachable, err.message);
    if (err instanceof RequestRejectedError || err instanceof InvalidInputError) {
      return fail(OPS_EXIT.badInput, err.message, err.problems);
    }
    if (err instanceof OpsUsageError) return fail(OPS_EXIT.badInput, err.message);
    if (err instanceof PipelineValidationError) return fail(OPS_EXIT.badInput, err.message);
    io.err.write(`internal error: ${(err as Error).stack ?? String(err)}\n`);
    return OPS_EXIT.internal;
  }
}

export function targetOptions(cmd: Command): Command {
  return cmd
    .option(
      "--endpoint <url>",
      `the local control plane (breakwater serve); default $BREAKWATER_ENDPOINT or ${DEFAULT_ENDPOINT}`,
    )
    .option(
      "--aws",
      "the deployed control plane instead (needs --stage; uses your AWS credentials)",
    )
    .option(
      "--stage <stage>",
      "with --aws: the stage you deployed (npx sst deploy --stage <stage>)",
    )
    .option(
      "--region <region>",
      "with --aws: the stage's region (default: your AWS configuration's)",
    )
    .option(
      "--table <name>",
      "with --aws: the table name, instead of reading /breakwater/<stage>/table-name from SSM",
    )
    .option(
      "--override-url <url>",
      "with --aws: the override function URL, instead of reading /breakwater/<stage>/override-url from SSM",
    )
    .option(
      "--token <token>",
      "the local control plane's bearer token for override (default $BREAKWATER_TOKEN; serve prints it)",
    )
    .option("--json", "print JSON");
}

interface ServeFlags {
  pipeline: string[];
  port: string;
  host: string;
  speed: string;
  initialVersion: string;
  config?: string;
  webhookSecret?: string;
  githubApiUrl?: string;
  githubToken?: string;
  notifications?: boolean;
  slackUrl?: string;
  token?: string;
}

export interface OpsCommandOptions {
  /** Resolves when serve should stop (default: SIGINT or SIGTERM). Tests pass their own. */
  serveUntil?: (server: RunningServer) => Promise<void>;
  env?: NodeJS.ProcessEnv;
  /** serve: reuse a running DynamoDB Local instead of starting one (tests). */
  dynamo?: DynamoDBClient;
  /** dashboard: resolves when it should stop (default: SIGINT or SIGTERM). */
  dashboardUntil?: (url: string) => Promise<void>;
}

function positiveNumber(flag: string, text: string, integer: boolean): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new OpsUsageError(
      `${flag} "${text}": must be a ${integer ? "whole " : ""}number${integer ? " from 0 (any free port) to 65535" : " above 0"}`,
    );
  }
  return n;
}

function untilSignal(server: RunningServer, io: IO): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      io.err.write(`\n${signal}: stopping (DynamoDB Local too)\n`);
      resolve();
    };
    const onInt = () => stop("SIGINT");
    const onTerm = () => stop("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    void server;
  });
}

async function runServe(flags: ServeFlags, io: IO, options: OpsCommandOptions): Promise<void> {
  const env = options.env ?? process.env;
  const port = positiveNumber("--port", flags.port, true);
  if (port > 65_535) throw new OpsUsageError(`--port "${flags.port}": must be from 0 to 65535`);
  const speed = positiveNumber("--speed", flags.speed, false);
  if (speed <= 0) throw new OpsUsageError(`--speed "${flags.speed}": must be a number above 0`);
  const versionIssue = versionProblem(flags.initialVersion);
  if (versionIssue) {
    throw new OpsUsageError(`--initial-version "${clip(flags.initialVersion)}": ${versionIssue}`);
  }
  if (flags.pipeline.length === 0)
    throw new OpsUsageError("--pipeline <file>: at least one is required");
  const pipelines: Pipeline[] = [];
  for (const file of flags.pipeline) pipelines.push(await loadPipelineFile(file));
  const dup = pipelines.find((p, i) => pipelines.findIndex((q) => q.name === p.name) !== i);
  if (dup) throw new OpsUsageError(`--pipeline: two files define pipeline "${dup.name}"`);
  const installation = flags.config ? await loadInstallationFile(flags.config) : undefined;
  const secret = flags.webhookSecret ?? env.BREAKWATER_WEBHOOK_SECRET;
  // The token goes to this URL: https, or http on the loopback interface only.
  const apiUrl = flags.githubApiUrl;
  const badApiUrl = apiUrl ? pipelineTriggerSchema.shape.apiUrl.safeParse(apiUrl) : undefined;
  if (badApiUrl && !badApiUrl.success) {
    throw new OpsUsageError(
      `--github-api-url "${apiUrl}": ${badApiUrl.error.issues[0]?.message ?? "invalid"}`,
    );
  }
  const githubToken = flags.githubToken ?? env.BREAKWATER_GITHUB_TOKEN;
  const givenToken = flags.token ?? (env.BREAKWATER_TOKEN || undefined);
  if (givenToken !== undefined && givenToken.length < 16) {
    throw new OpsUsageError(
      "--token: must be at least 16 characters (or leave it out: serve makes one)",
    );
  }
  const notifiers = localNotifiers(flags, io.err, (m) => new OpsUsageError(m));
  const server = await startServe({
    ...(givenToken ? { token: givenToken } : {}),
    pipelines,
    initialVersion: flags.initialVersion,
    port,
    host: flags.host,
    speed,
    ...(installation ? { installation } : {}),
    ...(secret ? { webhookSecret: secret } : {}),
    ...(apiUrl ? { githubApiUrl: apiUrl } : {}),
    ...(githubToken ? { githubToken } : {}),
    notifiers,
    log: (line) => io.out.write(`${line}\n`),
    ...(options.dynamo ? { dynamo: options.dynamo } : {}),
  });
  try {
    io.out.write(
      banner(
        server.url,
        {
          speed,
          pipelines,
          initialVersion: flags.initialVersion,
          ...(secret ? { webhookSecret: secret } : {}),
          // A token the user chose is not echoed; a generated one must be, or nobody could act.
          ...(givenToken ? {} : { token: server.token }),
        },
        server.plane.clock.now(),
      ),
    );
    if (givenToken)
      io.out.write("  operator token: the one given (--token or $BREAKWATER_TOKEN)\n");
    await (options.serveUntil ?? ((s) => untilSignal(s, io)))(server);
  } finally {
    await server.close();
  }
}

/**
 * Adds serve, status, history and override to the program; `setCode` receives each command's
 * exit code.
 */
export function registerOpsCommands(
  program: Command,
  io: IO,
  setCode: (code: number) => void,
  options: OpsCommandOptions = {},
): void {
  const env = options.env ?? process.env;
  program
    .command("serve")
    .description(
      "Run the control plane on localhost: GitHub webhook, events, status, history and override over HTTP, live on a virtual clock.",
    )
    .addOption(
      new Option("--pipeline <file>", "pipeline definition (.json or .ts); repeatable")
        .argParser((v: string, prev: string[] = []) => [...prev, v])
        .makeOptionMandatory(),
    )
    .option("--port <n>", "port on 127.0.0.1 (0: any free port)", String(DEFAULT_PORT))
    .option("--host <address>", "address to listen on", "127.0.0.1")
    .option(
      "--speed <x>",
      "virtual time runs this many times faster than real time",
      String(DEFAULT_SPEED),
    )
    .option("--initial-version <v>", "the version every scope runs at start", "v1")
    .option("--config <file>", "installation config: github triggers, organisation alarms, regions")
    .option(
      "--webhook-secret <secret>",
      "GitHub webhook secret (default $BREAKWATER_WEBHOOK_SECRET)",
    )
    .option(
      "--github-api-url <url>",
      "GitHub REST API asked whether approvers have write access (default https://api.github.com)",
    )
    .option(
      "--github-token <token>",
      "token for that API (default $BREAKWATER_GITHUB_TOKEN, preferred: flags show in ps)",
    )
    .option(
      "--token <token>",
      "bearer token for POST /override and /events (default $BREAKWATER_TOKEN, else a random one, printed)",
    )
    .option("--notifications", "print every notification a human would get (standard error)")
    .option(
      "--slack-url <url>",
      "also post notifications to this Slack-compatible incoming webhook",
    )
    .action(async (flags: ServeFlags) => {
      setCode(await guarded(io, false, () => runServe(flags, io, options)));
    });

  targetOptions(
    program
      .command("status")
      .description("Version per scope, runs in flight, active blockers and bypasses.")
      .option("--pipeline <name>", "only this pipeline")
      .option(
        "--watch",
        "a live view of the waves, redrawn in place as the state changes; exits when the runs end",
      ),
  ).action(async (flags: TargetFlags & { pipeline?: string; watch?: boolean }) => {
    setCode(
      await guarded(io, flags.json, async () => {
        if (flags.watch) {
          if (flags.json) throw new OpsUsageError("--watch and --json: choose one");
          await runWatch(backendFor(flags, env), io.out, flags.pipeline);
          return;
        }
        const report = await backendFor(flags, env).status(flags.pipeline);
        io.out.write(
          flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report, io.out),
        );
      }),
    );
  });

  targetOptions(
    program
      .command("history")
      .description(
        "A pipeline's or a scope's history (who or what changed it, and why) and the overrides aimed at it.",
      )
      .argument(
        "<target>",
        "<pipeline> or <pipeline>:<scope>, e.g. orders-api:prod-1/eu-north-1/eun1-az1",
      ),
  ).action(async (target: string, flags: TargetFlags) => {
    setCode(
      await guarded(io, flags.json, async () => {
        const report = await backendFor(flags, env).history(target);
        io.out.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderHistory(report));
      }),
    );
  });

  targetOptions(
    program
      .command("override")
      .description(
        "Invoke the override function (block, unblock, bypass, start, and whatever actions it offers): the request is validated and audited there.",
      )
      .argument("<action>", "the override action, e.g. block, unblock, bypass, start")
      .option("--level <level>", "block/unblock: org, pipeline or scope")
      .option("--pipeline <name>", "the pipeline")
      .option("--scopes <glob>", "level scope: a scope glob such as 'prod-2/us-east-1/*'")
      .option("--version <version>", "the version (bypass, start and run decisions)")
      .option("--artifact-digest <digest>", "start: the artifact's digest (sha256:…)")
      .option("--kinds <a,b>", "bypass: blocker kinds (alarm, org-alarm, time-window, manual)")
      .option(
        "--expires-at <time>",
        "bypass: ISO time or +offset on the control plane's clock (+2h)",
      )
      .option("--until <time>", "block: ISO time or +offset on the control plane's clock")
      .option("--actor <who>", "who is acting (audited)")
      .option("--reason <why>", "why (audited)")
      .option("--fast", "rollback-all: every scope at once (incidents) instead of wave by wave")
      .option("--dry-run", "print the request instead of sending it"),
  ).action(async (action: string, flags: OverrideFlags) => {
    setCode(
      await guarded(io, flags.json, async () => {
        const backend = backendFor(flags, env);
        const needsNow = [flags.expiresAt, flags.until].some((t) => t?.startsWith("+"));
        const now = needsNow ? await backend.now() : new Date();
        const request = buildOverrideRequest(action, flags, now);
        if (flags.dryRun) {
          io.out.write(`${JSON.stringify(request, null, 2)}\n`);
          return;
        }
        const result = await backend.override(request);
        io.out.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : renderOverride(result));
      }),
    );
  });
}
