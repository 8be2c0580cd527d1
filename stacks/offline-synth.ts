/**
 * Synthesizes the SST app without AWS credentials or network, the way `sst deploy` would up to
 * the CloudFormation templates: same sst.config.ts, same App construct in "deploy" mode, same
 * function bundling (esbuild, in-process). Used by `npm run synth` and the infra tests.
 *
 * What differs from `sst deploy`, and why:
 * - The account is a placeholder (`sst deploy` asks STS for it); ARNs built from the stack's
 *   account show 123456789012 unless `account` is given.
 * - `App.finish()` looks up the CDK bootstrap stack (an AWS call) only to upload source maps,
 *   and skips that when NODE_ENV is "test" (how SST tests itself). Breakwater ships its source
 *   maps inside the bundles (sst.config.ts), so there is nothing to upload: NODE_ENV is "test"
 *   for the duration of finish().
 * - SST's Node builder always runs `npm install` in each function's bundle folder, even with
 *   nothing to install. With no packages listed that needs no registry; npm runs with
 *   `offline=true` (and no audit/fund/update check) so it never tries the network.
 * - SST's bundles go to a temporary folder instead of `.sst/artifacts`, so two synths (say the
 *   tests and `npm run synth`) cannot clobber each other's bundles.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Aspects, type IAspect, type Stack } from "aws-cdk-lib/core";
import { App, getStack, use } from "sst/constructs";
import { initProject, useProject } from "sst/project.js";
import config from "../sst.config.ts";
import { Breakwater } from "./Breakwater.ts";
import { PIPELINES_DIR_CONTEXT } from "./pipelines.ts";

export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));
/** Placeholder account of offline synths (`sst deploy` uses the caller's account). */
export const OFFLINE_ACCOUNT = "123456789012";

export interface SynthOptions {
  stage: string;
  /** Default: the region of sst.config.ts. */
  region?: string;
  account?: string;
  /** Pipelines directory (default `pipelines/`, or $BREAKWATER_PIPELINES_DIR). */
  pipelinesDir?: string;
  /** Write the cloud assembly (templates, bundled assets, manifest) here; default: discarded. */
  outdir?: string;
  /**
   * Aspects applied to the app before it is synthesized (the infra tests' cdk-nag packs, whose
   * findings are in `messages`).
   */
  aspects?: IAspect[];
}

export interface SynthResult {
  stackName: string;
  /** The stack's CloudFormation template. */
  template: Record<string, unknown>;
  /** Every template of the app, by stack name. */
  templates: Record<string, Record<string, unknown>>;
  /** The cloud assembly folder, when `outdir` was given. */
  outdir?: string;
  /**
   * The stack's annotations (errors, warnings, infos: the aspects' findings among them), as
   * `Annotations.fromStack` would read them. Read here because a second synthesis of the same
   * app (what `Annotations.fromStack` does) trips SST's unique-id aspect.
   */
  messages: { level: string; path: string; data: string }[];
  /**
   * Files for target accounts to deploy themselves (alarm forwarder templates, target role
   * policies), by path relative to the output folder; written there when `outdir` was given.
   */
  targetAccountFiles: Record<string, Record<string, unknown>>;
}

let artifacts: string | undefined;

/** Synthesizes the Breakwater app for one stage, offline. Calls run one after the other. */
export async function synthesize(opts: SynthOptions): Promise<SynthResult> {
  // Always pass the stage: without one, initProject prompts for a personal stage and waits.
  await initProject({ stage: opts.stage, root: PROJECT_ROOT });
  const project = useProject();
  // SST's builders capture the project of the first synth in this process, so the bundles
  // folder must stay the same path for the life of the process.
  artifacts ??= mkdtempSync(join(tmpdir(), "breakwater-sst-artifacts-"));
  project.paths.artifacts = artifacts;

  const outdir = opts.outdir
    ? resolve(opts.outdir)
    : mkdtempSync(join(tmpdir(), "breakwater-cdk-out-"));
  const restore = setEnv({
    NODE_ENV: "test",
    npm_config_offline: "true",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
  });
  try {
    const app = new App(
      {
        mode: "deploy",
        stage: opts.stage,
        name: project.config.name,
        region: opts.region ?? project.config.region ?? "us-east-1",
        account: opts.account ?? OFFLINE_ACCOUNT,
      },
      {
        outdir,
        context: {
          "aws:cdk:enable-path-metadata": false,
          ...(opts.pipelinesDir ? { [PIPELINES_DIR_CONTEXT]: resolve(opts.pipelinesDir) } : {}),
        },
      },
    );
    await config.stacks(app);
    for (const aspect of opts.aspects ?? []) Aspects.of(app).add(aspect);
    // Bundles the functions (SST's deferred tasks), applies removal policies, tags, checks.
    await app.finish();
    const stack: Stack = getStack(Breakwater);
    const { targetAccountFiles } = use(Breakwater) as Awaited<ReturnType<typeof Breakwater>>;
    const assembly = app.synth();
    const templates: Record<string, Record<string, unknown>> = {};
    for (const s of assembly.stacks) templates[s.stackName] = s.template as Record<string, unknown>;
    const template = templates[stack.stackName];
    if (!template) throw new Error(`stack ${stack.stackName} is not in the cloud assembly`);
    if (opts.outdir) {
      for (const [path, body] of Object.entries(targetAccountFiles)) {
        mkdirSync(dirname(join(outdir, path)), { recursive: true });
        writeFileSync(join(outdir, path), `${JSON.stringify(body, null, 2)}\n`);
      }
    }
    return {
      stackName: stack.stackName,
      template,
      templates,
      messages: (
        assembly.stacks.find((st) => st.stackName === stack.stackName)?.messages ?? []
      ).map((m) => ({ level: m.level, path: m.id, data: String(m.entry.data) })),
      targetAccountFiles,
      ...(opts.outdir ? { outdir } : {}),
    };
  } finally {
    restore();
    rmSync(artifacts, { recursive: true, force: true });
    if (!opts.outdir) rmSync(outdir, { recursive: true, force: true });
  }
}

function setEnv(values: Record<string, string>): () => void {
  const before = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  Object.assign(process.env, values);
  return () => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
