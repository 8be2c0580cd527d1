/**
 * `npm run soak -- [--scenarios 10000] [--seed N] [--store memory|dynamodb] [--property NAME
 * [--path P]] [--workers 2]`: the safety properties (test/safety/properties.ts) over many
 * generated scenarios. Prints the scenarios checked per safety rule, how many reached each
 * rule's guarded situation, the wall time, and any counterexample, shrunk, with the seed and
 * path that replay it. Exits 1 on a counterexample.
 *
 * `--store dynamodb` starts a DynamoDB Local and runs every scenario there and on the memory
 * stores, requiring the same record from both: 100 scenarios unless `--scenarios` says, split
 * as `npm test`'s DynamoDB sample is.
 * The memory soak splits the properties over worker processes (one per core by default): each
 * worker builds a control plane per scenario on its own in-memory stores.
 */
import { fork } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startDynamoDbLocal } from "../../src/local/dynamodb-local.ts";
import {
  checkProperty,
  describeFailure,
  PROPERTIES,
  type PropertyReport,
  propertyNamed,
  RULES,
  type Rule,
  type Stores,
  SUITE_SCENARIOS,
} from "./properties.ts";

class SoakUsageError extends Error {
  override name = "SoakUsageError";
}

const { values } = parseArgs({
  options: {
    scenarios: { type: "string" },
    seed: { type: "string" },
    store: { type: "string", default: "memory" },
    property: { type: "string" },
    path: { type: "string" },
    workers: { type: "string" },
    /** Internal: a worker's job, as JSON; its report goes to the parent as a message. */
    job: { type: "string" },
  },
  strict: true,
});

const integer = (flag: string, raw: string | undefined, fallback: number, min: number) => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new SoakUsageError(`--${flag} "${raw}": expected an integer ≥ ${min}`);
  }
  return n;
};

interface Job {
  property: string;
  numRuns: number;
  seed: number;
  path?: string;
}

/** Splits `total` scenarios over the properties as `npm test` does on `store`. */
function plan(total: number, seed: number, store: "memory" | "dynamodb"): Job[] {
  const chosen = values.property ? [propertyNamed(values.property)] : PROPERTIES;
  const weight = chosen.reduce((a, p) => a + (SUITE_SCENARIOS[p.name]?.[store] ?? 1), 0);
  let left = total;
  return chosen.map((p, i) => {
    const numRuns =
      i === chosen.length - 1
        ? Math.max(1, left)
        : Math.max(1, Math.round((total * (SUITE_SCENARIOS[p.name]?.[store] ?? 1)) / weight));
    left -= numRuns;
    return {
      property: p.name,
      numRuns,
      seed,
      ...(values.path !== undefined ? { path: values.path } : {}),
    };
  });
}

async function runJobs(jobs: Job[], stores: Stores): Promise<PropertyReport[]> {
  const reports: PropertyReport[] = [];
  for (const job of jobs) {
    reports.push(
      await checkProperty(propertyNamed(job.property), {
        numRuns: job.numRuns,
        seed: job.seed,
        stores,
        ...(job.path !== undefined ? { path: job.path } : {}),
        differential: stores !== "memory",
      }),
    );
  }
  return reports;
}

/** One worker process per job, at most `workers` at once. */
async function runInWorkers(jobs: Job[], workers: number): Promise<PropertyReport[]> {
  const queue = [...jobs];
  const reports: PropertyReport[] = [];
  const runOne = (job: Job) =>
    new Promise<PropertyReport>((resolve, reject) => {
      // The worker is this file again, run through the project's TypeScript runner.
      const runTs = fileURLToPath(new URL("../../bin/run-ts.mjs", import.meta.url));
      const self = fileURLToPath(import.meta.url);
      const child = fork(runTs, [self, "--job", JSON.stringify(job)], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      let report: PropertyReport | undefined;
      child.on("message", (m) => {
        report = m as PropertyReport;
      });
      child.on("error", reject);
      child.on("exit", (code) =>
        report
          ? resolve(report)
          : reject(new Error(`soak worker for ${job.property} exited ${code} without a report`)),
      );
    });
  await Promise.all(
    Array.from({ length: Math.min(workers, jobs.length) }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) reports.push(await runOne(job));
    }),
  );
  const order = jobs.map((j) => j.property);
  return reports.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
}

function print(reports: PropertyReport[], store: string, seed: number, wallMs: number): void {
  const total = reports.reduce((a, r) => a + r.scenarios, 0);
  console.log(`safety soak: ${total} scenarios on the ${store} stores, seed ${seed}`);
  for (const p of PROPERTIES) {
    const mine = reports.filter((r) => r.name === p.name);
    if (mine.length === 0) continue;
    const n = mine.reduce((a, r) => a + r.scenarios, 0);
    const ms = mine.reduce((a, r) => a + r.wallMs, 0);
    const rate = n > 0 ? (ms / n).toFixed(1) : "-";
    console.log(
      `  ${p.name.padEnd(14)} rules ${p.rules.join(",").padEnd(8)} ${String(n).padStart(6)} scenarios  ${(ms / 1000).toFixed(1).padStart(7)} s of work (${rate} ms each)`,
    );
  }
  console.log("  per rule: scenarios checked (of which reached the rule's guarded case)");
  for (const rule of RULES) {
    const covering = reports.filter((r) => r.rules.includes(rule));
    const checked = covering.reduce((a, r) => a + r.scenarios, 0);
    const reached = covering.reduce((a, r) => a + (r.exercised[rule as Rule] ?? 0), 0);
    console.log(`    rule ${rule}: ${String(checked).padStart(6)} (${reached})`);
  }
  const failed = reports.filter((r) => r.failure);
  console.log(`wall time: ${(wallMs / 1000).toFixed(1)} s`);
  if (failed.length === 0) console.log("no counterexample");
  for (const r of failed) console.log(`\nCOUNTEREXAMPLE\n${describeFailure(r)}`);
}

async function main(): Promise<number> {
  if (values.job) {
    const job = JSON.parse(values.job) as Job;
    const [report] = await runJobs([job], "memory");
    process.send?.(report);
    return 0;
  }
  const store = values.store;
  if (store !== "memory" && store !== "dynamodb") {
    throw new SoakUsageError(`--store "${store}": expected memory or dynamodb`);
  }
  if (values.path !== undefined && !values.property) {
    throw new SoakUsageError("--path replays one property's counterexample: give --property too");
  }
  const scenarios = integer("scenarios", values.scenarios, store === "memory" ? 10_000 : 100, 1);
  const seed = integer("seed", values.seed, Math.floor(Math.random() * 2 ** 31), 0);
  const workers = integer("workers", values.workers, availableParallelism(), 1);
  // Each worker takes a slice of every property, with a seed of its own (seed, seed + 1, …):
  // slices of one seed would generate the same scenarios.
  const slices = store === "memory" && values.path === undefined ? workers : 1;
  const jobs = plan(scenarios, seed, store).flatMap((job) => {
    const n = Math.min(slices, job.numRuns);
    return Array.from({ length: n }, (_, k) => ({
      ...job,
      seed: seed + k,
      numRuns: Math.floor(job.numRuns / n) + (k < job.numRuns % n ? 1 : 0),
    }));
  });
  const started = performance.now();
  let reports: PropertyReport[];
  if (store === "dynamodb") {
    const local = await startDynamoDbLocal();
    try {
      reports = await runJobs(jobs, local.client());
    } finally {
      await local.stop();
    }
  } else {
    reports = workers > 1 ? await runInWorkers(jobs, workers) : await runJobs(jobs, "memory");
  }
  print(reports, store, seed, performance.now() - started);
  return reports.some((r) => r.failure) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof SoakUsageError ? `soak: ${err.message}` : err);
    process.exitCode = 2;
  },
);
