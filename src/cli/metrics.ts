/**
 * `breakwater metrics [--pipeline <name>] [--since 30d|<ISO>] [--json]`: the DORA figures
 * (lead time, deployment frequency, change-failure rate, time to restore) per pipeline, per
 * service and overall, computed from the recorded runs and history (src/domain/dora.ts), from
 * `breakwater serve` or, with `--aws --stage`, the deployed table (read-only).
 */
import type { Command } from "commander";
import { type DoraFigures, type DoraReport, formatMinutes } from "../domain/dora.ts";
import {
  backendFor,
  guarded,
  type IO,
  renderTable,
  type TargetFlags,
  targetOptions,
} from "./ops.ts";

function row(name: string, f: DoraFigures): string[] {
  const cfr = f.changeFailureRate;
  return [
    name,
    `${formatMinutes(f.leadTime.medianMinutes)} (p90 ${formatMinutes(f.leadTime.p90Minutes)}, n=${f.leadTime.samples})`,
    `${f.deploymentsPerDay}/day (${f.deployments})`,
    cfr.rate === undefined
      ? "– (0 runs)"
      : `${Math.round(cfr.rate * 1000) / 10}% (${cfr.failed} of ${cfr.total})`,
    `${formatMinutes(f.timeToRestore.medianMinutes)} (n=${f.timeToRestore.samples})`,
  ];
}

/** The figures as a table for people. */
export function renderMetrics(report: DoraReport): string {
  const head = [
    "",
    "lead time (median)",
    "deploys",
    "change failure rate",
    "time to restore (median)",
  ];
  const rows = [
    ...report.pipelines.map((p) => row(p.pipeline, p)),
    ...report.services.map((s) => row(`service ${s.service} (${s.pipelines.join(", ")})`, s)),
    ...(report.pipelines.length > 1 ? [row("all", report.overall)] : []),
  ];
  return `DORA figures from ${report.from} to ${report.to}\n\n${renderTable(head, rows)}\n`;
}

export function registerMetricsCommand(
  program: Command,
  io: IO,
  setCode: (code: number) => void,
  env: NodeJS.ProcessEnv = process.env,
): void {
  targetOptions(
    program
      .command("metrics")
      .description(
        "DORA figures from the history: lead time (merge to fully deployed), deployment frequency, change-failure rate, time to restore.",
      )
      .option("--pipeline <name>", "only this pipeline")
      .option(
        "--since <when>",
        "from this long ago (30d, 12h; at most 365d) or an ISO time (default 30d)",
      ),
  ).action(async (flags: TargetFlags & { pipeline?: string; since?: string }) => {
    setCode(
      await guarded(io, flags.json, async () => {
        const report = await backendFor(flags, env).metrics({
          ...(flags.pipeline ? { pipeline: flags.pipeline } : {}),
          ...(flags.since ? { since: flags.since } : {}),
        });
        io.out.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderMetrics(report));
      }),
    );
  });
}
