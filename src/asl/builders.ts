/**
 * Small builders for the Amazon States Language subset Breakwater's state machines use (JSONPath
 * only: no JSONata, no variables, no `.sync`/`.waitForTaskToken`), so that the local interpreter
 * (aws-local-stepfunctions) runs exactly what Step Functions runs.
 *
 * Each builder writes its fields in one fixed order (Type, Comment, Resource, Parameters/Result,
 * ResultPath, TimeoutSeconds, Retry, Catch, Next/End): `JSON.stringify` keeps insertion order, so
 * the generated files are byte-for-byte stable and a review diff shows only real changes.
 */

/** A JSON value as it may appear in a definition (Parameters, Result). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Ends a branch (`"End": true`) instead of naming the next state. */
export const END = Symbol("End");
/** Where a state goes next: a state's name, or {@link END}. */
export type Transition = string | typeof END;

export type Retrier = {
  ErrorEquals: string[];
  IntervalSeconds: number;
  MaxAttempts: number;
  BackoffRate: number;
  MaxDelaySeconds: number;
};

export type Catcher = {
  ErrorEquals: string[];
  ResultPath: string;
  Next: string;
};

/** A Choice rule: a comparison (`Variable` and one operator), an `And`, or either with `Next`. */
export type ChoiceRule = { [key: string]: Json } & { Next?: string };

/** One state, as serialised. Builders below are the only way the machines create them. */
export type State = { Type: string } & { [key: string]: Json | StateMachineBody | undefined };

/** A machine or a Map's ItemProcessor: where to start and the states by name. */
export interface StateMachineBody {
  StartAt: string;
  States: Record<string, State>;
}

/** A whole state machine definition. */
export interface StateMachine extends StateMachineBody {
  Comment: string;
}

/**
 * The one retry policy of every Lambda task (before: written out nine times in stage.asl.json and
 * twice in rollback.asl.json). Retries the errors a handler raises for a lost race or a transient
 * AWS failure (`ConcurrentUpdateError`, `TransientError`), the Lambda service errors AWS
 * recommends retrying, and the task's own timeout; handlers are idempotent, so a retry repeats no
 * side effect. Exponential: 2, 4, 8, 16, 32, 60 s.
 */
export const TASK_RETRY: readonly Retrier[] = [
  {
    ErrorEquals: [
      "ConcurrentUpdateError",
      "TransientError",
      "Lambda.ServiceException",
      "Lambda.AWSLambdaException",
      "Lambda.SdkClientException",
      "Lambda.TooManyRequestsException",
      "Lambda.Unknown",
      "States.Timeout",
    ],
    IntervalSeconds: 2,
    MaxAttempts: 6,
    BackoffRate: 2,
    MaxDelaySeconds: 60,
  },
];

/** Seconds a single Lambda invocation may take before Step Functions raises States.Timeout. */
export const TASK_TIMEOUT_SECONDS = 120;

/**
 * A `${Name}` placeholder, filled by CloudFormation's DefinitionSubstitutions when deployed and by
 * `substitute` (src/app/asl.ts) locally.
 *
 * @example placeholder("DeployFunctionArn") // "${DeployFunctionArn}"
 */
export function placeholder(name: string): string {
  return `\${${name}}`;
}

/** Catch every error left after the retries, keep it under `$.error` and go to `next`. */
export function catchAll(next: string): Catcher[] {
  return [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: next }];
}

function transition(to: Transition): { Next?: string; End?: true } {
  return to === END ? { End: true } : { Next: to };
}

/** Deep copy of a constant, so that no two states share (and could mutate) one array. */
function copy<T>(value: readonly T[]): T[] {
  return structuredClone(value) as T[];
}

export interface TaskOptions {
  comment: string;
  parameters: { [key: string]: Json };
  resultPath: string;
  /** Where the error goes once the retries are spent; without it the execution fails. */
  catchTo?: string;
  next: Transition;
}

/**
 * A Lambda Task with the common timeout and {@link TASK_RETRY}.
 *
 * @example
 * task("${PlanFunctionArn}", { comment: "Plan.", parameters: { "ctx.$": "$.ctx" },
 *   resultPath: "$.plan", next: "Regions" })
 */
export function task(resource: string, options: TaskOptions): State {
  return {
    Type: "Task",
    Comment: options.comment,
    Resource: resource,
    Parameters: options.parameters,
    ResultPath: options.resultPath,
    TimeoutSeconds: TASK_TIMEOUT_SECONDS,
    Retry: copy(TASK_RETRY),
    Catch: options.catchTo === undefined ? undefined : catchAll(options.catchTo),
    ...transition(options.next),
  };
}

export interface PassOptions {
  comment: string;
  /** Exactly one of parameters (paths resolved) and result (a constant). */
  parameters?: { [key: string]: Json };
  result?: Json;
  resultPath?: string;
  next: Transition;
}

/** A Pass state: shapes the state (Parameters) or writes a constant (Result). */
export function pass(options: PassOptions): State {
  return {
    Type: "Pass",
    Comment: options.comment,
    Parameters: options.parameters,
    Result: options.result,
    ResultPath: options.resultPath,
    ...transition(options.next),
  };
}

/** A Wait state for as many seconds as the state says at `secondsPath` (Lambdas never sleep). */
export function wait(comment: string, secondsPath: string, next: string): State {
  return { Type: "Wait", Comment: comment, SecondsPath: secondsPath, Next: next };
}

/** A Choice state: the first matching rule wins, else `defaultNext`. */
export function choice(comment: string, choices: ChoiceRule[], defaultNext: string): State {
  return { Type: "Choice", Comment: comment, Choices: choices, Default: defaultNext };
}

/** A rule comparing `variable` with one operator (e.g. `BooleanEquals`). */
export function rule(variable: string, operator: string, value: Json, next?: string): ChoiceRule {
  return next === undefined
    ? { Variable: variable, [operator]: value }
    : { Variable: variable, [operator]: value, Next: next };
}

/** A rule that holds when all of `rules` hold. */
export function and(rules: ChoiceRule[], next: string): ChoiceRule {
  return { And: rules, Next: next };
}

export interface MapOptions {
  comment: string;
  itemsPath: string;
  /**
   * A fixed concurrency (0: unlimited, 1: one after the other) or a path to read it from; the
   * stage machine's Regions and Phases limits are what enforce safety rule 1.
   */
  maxConcurrency: number | { path: string };
  /** Each iteration's input; without it, the item itself. */
  itemSelector?: { [key: string]: Json };
  itemProcessor: StateMachineBody;
  next: Transition;
}

/** An inline Map whose result is discarded (`ResultPath: null`): its iterations write the store. */
export function map(options: MapOptions): State {
  const concurrency =
    typeof options.maxConcurrency === "number"
      ? { MaxConcurrency: options.maxConcurrency }
      : { MaxConcurrencyPath: options.maxConcurrency.path };
  return {
    Type: "Map",
    Comment: options.comment,
    ItemsPath: options.itemsPath,
    ...concurrency,
    ItemSelector: options.itemSelector,
    ItemProcessor: options.itemProcessor,
    ResultPath: null,
    ...transition(options.next),
  };
}

/** A Succeed state. */
export function succeed(comment: string): State {
  return { Type: "Succeed", Comment: comment };
}

/** A Fail state with a fixed error and either a fixed cause or a path to it. */
export function fail(
  comment: string,
  error: string,
  cause: { cause: string } | { causePath: string },
): State {
  return "cause" in cause
    ? { Type: "Fail", Comment: comment, Error: error, Cause: cause.cause }
    : { Type: "Fail", Comment: comment, Error: error, CausePath: cause.causePath };
}

/** Serialises a machine in the committed form: two-space JSON and a final newline. */
export function render(machine: StateMachine): string {
  return `${JSON.stringify(machine, null, 2)}\n`;
}
