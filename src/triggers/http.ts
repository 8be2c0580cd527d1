/**
 * node:http adapter for the GitHub webhook (the local control plane's endpoint): POST only, the
 * raw body read with a size limit, the handler's result written as JSON.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type GitHubWebhookDeps,
  handleGitHubWebhook,
  type WebhookRequest,
  type WebhookResponse,
} from "./github.ts";

/** GitHub caps webhook deliveries at 25 MB (larger events are not delivered at all). */
export const GITHUB_MAX_PAYLOAD_BYTES = 25 * 1024 * 1024;

/**
 * The largest webhook body Breakwater reads, locally and in the Lambda function: 5 MB. Far
 * above any pull request or review payload (GitHub caps a PR body at 65,536 characters); below
 * GitHub's 25 MB cap because a Lambda function URL refuses requests over 6 MB before the
 * handler runs, so local mode refuses what AWS would refuse. Only push events with huge commit
 * lists come near it, and they start nothing. Checked before the body is read or its signature
 * computed (a flood of large unsigned bodies costs no HMAC work).
 */
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;

/** The 413 answer of both webhook endpoints. */
export function payloadTooLarge(limit: number): {
  status: 413;
  body: { result: "payload-too-large"; message: string };
} {
  return {
    status: 413,
    body: { result: "payload-too-large", message: `request body exceeds ${limit} bytes` },
  };
}

export interface WebhookHttpOptions {
  maxBodyBytes?: number;
  /** Called with a fault the handler threw (the client gets a bare 500). */
  onError?(err: unknown): void;
  /** The handler, replaceable for tests; defaults to `handleGitHubWebhook(req, deps)`. */
  handle?(req: WebhookRequest): Promise<WebhookResponse>;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

function tooLarge(res: ServerResponse, limit: number): void {
  // Close the connection: the rest of the body is not worth reading to keep it alive.
  const out = payloadTooLarge(limit);
  send(res, out.status, out.body, { connection: "close" });
}

/**
 * Reads the body into one buffer, or reports that it exceeds `limit` (by its Content-Length,
 * before reading anything, or as soon as the streamed bytes pass the limit).
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too-large"> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume(); // discard: let Node finish the request cleanly
      resolve("too-large");
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        resolve("too-large");
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (!done) resolve(Buffer.concat(chunks, size));
    });
    req.on("error", (err) => {
      if (!done) reject(err);
    });
  });
}

/**
 * A `(req, res)` listener for `http.createServer` that serves the GitHub webhook.
 *
 * @example
 * http.createServer(createWebhookHttpHandler(deps)).listen(8787, "127.0.0.1");
 */
export function createWebhookHttpHandler(
  deps: GitHubWebhookDeps,
  options: WebhookHttpOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  // Nothing larger is ever a GitHub delivery: a higher limit only helps a flood.
  if (!Number.isInteger(limit) || limit < 1 || limit > GITHUB_MAX_PAYLOAD_BYTES) {
    throw new RangeError(
      `maxBodyBytes: must be a whole number of bytes from 1 to ${GITHUB_MAX_PAYLOAD_BYTES} (GitHub's 25 MB cap), got ${limit}`,
    );
  }
  const handle = options.handle ?? ((r: WebhookRequest) => handleGitHubWebhook(r, deps));
  return (req, res) => {
    void (async () => {
      if (req.method !== "POST") {
        req.resume();
        send(
          res,
          405,
          { result: "method-not-allowed", message: `method ${req.method} is not allowed: POST` },
          { allow: "POST" },
        );
        return;
      }
      const body = await readBody(req, limit);
      if (body === "too-large") {
        tooLarge(res, limit);
        return;
      }
      const sourceIp = req.socket.remoteAddress;
      const out = await handle({
        headers: req.headers,
        rawBody: body,
        ...(sourceIp ? { sourceIp } : {}),
      });
      send(res, out.status, out.body);
    })().catch((err: unknown) => {
      options.onError?.(err);
      if (res.headersSent) res.destroy();
      else send(res, 500, { result: "error", message: "internal error" });
    });
  };
}
