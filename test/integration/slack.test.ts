/**
 * Slack delivery against a real HTTP server (node:http on 127.0.0.1) standing in for Slack's
 * incoming webhook: rate limits, server errors, timeouts, refused payloads, and the exact
 * Block Kit bodies Slack would receive.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type Notification, toNotification } from "../../src/notify/notification.ts";
import type { DeadLetterSink, DeliveryError } from "../../src/notify/ports.ts";
import {
  type SlackMessage,
  SlackWebhookNotifier,
  type SlackWebhookOptions,
} from "../../src/notify/slack.ts";

interface Received {
  method: string;
  url: string;
  contentType: string | undefined;
  body: unknown;
}

type Responder = (res: ServerResponse) => void;

interface FakeSlack {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

const servers: Server[] = [];

/** A Slack stand-in: the n-th request gets `responders[n]` (the last one repeats). */
async function fakeSlack(responders: Responder[]): Promise<FakeSlack> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      received.push({
        method: req.method ?? "",
        url: req.url ?? "",
        contentType: req.headers["content-type"],
        body: JSON.parse(raw),
      });
      const respond = responders[Math.min(received.length, responders.length) - 1];
      respond?.(res);
    });
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/T000/B000/XXXX`,
    received,
    close: () => closeServer(server),
  };
}

async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  // Hanging requests (the timeout case) keep sockets open: end them so close() returns.
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
});

const reply =
  (status: number, body = "", headers: Record<string, string> = {}): Responder =>
  (res) => {
    res.writeHead(status, { "content-type": "text/plain", ...headers });
    res.end(body);
  };
const ok = reply(200, "ok");
const hang: Responder = () => {
  // Never answers: the client's per-attempt timeout must fire.
};

class RecordingDeadLetter implements DeadLetterSink<SlackMessage> {
  readonly items: { message: SlackMessage; error: DeliveryError }[] = [];
  async put(message: SlackMessage, error: DeliveryError): Promise<void> {
    this.items.push({ message, error });
  }
}

function notifier(url: string, over: Partial<SlackWebhookOptions> = {}) {
  const sleeps: number[] = [];
  const deadLetter = new RecordingDeadLetter();
  const slack = new SlackWebhookNotifier({
    url,
    deadLetter,
    // Records the delays and returns at once: retries run at full speed.
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...over,
  });
  return { slack, sleeps, deadLetter };
}

const rollback: Notification = (() => {
  const n = toNotification({
    source: "breakwater",
    detailType: "Breakwater Scope Event",
    detail: {
      at: "2024-05-06T03:12:45.000Z",
      runId: "orders-api#v2",
      pipeline: "orders-api",
      version: "v2",
      stage: "prod-2",
      scope: "prod-2/us-east-1/use1-az2",
      step: "full",
      event: "rollback-started",
      toVersion: "v1",
      reason:
        "unhealthy: orders-api-5xx-use1-az2: Threshold Crossed: 1 datapoint [12.0] > 5 & rising; detector error-rate: 4.1% vs baseline 0.2%",
    },
  });
  if (!n) throw new Error("a rollback must notify");
  return n;
})();

/** Exactly what Slack must receive for the rollback above. */
const ROLLBACK_BODY = {
  text: "[critical] orders-api: rolling back prod-2/us-east-1/use1-az2",
  blocks: [
    {
      type: "header",
      text: {
        type: "plain_text",
        text: ":rewind: orders-api: rolling back prod-2/us-east-1/use1-az2",
        emoji: true,
      },
    },
    {
      type: "section",
      text: {
        type: "mrkdwn",
        text: "v2 is being rolled back to v1 in prod-2/us-east-1/use1-az2 (alarms and detector). The run is halted: nothing else deploys until an engineer decides.",
      },
    },
    {
      type: "section",
      fields: [
        { type: "mrkdwn", text: "*Scope*\nprod-2/us-east-1/use1-az2" },
        { type: "mrkdwn", text: "*From*\nv2" },
        { type: "mrkdwn", text: "*To*\nv1" },
        { type: "mrkdwn", text: "*Detected by*\nalarms and detector" },
        {
          type: "mrkdwn",
          text: "*Why*\norders-api-5xx-use1-az2: Threshold Crossed: 1 datapoint [12.0] &gt; 5 &amp; rising\ndetector error-rate: 4.1% vs baseline 0.2%",
        },
      ],
    },
    {
      type: "context",
      elements: [
        {
          type: "mrkdwn",
          text: "<!date^1714965165^{date_short_pretty} {time}|2024-05-06T03:12:45.000Z> · run `orders-api#v2`",
        },
      ],
    },
  ],
};

describe("Slack incoming webhook against a local HTTP server", () => {
  it("posts the exact Block Kit body of a rollback as JSON", async () => {
    const server = await fakeSlack([ok]);
    const { slack, sleeps, deadLetter } = notifier(server.url);

    const result = await slack.notify(rollback);

    expect(result).toEqual({ delivered: true, attempts: 1 });
    expect(server.received).toEqual([
      {
        method: "POST",
        url: "/services/T000/B000/XXXX",
        contentType: "application/json; charset=utf-8",
        body: ROLLBACK_BODY,
      },
    ]);
    expect(sleeps).toEqual([]);
    expect(deadLetter.items).toEqual([]);
  });

  it("429 with Retry-After: 1, then 200: delivered on attempt 2 after waiting 1000 ms", async () => {
    const server = await fakeSlack([reply(429, "rate_limited", { "retry-after": "1" }), ok]);
    const { slack, sleeps, deadLetter } = notifier(server.url);

    const result = await slack.notify(rollback);

    expect(result).toEqual({ delivered: true, attempts: 2 });
    expect(sleeps).toEqual([1000]);
    expect(server.received.map((r) => r.body)).toEqual([ROLLBACK_BODY, ROLLBACK_BODY]);
    expect(deadLetter.items).toEqual([]);
  });

  it("500, 502, 503, then 200: delivered on attempt 4 with growing backoff", async () => {
    const server = await fakeSlack([
      reply(500, "rollup_error"),
      reply(502),
      reply(503, "unavailable"),
      ok,
    ]);
    const { slack, sleeps, deadLetter } = notifier(server.url, { baseDelayMs: 500 });

    const result = await slack.notify(rollback);

    expect(result).toEqual({ delivered: true, attempts: 4 });
    expect(server.received).toHaveLength(4);
    // Equal jitter with random() = 0.5: three quarters of 500, 1000, 2000.
    expect(sleeps).toEqual([375, 750, 1500]);
    expect(deadLetter.items).toEqual([]);
  });

  it("jitter stays within each backoff step, and steps never shrink", async () => {
    const server = await fakeSlack([reply(500)]);
    const jitter = [0, 0.999, 0.25, 0.75];
    const { slack, sleeps } = notifier(server.url, {
      baseDelayMs: 100,
      maxDelayMs: 400,
      maxAttempts: 5,
      random: () => jitter.shift() ?? 0,
    });

    await slack.notify(rollback);

    // Steps 100, 200, 400, 400 (capped): each delay in [step/2, step].
    expect(sleeps).toEqual([50, 200, 250, 350]);
    for (let i = 1; i < sleeps.length; i++) {
      expect(sleeps[i]).toBeGreaterThanOrEqual(sleeps[i - 1] ?? 0);
    }
  });

  it("always 500: not delivered, dead-lettered with the last status after exactly maxAttempts requests", async () => {
    const server = await fakeSlack([reply(500, "rollup_error")]);
    const { slack, sleeps, deadLetter } = notifier(server.url, { maxAttempts: 3 });

    const result = await slack.notify(rollback);

    expect(result).toMatchObject({ delivered: false, attempts: 3, deadLettered: true });
    if (result.delivered) throw new Error("unreachable");
    expect(result.error.name).toBe("DeliveryError");
    expect(result.error.toJSON()).toEqual({
      name: "DeliveryError",
      message: "Slack webhook answered 500: rollup_error",
      kind: "http",
      attempts: 3,
      status: 500,
      body: "rollup_error",
    });
    expect(server.received).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
    expect(deadLetter.items).toHaveLength(1);
    expect(deadLetter.items[0]?.message).toEqual(ROLLBACK_BODY);
    expect(deadLetter.items[0]?.error).toBe(result.error);
  });

  it("uses 5 attempts by default", async () => {
    const server = await fakeSlack([reply(503)]);
    const { slack, deadLetter } = notifier(server.url);

    const result = await slack.notify(rollback);

    expect(result.attempts).toBe(5);
    expect(server.received).toHaveLength(5);
    expect(deadLetter.items).toHaveLength(1);
  });

  it("a server that never answers: each attempt times out, is retried, then dead-lettered", async () => {
    const server = await fakeSlack([hang]);
    const { slack, sleeps, deadLetter } = notifier(server.url, {
      timeoutMs: 200,
      maxAttempts: 2,
    });

    const started = performance.now();
    const result = await slack.notify(rollback);
    const elapsed = performance.now() - started;

    expect(result).toMatchObject({ delivered: false, attempts: 2, deadLettered: true });
    if (result.delivered) throw new Error("unreachable");
    expect(result.error.kind).toBe("timeout");
    expect(result.error.message).toBe("no answer from the Slack webhook within 200 ms");
    expect(result.error.status).toBeUndefined();
    expect(server.received).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
    expect(deadLetter.items.map((d) => d.error.kind)).toEqual(["timeout"]);
    // Two real 200 ms timeouts, and no more than that by a wide margin.
    expect(elapsed).toBeGreaterThanOrEqual(380);
    expect(elapsed).toBeLessThan(3000);
  });

  it("a slow answer after a timeout is not counted; the next attempt succeeds", async () => {
    const server = await fakeSlack([hang, ok]);
    const { slack, deadLetter } = notifier(server.url, { timeoutMs: 200 });

    const result = await slack.notify(rollback);

    expect(result).toEqual({ delivered: true, attempts: 2 });
    expect(deadLetter.items).toEqual([]);
  });

  it("400 invalid_blocks: not retried, dead-lettered with the status and body", async () => {
    const server = await fakeSlack([reply(400, "invalid_blocks"), ok]);
    const { slack, sleeps, deadLetter } = notifier(server.url);

    const result = await slack.notify(rollback);

    expect(result).toMatchObject({ delivered: false, attempts: 1, deadLettered: true });
    expect(server.received).toHaveLength(1);
    expect(server.received[0]?.body).toEqual(ROLLBACK_BODY);
    expect(sleeps).toEqual([]);
    expect(deadLetter.items).toHaveLength(1);
    expect(deadLetter.items[0]?.error.toJSON()).toEqual({
      name: "DeliveryError",
      message: "Slack webhook answered 400: invalid_blocks",
      kind: "http",
      attempts: 1,
      status: 400,
      body: "invalid_blocks",
    });
  });

  it("404 no_service (revoked webhook) is not retried either", async () => {
    const server = await fakeSlack([reply(404, "no_service"), ok]);
    const { slack, deadLetter } = notifier(server.url);

    const result = await slack.notify(rollback);

    expect(result.delivered).toBe(false);
    expect(server.received).toHaveLength(1);
    expect(deadLetter.items[0]?.error.status).toBe(404);
  });

  it("connection refused: retried as a network error, then dead-lettered", async () => {
    const server = await fakeSlack([ok]);
    const url = server.url;
    await server.close();
    const { slack, sleeps, deadLetter } = notifier(url, { maxAttempts: 3 });

    const result = await slack.notify(rollback);

    expect(result).toMatchObject({ delivered: false, attempts: 3, deadLettered: true });
    if (result.delivered) throw new Error("unreachable");
    expect(result.error.kind).toBe("network");
    expect(result.error.message).toContain("ECONNREFUSED");
    expect(result.error.message).not.toContain(url);
    expect(sleeps).toHaveLength(2);
    expect(deadLetter.items).toHaveLength(1);
  });
});
