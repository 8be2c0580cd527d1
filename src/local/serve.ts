/**
 * `breakwater serve`: the event-driven control plane on localhost. DynamoDB Local (started and
 * stopped here, unless a client is given), the real ASL and handlers, the local bus with the
 * stack's rules, a simulated fleet, and the virtual clock running live at `speed` × real time.
 *
 * HTTP (JSON; 127.0.0.1 by default):
 *   POST /webhooks/github   the real GitHub webhook handler (X-Hub-Signature-256 verified)
 *   POST /events            put EventBridge-shaped events on the local bus (validated; bearer token)
 *   GET  /status[?pipeline] version per scope, runs in flight, blockers, bypasses
 *   GET  /history?target=   a pipeline's or scope's history plus its override audit entries
 *   POST /override          the override function (createOverrideHandler, as in AWS; bearer token)
 *   GET  /health            the virtual time and speed (the CLI resolves +2h offsets with it)
 *   GET  /metrics           the DORA figures (`breakwater metrics --json`)
 *   GET  /, /dashboard/data, /dashboard/stream   the live wave map (src/ops/dashboard-http.ts)
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DeleteTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import * as z from "zod";
import { createOverrideHandler } from "../../functions/override.ts";
import { DynamoDeliveryStore, DynamoReviewStore } from "../adapters/aws/dynamo-triggers.ts";
import { DetailType, SOURCE } from "../app/events.ts";
import { approvedChangeSchema } from "../app/schemas.ts";
import { BreakwaterError, InvalidInputError, NotFoundError } from "../domain/errors.ts";
import type { Installation } from "../domain/installation.ts";
import type { TimelineEvent } from "../domain/model.ts";
import { OverrideRejectedError } from "../domain/override.ts";
import {
  collectProblems,
  formatProblems,
  type Pipeline,
  type Problem,
} from "../domain/pipeline.ts";
import type { Notifier } from "../notify/ports.ts";
import { collectDashboard } from "../ops/dashboard.ts";
import { createDashboardRoutes, DASHBOARD_ROUTES } from "../ops/dashboard-http.ts";
import { metricsQuery } from "../ops/metrics-query.ts";
import { collectPipeline, collectPipelines } from "../ops/pipelines.ts";
import { collectHistory, collectStatus, UnknownTargetError } from "../ops/status.ts";
import { ARTIFACT_PUBLISHED, artifactPublishedEventSchema } from "../triggers/artifact.ts";
import { TriggerDetailType } from "../triggers/decisions.ts";
import { type GitHubWebhookDeps, handleGitHubWebhook } from "../triggers/github.ts";
import { GitHubRestApi } from "../triggers/github-api.ts";
import { createWebhookHttpHandler } from "../triggers/http.ts";
import { createLocalControlPlane, type LocalControlPlane } from "./control-plane.ts";
import { startDynamoDbLocal } from "./dynamodb-local.ts";
import type { BusEnvelope } from "./event-bus.ts";
import { type FaultSpec, SimulatedFleet } from "./fleet.ts";
import { ReportCache } from "./status-cache.ts";
import { lambdaContext } from "./step-functions.ts";
import { watchTableWrites } from "./table-writes.ts";

/** The port `serve` listens on and the CLI's other commands talk to by default. */
export const DEFAULT_PORT = 8787;
export const DEFAULT_SPEED = 60;
/** Who acts through serve's operator routes, in the audit log: the holder of the bearer token. */
export const LOCAL_PRINCIPAL = "local:token";

/** Bodies of /events and /override: far above any real request. */
const MAX_JSON_BYTES = 1024 * 1024;
/** EventBridge's PutEvents limit, kept locally so a script that works here works there. */
const MAX_EVENTS = 10;

export interface ServeOptions {
  pipelines: Pipeline[];
  /** Every scope runs this version when the server starts. */
  initialVersion: string;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  /** Virtual seconds per real second. */
  speed: number;
  installation?: Installation;
  /** The GitHub webhook secret; without one the webhook endpoint answers 503. */
  webhookSecret?: string;
  /**
   * GitHub's REST API for entries without `apiUrl` (default https://api.github.com): asked
   * whether approving reviewers have write access.
   */
  githubApiUrl?: string;
  /** The token for that API; without one no approval counts (merges answer 502). */
  githubToken?: string;
  notifiers?: Notifier[];
  /** Progress lines (bus events as they happen) and server messages. */
  log?: (line: string) => void;
  /** Reuse a running DynamoDB Local (tests); otherwise one is started and stopped. */
  dynamo?: DynamoDBClient;
  /** Virtual start time (default: now). */
  start?: Date;
  /**
   * The bearer token the operator routes (POST /override, POST /events) require; absent: a
   * random one, printed at start. Whoever holds it acts as `local:token` in the audit log.
   */
  token?: string;
  /** Limits on slow or idle clients (defaults: SERVE_TIMEOUTS). */
  timeouts?: Partial<ServeTimeouts>;
  /**
   * Share `/status` reports between readers until the table changes (default true; the serve
   * benchmark turns it off for its A/B comparison).
   */
  statusCache?: boolean;
  /** Versions made unhealthy in matching scopes of the simulated fleet (as `simulate --fault`). */
  faults?: FaultSpec[];
  /** Live wave-map streams open at once (default 16). */
  dashboardClients?: number;
}

/** How long the HTTP server waits on a client before it closes the connection. */
export interface ServeTimeouts {
  /** Until the request's headers are complete (Node's `headersTimeout`; answered 408). */
  headersMs: number;
  /** Until the whole request, body included, is in (Node's `requestTimeout`; answered 408). */
  requestMs: number;
  /** An idle keep-alive connection between requests (Node's `keepAliveTimeout`). */
  keepAliveMs: number;
}

/**
 * Node's defaults (60 s for headers, 300 s per request) let a few slow clients hold connections
 * for minutes; these still allow the largest accepted body (5 MB) at ~200 KB/s.
 */
export const SERVE_TIMEOUTS: ServeTimeouts = {
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 5_000,
};

export interface RunningServer {
  url: string;
  port: number;
  /** The bearer token of the operator routes (given or generated). */
  token: string;
  plane: LocalControlPlane;
  /** How many `/status` reports were computed so far (the rest were shared): for the benchmark. */
  statusComputations(): number;
  /** The wave map's live streams open now (bounded by `dashboardClients`). */
  dashboardClients(): number;
  /** Stops the clock, the HTTP server and DynamoDB Local (idempotent). */
  close(): Promise<void>;
}

class HttpError extends BreakwaterError {
  override name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly problems?: Problem[],
  ) {
    super(message);
  }
}

/** One line per bus event, for the console. */
export function progressLine(e: BusEnvelope): string | undefined {
  const d = e.detail as Record<string, unknown>;
  const s = (k: string) => (d[k] === undefined ? undefined : String(d[k]));
  const at = s("at") ?? e.time;
  switch (e["detail-type"]) {
    case DetailType.ApprovedChangeMerged:
      return `${e.time}  ${s("pipeline")}@${s("version")}  run requested (request ${s("requestId") ?? "missing"})`;
    case TriggerDetailType.ChangeRejected:
      return `${e.time}  ${s("pipeline")}  change rejected: ${s("reason")}`;
    case DetailType.RunEvent:
      return `${at}  ${s("pipeline")}@${s("version")}  ${s("event")}${s("stage") ? ` ${s("stage")}` : ""}${s("reason") ? `: ${s("reason")}` : ""}`;
    case DetailType.ScopeEvent: {
      const t = d as unknown as TimelineEvent;
      const extra = [
        t.percent !== undefined && t.percent < 100 ? `${t.percent}%` : undefined,
        t.outcome,
        t.toVersion ? `to ${t.toVersion}` : undefined,
        t.reason,
      ].filter(Boolean);
      return `${t.at}  ${t.pipeline}@${t.version}  ${t.scope} ${t.step} ${t.event}${extra.length ? ` (${extra.join(", ")})` : ""}`;
    }
    case DetailType.OverrideEvent:
      return `${at}  override ${s("action")} by ${s("actor")} (${s("principal")}): ${s("effect")} (${s("reason")})`;
    default:
      return undefined;
  }
}

const json = z.record(z.string(), z.unknown(), { error: "must be a JSON object" });
/** An event as EventBridge delivers it (envelope) or as PutEvents takes it (entry). */
const envelopeSchema = z
  .object({
    source: z.string({ error: "is required" }).min(1, { error: "must not be empty" }),
    "detail-type": z.string({ error: "is required" }).min(1, { error: "must not be empty" }),
    detail: json,
    resources: z.array(z.string()).optional(),
  })
  .strict();
const entrySchema = z
  .object({
    Source: z.string({ error: "is required" }).min(1, { error: "must not be empty" }),
    DetailType: z.string({ error: "is required" }).min(1, { error: "must not be empty" }),
    Detail: z.union([z.string(), json], { error: "must be a JSON object or a JSON string of one" }),
    Resources: z.array(z.string()).optional(),
    EventBusName: z.string().optional(),
  })
  .strict();

export type LocalEventInput = Pick<BusEnvelope, "source" | "detail-type" | "detail" | "resources">;

/**
 * Parses the body of POST /events: one event or a list of at most 10, each either EventBridge's
 * envelope (`source`, `detail-type`, `detail`) or a PutEvents entry (`Source`, `DetailType`,
 * `Detail` as a JSON string). Throws InvalidInputError naming every problem with its path.
 *
 * @example
 * parseLocalEvents({ source: "breakwater", "detail-type": "Approved Change Merged", detail: { pipeline: "orders-api", version: "v2" } });
 */
export function parseLocalEvents(body: unknown): LocalEventInput[] {
  const list = Array.isArray(body) ? body : [body];
  const problems: Problem[] = [];
  const out: LocalEventInput[] = [];
  if (list.length === 0 || list.length > MAX_EVENTS) {
    throw new InvalidInputError(`body: must hold 1 to ${MAX_EVENTS} events`, [
      { path: "", message: `must hold 1 to ${MAX_EVENTS} events` },
    ]);
  }
  list.forEach((item, i) => {
    const prefix = Array.isArray(body) ? `[${i}]` : "";
    const at = (p: string) => (prefix && p ? `${prefix}.${p}` : prefix || p);
    const isEntry = typeof item === "object" && item !== null && "Source" in item;
    const parsed = (isEntry ? entrySchema : envelopeSchema).safeParse(item);
    if (!parsed.success) {
      for (const p of collectProblems(parsed.error.issues, item))
        problems.push({ ...p, path: at(p.path) });
      return;
    }
    if ("Source" in parsed.data) {
      const e = parsed.data;
      let detail: unknown = e.Detail;
      if (typeof detail === "string") {
        try {
          detail = JSON.parse(detail);
        } catch (err) {
          problems.push({
            path: at("Detail"),
            message: `is not valid JSON: ${(err as Error).message}`,
          });
          return;
        }
      }
      if (typeof detail !== "object" || detail === null || Array.isArray(detail)) {
        problems.push({ path: at("Detail"), message: "must be a JSON object" });
        return;
      }
      out.push({
        source: e.Source,
        "detail-type": e.DetailType,
        detail: detail as Record<string, unknown>,
        resources: e.Resources ?? [],
      });
    } else {
      out.push({ ...parsed.data, resources: parsed.data.resources ?? [] });
    }
    // Events whose targets would reject them are refused here, with the field named, instead of
    // failing later inside the control plane.
    const e = out[out.length - 1] as LocalEventInput;
    const schema =
      e["detail-type"] === DetailType.ApprovedChangeMerged
        ? approvedChangeSchema
        : e["detail-type"] === ARTIFACT_PUBLISHED
          ? artifactPublishedEventSchema
          : undefined;
    const checked = schema?.safeParse(e);
    if (checked && !checked.success) {
      out.pop();
      for (const p of collectProblems(checked.error.issues, e))
        problems.push({ ...p, path: at(p.path) });
    }
  });
  if (problems.length > 0) {
    throw new InvalidInputError(`invalid event: ${formatProblems(problems, "; ")}`, problems);
  }
  return out;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendText(res, status, JSON.stringify(body));
}

/** A JSON answer already serialized (a cached report is serialized once, not per reader). */
function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  // Refuse a declared oversize body before reading any of it.
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > MAX_JSON_BYTES) {
    throw new HttpError(413, `body exceeds ${MAX_JSON_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BYTES) throw new HttpError(413, `body exceeds ${MAX_JSON_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) throw new HttpError(400, "body: is empty (send a JSON object)");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `body: is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Starts the local control plane and its HTTP endpoint.
 *
 * @example
 * const server = await startServe({ pipelines: [pipeline], initialVersion: "v1", port: 8787, speed: 60 });
 * // … later
 * await server.close();
 */
export async function startServe(options: ServeOptions): Promise<RunningServer> {
  if (options.pipelines.length === 0) throw new Error("serve: at least one pipeline is needed");
  const names = options.pipelines.map((p) => p.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`serve: pipeline "${dup}" is given twice`);
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const local = options.dynamo ? undefined : await startDynamoDbLocal();
  const dynamo = options.dynamo ?? (local as NonNullable<typeof local>).client();
  const tableName = `breakwater-serve-${randomUUID()}`;
  const [first, ...more] = options.pipelines as [Pipeline, ...Pipeline[]];
  let plane: LocalControlPlane;
  try {
    plane = await createLocalControlPlane({
      dynamo,
      tableName,
      start: options.start ?? new Date(),
      ...(options.installation ? { installation: options.installation } : {}),
      ...(options.notifiers?.length ? { notifiers: options.notifiers } : {}),
      fleet: (clock) =>
        new SimulatedFleet({
          pipeline: first,
          morePipelines: more,
          initialVersion: options.initialVersion,
          clock,
          ...(options.faults?.length ? { faults: options.faults } : {}),
        }),
    });
    for (const p of options.pipelines) await plane.register(p, options.initialVersion);
  } catch (err) {
    await local?.stop();
    throw err;
  }
  const github = options.installation?.github ?? [];
  for (const t of github) {
    if (!names.includes(t.pipeline)) {
      log(
        `warning: github entry ${t.repository} ${t.branch} → ${t.pipeline}: no such pipeline is served (give it with --pipeline)`,
      );
    }
  }
  const deliveries = new DynamoDeliveryStore(dynamo, tableName);
  const publish = (events: Parameters<typeof plane.bus.publish>[0]) => plane.bus.publish(events);
  // "Artifact Published" goes to the control plane's own rule (the stack's function, with the
  // installation's artifactPublishers): a second rule here would handle every event twice.
  plane.bus.observe((e) => {
    const line = progressLine(e);
    if (line) log(line);
  });
  // The wave map: one snapshot read per burst of bus events (every state change publishes one),
  // pushed to every open stream.
  const dashboard = createDashboardRoutes({
    title: `Breakwater wave map (local, ${names.join(", ")})`,
    load: () => collectDashboard(plane.store, { now: plane.clock.now() }),
    ...(options.dashboardClients ? { maxClients: options.dashboardClients } : {}),
    onError: (err) => log(`error: dashboard: ${(err as Error).stack ?? String(err)}`),
  });
  plane.bus.observe(() => dashboard.changed());

  const webhookDeps: GitHubWebhookDeps | undefined = options.webhookSecret
    ? {
        secret: options.webhookSecret,
        config: github,
        reviews: new DynamoReviewStore(dynamo, tableName),
        deliveries,
        runRequests: plane.runRequests,
        publish,
        clock: plane.clock,
        github: new GitHubRestApi({ token: () => options.githubToken ?? "" }),
        ...(options.githubApiUrl ? { defaultApiUrl: options.githubApiUrl } : {}),
      }
    : undefined;
  if (webhookDeps && !options.githubToken) {
    log(
      "warning: no --github-token (or BREAKWATER_GITHUB_TOKEN): no approval counts, approved merges answer 502",
    );
  }
  const webhook = webhookDeps
    ? createWebhookHttpHandler(webhookDeps, {
        // One at a time with the control plane's handlers, as everything on the local clock.
        handle: (req) => plane.clock.track(() => handleGitHubWebhook(req, webhookDeps)),
        onError: (err) => log(`error: GitHub webhook: ${(err as Error).stack ?? String(err)}`),
      })
    : undefined;
  const override = createOverrideHandler(() => plane.deps);
  let overrides = 0;
  const token = options.token ?? randomBytes(32).toString("base64url");
  if (token.length < 16) throw new Error("serve: the token must be at least 16 characters");
  const tokenDigest = createHash("sha256").update(token).digest();
  /**
   * The operator routes change state: they need the bearer token (status, history and health
   * stay open on 127.0.0.1). Compared as SHA-256 digests with timingSafeEqual, so the time taken
   * says nothing about the token, not even its length.
   */
  const authorize = (req: IncomingMessage): void => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
    const given = createHash("sha256")
      .update(m?.[1] ?? "")
      .digest();
    if (!m || !timingSafeEqual(given, tokenDigest)) {
      req.resume();
      throw new HttpError(
        401,
        m
          ? "authorization: the bearer token is wrong (see serve's start banner, --token or $BREAKWATER_TOKEN)"
          : "authorization: is required: send `Authorization: Bearer <token>` (serve prints the token at start; the CLI sends --token or $BREAKWATER_TOKEN)",
      );
    }
  };

  // Reports are recomputed when the table is written (or a second has passed), not per request.
  const statusCache = new ReportCache<string>();
  const writes = watchTableWrites(dynamo, tableName, () => statusCache.invalidate());
  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const key = `${req.method} ${url.pathname}`;
    if (await dashboard.handle(req, res, url)) return;
    switch (key) {
      case "POST /webhooks/github":
        if (!webhook) {
          req.resume();
          throw new HttpError(
            503,
            "the GitHub webhook is off: start serve with --webhook-secret or BREAKWATER_WEBHOOK_SECRET",
          );
        }
        webhook(req, res);
        return;
      case "POST /events": {
        authorize(req);
        const events = parseLocalEvents(await readJson(req));
        const registered = new Set((await plane.store.listPipelines()).map((p) => p.name));
        const unknown = events
          .map((e, i) => ({ i, p: (e.detail as { pipeline?: unknown }).pipeline }))
          .filter(
            ({ i, p }) =>
              [DetailType.ApprovedChangeMerged, ARTIFACT_PUBLISHED].includes(
                events[i]?.["detail-type"] as string,
              ) && !registered.has(String(p)),
          );
        if (unknown.length > 0) {
          throw new HttpError(
            404,
            `unknown pipeline: ${unknown.map((u) => `"${String(u.p)}"`).join(", ")} (served: ${[...registered].join(", ")})`,
            unknown.map((u) => ({
              path: `${events.length > 1 ? `[${u.i}].` : ""}detail.pipeline`,
              message: `no pipeline named "${String(u.p)}"`,
            })),
          );
        }
        const ids: string[] = [];
        for (const e of events) {
          plane.bus.put(e);
          ids.push((plane.bus.log[plane.bus.log.length - 1] as BusEnvelope).id);
        }
        send(res, 202, { result: "accepted", ids });
        return;
      }
      case "GET /status": {
        const pipeline = url.searchParams.get("pipeline") ?? undefined;
        // One computation per change of the table (or per second), shared by every reader.
        const compute = async () =>
          JSON.stringify(
            await collectStatus(plane.store, {
              now: plane.clock.now(),
              ...(pipeline ? { pipeline } : {}),
            }),
          );
        const report = await (options.statusCache === false
          ? compute()
          : statusCache.get(`status:${pipeline ?? ""}`, compute));
        sendText(res, 200, report);
        return;
      }
      case "GET /metrics": {
        const now = plane.clock.now();
        send(res, 200, await metricsQuery(plane.store, url.searchParams, now));
        return;
      }
      case "GET /pipelines": {
        const name = url.searchParams.get("name");
        send(
          res,
          200,
          name ? await collectPipeline(plane.store, name) : await collectPipelines(plane.store),
        );
        return;
      }
      case "GET /history": {
        const target = url.searchParams.get("target");
        if (!target) throw new HttpError(400, "target: is required (?target=<pipeline>[:<scope>])");
        send(res, 200, await collectHistory(plane.store, target));
        return;
      }
      case "POST /override": {
        authorize(req);
        const body = await readJson(req);
        // The request as the function URL delivers it in AWS, with the token's holder as the
        // authenticated caller (serve is the local trust boundary, as Lambda's front end is there).
        const event = {
          version: "2.0",
          rawPath: url.pathname,
          requestContext: {
            http: { method: "POST", path: url.pathname },
            authorizer: { iam: { userArn: LOCAL_PRINCIPAL } },
          },
          body: JSON.stringify(body),
          isBase64Encoded: false,
        };
        const answer = await plane.clock.track(() =>
          override(event, lambdaContext("breakwater-override", `local-override-${++overrides}`)),
        );
        send(res, answer.statusCode, JSON.parse(answer.body));
        return;
      }
      case "GET /health":
        send(res, 200, {
          ok: true,
          now: plane.clock.now().toISOString(),
          speed: options.speed,
          pipelines: names,
        });
        return;
      default: {
        req.resume();
        const routes = [
          "POST /webhooks/github",
          "POST /events",
          "GET /status",
          "GET /history",
          "GET /pipelines",
          "POST /override",
          "GET /health",
          "GET /metrics",
          ...DASHBOARD_ROUTES,
        ];
        const paths = routes.map((r) => r.split(" ")[1]);
        if (paths.includes(url.pathname)) {
          const allowed = routes
            .filter((r) => r.endsWith(` ${url.pathname}`))
            .map((r) => r.split(" ")[0]);
          throw new HttpError(
            405,
            `method ${req.method} is not allowed on ${url.pathname}: use ${allowed.join(", ")}`,
          );
        }
        throw new HttpError(404, `no route ${key}; routes: ${routes.join(", ")}`);
      }
    }
  };

  const timeouts = { ...SERVE_TIMEOUTS, ...options.timeouts };
  const httpOptions = {
    headersTimeout: timeouts.headersMs,
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    // Node checks the two request timeouts on this interval (default 30 s, longer than ours).
    connectionsCheckingInterval: Math.max(
      50,
      Math.min(1_000, Math.floor(Math.min(timeouts.headersMs, timeouts.requestMs) / 4)),
    ),
  };
  const server: Server = createServer(httpOptions, (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    route(req, res, url).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // A body left unread (a 413, or an error before reading it) would otherwise be drained
      // or block the connection: Connection: close makes Node end it after the response.
      if (!req.complete) res.setHeader("connection", "close");
      if (err instanceof HttpError) {
        send(res, err.status, {
          error: err.message,
          ...(err.problems ? { problems: err.problems } : {}),
        });
      } else if (err instanceof OverrideRejectedError || err instanceof InvalidInputError) {
        send(res, 400, { error: err.message, problems: err.problems });
      } else if (err instanceof UnknownTargetError || err instanceof NotFoundError) {
        send(res, 404, { error: err.message });
      } else {
        log(`error: ${req.method} ${url.pathname}: ${(err as Error).stack ?? String(err)}`);
        send(res, 500, { error: `internal error: ${(err as Error).message}` });
      }
    });
  });
  const host = options.host ?? "127.0.0.1";
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await local?.stop();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;

  const stop = new AbortController();
  const loop = plane.clock.runLive({
    speed: options.speed,
    signal: stop.signal,
    onError: (err) => log(`error: ${(err as Error).stack ?? String(err)}`),
  });
  loop.catch((err) => log(`error: the clock stopped: ${String(err)}`));

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    token,
    plane,
    statusComputations: () => statusCache.computations,
    dashboardClients: () => dashboard.clients(),
    close() {
      closing ??= (async () => {
        stop.abort();
        dashboard.close();
        await loop.catch(() => undefined);
        writes.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        if (options.dynamo) {
          await dynamo
            .send(new DeleteTableCommand({ TableName: tableName }))
            .catch(() => undefined);
        }
        await local?.stop();
      })();
      return closing;
    },
  };
}

/** The routes, for the startup banner and the README. */
export function banner(
  url: string,
  options: Pick<ServeOptions, "speed" | "pipelines" | "initialVersion" | "webhookSecret" | "token">,
  now: Date,
): string {
  return [
    `Breakwater control plane on ${url}`,
    `  pipelines: ${options.pipelines.map((p) => p.name).join(", ")} (every scope at ${options.initialVersion})`,
    `  virtual time ${now.toISOString()}, ${options.speed}× real time`,
    `  POST ${url}/webhooks/github${options.webhookSecret ? "" : "  (off: no --webhook-secret)"}`,
    `  POST ${url}/events   GET ${url}/status   GET ${url}/history?target=<pipeline[:scope]>   GET ${url}/pipelines[?name=<pipeline>]   POST ${url}/override`,
    `  wave map (live): ${url}/   GET ${url}/metrics`,
    ...(options.token
      ? [
          `  operator token (POST /events, /override; Authorization: Bearer): ${options.token}`,
          `  export BREAKWATER_TOKEN=${options.token}`,
        ]
      : []),
    `  source: ${SOURCE}; Ctrl-C stops it (state is in memory and is lost)`,
    "",
  ].join("\n");
}
