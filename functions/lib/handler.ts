/**
 * Thin handlers: parse the input with its schema, call the application service, let errors
 * (whose `name` the state machine matches) propagate. The same factory builds the AWS handler
 * (deps from the environment) and the local mode's in-process handler (local twins).
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import type { z } from "zod";
import type { Deps } from "../../src/app/deps.ts";
import { InvalidInputError } from "../../src/domain/errors.ts";
import { formatPath } from "../../src/domain/pipeline.ts";

export const logger = new Logger({ serviceName: "breakwater" });

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
): (deps: DepsProvider) => LambdaHandler {
  return (provide) =>
    middy(async (event: unknown) => {
      const input = parseInput(schema, event, name);
      return run(await provide(), input);
    }).use(injectLambdaContext(logger)) as unknown as LambdaHandler;
}
