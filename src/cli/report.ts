/**
 * `simulate --report <file.html>`: one self-contained HTML file with the rollout's timeline as
 * a Gantt chart (scopes as rows; deploy, bake, rollback and blocked time as bars; decisions
 * and halts as marks). It is what a team attaches to a pipeline change's review, so it opens
 * offline: no script, no external asset, inline CSS and SVG only, and a CSP that forbids
 * loading anything. Every string that came from the pipeline file or the run is escaped.
 */
import type { TimelineEvent } from "../domain/model.ts";
import type { SimulationResult } from "../local/simulate.ts";

type Event = Omit<TimelineEvent, "runId" | "pipeline">;

/** One bar on a scope's row. */
export interface ReportBar {
  scope: string;
  version: string;
  kind: "deploy" | "tests" | "bake" | "rollback" | "blocked";
  step: string;
  from: number;
  to: number;
  /** The interval had not ended when the simulation did. */
  open: boolean;
  outcome?: string;
  reason?: string;
  percent?: number;
  toVersion?: string;
}

const STARTS: Partial<Record<Event["event"], ReportBar["kind"]>> = {
  "deploy-started": "deploy",
  "tests-started": "tests",
  "bake-started": "bake",
  "rollback-started": "rollback",
  blocked: "blocked",
};
const ENDS: Partial<Record<Event["event"], ReportBar["kind"]>> = {
  "deploy-finished": "deploy",
  "tests-finished": "tests",
  "bake-finished": "bake",
  "rollback-finished": "rollback",
  unblocked: "blocked",
};

/**
 * Pairs each start event with the next end event of the same scope, version, step and kind.
 * A start with no end runs to the end of the simulation and is marked open.
 */
export function reportBars(timeline: readonly Event[], end: number): ReportBar[] {
  const open = new Map<string, ReportBar>();
  const bars: ReportBar[] = [];
  for (const e of timeline) {
    const at = Date.parse(e.at);
    const started = STARTS[e.event];
    const ended = ENDS[e.event];
    const kind = started ?? ended;
    if (!kind) continue;
    // A blocked interval is the scope's, whatever step it held back.
    const key = `${e.scope}|${e.version}|${kind}|${kind === "blocked" ? "" : e.step}`;
    if (started) {
      const bar: ReportBar = {
        scope: e.scope,
        version: e.version,
        kind,
        step: e.step,
        from: at,
        to: end,
        open: true,
        ...(e.percent !== undefined ? { percent: e.percent } : {}),
        ...(e.reason ? { reason: e.reason } : {}),
        ...(e.toVersion ? { toVersion: e.toVersion } : {}),
      };
      open.set(key, bar);
      bars.push(bar);
      continue;
    }
    const bar = open.get(key);
    if (!bar) continue;
    open.delete(key);
    bar.to = at;
    bar.open = false;
    if (e.outcome) bar.outcome = e.outcome;
    if (e.reason) bar.reason = e.reason;
  }
  return bars;
}

const escapes: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => escapes[c] as string);
}

/** Colour-blind-safe palette (Okabe–Ito) for versions, in arrival order. */
const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"];

function duration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d ? `${d}d` : "", h ? `${h}h` : "", m || (!d && !h) ? `${m}m` : ""].join(" ").trim();
}

/** A tick interval that gives 6–16 ticks over the span. */
function tickStep(spanMs: number): number {
  const steps = [15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080].map((m) => m * 60_000);
  return steps.find((s) => spanMs / s <= 16) ?? (steps.at(-1) as number);
}

const LABEL_W = 260;
const CHART_W = 1100;
const ROW_H = 18;
const HEAD_H = 40;

/** The whole report, as one HTML document. */
export function renderReport(result: SimulationResult): string {
  const start = Date.parse(result.startedAt);
  const end = Math.max(Date.parse(result.finishedAt), start + 60_000);
  const span = end - start;
  const x = (t: number) => LABEL_W + ((t - start) / span) * CHART_W;
  const versions = [result.fromVersion, ...result.runs.map((r) => r.version)];
  const colour = (v: string) => PALETTE[Math.max(0, versions.indexOf(v)) % PALETTE.length];

  // Rows: every scope the pipeline has, in its order; then any scope only the timeline names.
  const scopes = Object.keys(result.scopes);
  for (const e of result.timeline) if (!scopes.includes(e.scope)) scopes.push(e.scope);
  const row = new Map(scopes.map((s, i) => [s, i]));
  const bars = reportBars(result.timeline, end);
  const height = HEAD_H + scopes.length * ROW_H + 30;

  const svg: string[] = [];
  // Stage bands and row labels.
  let previousStage = "";
  scopes.forEach((scope, i) => {
    const y = HEAD_H + i * ROW_H;
    const stage = scope.split("/")[0] ?? "";
    if (stage !== previousStage) {
      svg.push(`<line x1="0" x2="${LABEL_W + CHART_W}" y1="${y}" y2="${y}" class="stage-rule"/>`);
      previousStage = stage;
    }
    if (i % 2 === 1) {
      svg.push(
        `<rect x="${LABEL_W}" y="${y}" width="${CHART_W}" height="${ROW_H}" class="zebra"/>`,
      );
    }
    const final = result.scopes[scope];
    const mark = final ? ` ${final.version} ${final.status}` : "";
    svg.push(
      `<text x="4" y="${y + ROW_H - 5}" class="label" data-scope="${esc(scope)}">${esc(scope)}<tspan class="final">${esc(mark)}</tspan></text>`,
    );
  });
  // Time axis.
  const step = tickStep(span);
  for (let t = start; t <= end; t += step) {
    const tx = x(t);
    svg.push(
      `<line x1="${tx}" x2="${tx}" y1="${HEAD_H - 6}" y2="${height - 30}" class="tick"/>`,
      `<text x="${tx + 2}" y="${HEAD_H - 10}" class="axis">+${esc(duration(t - start))}</text>`,
    );
  }
  // Bars.
  for (const b of bars) {
    const i = row.get(b.scope) ?? 0;
    const pad = b.kind === "deploy" || b.kind === "rollback" ? 2 : 5;
    const y = HEAD_H + i * ROW_H + pad;
    const w = Math.max(1.5, x(b.to) - x(b.from));
    const unhealthy = b.outcome === "Unhealthy" || b.outcome === "failed";
    const classes = [
      "bar",
      b.kind,
      b.open ? "open" : "",
      unhealthy ? "unhealthy" : "",
      b.step === "one-box" ? "one-box" : "",
    ]
      .filter(Boolean)
      .join(" ");
    const fill = b.kind === "blocked" ? "url(#hatch)" : colour(b.version);
    const title = [
      `${b.scope} · ${b.version} · ${b.kind} (${b.step}${b.percent !== undefined && b.percent < 100 ? ` ${b.percent}%` : ""})`,
      `+${duration(b.from - start)} → ${b.open ? "still running at the end" : `+${duration(b.to - start)}`} (${duration(b.to - b.from)})`,
      b.outcome ? `outcome: ${b.outcome}` : "",
      b.toVersion ? `back to ${b.toVersion}` : "",
      b.reason ? `reason: ${b.reason}` : "",
    ]
      .filter(Boolean)
      .join("\n");
    svg.push(
      `<rect x="${x(b.from).toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${ROW_H - 2 * pad}" fill="${fill}" class="${classes}" data-scope="${esc(b.scope)}" data-version="${esc(b.version)}" data-kind="${b.kind}"><title>${esc(title)}</title></rect>`,
    );
  }
  // Decisions and halts: vertical marks across the chart.
  const marks: { at: number; label: string; kind: string }[] = [
    ...result.decisions.map((d) => ({
      at: Date.parse(d.at),
      label: `${d.action}${d.version ? ` ${d.version}` : ""}: ${d.effect}`,
      kind: "decision",
    })),
  ];
  // A version's halt: its first rollback (safety rule 3: from that instant nothing newer starts).
  for (const r of result.runs) {
    const first = result.timeline.find(
      (e) => e.version === r.version && e.event === "rollback-started",
    );
    if (first) {
      marks.push({ at: Date.parse(first.at), label: `${r.version} halted`, kind: "halt" });
    }
  }
  for (const m of marks) {
    const mx = x(m.at);
    svg.push(
      `<line x1="${mx}" x2="${mx}" y1="${HEAD_H - 4}" y2="${height - 30}" class="mark ${m.kind}"><title>${esc(m.label)}</title></line>`,
      `<text x="${mx + 3}" y="${height - 14}" class="mark-label">${esc(m.kind)}: ${esc(m.label.slice(0, 60))}</text>`,
    );
  }

  const legend = versions
    .filter((v, i) => versions.indexOf(v) === i)
    .map((v) => `<span class="key"><i style="background:${colour(v)}"></i>${esc(v)}</span>`)
    .join("");
  const runs = result.runs
    .map(
      (r) =>
        `<tr><td>${esc(r.version)}</td><td>${esc(r.arrivedAt)}</td><td class="outcome ${esc(r.outcome)}">${esc(r.outcome)}</td><td>${esc(r.reason ?? "")}${r.haltedAt ? ` (at ${esc(r.haltedAt)})` : ""}${r.supersededBy ? ` (superseded by ${esc(r.supersededBy)})` : ""}</td></tr>`,
    )
    .join("");
  const events = result.timeline
    .map(
      (e) =>
        `<tr><td>+${esc(duration(Date.parse(e.at) - start))}</td><td>${esc(e.version)}</td><td>${esc(e.scope)}</td><td>${esc(e.step)}</td><td>${esc(e.event)}</td><td>${esc([e.outcome, e.toVersion ? `→ ${e.toVersion}` : "", e.reason].filter(Boolean).join(" "))}</td></tr>`,
    )
    .join("");

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Breakwater rollout report: ${esc(result.pipeline)} ${esc(result.version)}</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 4px}
.summary{margin:0 0 8px}
.outcome{font-weight:600}.outcome.rolled-back,.outcome.halted{color:#b00020}.outcome.succeeded{color:#1b7e3a}
.legend{margin:6px 0}.key{margin-right:14px}.key i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}
.chart{overflow-x:auto;border:1px solid #ddd}
svg text{font:11px ui-monospace,monospace;fill:#222}
.label .final{fill:#777}
.axis{fill:#555}
.tick{stroke:#eee}
.zebra{fill:#fafafa}
.stage-rule{stroke:#999}
.bar.bake{opacity:.45}
.bar.tests{opacity:.7}
.bar.rollback{stroke:#b00020;stroke-width:1.5}
.bar.unhealthy{stroke:#b00020;stroke-width:2}
.bar.open{stroke-dasharray:3 2;stroke:#444}
.bar.one-box{opacity:.8}
.mark{stroke:#b00020;stroke-width:1.5;stroke-dasharray:4 3}
.mark-label{fill:#b00020}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
details{margin-top:12px}
</style>
</head>
<body>
<h1>Rollout report: ${esc(result.pipeline)}</h1>
<p class="summary">${esc(result.fromVersion)} → ${esc(result.runs.map((r) => r.version).join(", "))} · outcome <span class="outcome ${esc(result.outcome)}" id="outcome">${esc(result.outcome)}</span>${result.reason ? ` (${esc(result.reason)})` : ""} · simulated from ${esc(result.startedAt)} for ${esc(duration(end - start))} · ${result.stats.deploySteps} deploy steps · rolled back: ${esc(result.rolledBack.join(", ") || "none")}</p>
<div class="legend">${legend}<span class="key">solid: deploy · half: tests · pale: bake · red outline: rollback or unhealthy · hatched: blocked · dashed: still open at the end</span></div>
<div class="chart">
<svg xmlns="http://www.w3.org/2000/svg" width="${LABEL_W + CHART_W}" height="${height}" viewBox="0 0 ${LABEL_W + CHART_W} ${height}" role="img" aria-label="rollout timeline">
<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#999" stroke-width="2"/></pattern></defs>
${svg.join("\n")}
</svg>
</div>
<h2>Runs</h2>
<table id="runs"><tr><th>version</th><th>arrived</th><th>outcome</th><th>why</th></tr>${runs}</table>
<details><summary>Every event (${result.timeline.length})</summary>
<table id="events"><tr><th>at</th><th>version</th><th>scope</th><th>step</th><th>event</th><th>detail</th></tr>${events}</table>
</details>
</body>
</html>
`;
}
