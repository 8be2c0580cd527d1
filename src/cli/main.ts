/**
 * The `breakwater` command line. Exit codes:
 *   0 success (the run succeeded), 1 internal error, 2 bad input, 3 the run rolled back,
 *   5 with --expect: the outcome was not the expected one.
 */
import { Command, CommanderError, Option } from "commander";
import { PipelineValidationError } from "../domain/pipeline.ts";
import type { FaultKind, FaultSpec } from "../local/fleet.ts";
import {
  checkSimulationInput,
  SimulationInputError,
  type SimulationResult,
  simulate,
} from "../local/simulate.ts";
import { loadPipelineFile } from "../pipeline-file.ts";
import { ProgressView, renderScopeTable } from "./render.ts";

export const EXIT = { ok: 0, internal: 1, badInput: 2, rolledBack: 3, unexpected: 5 } as const;

class UsageError extends Error {
  override name = "UsageError";
}

const FAULT_KINDS: FaultKind[] = ["faults", "latency", "traffic-drop"];

export function parseFault(value: string): FaultSpec {
  const i = value.lastIndexOf(":");
  const [glob, kind] = i >= 0 ? [value.slice(0, i), value.slice(i + 1)] : [value, "faults"];
  if (!FAULT_KINDS.includes(kind as FaultKind)) {
    throw new UsageError(
      `--fault "${value}": unknown fault kind "${kind}" (use ${FAULT_KINDS.join(", ")})`,
    );
  }
  if (!glob)
    throw new UsageError(`--fault "${value}": needs a scope glob such as 'prod-2/us-east-1/*'`);
  return { scopes: glob, kind: kind as FaultKind };
}

export function parseStart(value: string | undefined, now = new Date()): Date {
  if (value === undefined) return new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(ms)) {
    throw new UsageError(`--start "${value}": must be an ISO time such as 2026-01-05T09:00:00Z`);
  }
  return new Date(ms);
}

interface SimulateFlags {
  pipeline: string;
  fromVersion: string;
  version: string;
  fault: string[];
  start?: string;
  json?: boolean;
  expect?: string;
}

const OUTCOMES = ["succeeded", "rolled-back"];

function exitCodeFor(result: SimulationResult, expected?: string): number {
  if (expected !== undefined) return result.outcome === expected ? EXIT.ok : EXIT.unexpected;
  if (result.outcome === "succeeded") return EXIT.ok;
  if (result.outcome === "rolled-back") return EXIT.rolledBack;
  return EXIT.internal;
}

export type Simulator = typeof simulate;

async function runSimulate(
  flags: SimulateFlags,
  out: NodeJS.WritableStream,
  run: Simulator,
): Promise<number> {
  const faults = flags.fault.map(parseFault);
  if (flags.expect !== undefined && !OUTCOMES.includes(flags.expect)) {
    throw new UsageError(`--expect "${flags.expect}": must be one of ${OUTCOMES.join(", ")}`);
  }
  const start = parseStart(flags.start);
  const pipeline = await loadPipelineFile(flags.pipeline);
  // Every input is checked before anything starts: bad input writes nothing.
  checkSimulationInput({
    pipeline,
    fromVersion: flags.fromVersion,
    version: flags.version,
    faults,
  });
  const view = flags.json ? undefined : new ProgressView(out, start, pipeline);
  view?.header(flags.fromVersion, flags.version, faults);
  const result = await run({
    pipeline,
    fromVersion: flags.fromVersion,
    version: flags.version,
    faults,
    start,
    ...(view ? { onEvent: (e) => view.onEvent(e) } : {}),
  });
  if (flags.json) {
    const { stats: _stats, ...shown } = result;
    out.write(`${JSON.stringify(shown, null, 2)}\n`);
  } else {
    out.write(renderScopeTable(result, pipeline));
  }
  if (flags.expect !== undefined && result.outcome !== flags.expect && !flags.json) {
    out.write(`expected outcome ${flags.expect}, got ${result.outcome}\n`);
  }
  return exitCodeFor(result, flags.expect);
}

export async function main(
  argv: string[],
  io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream } = {
    out: process.stdout,
    err: process.stderr,
  },
  /** The simulator; tests inject a spy to prove that bad input starts nothing. */
  simulator: Simulator = simulate,
): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command("breakwater")
    .description(
      "Safe, hands-off deployments: waves, one-box, bake times, scoped automatic rollback.",
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out.write(s),
      writeErr: (s) => io.err.write(s),
    });

  program
    .command("simulate")
    .description(
      "Run one version through a pipeline on the local control plane (DynamoDB Local, the real state machine and handlers, a simulated fleet, a virtual clock).",
    )
    .requiredOption("--pipeline <file>", "pipeline definition (.json or .ts)")
    .option("--from-version <version>", "version every scope runs before the run", "v1")
    .option("--version <version>", "version to deploy", "v2")
    .addOption(
      new Option(
        "--fault <scope-glob[:kind]>",
        "make the new version unhealthy in matching scopes; kind: faults (default), latency, traffic-drop",
      )
        .argParser((v: string, prev: string[] = []) => [...prev, v])
        .default([]),
    )
    .option("--start <iso-time>", "simulated start time (default: now)")
    .option("--json", "print one JSON object instead of the live view")
    .option(
      "--expect <outcome>",
      "exit 0 when the outcome is this one (succeeded, rolled-back), else 5",
    )
    .action(async (flags: SimulateFlags) => {
      code = await runSimulate(flags, io.out, simulator);
    });

  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === "commander.helpDisplayed" ||
        err.code === "commander.version" ||
        err.exitCode === 0
      ) {
        return EXIT.ok;
      }
      return EXIT.badInput;
    }
    if (err instanceof PipelineValidationError) {
      io.err.write(`error: ${err.message}\n`);
      return EXIT.badInput;
    }
    if (err instanceof UsageError || err instanceof SimulationInputError) {
      io.err.write(`error: ${err.message}\n`);
      return EXIT.badInput;
    }
    io.err.write(`internal error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.internal;
  }
}
