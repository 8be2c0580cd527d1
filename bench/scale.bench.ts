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
 * in one run (after a discarded warm-up; each size repeated until about 400 steps, the median
 * kept). Also printed: a one-scope simulation's wall (the set-up every simulation pays, whatever
 * its size), the per-step cost once that is subtracted, and the transitions and invocations per
 * step, which show that the work per step is the same at every size.
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
      cellsInParallel: Math.min(10, scopes),
      bake: { minutes: 30 },
    });
    left -= inStage;
  }
  return { name: `scale-${scopes}`, target: { type: "none" }, anomalyDetection: false, stages };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function run(pipeline: ReturnType<typeof parsePipeline>) {
  const t0 = performance.now();
  const result = await simulate({
    pipeline,
    fromVersion: "v1",
    version: "v2",
    start: new Date("2026-01-05T09:00:00Z"),
    dynamo: "memory",
  });
  const wall = performance.now() - t0;
  if (result.outcome !== "succeeded") throw new Error(`${pipeline.name}: ${result.outcome}`);
  return { wall, stats: result.stats };
}

/** Repetitions per size: enough steps in all that the small sizes are not one noisy sample. */
const runsFor = (size: number) => Math.max(RUNS, Math.ceil(400 / size));

console.log("Breakwater scale benchmark: wall time per deploy step as the pipeline grows");
console.log("(in-memory stores, real ASL and handlers, virtual clock; medians in one run)");
// A discarded warm-up: the first simulation loads the modules and parses the state machines.
await run(parsePipeline(pipelineOf(10)));
// A simulation's own set-up (control plane, tables, seeding, teardown), the same at any size:
// a one-scope pipeline's wall less its one step is close to it; subtracting it leaves the
// cost the steps themselves add.
const oneScope = parsePipeline(pipelineOf(1));
const setupWalls: number[] = [];
for (let i = 0; i < 15; i++) setupWalls.push((await run(oneScope)).wall);
const setup = median(setupWalls);
console.log(`  a 1-scope simulation (set-up and its one step): ${setup.toFixed(1)} ms wall`);
const perStep: number[] = [];
for (const size of SIZES) {
  const pipeline = parsePipeline(pipelineOf(size));
  const walls: number[] = [];
  let stats: Awaited<ReturnType<typeof run>>["stats"] | undefined;
  for (let i = 0; i < runsFor(size); i++) {
    const r = await run(pipeline);
    walls.push(r.wall);
    stats = r.stats;
  }
  const steps = stats?.deploySteps ?? 0;
  const wall = median(walls);
  const marginal = Math.max(0, wall - setup) / Math.max(1, steps - 1);
  perStep.push(marginal);
  const invocations = Object.values(stats?.invocations ?? {}).reduce((a, b) => a + b, 0);
  console.log(
    `  ${String(size).padStart(5)} scopes: ${steps} deploy steps, ${(wall / 1000).toFixed(2)} s wall ` +
      `(median of ${walls.length}), ${(wall / steps).toFixed(2)} ms per step all in, ` +
      `${marginal.toFixed(2)} ms per step after set-up; per step ` +
      `${((stats?.stateTransitions ?? 0) / steps).toFixed(1)} transitions, ` +
      `${(invocations / steps).toFixed(1)} invocations; snapshot ${JSON.stringify(pipeline).length} bytes`,
  );
}
const ratio = (a: number, b: number) => (a / b).toFixed(2);
console.log(
  `  per-step cost after set-up, 1,000 scopes vs 10: ${ratio(perStep.at(-1) as number, perStep[0] as number)}x; ` +
    `1,000 vs 100: ${ratio(perStep.at(-1) as number, perStep[1] as number)}x (flat is 1.0)`,
);
