/**
 * Benchmark: does the cost of a deploy step stay flat as a pipeline grows? (issue 15 item 3)
 *
 *   npm run bench:scale
 *
 * Pipelines of 10, 100 and 1,000 scopes (stages of up to 250 scopes: regions × AZs × cells, real
 * AWS regions and AZ ids), one healthy run each, on the in-memory stores (the same contract as
 * DynamoDB's, verified by the contract suite) so the figure is the control plane's own work:
 * the real ASL, the real handlers, the virtual clock. Printed per size: deploy steps, wall time,
 * wall time per step, and the ratio of the largest's per-step time to the smallest's, measured
 * in one run (after a discarded warm-up; each size run twice, the median kept).
 */
import "../src/local/polyfills.ts";
import { AWS_REGIONS, azIdsOf } from "../src/domain/aws-regions.ts";
import { type PipelineInput, parsePipeline } from "../src/domain/pipeline.ts";
import { simulate } from "../src/local/simulate.ts";

const SIZES = [10, 100, 1_000];
const PER_STAGE = 250;
const RUNS = 2;

/** Scopes as region × AZ × cell, filling real regions' AZs with up to 10 cells each. */
function pipelineOf(scopes: number): PipelineInput {
  const regions = Object.keys(AWS_REGIONS).filter((r) => azIdsOf(r).length >= 3);
  const stages: PipelineInput["stages"] = [];
  let left = scopes;
  let r = 0;
  while (left > 0) {
    const inStage = Math.min(left, PER_STAGE);
    const entries: { region: string; azs: { az: string; cells: string[] }[] }[] = [];
    let placed = 0;
    while (placed < inStage) {
      const region = regions[r++ % regions.length] as string;
      const azs = azIdsOf(region).slice(0, 3);
      const entry = { region, azs: [] as { az: string; cells: string[] }[] };
      for (const az of azs) {
        const n = Math.min(10, inStage - placed);
        if (n <= 0) break;
        entry.azs.push({ az, cells: Array.from({ length: n }, (_, i) => `c${i + 1}`) });
        placed += n;
      }
      entries.push(entry);
    }
    stages.push({
      name: `prod-${stages.length + 1}`,
      regions: entries,
      regionsInParallel: entries.length,
      cellsInParallel: 10,
      bake: { minutes: 30 },
    });
    left -= inStage;
  }
  return { name: `scale-${scopes}`, target: { type: "none" }, anomalyDetection: false, stages };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

console.log("Breakwater scale benchmark: wall time per deploy step as the pipeline grows");
console.log(`(in-memory stores, real ASL and handlers; median of ${RUNS} runs per size)`);
// A discarded warm-up: the first simulation loads the modules and parses the state machines.
await simulate({
  pipeline: parsePipeline(pipelineOf(10)),
  fromVersion: "v1",
  version: "v2",
  start: new Date("2026-01-05T09:00:00Z"),
  dynamo: "memory",
});
const perStep: number[] = [];
for (const size of SIZES) {
  const pipeline = parsePipeline(pipelineOf(size));
  const walls: number[] = [];
  let steps = 0;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const result = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start: new Date("2026-01-05T09:00:00Z"),
      dynamo: "memory",
    });
    walls.push(performance.now() - t0);
    steps = result.stats.deploySteps;
    if (result.outcome !== "succeeded") throw new Error(`${size} scopes: ${result.outcome}`);
  }
  const wall = median(walls);
  perStep.push(wall / steps);
  console.log(
    `  ${String(size).padStart(5)} scopes: ${steps} deploy steps, ${(wall / 1000).toFixed(1)} s wall, ${(wall / steps).toFixed(1)} ms per step`,
  );
}
console.log(
  `  per-step cost, 1,000 scopes vs 10: ${((perStep.at(-1) as number) / (perStep[0] as number)).toFixed(2)}x (flat is 1.0)`,
);
