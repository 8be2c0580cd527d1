/**
 * What the stack reads at synth besides the code: the pipelines directory, the installation
 * config, and the CDK context / environment settings. Read once, before any resource is made,
 * so a bad setting fails the synth with its name.
 */
import { join } from "node:path";
import type { App } from "sst/constructs";
import type { Installation } from "../../src/domain/installation.ts";
import { parsePrincipalPatterns } from "../../src/domain/override.ts";
import {
  type LoadedPipeline,
  loadInstallation,
  loadPipelines,
  PIPELINES_DIR_CONTEXT,
  PIPELINES_DIR_ENV,
} from "../pipelines.ts";

/** The SSM parameter with the Slack incoming-webhook URL (optional): CDK context or environment. */
const SLACK_PARAMETER_CONTEXT = "breakwater:slackWebhookParameter";
const SLACK_PARAMETER_ENV = "BREAKWATER_SLACK_WEBHOOK_PARAMETER";
/** The operators' role, allowed to call the override function URL (optional): CDK context or environment. */
const OVERRIDE_ROLE_CONTEXT = "breakwater:overrideRoleArn";
/** The SSM SecureString parameter with the GitHub webhook secret (default /breakwater/<stage>/github-webhook-secret). */
const WEBHOOK_SECRET_CONTEXT = "breakwater:githubWebhookSecretParameter";
const WEBHOOK_SECRET_ENV = "BREAKWATER_GITHUB_WEBHOOK_SECRET_PARAMETER";
/**
 * The SSM SecureString parameter with the GitHub API token the webhook asks who may approve with
 * (default /breakwater/<stage>/github-token).
 */
const GITHUB_TOKEN_CONTEXT = "breakwater:githubTokenParameter";
const GITHUB_TOKEN_ENV = "BREAKWATER_GITHUB_TOKEN_PARAMETER";
const OVERRIDE_ROLE_ENV = "BREAKWATER_OVERRIDE_ROLE_ARN";
/** Optional allow-list of override callers: principal ARN patterns (`*` wildcards), comma-separated. */
const OVERRIDE_PRINCIPALS_CONTEXT = "breakwater:overridePrincipals";
const OVERRIDE_PRINCIPALS_ENV = "BREAKWATER_OVERRIDE_PRINCIPALS";
/** The former allow-list of typed actor names: refused, so a stale setting cannot pass silently. */
const OVERRIDE_ACTORS_CONTEXT = "breakwater:overrideActors";
const OVERRIDE_ACTORS_ENV = "BREAKWATER_OVERRIDE_ACTORS";
/**
 * Reserved concurrency (safety: the fast-rollback path is never starved). The public webhook is
 * capped so a flood of unsigned requests is throttled at the webhook (429) instead of using up
 * the account's concurrency; alarm-state-change and rollback keep concurrency of their own.
 */
const WEBHOOK_CONCURRENCY = {
  context: "breakwater:webhookConcurrency",
  env: "BREAKWATER_WEBHOOK_CONCURRENCY",
  fallback: 10,
};
const ROLLBACK_CONCURRENCY = {
  context: "breakwater:rollbackConcurrency",
  env: "BREAKWATER_ROLLBACK_CONCURRENCY",
  fallback: 5,
};

export interface StackSettings {
  pipelines: LoadedPipeline[];
  installation: Installation | undefined;
  webhookConcurrency: number;
  rollbackConcurrency: number;
  /** SSM parameter name of the Slack webhook URL, if notifications go to Slack. */
  slackParameter: string | undefined;
  webhookSecretParameter: string;
  githubTokenParameter: string;
  /** The operators' role that may call the override function URL, if one is configured. */
  overrideRoleArn: string | undefined;
  /** Validated principal ARN patterns allowed to override (empty: no allow-list). */
  allowedPrincipals: string[];
}

/**
 * Reads and checks every synth-time setting (CDK context wins over the environment). Throws
 * PipelineDirectoryError for invalid pipeline files and a named error for a bad setting.
 */
export async function readSettings(app: App, root: string): Promise<StackSettings> {
  const context = (key: string) => app.node.tryGetContext(key) as string | undefined;
  const pipelinesDir =
    context(PIPELINES_DIR_CONTEXT) ?? process.env[PIPELINES_DIR_ENV] ?? join(root, "pipelines");
  // Throws PipelineDirectoryError (every file's problems, with field paths): the synth fails.
  const pipelines = await loadPipelines(pipelinesDir);
  // Its artifactPublishers shape the bus policy and a rule.
  const installation = await loadInstallation(root);
  const concurrencySetting = (setting: typeof WEBHOOK_CONCURRENCY) =>
    reservedConcurrency(
      setting,
      app.node.tryGetContext(setting.context) as unknown,
      process.env[setting.env],
    );
  const webhookConcurrency = concurrencySetting(WEBHOOK_CONCURRENCY);
  const rollbackConcurrency = concurrencySetting(ROLLBACK_CONCURRENCY);
  const slackParameter = context(SLACK_PARAMETER_CONTEXT) ?? process.env[SLACK_PARAMETER_ENV];
  const webhookSecretParameter =
    context(WEBHOOK_SECRET_CONTEXT) ??
    process.env[WEBHOOK_SECRET_ENV] ??
    `/breakwater/${app.stage}/github-webhook-secret`;
  const githubTokenParameter =
    context(GITHUB_TOKEN_CONTEXT) ??
    process.env[GITHUB_TOKEN_ENV] ??
    `/breakwater/${app.stage}/github-token`;
  const overrideRoleArn = context(OVERRIDE_ROLE_CONTEXT) ?? process.env[OVERRIDE_ROLE_ENV];
  if (app.node.tryGetContext(OVERRIDE_ACTORS_CONTEXT) ?? process.env[OVERRIDE_ACTORS_ENV]) {
    throw new Error(
      `${OVERRIDE_ACTORS_ENV} (${OVERRIDE_ACTORS_CONTEXT}) is gone: overrides are allowed by authenticated principal now, not by a typed name; set ${OVERRIDE_PRINCIPALS_ENV} to principal ARN patterns, e.g. arn:aws:sts::123456789012:assumed-role/Operators/*`,
    );
  }
  const overridePrincipals =
    context(OVERRIDE_PRINCIPALS_CONTEXT) ?? process.env[OVERRIDE_PRINCIPALS_ENV];
  // Checked here so a malformed pattern fails the deploy, not every override afterwards.
  const allowedPrincipals = overridePrincipals ? parsePrincipalPatterns(overridePrincipals) : [];
  return {
    pipelines,
    installation,
    webhookConcurrency,
    rollbackConcurrency,
    slackParameter,
    webhookSecretParameter,
    githubTokenParameter,
    overrideRoleArn,
    allowedPrincipals,
  };
}

/**
 * A reserved-concurrency setting from CDK context or the environment: a whole number from 1 to
 * 1000 (0 would stop the function; AWS keeps 100 of the account's quota unreserved, see README).
 */
function reservedConcurrency(
  setting: { context: string; env: string; fallback: number },
  fromContext: unknown,
  fromEnv: string | undefined,
): number {
  const raw = fromContext ?? fromEnv;
  if (raw === undefined) return setting.fallback;
  const n = typeof raw === "number" ? raw : Number(String(raw).trim());
  if (!Number.isInteger(n) || n < 1 || n > 1000 || String(raw).trim() === "") {
    throw new Error(
      `${setting.env} (or context ${setting.context}): must be a whole number from 1 to 1000 (reserved concurrency), got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}
