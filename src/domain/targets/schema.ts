/**
 * Deploy targets: what a deploy step changes in AWS, chosen by `target.type`. One schema per
 * type; every name is a template over the scope and the version ({@link TARGET_PLACEHOLDERS}).
 * The targets become IAM policy at synth (stacks/targets-iam.ts), so no name may hold an IAM
 * wildcard, and each field's resolved values are what the deploy and rollback roles may touch.
 */
import * as z from "zod";
import { FUNCTION_TARGET, IAM_WILDCARD, ROLE_ARN } from "../aws-names.ts";

/**
 * The placeholders a target's names may use. `{account}` is the account the target runs in (the
 * one of `roleArn`, else the control plane's own); `{digest}` is the version's artifact digest
 * (`sha256:…`, from its run request).
 */
export const TARGET_PLACEHOLDERS = [
  "pipeline",
  "stage",
  "region",
  "az",
  "version",
  "digest",
  "account",
] as const;
export type TargetPlaceholder = (typeof TARGET_PLACEHOLDERS)[number];

const PLACEHOLDER = /\{([^{}]*)\}/g;
const MAX_NAME = 1024;

/** The placeholders a template uses, in order of first use. */
export function placeholdersOf(template: string): string[] {
  const out: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) {
    const name = m[1] as string;
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * A name template: at least one character, at most 1024, no IAM wildcard (`*`, `?`), braces only
 * around a known placeholder.
 */
export function nameTemplate(what: string) {
  const shape = `must be ${what}`;
  return z
    .string({ error: shape })
    .min(1, { error: shape })
    .max(MAX_NAME, { error: `must be at most ${MAX_NAME} characters` })
    .refine((v) => !IAM_WILDCARD.test(v), {
      error: "must not contain an IAM wildcard (* or ?): name exactly one resource per scope",
      abort: true,
    })
    .superRefine((v, ctx) => {
      const unknown = placeholdersOf(v).filter(
        (p) => !(TARGET_PLACEHOLDERS as readonly string[]).includes(p),
      );
      const stray = v.replace(PLACEHOLDER, "").match(/[{}]/);
      if (unknown.length > 0 || stray) {
        ctx.addIssue({
          code: "custom",
          message: `may only use the placeholders ${TARGET_PLACEHOLDERS.map((p) => `{${p}}`).join(", ")}${unknown.length > 0 ? ` (not {${unknown[0]}})` : ""}`,
        });
      }
    });
}

const ROLE_SHAPE =
  "must be an IAM role ARN arn:<partition>:iam::<12-digit account>:role/[path/]<name>";
const exactRoleArn = z
  .string({ error: ROLE_SHAPE })
  .refine((v) => !IAM_WILDCARD.test(v), {
    error: "must not contain an IAM wildcard (* or ?): name exactly one role",
    abort: true,
  })
  .regex(ROLE_ARN, { error: ROLE_SHAPE });
const roleArn = exactRoleArn
  .optional()
  .describe(
    "Role the deploy and rollback functions assume before calling the target's APIs (cross-account targets); no wildcards.",
  );

const seconds = z
  .number({ error: "must be a whole number of seconds from 1 to 86400" })
  .int({ error: "must be a whole number of seconds from 1 to 86400" })
  .min(1, { error: "must be a whole number of seconds from 1 to 86400" })
  .max(86_400, { error: "must be a whole number of seconds from 1 to 86400" });

/** How long this target's steps take in the local mode (simulate, serve): the type's defaults otherwise. */
const localTimings = z
  .object({
    oneBoxSeconds: seconds.optional().describe("Simulated seconds of a one-box step."),
    fullSeconds: seconds.optional().describe("Simulated seconds of a full step."),
    rollbackSeconds: seconds.optional().describe("Simulated seconds of a rollback."),
  })
  .strict()
  .optional()
  .describe(
    "Local mode only: how long a one-box, full and rollback step of this target take in simulated seconds (the type's defaults otherwise).",
  );

const TARGET_SHAPE =
  "must be a Lambda function name (letters, digits, - and _, at most 64), optionally :qualifier, or its ARN arn:<partition>:lambda:<region>:<12-digit account>:function:<name>[:qualifier] (or <account>:function:<name>)";

const lambdaFunctionTarget = z
  .object({
    type: z.literal("lambda-function").describe("The deploy target's type."),
    lambda: z
      .string({ error: "must be a Lambda function name or ARN" })
      .min(1, { error: "must be a Lambda function name or ARN" })
      .refine((v) => !IAM_WILDCARD.test(v), {
        error: "must not contain an IAM wildcard (* or ?): name exactly one function",
        abort: true,
      })
      .regex(FUNCTION_TARGET, { error: TARGET_SHAPE })
      .describe(
        "Your function that performs deployments (README, 'Deploy targets'): a name, name:qualifier, or an ARN; no wildcards.",
      ),
    roleArn,
    local: localTimings,
  })
  .strict()
  .describe("A function you write: Breakwater invokes it to start, poll and cancel each step.");

const lambdaAliasTarget = z
  .object({
    type: z.literal("lambda-alias").describe("The deploy target's type."),
    functionName: nameTemplate("a Lambda function name template").describe(
      "The function whose alias moves, e.g. orders-api-{region} (per AZ: orders-api-{az}).",
    ),
    alias: nameTemplate("an alias name template").describe(
      "The alias the function's callers invoke (e.g. live).",
    ),
    code: z
      .object({
        s3Bucket: nameTemplate("an S3 bucket name template").describe(
          "The bucket of the version's code zip, e.g. builds-{account}-{region}.",
        ),
        s3Key: nameTemplate("an S3 key template").describe(
          "The key of the version's code zip, e.g. orders/{version}.zip.",
        ),
      })
      .strict()
      .optional()
      .describe(
        "The version's code (a zip in S3, e.g. builds/{version}.zip): updated and published per step. Without it, the published version whose description names the Breakwater version is used.",
      ),
    roleArn,
    local: localTimings,
  })
  .strict()
  .describe(
    "A Lambda alias: one-box = weighted routing to the new version, full = the alias on it alone.",
  );

const PASSED_ROLE_SHAPE =
  "must be an IAM role ARN template arn:<partition>:iam::<12-digit account or {account}>:role/[path/]<name>";
/** A role a task definition passes to ECS tasks, as an ARN template (`{account}` allowed). */
function passedRoleArn(what: string) {
  return nameTemplate("an IAM role ARN template")
    .regex(
      /^arn:aws[a-z-]*:iam::(?:\d{12}|\{account\}):role\/(?:[\w+=,.@{}-]+\/)*[\w+=,.@{}-]{1,64}$/,
      {
        error: PASSED_ROLE_SHAPE,
      },
    )
    .optional()
    .describe(`The ARN of ${what}, when it names one: iam:PassRole is granted on it.`);
}

const ecsTarget = z
  .object({
    type: z.literal("ecs").describe("The deploy target's type."),
    cluster: nameTemplate("an ECS cluster name template").describe(
      "The ECS cluster of the service, e.g. orders-{stage}.",
    ),
    service: nameTemplate("an ECS service name template").describe(
      "The service deployed (per AZ: one service per AZ, e.g. orders-{az}).",
    ),
    container: nameTemplate("a container name").describe(
      "The container of the task definition whose image changes.",
    ),
    image: nameTemplate("an image template").describe(
      "The image of a version: with {version} (repo:{version}) or {digest} (repo@{digest}).",
    ),
    // Registering a revision passes the task definition's roles (iam:PassRole): the stack grants
    // it on exactly the roles named here, and the driver refuses a task definition naming others.
    taskRoleArn: passedRoleArn("the task role of the service's task definition"),
    executionRoleArn: passedRoleArn("the execution role of the service's task definition"),
    roleArn,
    local: localTimings,
  })
  .strict()
  .describe(
    "An ECS service: a new task definition revision per version; one-box = a one-task canary service behind the same target groups.",
  );

const CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"] as const;

const cloudformationTarget = z
  .object({
    type: z.literal("cloudformation").describe("The deploy target's type."),
    stackName: nameTemplate("a stack name template").describe(
      "The CloudFormation stack a step updates through a change set, e.g. orders-{stage}.",
    ),
    templateUrl: nameTemplate("an https URL template of the template in S3")
      .regex(/^https:\/\//, { error: "must be an https:// URL (a template in S3)" })
      .describe(
        "The version's template, e.g. https://bucket.s3.amazonaws.com/{version}/stack.json.",
      ),
    parameters: z
      .record(
        z.string().regex(/^[A-Za-z0-9]{1,255}$/, { error: "must be a parameter name" }),
        nameTemplate("a parameter value template"),
        { error: "must map parameter names to value templates" },
      )
      // CloudFormation's own limit: a template declares at most 200 parameters.
      .refine((p) => Object.keys(p).length <= 200, {
        error: "must name at most 200 parameters (CloudFormation's limit)",
      })
      .optional()
      .describe("Stack parameters: names to value templates ({version}, {stage}, {region}...)."),
    capabilities: z
      .array(z.enum(CAPABILITIES, { error: `must be one of ${CAPABILITIES.join(", ")}` }))
      .max(CAPABILITIES.length, {
        error: `must list each of ${CAPABILITIES.join(", ")} at most once`,
      })
      .optional()
      .describe("The capabilities the change set acknowledges (CAPABILITY_IAM, ...)."),
    roleArn,
    local: localTimings,
  })
  .strict()
  .describe(
    "A CloudFormation stack: a change set per step. No one-box (a stack cannot split traffic).",
  );

const appconfigTarget = z
  .object({
    type: z.literal("appconfig").describe("The deploy target's type."),
    application: nameTemplate("an AppConfig application id or name template").describe(
      "The AppConfig application (id or name).",
    ),
    environment: nameTemplate("an AppConfig environment id or name template").describe(
      "The AppConfig environment a step deploys to (id or name), e.g. {stage}.",
    ),
    configurationProfile: nameTemplate("a configuration profile id or name template").describe(
      "The configuration profile whose hosted version labelled with the Breakwater version is deployed.",
    ),
    roleArn,
    local: localTimings,
  })
  .strict()
  .describe(
    "AppConfig: deploys the hosted configuration version labelled with the Breakwater version, all at once (Breakwater bakes). No one-box.",
  );

const codebuildTarget = z
  .object({
    type: z.literal("codebuild").describe("The deploy target's type."),
    project: nameTemplate("a CodeBuild project name template").describe(
      "The CodeBuild project a step starts (it reads BREAKWATER_VERSION, BREAKWATER_PERCENT, BREAKWATER_KIND).",
    ),
    roleArn,
    local: localTimings,
  })
  .strict()
  .describe(
    "A CodeBuild build per step with BREAKWATER_* environment variables: the escape hatch (kubectl, terraform, cdk deploy, S3 sync).",
  );

const noneTarget = z
  .object({ type: z.literal("none").describe("The deploy target's type."), local: localTimings })
  .strict()
  .describe("Deploys nothing: a dry run of the pipeline's waves, bakes and blockers.");

export const TARGET_TYPES = [
  "lambda-function",
  "lambda-alias",
  "ecs",
  "cloudformation",
  "appconfig",
  "codebuild",
  "none",
] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

const typedTarget = z.discriminatedUnion(
  "type",
  [
    lambdaFunctionTarget,
    lambdaAliasTarget,
    ecsTarget,
    cloudformationTarget,
    appconfigTarget,
    codebuildTarget,
    noneTarget,
  ],
  {
    error: `must be one of ${TARGET_TYPES.join(", ")} (or { "lambda": … }, a lambda-function target)`,
  },
);

/**
 * A deploy target. A plain `{ "lambda": … }` (the original form) is a `lambda-function` target.
 *
 * @example
 * deployTargetSchema.parse({ type: "lambda-alias", functionName: "orders-{region}", alias: "live" });
 * deployTargetSchema.parse({ lambda: "orders-deployer" }); // { type: "lambda-function", lambda: … }
 */
export const deployTargetSchema = z.preprocess(
  (v) =>
    v !== null && typeof v === "object" && !Array.isArray(v) && !("type" in v) && "lambda" in v
      ? { type: "lambda-function", ...v }
      : v,
  typedTarget,
);

export type DeployTarget = z.output<typeof typedTarget>;
export type TargetOf<T extends TargetType> = Extract<DeployTarget, { type: T }>;
