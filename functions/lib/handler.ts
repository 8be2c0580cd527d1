/**
 * Thin handlers: parse the input with its schema, call the application service, let errors
 * (whose `name` the state machine matches) propagate. The same factory builds the AWS handler
 * (deps from the environment) and the local mode's in-process handler (local twins).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy, { type MiddlewareObj } from "@middy/core";
import type { Context } from "aws-lambda";
import type * as z from "zod";
import type { Deps } from "../../src/app/deps.ts";
import { InvalidInputError } from "../../src/domain/errors.ts";
import { formatPath, formatProblems } from "../../src/domain/pipeline.ts";

export const logger = new Logger({ serviceName: "breakwater" });

/** Names a count to emit for a handler's result (undefined: nothing to count). */
export type Measure<R> = (result: R) => string | undefined;

/** The count added, beside the handler's own, when an invocation throws. */
export const ERROR_METRIC = "HandlerErrors";

/**
 * Where Metrics' own warnings go: the structured log, except "No application metrics to
 * publish", which Powertools prints for every invocation that counted nothing. That is normal
 * here (handlers count outcomes, not invocations), and it was a line per task on the terminal
 * in the local mode.
 */
const metricsLog = {
  trace: (...args: unknown[]) => logger.debug(String(args[0]), { args: args.slice(1) }),
  debug: (...args: unknown[]) => logger.debug(String(args[0]), { args: args.slice(1) }),
  info: (...args: unknown[]) => logger.info(String(args[0]), { args: args.slice(1) }),
  warn: (...args: unknown[]) => {
    if (!String(args[0]).startsWith("No application metrics to publish")) {
      logger.warn(String(args[0]), { args: args.slice(1) });
    }
  },
  error: (...args: unknown[]) => logger.error(String(args[0]), { args: args.slice(1) }),
};

/**
 * One function's CloudWatch metrics (embedded metric format, namespace `Breakwater`) and the
 * `count` that adds to them. Nothing is written until the invocation ends: {@link observe}'s
 * `logMetrics` middleware publishes what was added, also when the handler throws (then with
 * {@link ERROR_METRIC}), so a failing invocation is measured too. The local mode and the tests
 * set POWERTOOLS_METRICS_DISABLED (bin/*.mjs, vitest.config.ts): there is no CloudWatch.
 *
 * @example
 * const m = functionMetrics();
 * const handler = middy(async () => { m.count("RunsStarted"); }).use(observe(m.metrics));
 */
export function functionMetrics(): { metrics: Metrics; count: (name: string | undefined) => void } {
  // One instance per handler: a handler's invocation publishes only what it added itself.
  const metrics = new Metrics({
    namespace: "Breakwater",
    serviceName: "breakwater",
    logger: metricsLog,
  });
  return {
    metrics,
    count: (name) => {
      if (name) metrics.addMetric(name, MetricUnit.Count, 1);
    },
  };
}

/** Adds {@link ERROR_METRIC} (and the error's name as metadata) when the handler throws. */
function countErrors(metrics: Metrics): MiddlewareObj {
  return {
    onError: (request) => {
      metrics.addMetric(ERROR_METRIC, MetricUnit.Count, 1);
      if (request.error) metrics.addMetadata("errorName", request.error.name);
    },
  };
}

/**
 * The middlewares every handler uses: the logger's Lambda context, and its metrics published at
 * the end of each invocation (a cold start is counted). `countErrors` comes after `logMetrics`
 * because middy runs `onError` in reverse order: the error count is added before the flush.
 */
export function observe(metrics: Metrics, log: Logger = logger): MiddlewareObj[] {
  return [
    injectLambdaContext(log),
    logMetrics(metrics, { captureColdStartMetric: true }),
    countErrors(metrics),
  ];
}

export type DepsProvider = () => Deps | Promise<Deps>;

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

export function parseInput<S extends z.ZodType>(
  schema: S,
  event: unknown,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(event);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => ({
    path: formatPath(i.path),
    message: i.message,
  }));
  throw new InvalidInputError(`invalid ${what} input: ${formatProblems(problems, "; ")}`, problems);
}

/** Builds a middy handler factory for one function. */
export function defineHandler<S extends z.ZodType, R>(
  name: string,
  schema: S,
  run: (deps: Deps, input: z.output<S>) => Promise<R>,
  measure?: Measure<R>,
): (deps: DepsProvider) => LambdaHandler {
  return (provide) => {
    const { metrics, count } = functionMetrics();
    return middy(async (event: unknown) => {
      const input = parseInput(schema, event, name);
      const result = await run(await provide(), input);
      if (measure) count(measure(result));
      return result;
    }).use(observe(metrics)) as unknown as LambdaHandler;
  };
}
