/**
 * Thin handlers: parse the input with its schema, call the application service, let errors
 * (whose `name` the state machine matches) propagate. The same factory builds the AWS handler
 * (deps from the environment) and the local mode's in-process handler (local twins).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import type { z } from "zod";
import type { Deps } from "../../src/app/deps.ts";
import { InvalidInputError } from "../../src/domain/errors.ts";
import { formatPath } from "../../src/domain/pipeline.ts";

export const logger = new Logger({ serviceName: "breakwater" });

/**
 * CloudWatch metrics (embedded metric format) in namespace `Breakwater`. The local mode and the
 * tests set POWERTOOLS_METRICS_DISABLED (bin/*.mjs, vitest.config.ts): there is no CloudWatch.
 */
export const metrics = new Metrics({ namespace: "Breakwater", serviceName: "breakwater" });

/** Names a count to emit for a handler's result (undefined: nothing to count). */
export type Measure<R> = (result: R) => string | undefined;

/** Emits `name` = 1 for this invocation, at once (nothing is emitted when nothing is counted). */
export function count(name: string | undefined): void {
  if (!name) return;
  metrics.addMetric(name, MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
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
  throw new InvalidInputError(
    `invalid ${what} input: ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join("; ")}`,
    problems,
  );
}

/** Builds a middy handler factory for one function. */
export function defineHandler<S extends z.ZodType, R>(
  name: string,
  schema: S,
  run: (deps: Deps, input: z.output<S>) => Promise<R>,
  measure?: Measure<R>,
): (deps: DepsProvider) => LambdaHandler {
  return (provide) =>
    middy(async (event: unknown) => {
      const input = parseInput(schema, event, name);
      const result = await run(await provide(), input);
      if (measure) count(measure(result));
      return result;
    }).use(injectLambdaContext(logger)) as unknown as LambdaHandler;
}
