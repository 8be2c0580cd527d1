/**
 * The real `breakwater` CLI in process (`main`, as `bin/breakwater.mjs` runs it), its standard
 * output and error captured: the end-to-end tests drive every command through it. `simulate`
 * runs on the shared DynamoDB Local instead of starting its own.
 */
import { PassThrough } from "node:stream";
import { main, type Simulator } from "../../src/cli/main.ts";
import type { OpsCommandOptions } from "../../src/cli/ops.ts";
import { simulate } from "../../src/local/simulate.ts";
import { dynamoClient } from "./dynamo.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real simulator, on the shared DynamoDB Local. */
export const sharedSimulator: Simulator = (options) =>
  simulate({ ...options, dynamo: dynamoClient() });

export async function runCli(
  args: string[],
  options: { simulator?: Simulator; ops?: OpsCommandOptions } = {},
): Promise<CliResult> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d) => {
    stdout += d;
  });
  err.on("data", (d) => {
    stderr += d;
  });
  const code = await main(
    ["node", "breakwater", ...args],
    { out, err },
    options.simulator ?? sharedSimulator,
    options.ops ?? {},
  );
  return { code, stdout, stderr };
}
