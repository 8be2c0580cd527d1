/**
 * `breakwater status --watch`: the waves as a live terminal view, redrawn in place (on a
 * terminal; appended, one frame per change, when the output is a file or a pipe) each time the
 * state changes, until the runs end. Every scope that is not done says why and until when
 * (the same sentences as `status` and the wave map: src/domain/waits.ts).
 */
import { styleText } from "node:util";
import { waitNote } from "../domain/waits.ts";
import type { PipelineStatus, StatusReport } from "../ops/status.ts";
import type { OpsBackend } from "./ops-client.ts";

type Style = Parameters<typeof styleText>[0];

const MARK: Record<string, [string, Style]> = {
  stable: ["", "green"],
  deploying: ["↑", "blue"],
  baking: ["~", "yellow"],
  "rolling-back": ["↓", "red"],
  "rolled-back": ["✗", "red"],
};

/** The scope's place in its stage: `eu-north-1/eun1-az1` (the stage is the row). */
const place = (scope: string) => scope.split("/").slice(1).join("/");

function renderPipeline(p: PipelineStatus, c: (s: Style, t: string) => string): string[] {
  const width = Math.max(...p.stages.map((s) => s.length), 5);
  const lines = [c("bold", `${p.pipeline}  (${p.stages.join(" → ")})`)];
  for (const stage of p.stages) {
    const tiles = p.scopes
      .filter((s) => s.scope.split("/")[0] === stage)
      .map((s) => {
        const [mark, style] = MARK[s.status] ?? ["?", "white"];
        const share = s.percent < 100 ? ` ${s.percent}%` : "";
        const text = `${place(s.scope)} ${s.version}${share}${mark}${s.blocked ? "⏸" : ""}`;
        return s.status === "stable" && !s.blocked ? text : c(style, text);
      });
    lines.push(`  ${stage.padEnd(width)}  ${tiles.join("  ")}`);
  }
  const waits = p.scopes.filter((s) => s.wait);
  for (const s of waits)
    lines.push(`    ${s.scope}: ${waitNote(s.wait as NonNullable<typeof s.wait>)}`);
  const live = p.runs.filter((r) => r.inFlight);
  for (const r of live) {
    const where = r.currentStage ?? r.waitingFor ?? "";
    const why =
      r.status === "waiting"
        ? ` (waits to enter ${r.waitingFor})`
        : r.haltReason
          ? ` (${r.haltReason}${r.haltedBy ? ` at ${r.haltedBy}` : ""}${r.haltDetail ? `: ${r.haltDetail}` : ""})`
          : "";
    lines.push(`  run #${r.seq} ${r.version} ${r.status} ${where}${why}`);
  }
  if (live.length === 0) lines.push("  runs in flight: none");
  return lines;
}

/** One frame of the live view. */
export function renderWatchFrame(
  report: StatusReport,
  c: (s: Style, t: string) => string = (_s, t) => t,
): string {
  const lines = [`control plane time ${report.at}`];
  for (const p of report.pipelines) lines.push("", ...renderPipeline(p, c));
  if (report.blocks.length) {
    lines.push(
      "",
      ...report.blocks.map((b) => `blocked: ${b.level} ${b.target} (${b.actor}: ${b.reason})`),
    );
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Whether nothing moves any more: no run deploying or waiting for a stage, and no scope
 * deploying, baking or rolling back. A halted run counts as ended here: it waits for an
 * engineer's decision, which `watch` cannot make.
 */
export function runsEnded(report: StatusReport): boolean {
  return report.pipelines.every(
    (p) =>
      p.runs.every((r) => !r.inFlight || r.status === "halted") &&
      p.scopes.every((s) => s.status === "stable" || s.status === "rolled-back"),
  );
}

/** Frames without colours or cursor moves when the output is not a terminal. */
function terminal(out: NodeJS.WritableStream): boolean {
  return (out as NodeJS.WriteStream).isTTY === true;
}

/**
 * Follows the control plane and redraws on every change; resolves when the runs end (or on
 * Ctrl-C). The text is only rewritten when it changed.
 */
export async function runWatch(
  backend: OpsBackend,
  out: NodeJS.WritableStream,
  pipeline?: string,
): Promise<void> {
  const tty = terminal(out);
  const color = tty && !process.env.NO_COLOR;
  const c = (s: Style, t: string) => (color ? styleText(s, t) : t);
  const stop = new AbortController();
  const onInt = () => stop.abort();
  process.once("SIGINT", onInt);
  let previous: string | undefined;
  try {
    if (pipeline) await backend.status(pipeline); // an unknown pipeline is refused up front
    for await (const full of backend.watch(stop.signal)) {
      const report = pipeline
        ? { ...full, pipelines: full.pipelines.filter((p) => p.pipeline === pipeline) }
        : full;
      // The clock line changes on every frame; redraw when anything else did.
      const body = renderWatchFrame(report, c);
      const key = body.slice(body.indexOf("\n"));
      if (key !== previous) {
        previous = key;
        out.write(tty ? `\x1b[H\x1b[2J${body}` : `${body}\n`);
      }
      if (runsEnded(report)) break;
    }
  } finally {
    stop.abort();
    process.off("SIGINT", onInt);
  }
}
