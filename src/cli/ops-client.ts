/**
 * Where `breakwater status`, `history` and `override` go: the local control plane started by
 * `breakwater serve` (HTTP on 127.0.0.1; its operator routes need serve's bearer token), or the
 * deployed one (`--aws --stage <stage>`): its DynamoDB table read directly, and its override
 * function called through its function URL (auth type AWS_IAM) with a request signed (SigV4,
 * service `lambda`) with the caller's AWS credentials — IAM then names the caller to the
 * function, which records that principal in the audit log.
 *
 * The deployed names are looked up in two SSM parameters the stack writes,
 * `/breakwater/<stage>/table-name` and `/breakwater/<stage>/override-url`
 * (`--table` / `--override-url` skip the lookup). SSM rather than fixed physical names:
 * naming the table now would replace (and, on prod, orphan) an existing one; rather than
 * CloudFormation outputs: the CLI would need the CloudFormation client and the stack's name.
 */
import { Sha256 } from "@aws-crypto/sha256-js";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  GetParametersCommand,
  type GetParametersCommandOutput,
  SSMClient,
} from "@aws-sdk/client-ssm";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import type { AwsCredentialIdentityProvider } from "@smithy/types";
import { DynamoStateStore } from "../adapters/aws/dynamo-store.ts";
import type { OverrideResult } from "../app/override.ts";
import type { DoraReport } from "../domain/dora.ts";
import { BreakwaterError } from "../domain/errors.ts";
import type { Problem } from "../domain/pipeline.ts";
import { collectDashboard, type DashboardData } from "../ops/dashboard.ts";
import { metricsQuery } from "../ops/metrics-query.ts";
import { parameterNames } from "../ops/names.ts";
import {
  collectPipeline,
  collectPipelines,
  type PipelineReport,
  type PipelinesReport,
} from "../ops/pipelines.ts";
import {
  collectHistory,
  collectStatus,
  type HistoryReport,
  type StatusReport,
  UnknownTargetError,
} from "../ops/status.ts";

/** The control plane could not be reached (nothing listening, network, credentials). */
export class ControlPlaneUnreachableError extends BreakwaterError {
  override name = "ControlPlaneUnreachableError";
}

/** The control plane refused the request (bad input, unknown target, override rejected). */
export class RequestRejectedError extends BreakwaterError {
  override name = "RequestRejectedError";
  constructor(
    message: string,
    readonly problems: Problem[] = [],
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface OpsBackend {
  /** For messages: where the requests go. */
  readonly where: string;
  /** The control plane's time (relative times like +2h are resolved against it). */
  now(): Promise<Date>;
  status(pipeline?: string): Promise<StatusReport>;
  history(target: string): Promise<HistoryReport>;
  override(request: Record<string, unknown>): Promise<OverrideResult>;
  /** The DORA figures (`breakwater metrics`). */
  metrics(query: { pipeline?: string; since?: string }): Promise<DoraReport>;
  /**
   * Status reports as the state changes, until `signal` aborts: serve's event stream locally,
   * a read of the table every `pollMs` in AWS (the first report at once).
   */
  watch(signal: AbortSignal, pollMs?: number): AsyncIterable<StatusReport>;
  /** The registered pipelines (`pipelines list`). */
  pipelines(): Promise<PipelinesReport>;
  /** One pipeline's current definition and applied revisions (`pipelines diff`, `history`). */
  pipeline(name: string): Promise<PipelineReport>;
}

/** How often `status --watch --aws` reads the table (there is no event stream to follow). */
export const AWS_WATCH_POLL_MS = 5_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** The `snapshot` events of a server-sent event stream, parsed. */
export async function* readSnapshots(body: ReadableStream<Uint8Array>): AsyncIterable<unknown> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = block.split("\n");
      if (!lines.includes("event: snapshot")) continue;
      const data = lines
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n");
      yield JSON.parse(data);
    }
  }
}

export { parameterNames };

/**
 * Reads a control plane's JSON answer: the parsed body when 2xx; a 4xx is a refusal
 * (`RequestRejectedError` with the problems it names), anything else a fault.
 */
async function readAnswer<T>(res: Response, what: string): Promise<T> {
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    throw new Error(`${what}: ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (res.ok) return parsed as T;
  const error = parsed as
    | { error?: string; message?: string; Message?: string; problems?: Problem[] }
    | undefined;
  // Lambda's function URL front end answers a refused signature or permission with
  // {"Message":"Forbidden"} (403) before the function runs.
  const message = error?.error ?? error?.message ?? error?.Message ?? `HTTP ${res.status}`;
  if (res.status >= 400 && res.status < 500) {
    throw new RequestRejectedError(message, error?.problems ?? [], res.status);
  }
  throw new Error(`${what}: ${res.status}: ${message}`);
}

/** The local control plane (`breakwater serve`) over HTTP. */
export class HttpOpsBackend implements OpsBackend {
  readonly where: string;

  /**
   * @param token serve's bearer token, sent on the operator routes (POST): without it serve
   *   answers 401.
   */
  constructor(
    private readonly endpoint: string,
    private readonly fetchImpl: typeof fetch = fetch,
    private readonly token?: string,
  ) {
    this.where = endpoint;
  }

  private async request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(new URL(path, this.endpoint), {
        method,
        ...(body !== undefined
          ? {
              body: JSON.stringify(body),
              headers: {
                "content-type": "application/json",
                ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
              },
            }
          : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ControlPlaneUnreachableError(
        `no control plane answers at ${this.endpoint} (${cause?.code ?? cause?.message ?? (err as Error).message}): start one with \`breakwater serve --pipeline <file>\`, or use --endpoint, or --aws --stage <stage>`,
      );
    }
    if (res.status === 401 && !this.token) {
      await res.text();
      throw new RequestRejectedError(
        `${method} ${path}: serve wants its bearer token: pass --token <token> or set BREAKWATER_TOKEN (serve prints it at start)`,
        [],
        401,
      );
    }
    return readAnswer<T>(res, `${method} ${path}`);
  }

  async now(): Promise<Date> {
    const health = await this.request<{ now: string }>("GET", "/health");
    return new Date(health.now);
  }

  status(pipeline?: string): Promise<StatusReport> {
    return this.request(
      "GET",
      pipeline ? `/status?pipeline=${encodeURIComponent(pipeline)}` : "/status",
    );
  }

  history(target: string): Promise<HistoryReport> {
    return this.request("GET", `/history?target=${encodeURIComponent(target)}`);
  }

  override(request: Record<string, unknown>): Promise<OverrideResult> {
    return this.request("POST", "/override", request);
  }

  metrics(query: { pipeline?: string; since?: string }): Promise<DoraReport> {
    const params = new URLSearchParams(
      Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
    );
    const text = params.toString();
    return this.request("GET", `/metrics${text ? `?${text}` : ""}`);
  }

  /** Follows serve's wave-map stream: one report per snapshot (pushed on every state change). */
  async *watch(signal: AbortSignal): AsyncIterable<StatusReport> {
    let res: Response;
    try {
      res = await this.fetchImpl(new URL("/dashboard/stream", this.endpoint), { signal });
    } catch (err) {
      if (signal.aborted) return;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ControlPlaneUnreachableError(
        `no control plane answers at ${this.endpoint} (${cause?.code ?? cause?.message ?? (err as Error).message}): start one with \`breakwater serve --pipeline <file>\`, or use --endpoint, or --aws --stage <stage>`,
      );
    }
    if (!res.ok || !res.body) {
      await readAnswer(res, "GET /dashboard/stream");
      throw new Error(`GET /dashboard/stream: ${res.status} without a stream`);
    }
    try {
      for await (const snapshot of readSnapshots(res.body)) {
        yield (snapshot as DashboardData).status;
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    }
  }

  pipelines(): Promise<PipelinesReport> {
    return this.request("GET", "/pipelines");
  }

  pipeline(name: string): Promise<PipelineReport> {
    return this.request("GET", `/pipelines?name=${encodeURIComponent(name)}`);
  }
}

export interface AwsTarget {
  stage: string;
  region?: string;
  /** Skip the SSM lookup. */
  table?: string;
  overrideUrl?: string;
  /** The signing credentials (default: the AWS SDK's provider chain, as the AWS CLI finds them). */
  credentials?: AwsCredentialIdentityProvider;
}

/** The region of a function URL (`https://<id>.lambda-url.<region>.on.aws/`), if it names one. */
function regionOfUrl(url: URL): string | undefined {
  return /^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/.exec(url.hostname)?.[1];
}

function unreachable(what: string, err: unknown): ControlPlaneUnreachableError {
  const e = err as Error;
  return new ControlPlaneUnreachableError(`${what}: ${e.name}: ${e.message}`);
}

/** The deployed control plane: its table read directly, its override function URL called. */
export class AwsOpsBackend implements OpsBackend {
  readonly where: string;
  private readonly clientConfig: { region?: string };
  private names: Promise<{ table: string; overrideUrl: string }> | undefined;

  constructor(private readonly target: AwsTarget) {
    this.clientConfig = target.region ? { region: target.region } : {};
    this.where = `stage ${target.stage}${target.region ? ` in ${target.region}` : ""}`;
  }

  /** The table name and the override URL: given, or read from the stage's SSM parameters (once). */
  resolveNames(): Promise<{ table: string; overrideUrl: string }> {
    this.names ??= (async () => {
      const { table, overrideUrl } = this.target;
      if (table && overrideUrl) return { table, overrideUrl };
      const names = parameterNames(this.target.stage);
      const wanted = [...(table ? [] : [names.table]), ...(overrideUrl ? [] : [names.overrideUrl])];
      const ssm = new SSMClient(this.clientConfig);
      let out: GetParametersCommandOutput;
      try {
        out = await ssm.send(new GetParametersCommand({ Names: wanted }));
      } catch (err) {
        throw unreachable(`could not read SSM parameters ${wanted.join(", ")}`, err);
      } finally {
        ssm.destroy();
      }
      if (out.InvalidParameters?.length) {
        throw new RequestRejectedError(
          `stage "${this.target.stage}": SSM parameter ${out.InvalidParameters.join(", ")} does not exist${this.target.region ? ` in ${this.target.region}` : ""} — is Breakwater deployed to this stage and region (npx sst deploy --stage ${this.target.stage})? Or name them with --table and --override-url`,
        );
      }
      const value = (name: string) => out.Parameters?.find((p) => p.Name === name)?.Value ?? "";
      return {
        table: table ?? value(names.table),
        overrideUrl: overrideUrl ?? value(names.overrideUrl),
      };
    })();
    return this.names;
  }

  private async withStore<T>(fn: (store: DynamoStateStore) => Promise<T>): Promise<T> {
    const { table } = await this.resolveNames();
    const client = new DynamoDBClient(this.clientConfig);
    try {
      return await fn(new DynamoStateStore(client, table));
    } catch (err) {
      if (err instanceof UnknownTargetError) throw new RequestRejectedError(err.message);
      if (
        (err as { $metadata?: unknown }).$metadata !== undefined ||
        (err as Error).name === "CredentialsProviderError"
      ) {
        throw unreachable(`could not read table ${table}`, err);
      }
      throw err;
    } finally {
      client.destroy();
    }
  }

  async now(): Promise<Date> {
    return new Date();
  }

  status(pipeline?: string): Promise<StatusReport> {
    return this.withStore((store) =>
      collectStatus(store, { now: new Date(), ...(pipeline ? { pipeline } : {}) }),
    );
  }

  history(target: string): Promise<HistoryReport> {
    return this.withStore((store) => collectHistory(store, target));
  }

  metrics(query: { pipeline?: string; since?: string }): Promise<DoraReport> {
    const params = new URLSearchParams(
      Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
    );
    return this.withStore((store) => metricsQuery(store, params, new Date()));
  }

  /** The wave map's snapshot from the deployed table (read-only: Query and GetItem). */
  dashboard(): Promise<DashboardData> {
    return this.withStore((store) => collectDashboard(store, { now: new Date() }));
  }

  async *watch(signal: AbortSignal, pollMs = AWS_WATCH_POLL_MS): AsyncIterable<StatusReport> {
    while (!signal.aborted) {
      yield await this.status();
      await sleep(pollMs, signal);
    }
  }

  pipelines(): Promise<PipelinesReport> {
    return this.withStore((store) => collectPipelines(store));
  }

  pipeline(name: string): Promise<PipelineReport> {
    return this.withStore((store) => collectPipeline(store, name));
  }

  async override(request: Record<string, unknown>): Promise<OverrideResult> {
    const { overrideUrl } = await this.resolveNames();
    let url: URL;
    try {
      url = new URL(overrideUrl);
    } catch {
      throw new RequestRejectedError(`override URL "${overrideUrl}": is not a URL`);
    }
    const region = this.target.region ?? regionOfUrl(url);
    if (!region) {
      throw new RequestRejectedError(
        `override URL ${overrideUrl}: name the stage's region with --region (the request is signed for it)`,
      );
    }
    const body = JSON.stringify(request);
    // SigV4 for service "lambda": the function URL (auth type AWS_IAM) verifies it, checks
    // lambda:InvokeFunctionUrl, and hands the function the caller's principal ARN.
    const signer = new SignatureV4({
      service: "lambda",
      region,
      credentials: this.target.credentials ?? defaultProvider(),
      sha256: Sha256,
    });
    const query = Object.fromEntries(url.searchParams);
    let signed: HttpRequest;
    try {
      signed = (await signer.sign(
        new HttpRequest({
          method: "POST",
          protocol: url.protocol,
          hostname: url.hostname,
          ...(url.port ? { port: Number(url.port) } : {}),
          path: url.pathname,
          query,
          headers: { host: url.host, "content-type": "application/json" },
          body,
        }),
      )) as HttpRequest;
    } catch (err) {
      throw unreachable("could not sign the override request (AWS credentials)", err);
    }
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: signed.headers,
        body,
        signal: AbortSignal.timeout(60_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ControlPlaneUnreachableError(
        `could not reach the override function at ${overrideUrl}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
    if (res.status === 403) {
      const text = await res.text();
      if (!text.includes('"problems"')) {
        throw new RequestRejectedError(
          `${overrideUrl} refused the signed request (403 ${text.slice(0, 200)}): your AWS identity needs lambda:InvokeFunctionUrl (and lambda:InvokeFunction) on the override function — assume the operators' role (BREAKWATER_OVERRIDE_ROLE_ARN)`,
          [],
          403,
        );
      }
      return readAnswer<OverrideResult>(new Response(text, { status: 403 }), overrideUrl);
    }
    return readAnswer<OverrideResult>(res, overrideUrl);
  }
}
