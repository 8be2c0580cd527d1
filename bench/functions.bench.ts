/**
 * Benchmark: every Lambda's bundle size and module init time (issue 11 item 7).
 *
 *   npm run bench   (after the rollout benchmark)
 *
 * Each functions/*.ts is bundled as deployed (bench/bundles.ts), then imported by fresh `node`
 * processes, one function after another, median of five. Targets: every bundle under 500 KB
 * minified without the AWS SDK, fast-rollback (alarm-state-change) init under 150 ms.
 */
import { bundleFunction, functionNames, initTimeMs, packageBytes } from "./bundles.ts";

const MAX_BUNDLE_BYTES = 500 * 1024;
const MAX_FAST_ROLLBACK_INIT_MS = 150;
const RUNS = 5;

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

const rows: string[][] = [];
let allSmall = true;
let fastInit = Number.NaN;
let fastFirstCall = Number.NaN;
/** The SDK clients a fast rollback's first call loads (functions/lib/lazy.ts defers them). */
const FAST_ROLLBACK_CLIENTS = [
  "@aws-sdk/client-dynamodb",
  "@aws-sdk/lib-dynamodb",
  "@aws-sdk/client-sfn",
  "@aws-sdk/client-eventbridge",
];
for (const name of functionNames()) {
  const bundle = await bundleFunction(name, true);
  const ms = initTimeMs(bundle.file as string, RUNS);
  if (name === "alarm-state-change") {
    fastInit = ms;
    fastFirstCall = initTimeMs(bundle.file as string, RUNS, FAST_ROLLBACK_CLIENTS);
  }
  if (bundle.bytes >= MAX_BUNDLE_BYTES) allSmall = false;
  const top = packageBytes(bundle)
    .slice(0, 3)
    .map(([pkg, bytes]) => `${pkg} ${kb(bytes)}`)
    .join(", ");
  rows.push([name, kb(bundle.bytes), `${ms.toFixed(0)} ms`, top]);
}

const header = ["function", "bundle (min)", `init (median of ${RUNS})`, "largest parts"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
console.log(`\nLambda bundles (esbuild, ESM, minified, @aws-sdk/* external)\n`);
console.log(line(header));
for (const r of rows) console.log(line(r));
console.log(
  `\ntarget every bundle < ${kb(MAX_BUNDLE_BYTES)}: ${allSmall ? "met" : "NOT met"}; ` +
    `fast-rollback init < ${MAX_FAST_ROLLBACK_INIT_MS} ms: ${fastInit < MAX_FAST_ROLLBACK_INIT_MS ? "met" : "NOT met"} (${fastInit.toFixed(0)} ms)`,
);
console.log(
  `fast rollback init plus the SDK clients its first call loads (DynamoDB, Step Functions, EventBridge): ${fastFirstCall.toFixed(0)} ms`,
);
