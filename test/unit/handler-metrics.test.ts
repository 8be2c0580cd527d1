/**
 * Handlers publish their metrics through Powertools' `logMetrics` middleware: once per
 * invocation, also when the handler throws (with an error count), plus a cold-start count.
 * Metrics are enabled here (vitest.config.ts disables them for every other test) and the EMF
 * JSON Powertools writes to standard output is captured.
 */
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createDeployHandler } from "../../functions/deploy.ts";
import { ERROR_METRIC, functionMetrics, observe } from "../../functions/lib/handler.ts";
import { createNotifyHandler } from "../../functions/notify.ts";
import { DetailType } from "../../src/app/events.ts";
import { InvalidInputError } from "../../src/domain/errors.ts";
import { ConsoleNotifier, NotifyError } from "../../src/notify/dispatch.ts";

interface Emf {
  _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

const context = (functionName: string) =>
  ({ functionName, awsRequestId: "req-1", getRemainingTimeInMillis: () => 30_000 }) as Context;

let lines: string[];
let saved: string | undefined;

beforeEach(() => {
  saved = process.env.POWERTOOLS_METRICS_DISABLED;
  delete process.env.POWERTOOLS_METRICS_DISABLED;
  // Lambda sets it; Powertools counts a cold start only for on-demand initialization.
  vi.stubEnv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
  lines = [];
  // Powertools' Metrics writes EMF through its own Console on process.stdout.
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split("\n").filter(Boolean));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  if (saved === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
  else process.env.POWERTOOLS_METRICS_DISABLED = saved;
});

function emf(): Emf[] {
  return lines
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Emf)
    .filter((e) => e._aws?.CloudWatchMetrics);
}

const RUN_STARTED = {
  source: "breakwater",
  "detail-type": DetailType.RunEvent,
  detail: {
    at: "2024-05-06T03:12:45.000Z",
    runId: "orders-api#v2",
    pipeline: "orders-api",
    version: "v2",
    event: "run-started",
  },
};

const names = (e: Emf) => e._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => m.Name));

describe("handler metrics (logMetrics middleware)", () => {
  it("a handler that throws still publishes its metrics: an error count and the cold start", async () => {
    const handler = createDeployHandler(() => {
      throw new Error("deps are not needed: the input is refused first");
    });
    await expect(handler({ not: "a deploy input" }, context("breakwater-deploy"))).rejects.toThrow(
      InvalidInputError,
    );
    const out = emf();
    const failed = out.find((e) => names(e).includes(ERROR_METRIC));
    expect(failed, lines.join("\n")).toBeDefined();
    expect(failed?.[ERROR_METRIC]).toBe(1);
    expect(failed?.errorName).toBe("InvalidInputError");
    expect(failed?._aws.CloudWatchMetrics[0]?.Namespace).toBe("Breakwater");
    expect(failed?.service).toBe("breakwater");
    const cold = out.find((e) => names(e).includes("ColdStart"));
    expect(cold?.function_name).toBe("breakwater-deploy");
  });

  it("a channel that fails is counted as a NotifyError and the error is rethrown", async () => {
    const handler = createNotifyHandler(() => [
      new ConsoleNotifier(() => {
        throw new Error("stderr closed");
      }),
    ]);
    await expect(handler(RUN_STARTED, context("breakwater-notify"))).rejects.toThrow(NotifyError);
    const out = emf();
    const failed = out.filter((e) => names(e).includes(ERROR_METRIC));
    expect(failed.map((e) => e.errorName)).toEqual(["NotifyError"]);
    expect(out.some((e) => names(e).includes("NotificationsDelivered"))).toBe(false);
  });

  it("counts only add: one invocation publishes its count once, the cold start only once", async () => {
    const handler = createNotifyHandler(() => [new ConsoleNotifier(() => {})]);
    await handler(RUN_STARTED, context("breakwater-notify"));
    await handler(RUN_STARTED, context("breakwater-notify"));
    const out = emf();
    const delivered = out.filter((e) => names(e).includes("NotificationsDelivered"));
    expect(delivered.map((e) => e.NotificationsDelivered)).toEqual([1, 1]);
    expect(out.filter((e) => names(e).includes("ColdStart"))).toHaveLength(1);
    expect(out.some((e) => names(e).includes(ERROR_METRIC))).toBe(false);
  });

  it("an invocation that counted nothing prints no warning (the local mode's terminal stays clean)", async () => {
    const warned: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      warned.push(String(chunk));
      return true;
    });
    const { metrics } = functionMetrics();
    const handler = middy(async () => "done").use(observe(metrics));
    await handler({}, context("breakwater-plan"));
    await handler({}, context("breakwater-plan"));
    expect([...lines, ...warned].join("\n")).not.toContain("No application metrics");
  });
});
