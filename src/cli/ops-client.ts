/**
 * Where `breakwater status`, `history` and `override` go: the local control plane started by
 * `breakwater serve` (HTTP on 127.0.0.1), or the deployed one (`--aws --stage <stage>`): its
 * DynamoDB table read directly and its override function invoked, with the caller's AWS
 * credentials.
 *
 * The deployed names are looked up in two SSM parameters the stack writes,
 * `/breakwater/<stage>/table-name` and `/breakwater/<stage>/override-function-name`
 * (`--table` / `--override-function` skip the lookup). SSM rather than fixed physical names:
 * naming the table now would replace (and, on prod, orphan) an existing one; rather than
 * CloudFormation outputs: the CLI would need the CloudFormation client and the stack's name.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from "@aws-sdk/client-lambda";
import {
  GetParametersCommand,
  type GetParametersCommandOutput,
  SSMClient,
} from "@aws-sdk/client-ssm";
import { DynamoStateStore } from "../adapters/aws/dynamo-store.ts";
import type { OverrideResult } from "../app/override.ts";
import type { Problem } from "../domain/pipeline.ts";
import { parameterNames } from "../ops/names.ts";
import {
  collectHistory,
  collectStatus,
  type HistoryReport,
  type StatusReport,
  UnknownTargetError,
} from "../ops/status.ts";

/** The control plane could not be reached (nothing listening, network, credentials). */
export class ControlPlaneUnreachableError extends Error {
  override name = "ControlPlaneUnreachableError";
}

/** The control plane refused the request (bad input, unknown target, override rejected). */
export class RequestRejectedError extends Error {
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
}

export { parameterNames };

/** The local control plane (`breakwater serve`) over HTTP. */
export class HttpOpsBackend implements OpsBackend {
  readonly where: string;

  constructor(
    private readonly endpoint: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.where = endpoint;
  }

  private async request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchImpl(new URL(path, this.endpoint), {
        method,
        ...(body !== undefined
          ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } }
          : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ControlPlaneUnreachableError(
        `no control plane answers at ${this.endpoint} (${cause?.code ?? cause?.message ?? (err as Error).message}): start one with \`breakwater serve --pipeline <file>\`, or use --endpoint, or --aws --stage <stage>`,
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new Error(
        `${method} ${path}: ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    if (res.ok) return parsed as T;
    const error = parsed as { error?: string; message?: string; problems?: Problem[] } | undefined;
    const message = error?.error ?? error?.message ?? `HTTP ${res.status}`;
    if (res.status >= 400 && res.status < 500) {
      throw new RequestRejectedError(message, error?.problems ?? [], res.status);
    }
    throw new Error(`${method} ${path}: ${res.status}: ${message}`);
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
}

export interface AwsTarget {
  stage: string;
  region?: string;
  /** Skip the SSM lookup. */
  table?: string;
  overrideFunction?: string;
}

/** Error types of the override function that mean "your request was refused", not a fault. */
const REJECTIONS = ["OverrideRejectedError", "InvalidInputError", "NotFoundError"];

function unreachable(what: string, err: unknown): ControlPlaneUnreachableError {
  const e = err as Error;
  return new ControlPlaneUnreachableError(`${what}: ${e.name}: ${e.message}`);
}

/** The deployed control plane: its table read directly, its override function invoked. */
export class AwsOpsBackend implements OpsBackend {
  readonly where: string;
  private readonly clientConfig: { region?: string };
  private names: Promise<{ table: string; overrideFunction: string }> | undefined;

  constructor(private readonly target: AwsTarget) {
    this.clientConfig = target.region ? { region: target.region } : {};
    this.where = `stage ${target.stage}${target.region ? ` in ${target.region}` : ""}`;
  }

  /** The table and function names: given, or read from the stage's SSM parameters (once). */
  resolveNames(): Promise<{ table: string; overrideFunction: string }> {
    this.names ??= (async () => {
      const { table, overrideFunction } = this.target;
      if (table && overrideFunction) return { table, overrideFunction };
      const names = parameterNames(this.target.stage);
      const wanted = [
        ...(table ? [] : [names.table]),
        ...(overrideFunction ? [] : [names.overrideFunction]),
      ];
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
          `stage "${this.target.stage}": SSM parameter ${out.InvalidParameters.join(", ")} does not exist${this.target.region ? ` in ${this.target.region}` : ""} — is Breakwater deployed to this stage and region (npx sst deploy --stage ${this.target.stage})? Or name them with --table and --override-function`,
        );
      }
      const value = (name: string) => out.Parameters?.find((p) => p.Name === name)?.Value ?? "";
      return {
        table: table ?? value(names.table),
        overrideFunction: overrideFunction ?? value(names.overrideFunction),
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

  async override(request: Record<string, unknown>): Promise<OverrideResult> {
    const { overrideFunction } = await this.resolveNames();
    const lambda = new LambdaClient(this.clientConfig);
    let res: InvokeCommandOutput;
    try {
      res = await lambda.send(
        new InvokeCommand({
          FunctionName: overrideFunction,
          Payload: new TextEncoder().encode(JSON.stringify(request)),
        }),
      );
    } catch (err) {
      throw unreachable(`could not invoke ${overrideFunction}`, err);
    } finally {
      lambda.destroy();
    }
    const text = res.Payload ? new TextDecoder().decode(res.Payload) : "";
    let payload: unknown;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      throw new Error(
        `${overrideFunction} answered with a payload that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    if (res.FunctionError) {
      // Lambda reports a thrown error as { errorType, errorMessage, trace }; the message of a
      // rejection names every problem with its field.
      const e = (payload ?? {}) as { errorType?: string; errorMessage?: string };
      const message = e.errorMessage ?? `${overrideFunction} failed (${res.FunctionError})`;
      if (e.errorType && REJECTIONS.includes(e.errorType)) throw new RequestRejectedError(message);
      throw new Error(
        `${overrideFunction} failed: ${e.errorType ?? res.FunctionError}: ${message}`,
      );
    }
    return payload as OverrideResult;
  }
}
