// A pipeline built from functions (README, "Templates"): the service's shared base and waves,
// changed where this pipeline differs. `extendPipeline` merges as a JSON file's "extends" does:
// objects merge, arrays and scalars replace, stages match by name.
import { definePipeline, extendPipeline } from "breakwater";
import { serviceBase, standardWaves } from "./templates/service.ts";

export default definePipeline(
  extendPipeline(
    { ...serviceBase("orders-worker-ts"), stages: standardWaves(90) },
    {
      kind: "app",
      target: { type: "none" },
      // prod-2 bakes longer for this pipeline; a new stage appends after the shared ones.
      stages: [
        { name: "prod-2", bake: { minutes: 120 } },
        { name: "prod-3", regions: ["ap-southeast-2"], bake: { minutes: 60 } },
      ],
    },
  ),
);
