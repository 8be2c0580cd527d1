// Building blocks for the service's pipelines: plain functions that return pipeline fragments.
// A TypeScript pipeline composes them (examples/typescript/orders-worker.ts); a JSON pipeline
// gets the same with "extends" (README, "Templates"). This file has no default export, so it
// lives outside the pipelines folder: synth loads every file directly in pipelines/.
import type { PipelineInput } from "breakwater";

type Stage = PipelineInput["stages"][number];

/** The waves every pipeline of the service goes through, pre-production first. */
export function standardWaves(prodBakeMinutes = 60): Stage[] {
  return [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 15 } },
    {
      name: "prod-1",
      regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2", "eun1-az3"] }],
      oneBox: true,
      rolling: { percents: [25, 50, 100], bakeMinutes: 10 },
      bake: { minutes: prodBakeMinutes },
    },
    {
      name: "prod-2",
      regions: ["us-west-2", "eu-west-1"],
      regionsInParallel: 2,
      bake: { minutes: prodBakeMinutes },
    },
  ];
}

/** What the service's pipelines share: alarms, the time windows, every stage's defaults. */
export function serviceBase(name: string): Omit<PipelineInput, "stages"> {
  return {
    name,
    service: "orders",
    alarms: ["{pipeline}-5xx-{region}"],
    timeWindows: {
      allowed: [{ days: ["mon", "tue", "wed", "thu"], from: "09:00", to: "17:00" }],
      holidays: true,
    },
    stageDefaults: { onInsufficientTraffic: "halt" },
  };
}
