/**
 * `breakwater serve`'s HTTP server against misbehaving clients, over a raw socket (node:net):
 * a body over the limit gets 413 and the connection is closed (not left half-read), and slow
 * or idle clients are cut off by the header, request and keep-alive timeouts.
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { type RunningServer, startServe } from "../../src/local/serve.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../../src/triggers/http.ts";
import { dynamoClient } from "../support/dynamo.ts";
import { WEBHOOK_SECRET } from "../support/github-examples.ts";

const pipeline = parsePipeline({
  name: "hello-api",
  stages: [{ name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } }],
});

/** Timeouts short enough for a test, far apart enough to tell which one fired. */
const TIMEOUTS = { headersMs: 400, requestMs: 1_200, keepAliveMs: 300 };
/** The operator routes want serve's bearer token before anything else (401 without it). */
const TOKEN = "serve-http-test-token-0123456789";
const AUTH = `Authorization: Bearer ${TOKEN}\r\n`;

interface Conversation {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves with the time (ms since connect) the server closed the connection, or rejects. */
  closed: Promise<number>;
}

function open(port: number, withinMs = 3_000): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const started = Date.now();
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      text += d;
    });
    // Writes after the server closed fail with EPIPE/ECONNRESET: that is the point.
    socket.on("error", () => {});
    const closed = new Promise<number>((res, rej) => {
      const timer = setTimeout(() => {
        socket.destroy();
        rej(new Error(`the server kept the connection open for ${withinMs} ms`));
      }, withinMs);
      socket.on("close", () => {
        clearTimeout(timer);
        res(Date.now() - started);
      });
    });
    closed.catch(() => {});
    socket.once("connect", () => resolve({ socket, received: () => text, closed }));
    socket.once("error", reject);
  });
}

const status = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
const header = (text: string, name: string) =>
  new RegExp(`^${name}: *(.*)$`, "im").exec(text.split("\r\n\r\n")[0] ?? "")?.[1]?.trim();

describe("serve over a raw socket", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServe({
      pipelines: [pipeline],
      initialVersion: "v1",
      port: 0,
      speed: 60,
      webhookSecret: WEBHOOK_SECRET,
      dynamo: dynamoClient(),
      log: () => {},
      timeouts: TIMEOUTS,
      token: TOKEN,
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it.each([
    ["/events", 1024 * 1024],
    ["/override", 1024 * 1024],
    ["/webhooks/github", DEFAULT_MAX_BODY_BYTES],
  ])(
    "%s: a declared body over the limit gets 413 and the connection is closed, unread",
    async (path, limit) => {
      const c = await open(server.port);
      c.socket.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Type: application/json\r\nContent-Length: ${limit + 1}\r\n\r\n`,
      );
      c.socket.write("x".repeat(1024)); // a little of it, then nothing: the server must not wait
      await c.closed;
      expect(status(c.received())).toBe(413);
      expect(header(c.received(), "connection")).toBe("close");
    },
  );

  it.each([
    ["/events", 1024 * 1024],
    ["/webhooks/github", DEFAULT_MAX_BODY_BYTES],
  ])(
    "%s: a streamed (chunked) body over the limit gets 413 and the connection is closed",
    async (path, limit) => {
      const c = await open(server.port);
      c.socket.write(
        `POST ${path} HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      );
      const chunk = "x".repeat(256 * 1024);
      for (let sent = 0; sent <= limit; sent += chunk.length) {
        if (c.socket.destroyed) break;
        c.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      }
      await c.closed;
      expect(status(c.received())).toBe(413);
      expect(header(c.received(), "connection")).toBe("close");
    },
  );

  it("without the token, an oversize body gets 401 and the connection is closed, unread", async () => {
    const c = await open(server.port);
    c.socket.write("POST /override HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n");
    c.socket.write("x".repeat(1024));
    await c.closed;
    expect(status(c.received())).toBe(401);
    expect(header(c.received(), "connection")).toBe("close");
  });

  it("serves the next connection normally after a 413", async () => {
    const bad = await open(server.port);
    bad.socket.write(`POST /events HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: 99999999\r\n\r\n`);
    await bad.closed;
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });

  it("closes a connection whose headers never finish (headersTimeout)", async () => {
    const c = await open(server.port);
    c.socket.write("GET /health HTTP/1.1\r\nHost: x\r\n"); // no blank line: headers never end
    const after = await c.closed;
    expect(after).toBeGreaterThanOrEqual(TIMEOUTS.headersMs - 50);
    expect(after).toBeLessThan(TIMEOUTS.requestMs);
  });

  it("closes a request whose body trickles in for too long (requestTimeout)", async () => {
    const c = await open(server.port);
    c.socket.write(`POST /events HTTP/1.1\r\nHost: x\r\n${AUTH}Content-Length: 100\r\n\r\n`);
    const trickle = setInterval(() => c.socket.write("x"), 100);
    try {
      const after = await c.closed;
      expect(after).toBeGreaterThanOrEqual(TIMEOUTS.requestMs - 50);
      expect(status(c.received())).toBe(408);
    } finally {
      clearInterval(trickle);
    }
  });

  it("closes an idle keep-alive connection (keepAliveTimeout)", async () => {
    const c = await open(server.port);
    c.socket.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    const after = await c.closed;
    expect(status(c.received())).toBe(200);
    // Node 20 closes idle keep-alive sockets 1 s after keepAliveTimeout (its grace period);
    // its default (5 s) would keep this one open past the 3 s the helper waits.
    expect(after).toBeGreaterThanOrEqual(TIMEOUTS.keepAliveMs);
    expect(after).toBeLessThan(TIMEOUTS.keepAliveMs + 1_800);
  });
});
