/**
 * Benchmark: one version through a realistic pipeline on the local control plane.
 *
 *   npm run bench
 *
 * Three pre-production stages, then six production waves of 1, 1, 2, 4, 8 and 8 regions
 * (24 regions, 3 AZs each; regions of a wave in parallel, AZs one at a time, one-box first,
 * 60-minute bakes) — about a day of simulated rollout. DynamoDB Local starts once (its start-up
 * is reported on its own); the rollout runs once to warm up, then five times measured, then
 * once more with a fault in one AZ of the last wave. Prints figures, not verdicts (the 10 s
 * target line says whether it is met).
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type PipelineInput, parsePipeline } from "../src/domain/pipeline.ts";
import { startDynamoDbLocal } from "../src/local/dynamodb-local.ts";
import { type SimulationResult, simulate } from "../src/local/simulate.ts";

const TARGET_WALL_MS = 10_000;
const TARGET_CALLS_PER_STEP = 6;

/**
 * AWS list prices, us-east-1, as published on the services' pricing pages and read on
 * 2026-12-02 (no free tier counted). Lambda: arm64, the stack's 512 MB.
 */
const PRICES = {
  date: "2026-12-02",
  /** Step Functions Standard workflows, per state transition ($0.025 per 1,000). */
  stateTransition: 0.025 / 1000,
  /** Lambda requests ($0.20 per million) and arm64 compute ($0.0000133334 per GB-second). */
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecond: 0.0000133334,
  lambdaMemoryGb: 0.5,
  /**
   * Billed duration assumed per invocation (the local handlers' times are DynamoDB Local's,
   * not Lambda's): 100 ms, a generous figure for a warm handler making a few store calls.
   */
  lambdaMsPerInvocation: 100,
  /** DynamoDB on-demand: $0.125 per million read request units, $0.625 per million write. */
  dynamoRead: 0.125 / 1e6,
  dynamoWrite: 0.625 / 1e6,
  /** EventBridge custom events ($1.00 per million); not counted here (a handful per step). */
  /** CodePipeline V2: $0.002 per action execution minute. */
  codePipelineActionMinute: 0.002,
};
const MEASURED_RUNS = 5;
/** Cold `simulate` processes measured (after one that may build the CLI's bundle). */
const COLD_RUNS = 3;
const START = new Date("2025-03-03T09:00:00.000Z");

/** 24 real regions with their AZ id prefixes, in wave order. */
const WAVES: [string, string][][] = [
  [["eu-north-1", "eun1"]],
  [["us-east-2", "use2"]],
  [
    ["us-west-2", "usw2"],
    ["ap-southeast-2", "apse2"],
  ],
  [
    ["eu-west-1", "euw1"],
    ["ap-northeast-1", "apne1"],
    ["ca-central-1", "cac1"],
    ["sa-east-1", "sae1"],
  ],
  [
    ["eu-central-1", "euc1"],
    ["eu-west-2", "euw2"],
    ["eu-west-3", "euw3"],
    ["ap-northeast-2", "apne2"],
    ["ap-southeast-1", "apse1"],
    ["ap-south-1", "aps1"],
    ["me-south-1", "mes1"],
    ["af-south-1", "afs1"],
  ],
  [
    ["us-east-1", "use1"],
    ["eu-south-1", "eus1"],
    ["eu-central-2", "euc2"],
    ["ap-northeast-3", "apne3"],
    ["ap-east-1", "ape1"],
    ["il-central-1", "ilc1"],
    ["me-central-1", "mec1"],
    ["eu-south-2", "eus2"],
  ],
];

const definition: PipelineInput = {
  name: "orders-api",
  kind: "app",
  stages: [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 60 } },
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 60 } },
    {
      name: "gamma",
      regions: ["us-east-1", "eu-west-1"],
      regionsInParallel: 2,
      bake: { minutes: 60 },
    },
    ...WAVES.map((wave, i) => ({
      name: `prod-${i + 1}`,
      regions: wave.map(([region, prefix]) => ({
        region,
        azs: [1, 2, 3].map((n) => `${prefix}-az${n}`),
      })),
      regionsInParallel: wave.length,
      azsInParallel: false,
      oneBox: true,
      bake: { minutes: 60 },
    })),
  ],
};
const pipeline = parsePipeline(definition, "bench pipeline");
const lastWave = WAVES[WAVES.length - 1] as [string, string][];
const [faultRegion, faultPrefix] = lastWave[4] as [string, string];
const faultScope = `prod-${WAVES.length}/${faultRegion}/${faultPrefix}-az2`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const hours = (seconds: number) =>
  `${Math.floor(seconds / 3600)} h ${String(Math.round((seconds % 3600) / 60)).padStart(2, "0")} min`;
const invocationsOf = (r: SimulationResult) =>
  Object.values(r.stats.invocations).reduce((a, b) => a + b, 0);
const fmt = (n: number, digits = 1) => n.toFixed(digits);

const regions = new Set(WAVES.flat().map(([r]) => r));
const scopes = pipeline.stages.reduce(
  (n, s) =>
    n + s.regions.reduce((m, e) => m + (typeof e === "string" ? 1 : (e.azs?.length ?? 1)), 0),
  0,
);
console.log("Breakwater rollout benchmark (local control plane, virtual clock)");
console.log(
  `pipeline: ${pipeline.stages.length} stages (3 pre-production, ${WAVES.length} production waves of ${WAVES.map((w) => w.length).join(", ")} regions), ${regions.size} production regions x 3 AZs, ${scopes} scopes`,
);
console.log(`node ${process.version}, ${(await import("node:os")).cpus().length} CPUs`);

const t0 = performance.now();
const ddb = await startDynamoDbLocal();
console.log(`DynamoDB Local start-up: ${Math.round(performance.now() - t0)} ms`);
const dynamo = ddb.client();

async function once(faults: { scopes: string; kind: "faults" }[] = []) {
  const t = performance.now();
  const result = await simulate({
    pipeline,
    fromVersion: "v1",
    version: "v2",
    start: START,
    dynamo,
    faults,
  });
  return { result, wallMs: performance.now() - t };
}

try {
  const warm = await once();
  console.log(`warm-up: ${Math.round(warm.wallMs)} ms wall, outcome ${warm.result.outcome}`);

  const runs: { result: SimulationResult; wallMs: number }[] = [];
  for (let i = 0; i < MEASURED_RUNS; i++) {
    const run = await once();
    if (run.result.outcome !== "succeeded") {
      console.log(`run ${i + 1}: unexpected outcome ${run.result.outcome} (${run.result.reason})`);
    }
    runs.push(run);
  }
  const walls = runs.map((r) => r.wallMs);
  const first = (runs[0] as (typeof runs)[number]).result;
  const simulated = first.simulatedSeconds;
  const steps = first.stats.deploySteps;
  const ratios = runs.map((r) => (r.result.simulatedSeconds * 1000) / r.wallMs);
  const medianWall = median(walls);
  console.log("");
  console.log(`no faults, ${MEASURED_RUNS} runs:`);
  console.log(
    `  wall: median ${Math.round(medianWall)} ms, min ${Math.round(Math.min(...walls))} ms, max ${Math.round(Math.max(...walls))} ms`,
  );
  console.log(`  simulated duration: ${hours(simulated)} (${simulated} s)`);
  console.log(`  simulated/wall: median ${Math.round(median(ratios))}x`);
  console.log(`  deploy steps: ${steps}`);
  console.log(
    `  per deploy step: ${fmt(first.stats.stateTransitions / steps)} state transitions, ${fmt(first.stats.timersFired / steps)} timers fired, ${fmt(invocationsOf(first) / steps)} handler invocations, ${fmt(medianWall / steps)} ms wall (median)`,
  );
  console.log(
    `  handler invocations: ${Object.entries(first.stats.invocations)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k.replace(/^breakwater-/, "")} ${v}`)
      .join(", ")}`,
  );
  console.log(
    `  target "whole rollout under ${TARGET_WALL_MS / 1000} s wall": ${medianWall < TARGET_WALL_MS ? "met" : "NOT met"} (median ${fmt(medianWall / 1000, 2)} s, max ${fmt(Math.max(...walls) / 1000, 2)} s)`,
  );
  const calls = first.stats.storeCalls;
  console.log(
    `  store calls: ${calls.total} (${Object.entries(calls.byOperation)
      .map(([op, n]) => `${op} ${n}`)
      .join(
        ", ",
      )}); ${calls.capacity.read} read and ${calls.capacity.write} write capacity units; ${calls.latencyMs} ms of call latency summed (of ${Math.round(runs[0]?.wallMs ?? 0)} ms wall)`,
  );
  console.log(
    `  store calls per deploy step: ${fmt(first.stats.storeCallsPerStep, 2)}; target at most ${TARGET_CALLS_PER_STEP}: ${first.stats.storeCallsPerStep <= TARGET_CALLS_PER_STEP ? "met" : "NOT met"}`,
  );
  costs(first);

  const faulty = await once([{ scopes: faultScope, kind: "faults" }]);
  const f = faulty.result;
  console.log("");
  console.log(`fault in ${faultScope}, 1 run:`);
  console.log(
    `  outcome: ${f.outcome}${f.reason ? ` (${f.reason})` : ""}; rolled back: ${f.rolledBack.join(", ") || "none"}`,
  );
  console.log(`  wall: ${Math.round(faulty.wallMs)} ms`);
  console.log(`  simulated duration: ${hours(f.simulatedSeconds)} (${f.simulatedSeconds} s)`);
  console.log(`  simulated/wall: ${Math.round((f.simulatedSeconds * 1000) / faulty.wallMs)}x`);
  console.log(`  deploy steps: ${f.stats.deploySteps}`);
  console.log(
    `  per deploy step: ${fmt(f.stats.timersFired / f.stats.deploySteps)} timers fired, ${fmt(invocationsOf(f) / f.stats.deploySteps)} handler invocations`,
  );
  const onNew = Object.values(f.scopes).filter((s) => s.version === "v2").length;
  console.log(
    `  scopes on v2: ${onNew} of ${Object.keys(f.scopes).length} (${Object.values(f.scopes).filter((s) => s.percent !== undefined).length} at their one-box share)`,
  );
  await gates();
} finally {
  await ddb.stop();
}
await cold();

/**
 * Safety gates: how fast an alarm event becomes a rollback (simulated time from the alarm's
 * state change to rollback-started), and the work per deploy step for 1-hour vs 4-hour bakes
 * (it must not grow with the bake: Wait states, no polling).
 */
async function gates() {
  const start = new Date("2025-03-03T09:00:00.000Z");
  const single = (bakeMinutes: number) =>
    parsePipeline({
      name: "payments",
      alarms: ["payments-{stage}-{region}-{az}-errors"],
      stages: [
        {
          name: "prod-1",
          regions: [{ region: "eu-west-1", azs: ["euw1-az1", "euw1-az2", "euw1-az3"] }],
          oneBox: true,
          bake: { minutes: bakeMinutes },
        },
      ],
    });
  console.log("");
  console.log("safety gates:");
  // The one-box deploy finishes at +2 min; its bake runs to +62 min. The alarm fires at +30 min.
  const latencies: number[] = [];
  for (let i = 0; i < MEASURED_RUNS; i++) {
    const alarmAt = new Date(start.getTime() + (30 + i) * 60_000);
    const r = await simulate({
      pipeline: single(60),
      fromVersion: "v1",
      version: "v2",
      start,
      dynamo,
      alarms: [{ name: "payments-prod-1-eu-west-1-euw1-az1-errors", from: alarmAt }],
    });
    const rb = r.timeline.find((e) => e.event === "rollback-started");
    latencies.push(rb ? Date.parse(rb.at) - alarmAt.getTime() : Number.NaN);
  }
  console.log(
    `  alarm to rollback-started: median ${median(latencies)} ms simulated (max ${Math.max(...latencies)} ms) over ${MEASURED_RUNS} runs; target under 1000 ms: ${median(latencies) < 1000 ? "met" : "NOT met"}`,
  );
  const perStep: string[] = [];
  const counts: number[] = [];
  for (const minutes of [60, 240]) {
    const r = await simulate({
      pipeline: single(minutes),
      fromVersion: "v1",
      version: "v2",
      start,
      dynamo,
    });
    const steps = r.stats.deploySteps;
    const transitions = r.stats.stateTransitions / steps;
    const calls = invocationsOf(r) / steps;
    counts.push(transitions, calls);
    const cost = costs(r, true);
    perStep.push(
      `${minutes / 60} h bake: ${fmt(transitions)} state transitions, ${fmt(calls)} handler invocations, ${fmt(r.stats.timersFired / steps)} timers fired, ${fmt(r.stats.storeCallsPerStep, 2)} store calls per deploy step; $${(cost.total / steps).toFixed(5)} per step in AWS vs $${(cost.codePipeline / steps).toFixed(3)} in CodePipeline V2`,
    );
  }
  for (const line of perStep) console.log(`  ${line}`);
  console.log(
    `  work per deploy step independent of bake length: ${counts[0] === counts[2] && counts[1] === counts[3] ? "yes" : "NO"}`,
  );
}

/** Action minutes the rollout would hold in CodePipeline: each step from its deploy to its verdict. */
function actionMinutes(r: SimulationResult): number {
  const started = new Map<string, number>();
  let minutes = 0;
  for (const e of r.timeline) {
    const key = `${e.scope}|${e.step}`;
    if (e.event === "deploy-started") started.set(key, Date.parse(e.at));
    if (e.event === "bake-finished" && started.has(key)) {
      minutes += Math.ceil((Date.parse(e.at) - (started.get(key) as number)) / 60_000);
      started.delete(key);
    }
  }
  return minutes;
}

/** What the rollout costs in AWS at list prices, beside the same rollout in CodePipeline V2. */
function costs(r: SimulationResult, quiet = false) {
  const invocations = invocationsOf(r);
  const gbSeconds = (invocations * PRICES.lambdaMsPerInvocation * PRICES.lambdaMemoryGb) / 1000;
  const { read, write } = r.stats.storeCalls.capacity;
  const parts = {
    "state transitions": r.stats.stateTransitions * PRICES.stateTransition,
    "Lambda requests": invocations * PRICES.lambdaRequest,
    "Lambda GB-seconds": gbSeconds * PRICES.lambdaGbSecond,
    "DynamoDB reads": read * PRICES.dynamoRead,
    "DynamoDB writes": write * PRICES.dynamoWrite,
  };
  const total = Object.values(parts).reduce((a, b) => a + b, 0);
  const minutes = actionMinutes(r);
  if (quiet) return { total, codePipeline: minutes * PRICES.codePipelineActionMinute };
  console.log(`  cost per rollout at list prices of ${PRICES.date} (us-east-1):`);
  console.log(
    `    ${r.stats.stateTransitions} state transitions, ${invocations} Lambda invocations, ${fmt(gbSeconds, 1)} GB-s (assumed ${PRICES.lambdaMsPerInvocation} ms at ${PRICES.lambdaMemoryGb * 1024} MB each), ${read} RRU, ${write} WRU`,
  );
  console.log(
    `    ${Object.entries(parts)
      .map(([k, v]) => `${k} $${v.toFixed(5)}`)
      .join(", ")}; total $${total.toFixed(4)} per rollout`,
  );
  console.log(
    `    the same rollout held in CodePipeline V2 actions: ${minutes} action-minutes x $${PRICES.codePipelineActionMinute} = $${(minutes * PRICES.codePipelineActionMinute).toFixed(2)} per rollout`,
  );
  return { total, codePipeline: minutes * PRICES.codePipelineActionMinute };
}

/**
 * The rollout as one cold `breakwater simulate … --json` process: process start, CLI load, the
 * JVM of DynamoDB Local, the interpreter and the store, and teardown, all in the one wall time.
 */
async function cold() {
  const run = promisify(execFile);
  const dir = await mkdtemp(join(tmpdir(), "breakwater-bench-"));
  try {
    const file = join(dir, "pipeline.json");
    await writeFile(file, JSON.stringify(definition));
    const cli = new URL("../bin/breakwater.mjs", import.meta.url).pathname;
    const args = [cli, "simulate", "--pipeline", file, "--from-version", "v1", "--version", "v2"];
    const time = async (argv: string[]) => {
      const t = performance.now();
      const { stdout } = await run(process.execPath, argv, { maxBuffer: 64 * 1024 * 1024 });
      return { ms: performance.now() - t, stdout };
    };
    const nodeOnly = await time(["-e", "0"]);
    const help = await time([cli, "--help"]);
    // The first run may build the CLI's cached bundle: reported, then measured three times.
    const first = await time([...args, "--json"]);
    const runs = [];
    for (let i = 0; i < COLD_RUNS; i++) runs.push(await time([...args, "--json"]));
    const walls = runs.map((r) => r.ms);
    const wall = median(walls);
    const result = JSON.parse((runs.at(-1) as { stdout: string }).stdout) as {
      simulatedSeconds: number;
      outcome: string;
    };
    // The JVM start as simulate starts it (its quick-start options), measured apart.
    const jvms: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const t = performance.now();
      const ddb2 = await startDynamoDbLocal({ quickStart: true });
      jvms.push(performance.now() - t);
      await ddb2.stop();
    }
    const jvm = median(jvms);
    console.log("");
    console.log("cold process (one `breakwater simulate ... --json`, everything included):");
    console.log(
      `  first run ${Math.round(first.ms)} ms (may build the CLI's cached bundle), then median ${Math.round(wall)} ms wall of ${COLD_RUNS} (${walls.map((w) => Math.round(w)).join(", ")}), outcome ${result.outcome}`,
    );
    console.log(
      `  simulated/wall: ${Math.round((result.simulatedSeconds * 1000) / wall)}x; target under ${TARGET_WALL_MS / 1000} s: ${wall < TARGET_WALL_MS ? "met" : "NOT met"}`,
    );
    console.log(
      `  breakdown: process start ${Math.round(nodeOnly.ms)} ms (node -e 0), CLI load ${Math.round(help.ms - nodeOnly.ms)} ms (--help minus that), DynamoDB Local JVM start ${Math.round(jvm)} ms (median of ${COLD_RUNS}, measured apart), interpreter and store the rest (${Math.round(wall - help.ms - jvm)} ms)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
