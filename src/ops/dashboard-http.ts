/**
 * The wave map's HTTP routes, shared by `breakwater serve` and `breakwater dashboard --aws`:
 *
 *   GET /                  the page (self-contained, CSP: its own inline style and script only)
 *   GET /dashboard/data    one snapshot (JSON): what the stream sends
 *   GET /dashboard/stream  server-sent events: a `snapshot` at connect and after every change
 *
 * One snapshot serves every client: a change (`changed()`: a bus event locally, a poll of the
 * table in AWS) schedules one read, at most every `throttleMs`, and the result goes to all
 * streams only when it differs from the last one. So N browsers cost one read per change, not N
 * polling loops. The number of streams is bounded (`maxClients`; one more gets 503).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { DashboardData } from "./dashboard.ts";
import { DASHBOARD_CSP, dashboardHtml } from "./dashboard-page.ts";

export const DASHBOARD_DEFAULTS = {
  /** Streams open at once. */
  maxClients: 16,
  /** At most one snapshot read per this interval, however many changes. */
  throttleMs: 200,
  /** A comment line on idle streams, so proxies and browsers keep them. */
  heartbeatMs: 15_000,
};

export interface DashboardOptions {
  /** Reads one snapshot. */
  load: () => Promise<DashboardData>;
  title: string;
  maxClients?: number;
  throttleMs?: number;
  heartbeatMs?: number;
  /**
   * Without change events (the deployed table): read every `pollMs` while at least one stream
   * is open, and push only what changed.
   */
  pollMs?: number;
  onError?: (err: unknown) => void;
}

export interface DashboardRoutes {
  /** Answers the request if it is one of the dashboard's routes; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /** Something changed: read and push a new snapshot soon (throttled). */
  changed(): void;
  /** Open streams. */
  clients(): number;
  /** Ends every stream and timer. */
  close(): void;
}

export const DASHBOARD_ROUTES = ["GET /", "GET /dashboard/data", "GET /dashboard/stream"];

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

/**
 * The dashboard's routes over a snapshot loader.
 *
 * @example
 * const dashboard = createDashboardRoutes({ load: () => collectDashboard(store, { now: new Date() }), title: "Breakwater" });
 * if (await dashboard.handle(req, res, url)) return;
 */
export function createDashboardRoutes(options: DashboardOptions): DashboardRoutes {
  const maxClients = options.maxClients ?? DASHBOARD_DEFAULTS.maxClients;
  const throttleMs = options.throttleMs ?? DASHBOARD_DEFAULTS.throttleMs;
  const heartbeatMs = options.heartbeatMs ?? DASHBOARD_DEFAULTS.heartbeatMs;
  const streams = new Set<ServerResponse>();
  let last: string | undefined;
  let scheduled: NodeJS.Timeout | undefined;
  let reading: Promise<void> | undefined;
  let again = false;
  let closed = false;

  const write = (res: ServerResponse, text: string) => {
    if (!res.writableEnded) res.write(`event: snapshot\ndata: ${text}\n\n`);
  };

  /** One read; a change during it asks for one more afterwards (never two reads at once). */
  const refresh = async (): Promise<void> => {
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      try {
        const text = JSON.stringify(await options.load());
        if (text !== last) {
          last = text;
          for (const res of streams) write(res, text);
        }
      } catch (err) {
        options.onError?.(err);
      } finally {
        reading = undefined;
      }
      if (again && !closed) {
        again = false;
        schedule();
      }
    })();
    return reading;
  };

  const schedule = () => {
    if (closed || scheduled) return;
    scheduled = setTimeout(() => {
      scheduled = undefined;
      void refresh();
    }, throttleMs);
    scheduled.unref();
  };

  const heartbeat = setInterval(() => {
    for (const res of streams) if (!res.writableEnded) res.write(": ping\n\n");
  }, heartbeatMs);
  heartbeat.unref();
  const poll = options.pollMs
    ? setInterval(() => {
        if (streams.size > 0) schedule();
      }, options.pollMs)
    : undefined;
  poll?.unref();

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": String(Buffer.byteLength(text)),
      ...SECURITY_HEADERS,
    });
    res.end(text);
  };

  const openStream = async (req: IncomingMessage, res: ServerResponse) => {
    if (streams.size >= maxClients) {
      sendJson(res, 503, {
        error: `the dashboard serves at most ${maxClients} live streams at once; close one and reload`,
      });
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
      ...SECURITY_HEADERS,
    });
    // A reconnecting browser waits this long (ms) before trying again.
    res.write("retry: 2000\n\n");
    streams.add(res);
    req.socket.setTimeout(0);
    // The response's close (the browser went away, or the server stops); not the request's,
    // which Node emits as soon as a GET's (empty) body has been read.
    res.on("close", () => streams.delete(res));
    if (last === undefined) await refresh();
    else write(res, last);
  };

  return {
    async handle(req, res, url) {
      const key = `${req.method} ${url.pathname}`;
      if (!DASHBOARD_ROUTES.includes(key)) return false;
      req.resume();
      if (key === "GET /") {
        const html = dashboardHtml(options.title);
        res.writeHead(200, {
          "content-type": "text/html; charset=utf-8",
          "content-length": String(Buffer.byteLength(html)),
          "content-security-policy": DASHBOARD_CSP,
          ...SECURITY_HEADERS,
        });
        res.end(html);
      } else if (key === "GET /dashboard/data") {
        sendJson(res, 200, await options.load());
      } else {
        await openStream(req, res);
      }
      return true;
    },
    changed() {
      // Nobody watching: read nothing now; the next stream to open reads afresh.
      if (streams.size === 0) {
        last = undefined;
        return;
      }
      schedule();
    },
    clients: () => streams.size,
    close() {
      closed = true;
      if (scheduled) clearTimeout(scheduled);
      clearInterval(heartbeat);
      if (poll) clearInterval(poll);
      for (const res of streams) res.end();
      streams.clear();
    },
  };
}
