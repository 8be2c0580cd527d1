/**
 * `breakwater dashboard --aws --stage <stage> [--port 8788]`: the live wave map of a deployed
 * stage, served on 127.0.0.1 from the deployed table with your AWS credentials — read-only
 * (the same `Query`/`GetItem` reads as `status --aws`), and with no operator buttons: actions
 * stay in the CLI. The table has no change stream here, so one poller reads it every
 * `--poll` seconds while a browser is connected, and pushes only what changed.
 * (`breakwater serve` serves the same page at its own `/`.)
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Command } from "commander";
import { createDashboardRoutes } from "../ops/dashboard-http.ts";
import { backendFor, guarded, type IO, OpsUsageError, type TargetFlags } from "./ops.ts";
import type { AwsOpsBackend } from "./ops-client.ts";

export const DEFAULT_DASHBOARD_PORT = 8788;
const NO_OVERRIDES = "https://read-only.invalid/";

interface DashboardFlags extends TargetFlags {
  port: string;
  host: string;
  poll: string;
}

export interface DashboardCommandOptions {
  /** Resolves when the server should stop (default: SIGINT or SIGTERM). */
  until?: (url: string) => Promise<void>;
  env?: NodeJS.ProcessEnv;
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

async function runDashboard(flags: DashboardFlags, io: IO, options: DashboardCommandOptions) {
  if (!flags.aws) {
    throw new OpsUsageError(
      "dashboard needs --aws --stage <stage> (a local `breakwater serve` already serves the wave map at its own address, /)",
    );
  }
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new OpsUsageError(`--port "${flags.port}": must be a whole number from 0 to 65535`);
  }
  const poll = Number(flags.poll);
  if (!Number.isFinite(poll) || poll < 1 || poll > 300) {
    throw new OpsUsageError(`--poll "${flags.poll}": must be from 1 to 300 seconds`);
  }
  const backend = backendFor(flags, options.env ?? process.env) as AwsOpsBackend;
  const dashboard = createDashboardRoutes({
    title: `Breakwater wave map (${backend.where})`,
    load: () => backend.dashboard(),
    pollMs: poll * 1000,
    onError: (err) => io.err.write(`error: dashboard: ${(err as Error).message}\n`),
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    dashboard
      .handle(req, res, url)
      .then((handled) => {
        if (handled) return;
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
        res.end("not found: the wave map is at /\n");
      })
      .catch((err: unknown) => {
        io.err.write(`error: ${req.method} ${url.pathname}: ${(err as Error).message}\n`);
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain; charset=utf-8" });
        res.end(`could not read the stage's table: ${(err as Error).message}\n`);
      });
  });
  // Loopback only: the page shows the table's contents to whoever can reach it.
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, flags.host, () => resolve());
  });
  const url = `http://${flags.host}:${(server.address() as AddressInfo).port}`;
  io.out.write(`Breakwater wave map of ${backend.where} on ${url}/ (read-only; Ctrl-C stops it)\n`);
  try {
    await (options.until ?? untilSignal)(url);
  } finally {
    dashboard.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

export function registerDashboardCommand(
  program: Command,
  io: IO,
  setCode: (code: number) => void,
  options: DashboardCommandOptions = {},
): void {
  program
    .command("dashboard")
    .description(
      "Serve the live wave map of a deployed stage on 127.0.0.1, read-only, with your AWS credentials.",
    )
    .option("--aws", "the deployed control plane (required; needs --stage)")
    .option("--stage <stage>", "the stage you deployed (npx sst deploy --stage <stage>)")
    .option("--region <region>", "the stage's region (default: your AWS configuration's)")
    .option("--table <name>", "the table name, instead of /breakwater/<stage>/table-name from SSM")
    .option("--port <n>", "port on 127.0.0.1 (0: any free port)", String(DEFAULT_DASHBOARD_PORT))
    .option("--poll <seconds>", "read the table this often while a browser is connected", "5")
    .action(async (flags: DashboardFlags) => {
      setCode(
        await guarded(io, false, () =>
          // The wave map never calls the override function: naming its URL (never used) keeps
          // the SSM read to the table's name alone.
          runDashboard({ ...flags, host: "127.0.0.1", overrideUrl: NO_OVERRIDES }, io, options),
        ),
      );
    });
}
