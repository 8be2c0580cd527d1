/**
 * Benchmark: `serve`'s `GET /status` under load (issue 15 item 5).
 *
 *   npm run bench:serve [-- --seconds 10 --connections 16]
 *
 * A real `serve` on DynamoDB Local with the state of a busy installation: 10 pipelines, 50
 * runs and 1,000 override audit entries. Then a bounded load on 127.0.0.1: `--connections`
 * keep-alive clients, each sending its next request when the last one answered, for
 * `--seconds` (and at most 100,000 requests); printed: requests/s, p50, p99 and errors. Run
 * twice side by side in one process, with the status cache on and off, so the ratio is measured
 * under the same load. Target: at least 200 requests/s with p99 under 100 ms, cache on.
 */
import "../src/local/polyfills.ts";
import { randomUUID } from "node:crypto";
import { Agent, request } from "node:http";
import { parseArgs } from "node:util";
import { parsePipeline } from "../src/domain/pipeline.ts";
import { startDynamoDbLocal } from "../src/local/dynamodb-local.ts";
import { type RunningServer, startServe } from "../src/local/serve.ts";
import type { StatusReport } from "../src/ops/status.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "16" },
  },
});
/** A whole number in [min, max], or the run stops naming the flag. */
function bounded(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${flag} "${text}": must be a whole number from ${min} to ${max}`);
    process.exit(2);
  }
  return n;
}
const SECONDS = bounded("seconds", values.seconds as string, 1, 120);
const CONNECTIONS = bounded("connections", values.connections as string, 1, 256);
const MAX_REQUESTS = 100_000;
const PIPELINES = 10;
const RUNS_PER_PIPELINE = 5;
const AUDIT_ENTRIES = 1_000;

const pipelines = Array.from({ length: PIPELINES }, (_, i) =>
  parsePipeline({
    name: `svc-${i}`,
    stages: [
      { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
      {
        name: "prod-1",
        regions: [{ region: "eu-west-1", azs: ["euw1-az1", "euw1-az2", "euw1-az3"] }],
        bake: { minutes: 30 },
      },
    ],
  }),
);

async function seed(server: RunningServer): Promise<void> {
  const { plane } = server;
  for (const p of pipelines) {
    for (let v = 2; v < 2 + RUNS_PER_PIPELINE; v++) plane.requestRun(p.name, `v${v}`);
  }
  for (let i = 0; i < AUDIT_ENTRIES; i++) {
    await plane.store.commitOverride([], {
      at: new Date().toISOString(),
      id: randomUUID(),
      actor: "bench",
      principal: "local:token",
      action: "block",
      reason: `load test entry ${i}`,
      target: `pipeline svc-${i % PIPELINES}`,
      effect: "unchanged (already blocked)",
      changed: false,
    });
  }
  // Every run has reached a final status (superseded, succeeded): the state is settled.
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
    const runs = (await plane.store.listRuns("svc-0")).length;
    const report = await fetchStatus(server.url);
    const inFlight = report.pipelines.flatMap((p) => p.runs).filter((r) => r.inFlight).length;
    if (runs === RUNS_PER_PIPELINE && inFlight === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the seeded runs did not settle within 2 minutes");
}

async function fetchStatus(url: string): Promise<StatusReport> {
  const res = await fetch(`${url}/status`);
  return (await res.json()) as StatusReport;
}

interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  computations?: number;
}

/** Closed-loop load: each connection sends its next request when the previous one answered. */
async function load(url: string): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const target = new URL("/status", url);
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const end = performance.now() + SECONDS * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request(target, { agent }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) latencies.push(performance.now() - t0);
          else errors++;
          resolve();
        });
      });
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end();
    });
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end && sent < MAX_REQUESTS) {
        sent++;
        await one();
      }
    }),
  );
  const wall = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return {
    requests: latencies.length,
    errors,
    rps: latencies.length / wall,
    p50: at(0.5),
    p99: at(0.99),
  };
}

const local = await startDynamoDbLocal();
try {
  console.log("Breakwater serve benchmark: GET /status under load on 127.0.0.1");
  console.log(
    `state: ${PIPELINES} pipelines, ${PIPELINES * RUNS_PER_PIPELINE} runs, ${AUDIT_ENTRIES} audit entries; ${CONNECTIONS} keep-alive connections for ${SECONDS} s per variant`,
  );
  const results: Record<string, LoadResult> = {};
  for (const cache of [true, false]) {
    const server = await startServe({
      pipelines,
      initialVersion: "v1",
      port: 0,
      speed: 100_000,
      dynamo: local.client(),
      log: () => {},
      statusCache: cache,
    });
    try {
      await seed(server);
      const before = server.statusComputations();
      const r = await load(server.url);
      r.computations = server.statusComputations() - before;
      results[cache ? "cache on" : "cache off"] = r;
      console.log(
        `  status cache ${cache ? "on " : "off"}: ${r.rps.toFixed(0)} requests/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.requests} answered, ${r.errors} errors${cache ? `, ${r.computations} reports computed` : ""}`,
      );
    } finally {
      await server.close();
    }
  }
  const on = results["cache on"] as LoadResult;
  const off = results["cache off"] as LoadResult;
  console.log(
    `  ratio: ${(on.rps / off.rps).toFixed(1)}x the requests/s; target >= 200 requests/s with p99 < 100 ms: ${on.rps >= 200 && on.p99 < 100 ? "met" : "NOT met"}`,
  );
} finally {
  await local.stop();
}
