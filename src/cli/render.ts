/** Human output of the CLI: a live progress view and the final version-per-scope table. */
import { styleText } from "node:util";
import type { TimelineEvent } from "../domain/model.ts";
import type { Pipeline } from "../domain/pipeline.ts";
import { pipelineScopes } from "../domain/scope.ts";
import type { BusEnvelope } from "../local/event-bus.ts";
import { type FaultSpec, type LocalTarget, localTargets } from "../local/fleet.ts";
import type { SimulationResult } from "../local/simulate.ts";

type Style = Parameters<typeof styleText>[0];

function colorer(out: NodeJS.WritableStream) {
  const tty = (out as NodeJS.WriteStream).isTTY === true && !process.env.NO_COLOR;
  return (style: Style, text: string) => (tty ? styleText(style, text) : text);
}

/** `+HH:MM` of simulated time since the start (days shown as `+1d HH:MM`). */
export function elapsed(start: Date, at: string): string {
  const minutes = Math.round((Date.parse(at) - start.getTime()) / 60_000);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  const hm = `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
  return d > 0 ? `+${d}d ${hm}` : `+${hm}`;
}

export class ProgressView {
  private readonly c: ReturnType<typeof colorer>;
  private readonly width: number;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly start: Date,
    private readonly pipeline: Pipeline,
  ) {
    this.c = colorer(out);
    this.width = Math.max(...pipelineScopes(pipeline).map((s) => s.id.length), 10);
  }

  header(from: string, arrivals: { version: string; at: Date }[], faults: FaultSpec[]): void {
    const stages = this.pipeline.stages.map((s) => s.name).join(" → ");
    const first = arrivals[0]?.version ?? "?";
    const versions = arrivals
      .map((a) =>
        a.at.getTime() === this.start.getTime()
          ? a.version
          : `${a.version} at ${elapsed(this.start, a.at.toISOString())}`,
      )
      .join(", ");
    this.out.write(
      `${this.c("bold", `Breakwater simulation: ${this.pipeline.name}`)}  ${from} → ${versions}\n` +
        `stages: ${stages}\n` +
        `targets: ${describeTargets(localTargets(this.pipeline))}\n` +
        `start:  ${this.start.toISOString()} (simulated)\n` +
        (faults.length
          ? `faults: ${faults.map((f) => `${f.version ?? first} ${f.kind} in ${f.scopes}`).join(", ")}\n`
          : "") +
        "\n",
    );
  }

  onEvent(e: BusEnvelope): void {
    const d = e.detail as Record<string, string | number | undefined>;
    if (e["detail-type"] === "Breakwater Run Event") {
      const at = this.c("dim", elapsed(this.start, String(d.at)).padStart(10));
      const v = d.version;
      if (d.event === "run-started") {
        this.out.write(`${at}  ${this.c("bold", `── ${v} arrived ──`)}\n`);
      } else if (d.event === "stage-started") {
        this.out.write(`${at}  ${this.c("bold", `── ${v} enters ${d.stage} ──`)}\n`);
      } else if (d.event === "run-halted") {
        this.out.write(`${at}  ${this.c(["bold", "red"], `■ ${v} halted: ${d.reason}`)}\n`);
      } else if (d.event === "run-succeeded") {
        this.out.write(`${at}  ${this.c(["bold", "green"], `✔ ${v} succeeded`)}\n`);
      } else if (
        d.event === "run-superseded" ||
        d.event === "run-resumed" ||
        d.event === "run-rolled-back" ||
        d.event === "run-cancelled"
      ) {
        const what = String(d.event).replace("run-", "");
        this.out.write(
          `${at}  ${this.c(["bold", "yellow"], `◆ ${v} ${what}${d.reason ? `: ${d.reason}` : ""}`)}\n`,
        );
      }
      return;
    }
    if (e["detail-type"] !== "Breakwater Scope Event") return;
    const t = e.detail as unknown as TimelineEvent;
    this.out.write(`${this.line(t)}\n`);
  }

  private line(t: TimelineEvent): string {
    const at = this.c("dim", elapsed(this.start, t.at).padStart(10));
    const scope = t.scope.padEnd(this.width);
    const step = t.step.padEnd(7);
    let what: string;
    switch (t.event) {
      case "deploy-started":
        what = `deploy ${t.version}${t.step === "one-box" ? ` to ${t.percent}% of traffic` : ""}`;
        break;
      case "deploy-finished":
        what =
          t.outcome === "failed"
            ? this.c("red", `deploy failed: ${t.reason}`)
            : t.outcome === "cancelled"
              ? this.c("yellow", "deploy cancelled (rolling back)")
              : "deployed";
        break;
      case "bake-started":
        what = "baking";
        break;
      case "bake-extended":
        what = this.c(
          "yellow",
          `bake ${t.reason ?? "extended"}; judged again at ${t.until ? elapsed(this.start, t.until) : "?"}`,
        );
        break;
      case "tests-started":
        what = `testing: ${t.reason ?? ""}`;
        break;
      case "tests-finished":
        what =
          t.outcome === "passed"
            ? this.c("green", "tests passed")
            : this.c("red", `tests failed: ${t.reason ?? ""}`);
        break;
      case "bake-finished":
        what =
          t.outcome === "Healthy"
            ? this.c("green", "healthy")
            : this.c("red", `${t.outcome?.toLowerCase()}: ${t.reason ?? ""}`);
        break;
      case "rollback-started":
        what = this.c(["bold", "red"], `rolling back to ${t.toVersion}`);
        break;
      case "rollback-finished":
        what = this.c("yellow", `rolled back to ${t.toVersion}`);
        break;
      case "blocked":
        what = this.c("magenta", `blocked: ${t.reason}`);
        break;
      case "unblocked":
        what = this.c("green", "unblocked");
        break;
      case "approval-requested":
        what = this.c("magenta", `awaiting approval${t.reason ? `: ${t.reason}` : ""}`);
        break;
      case "approved":
        what = this.c("green", `approved${t.reason ? `: ${t.reason}` : ""}`);
        break;
      case "rejected":
        what = this.c("red", `rejected${t.reason ? `: ${t.reason}` : ""}`);
        break;
      case "approval-timed-out":
        what = this.c("red", `approval timed out${t.reason ? `: ${t.reason}` : ""}`);
        break;
    }
    return `${at}  ${scope}  ${this.c("cyan", step)}  ${what}`;
  }
}

export function renderScopeTable(result: SimulationResult, pipeline: Pipeline): string {
  const rows = pipelineScopes(pipeline).map((s) => {
    const state = result.scopes[s.id];
    const version = state ? `${state.version}${state.percent ? ` (${state.percent}%)` : ""}` : "?";
    return [s.id, version, state?.status ?? "?"];
  });
  const head = ["scope", "version", "status"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  const lines = [
    "",
    fmt(head),
    fmt(widths.map((w) => "─".repeat(w))),
    ...rows.map(fmt),
    "",
    ...(result.runs.length > 1
      ? result.runs.map((r) => `${r.version}: ${r.outcome}${r.reason ? ` (${r.reason})` : ""}`)
      : [`outcome: ${result.outcome}${result.reason ? ` (${result.reason})` : ""}`]),
    ...result.decisions.map(
      (d) => `decision ${d.action}${d.version ? ` ${d.version}` : ""}: ${d.effect}`,
    ),
    `rolled back: ${result.rolledBack.length ? result.rolledBack.join(", ") : "none"}`,
    `simulated ${formatDuration(result.simulatedSeconds)} in ${(result.wallMs / 1000).toFixed(1)} s wall`,
    "",
  ];
  return lines.join("\n");
}

/**
 * Each run of stages with the same target type and step durations, as one phrase:
 * `alpha, beta lambda-alias (one-box 1 min, full 1 min, rollback 30 s); prod ecs (…)`.
 */
export function describeTargets(targets: readonly LocalTarget[]): string {
  const groups: { stages: string[]; what: string }[] = [];
  for (const t of targets) {
    const what = `${t.type} (one-box ${formatSeconds(t.seconds.oneBox)}, full ${formatSeconds(t.seconds.full)}, rollback ${formatSeconds(t.seconds.rollback)})`;
    const last = groups.at(-1);
    if (last?.what === what) last.stages.push(t.stage);
    else groups.push({ stages: [t.stage], what });
  }
  return groups.map((g) => `${g.stages.join(", ")} ${g.what}`).join("; ");
}

/** `30 s`, `10 min`, `1 min 30 s`. */
export function formatSeconds(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  if (m === 0) return `${s} s`;
  return s === 0 ? `${m} min` : `${m} min ${s} s`;
}

export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min`;
}
