/**
 * `breakwater start`, `approve` and `reject`: an operator's manual start and a stage's approval
 * decision, against `serve` (its bearer token) or a deployed stage (`--aws --stage`, signed with
 * your AWS credentials). Each is one override request: the override function validates it,
 * records the caller's authenticated identity and audits it (the same path as `override`).
 */
import { userInfo } from "node:os";
import type { Command } from "commander";
import {
  backendFor,
  buildOverrideRequest,
  guarded,
  type IO,
  type OverrideFlags,
  renderOverride,
  type TargetFlags,
  targetOptions,
} from "./ops.ts";

interface RunCommandFlags extends TargetFlags {
  pipeline?: string;
  version?: string;
  artifactDigest?: string;
  actor?: string;
  reason?: string;
  dryRun?: boolean;
}

/** The typed name beside the authenticated identity: a claim for readers, never the identity. */
function defaultActor(env: NodeJS.ProcessEnv): string | undefined {
  const name = env.BREAKWATER_ACTOR ?? env.USER ?? safeUserName();
  return name?.replace(/[^A-Za-z0-9._@+-]/g, "").slice(0, 64) || undefined;
}

function safeUserName(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

/** One run command: its flags become one override request. */
function runCommand(
  program: Command,
  spec: { name: string; action: string; description: string; defaultReason?: string },
  io: IO,
  setCode: (code: number) => void,
  env: NodeJS.ProcessEnv,
): Command {
  const cmd = targetOptions(
    program
      .command(spec.name)
      .description(spec.description)
      .requiredOption("--pipeline <name>", "the pipeline")
      .requiredOption("--version <version>", "the version")
      .option("--actor <who>", "who is acting, as typed (default $BREAKWATER_ACTOR or $USER)")
      .option(
        "--reason <why>",
        spec.defaultReason ? `why (audited; default "${spec.defaultReason}")` : "why (audited)",
      )
      .option("--dry-run", "print the request instead of sending it"),
  );
  cmd.action(async (flags: RunCommandFlags) => {
    setCode(
      await guarded(io, flags.json, async () => {
        const actor = flags.actor ?? defaultActor(env);
        const reason = flags.reason ?? spec.defaultReason;
        const request = buildOverrideRequest(
          spec.action,
          {
            ...(flags as OverrideFlags),
            ...(actor ? { actor } : {}),
            ...(reason ? { reason } : {}),
          },
          new Date(),
        );
        if (flags.dryRun) {
          io.out.write(`${JSON.stringify(request, null, 2)}\n`);
          return;
        }
        const result = await backendFor(flags, env).override(request);
        io.out.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : renderOverride(result));
      }),
    );
  });
  return cmd;
}

/** Adds `start`, `approve` and `reject` to the program. */
export function registerRunCommands(
  program: Command,
  io: IO,
  setCode: (code: number) => void,
  env: NodeJS.ProcessEnv = process.env,
): void {
  runCommand(
    program,
    {
      name: "start",
      action: "start",
      description:
        "Start a run of a version by hand: writes an operator's run request (authenticated and audited), which starts the run.",
      defaultReason: "manual start",
    },
    io,
    setCode,
    env,
  ).option("--artifact-digest <digest>", "the artifact's digest (sha256:…), kept with the run");
  runCommand(
    program,
    {
      name: "approve",
      action: "approve",
      description:
        "Approve a run awaiting a stage's approval: the stage starts (authenticated and audited).",
      defaultReason: "approved",
    },
    io,
    setCode,
    env,
  );
  runCommand(
    program,
    {
      name: "reject",
      action: "reject",
      description:
        "Reject a run awaiting a stage's approval: the run ends before that stage (authenticated and audited).",
    },
    io,
    setCode,
    env,
  );
}
