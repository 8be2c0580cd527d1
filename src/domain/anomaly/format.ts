/** How the anomaly rules write numbers in their findings' messages. */

/** `trim` for thresholds and shares ("10%"), not for measured rates ("5.0%"). */
export function fmtPct(fraction: number, trim = false): string {
  const pct = fraction * 100;
  if (pct === 0) return "0%";
  if (pct >= 1) return `${trim ? trimZeros(pct.toFixed(1)) : pct.toFixed(1)}%`;
  if (pct >= 0.01) return `${pct.toFixed(2)}%`;
  return `${pct.toPrecision(2)}%`;
}

function trimZeros(s: string): string {
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}

export function fmtCount(n: number): string {
  return n >= 10 ? Math.round(n).toLocaleString("en-US") : trimZeros(n.toFixed(1));
}

export function fmtMs(ms: number): string {
  return `${Math.round(ms)} ms`;
}

export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${trimZeros(r.toFixed(2))}×` : "∞×";
}
