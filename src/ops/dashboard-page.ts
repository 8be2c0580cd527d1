/**
 * The live wave map's page: one self-contained HTML document (no external assets; the style
 * and the script inline, allowed by their SHA-256 hashes in the Content-Security-Policy). It
 * holds no data: the script opens `/dashboard/stream` (server-sent events) and draws every
 * snapshot with DOM nodes and `textContent` only, so nothing a user typed (pipeline names,
 * reasons, versions) is ever parsed as HTML. There are no operator buttons: actions stay in
 * the CLI, where they are authenticated and audited.
 */
import { createHash } from "node:crypto";

const STYLE = `
:root { color-scheme: light; --fg:#1b1f24; --muted:#5b6570; --line:#d8dee4; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:12px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; gap:16px; align-items:baseline; padding:6px 12px; background:#fff; border-bottom:1px solid var(--line); position:sticky; top:0; z-index:2; }
header h1 { font-size:14px; margin:0; }
#conn { font-weight:600; } #conn.live { color:#1a7f37; } #conn.down { color:#cf222e; }
main { display:grid; grid-template-columns:minmax(0,1fr) 330px; gap:10px; padding:8px 12px; }
section { background:#fff; border:1px solid var(--line); border-radius:6px; padding:6px 8px; margin-bottom:8px; }
h2 { font-size:13px; margin:0 0 4px; } h3 { font-size:12px; margin:6px 0 2px; color:var(--muted); }
.wave { display:flex; gap:6px; align-items:flex-start; border-top:1px solid var(--line); padding:4px 0; }
.wave:first-of-type { border-top:0; }
.wave-name { width:70px; flex:none; font-weight:600; word-break:break-all; }
.wave-name small { display:block; font-weight:400; color:var(--muted); }
.regions { display:flex; flex-wrap:wrap; gap:4px; }
.region { border:1px solid var(--line); border-radius:4px; padding:1px 2px 2px; }
.region-name { font-size:10px; color:var(--muted); white-space:nowrap; }
.tiles { display:flex; gap:2px; }
.tile { width:38px; height:30px; border-radius:3px; border:2px solid transparent; position:relative; overflow:hidden;
  font-size:10px; line-height:1.1; padding:1px 2px; color:#111; cursor:default; }
.tile .v { display:block; font-weight:600; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
.tile .p { display:block; font-size:9px; }
.tile .share { position:absolute; left:0; bottom:0; height:3px; background:#111; }
.sw.tile-key { background:#fff; border-width:2px; }
.sw.s-deploying { border:2px dashed #0969da; } .sw.s-baking { border:2px solid #bf8700; }
.sw.s-rolling-back { border:2px dashed #cf222e; } .sw.s-rolled-back { border:2px solid #cf222e; }
.sw.blocked { outline:2px solid #8250df; }
.tile.s-deploying { border-color:#0969da; border-style:dashed; }
.tile.s-baking { border-color:#bf8700; }
.tile.s-rolling-back { border-color:#cf222e; border-style:dashed; }
.tile.s-rolled-back { border-color:#cf222e; }
.tile.blocked { outline:2px solid #8250df; outline-offset:1px; }
.tile.dim { opacity:.18; }
.tile.sel { box-shadow:0 0 0 2px #111; }
.legend { display:flex; flex-wrap:wrap; gap:6px; margin:2px 0 4px; }
.legend span { display:inline-flex; align-items:center; gap:3px; }
.sw { display:inline-block; width:12px; height:12px; border-radius:2px; border:1px solid #0003; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:1px 4px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; }
.muted { color:var(--muted); } .bad { color:#cf222e; } .ok { color:#1a7f37; } .warn { color:#9a6700; }
.dora { display:grid; grid-template-columns:repeat(2,1fr); gap:4px; }
.dora div { border:1px solid var(--line); border-radius:4px; padding:3px 5px; }
.dora b { display:block; font-size:14px; }
select { font:inherit; }
#history { max-height:220px; overflow:auto; }
`;

const SCRIPT = String.raw`
"use strict";
(function () {
  var state = { data: null, selected: "" };
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, attrs, children) {
    var n = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") n.textContent = attrs[k];
      else if (k === "cls") n.className = attrs[k];
      else n.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) n.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return n;
  }
  function clear(n) { while (n.firstChild) n.removeChild(n.firstChild); }
  // FNV-1a, then golden-angle steps: v1 and v2 get far-apart hues.
  function hue(v) { var h = 2166136261; for (var i = 0; i < v.length; i++) { h ^= v.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; } return Math.round((h % 360) * 137.508) % 360; }
  function colour(v) { return "hsl(" + hue(v) + " 70% 78%)"; }
  function time(iso) { if (!iso) return ""; var d = new Date(iso); return isNaN(d) ? iso : d.toISOString().slice(5, 16).replace("T", " "); }
  function mins(m) { if (m === undefined || m === null) return "–"; m = Math.round(m); var d = Math.floor(m / 1440), h = Math.floor(m % 1440 / 60), r = m % 60;
    return d ? d + "d " + h + "h" : h ? h + "h " + (r < 10 ? "0" : "") + r + "m" : r + "m"; }
  function waitText(s) { return s.wait ? s.wait.reason + (s.wait.until ? " until " + time(s.wait.until) : "") : ""; }
  function splitScope(id) { var p = id.split("/"); return { stage: p[0], region: p[1], az: p[2], cell: p[3] }; }

  function tile(s) {
    var t = el("div", { cls: "tile s-" + s.status + (s.blocked ? " blocked" : ""),
      "data-scope": s.scope, "data-version": s.version, "data-status": s.status, "data-percent": String(s.percent) });
    t.style.background = colour(s.version);
    var ref = splitScope(s.scope);
    t.title = s.scope + "\n" + s.version + (s.percent < 100 ? " (" + s.percent + "%, rest " + (s.previousVersion || "?") + ")" : "") +
      "\n" + s.status + " since " + time(s.since) + (s.wait ? "\n" + waitText(s) : "");
    t.appendChild(el("span", { cls: "v", text: s.version }));
    var where = ref.cell || (ref.az ? ref.az.slice(ref.az.lastIndexOf("-") + 1) : "");
    t.appendChild(el("span", { cls: "p", text: where + (s.percent < 100 ? " " + s.percent + "%" : "") }));
    if (s.percent < 100) { var b = el("span", { cls: "share" }); b.style.width = s.percent + "%"; t.appendChild(b); }
    if (state.selected) t.classList.add(s.version === state.selected ? "sel" : "dim");
    return t;
  }

  function waves(p) {
    var box = el("div");
    p.stages.forEach(function (stage) {
      var scopes = p.scopes.filter(function (s) { return splitScope(s.scope).stage === stage; });
      var regions = [];
      scopes.forEach(function (s) {
        var r = splitScope(s.scope).region, last = regions[regions.length - 1];
        if (!last || last.name !== r) regions.push(last = { name: r, scopes: [] });
        last.scopes.push(s);
      });
      var versions = {};
      scopes.forEach(function (s) { versions[s.version] = (versions[s.version] || 0) + 1; });
      var summary = Object.keys(versions).map(function (v) { return v + "×" + versions[v]; }).join(" ");
      var row = el("div", { cls: "wave", "data-stage": stage }, [
        el("div", { cls: "wave-name" }, [stage, el("small", { text: summary })]),
        el("div", { cls: "regions" }, regions.map(function (r) {
          return el("div", { cls: "region" }, [el("div", { cls: "region-name", text: r.name }), el("div", { cls: "tiles" }, r.scopes.map(tile))]);
        })),
      ]);
      box.appendChild(row);
    });
    return box;
  }

  function table(head, rows) {
    return el("table", null, [el("thead", null, [el("tr", null, head.map(function (h) { return el("th", { text: h }); }))]),
      el("tbody", null, rows.map(function (r) { return el("tr", null, r.map(function (c) { return typeof c === "string" ? el("td", { text: c }) : el("td", null, [c]); })); }))]);
  }

  function runWait(p, r) {
    if (r.haltReason) return "halted: " + r.haltReason + (r.haltedBy ? " at " + r.haltedBy : "") + (r.haltDetail ? ": " + r.haltDetail : "");
    if (r.status === "waiting") return "waits to enter " + (r.waitingFor || "?") + " (another version holds it)";
    if (r.status.indexOf("approval") >= 0) return "awaiting approval" + (r.waitingFor ? " for " + r.waitingFor : "");
    var mine = p.scopes.filter(function (s) { return s.runId === r.runId && s.wait; });
    return mine.map(function (s) { return s.scope + ": " + waitText(s); }).join("; ");
  }

  function render() {
    var d = state.data; if (!d) return;
    $("at").textContent = "control plane time " + time(d.status.at) + " UTC";
    var map = $("map"); clear(map);
    var versions = {};
    d.status.pipelines.forEach(function (p) {
      p.scopes.forEach(function (s) { versions[s.version] = true; });
      p.runs.forEach(function (r) { versions[r.version] = true; });
      var sec = el("section", { cls: "pipeline", "data-pipeline": p.pipeline });
      sec.appendChild(el("h2", { text: p.pipeline + "  (" + p.stages.join(" → ") + ")" }));
      sec.appendChild(waves(p));
      map.appendChild(sec);
    });
    var legend = $("legend"); clear(legend);
    [["s-deploying", "deploying"], ["s-baking", "baking"], ["s-rolling-back", "rolling back"], ["s-rolled-back", "rolled back"], ["blocked", "blocked"]].forEach(function (k) {
      legend.appendChild(el("span", null, [el("span", { cls: "sw tile-key " + k[0] }), k[1]]));
    });
    Object.keys(versions).sort().forEach(function (v) {
      var sw = el("span", { cls: "sw" }); sw.style.background = colour(v);
      legend.appendChild(el("span", null, [sw, v]));
    });
    var sel = $("version"); var keep = state.selected; clear(sel);
    sel.appendChild(el("option", { value: "", text: "(all versions)" }));
    Object.keys(versions).sort().forEach(function (v) { var o = el("option", { value: v, text: v }); if (v === keep) o.selected = true; sel.appendChild(o); });

    var path = $("path"); clear(path);
    if (state.selected) {
      d.paths.filter(function (x) { return x.version === state.selected; }).forEach(function (x) {
        path.appendChild(el("h3", { text: x.pipeline + " @ " + x.version + " (" + x.status + ")" }));
        path.appendChild(table(["wave", "on it now", "reached", "rolled back"], x.stages.map(function (s) {
          return [s.stage, s.on + " of " + s.scopes, String(s.reached), s.rolledBack ? el("span", { cls: "bad", text: String(s.rolledBack) }) : "0"];
        })));
      });
    }

    var runs = $("runs"); clear(runs);
    d.status.pipelines.forEach(function (p) {
      var live = p.runs.filter(function (r) { return r.inFlight; });
      runs.appendChild(el("h3", { text: p.pipeline }));
      if (!live.length) runs.appendChild(el("div", { cls: "muted", text: "none in flight" }));
      else runs.appendChild(table(["#", "version", "status", "stage", "waits for"], live.map(function (r) {
        return ["" + r.seq, r.version, r.status, r.currentStage || r.waitingFor || "", runWait(p, r)];
      })));
      var done = p.runs.filter(function (r) { return !r.inFlight; });
      if (done.length) runs.appendChild(el("div", { cls: "muted", text: "last finished: " + done.map(function (r) { return "#" + r.seq + " " + r.version + " " + r.status; }).join(", ") }));
    });

    var blockers = $("blockers"); clear(blockers);
    var items = [];
    d.status.blocks.forEach(function (b) { items.push(["manual block", (b.level === "org" ? "org" : b.target), b.reason + " (" + b.actor + ")" + (b.to ? " until " + time(b.to) : "")]); });
    d.status.pipelines.forEach(function (p) {
      p.scopes.forEach(function (s) { if (s.blocked) items.push(["blocked", s.scope, waitText(s)]); });
      p.bypasses.forEach(function (b) { items.push(["bypass", b.version, b.kinds.join(", ") + " until " + time(b.expiresAt) + " (" + b.actor + ": " + b.reason + ")"]); });
      p.runs.forEach(function (r) { if (r.status.indexOf("approval") >= 0) items.push(["approval", p.pipeline + "@" + r.version, runWait(p, r)]); });
    });
    blockers.appendChild(items.length ? table(["what", "where", "why"], items) : el("div", { cls: "muted", text: "none" }));

    var dora = $("dora"); clear(dora);
    dora.appendChild(el("div", { cls: "muted", text: "since " + time(d.dora.from) }));
    d.dora.pipelines.concat(d.dora.services.map(function (s) { return Object.assign({ pipeline: "service " + s.service }, s); })).forEach(function (p) {
      dora.appendChild(el("h3", { text: p.pipeline }));
      var cfr = p.changeFailureRate;
      dora.appendChild(el("div", { cls: "dora", "data-dora": p.pipeline }, [
        el("div", null, [el("b", { text: mins(p.leadTime.medianMinutes) }), "lead time (median, " + p.leadTime.samples + ")"]),
        el("div", null, [el("b", { text: String(p.deploymentsPerDay) }), "deploys / day (" + p.deployments + ")"]),
        el("div", null, [el("b", { text: cfr.rate === undefined ? "–" : Math.round(cfr.rate * 100) + "%" }), "change failure (" + cfr.failed + " of " + cfr.total + ")"]),
        el("div", null, [el("b", { text: mins(p.timeToRestore.medianMinutes) }), "time to restore (" + p.timeToRestore.samples + ")"]),
      ]));
    });

    var hist = $("history"); clear(hist);
    hist.appendChild(table(["at", "scope", "version", "status", "actor", "cause"], d.history.map(function (h) {
      return [time(h.at), h.scope, (h.fromVersion && h.fromVersion !== h.toVersion ? h.fromVersion + " → " : "") + h.toVersion + (h.percent < 100 ? " (" + h.percent + "%)" : ""), h.status, h.actor, h.cause];
    })));
  }

  $("version").addEventListener("change", function (e) { state.selected = e.target.value; render(); });
  var conn = $("conn");
  var source = new EventSource("/dashboard/stream");
  source.addEventListener("snapshot", function (e) { state.data = JSON.parse(e.data); conn.textContent = "live"; conn.className = "live"; render(); });
  source.addEventListener("open", function () { conn.textContent = "live"; conn.className = "live"; });
  source.addEventListener("error", function () { conn.textContent = "reconnecting…"; conn.className = "down"; });
})();
`;

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;

/** The page's Content-Security-Policy: nothing but its own inline style and script, and the stream. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)}`,
  `script-src ${sha256(SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** The wave map's HTML. `title` is escaped (it may name a stage). */
export function dashboardHtml(title: string): string {
  const safe = title.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${safe}</title><style>${STYLE}</style></head>
<body>
<header><h1>${safe}</h1><span id="at" class="muted"></span><span id="conn">connecting…</span>
<label>version path <select id="version"></select></label></header>
<main>
<div><section><div id="legend" class="legend"></div><div id="path"></div></section><div id="map"></div>
<section><h2>Recent history</h2><div id="history"></div></section></div>
<aside><section><h2>Runs in flight</h2><div id="runs"></div></section>
<section><h2>Blockers and approvals</h2><div id="blockers"></div></section>
<section><h2>DORA</h2><div id="dora"></div></section></aside>
</main>
<script>${SCRIPT}</script>
</body></html>
`;
}
