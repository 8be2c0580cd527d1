import type { SSTConfig } from "sst";
import { Breakwater } from "./stacks/Breakwater.ts";

/** The only stage whose data must survive a mistaken `sst remove` or a resource replacement. */
export const PROD_STAGE = "prod";

export default {
  config(globals) {
    return {
      name: "breakwater",
      region: globals.region ?? "us-east-1",
    };
  },
  async stacks(app) {
    app.setDefaultFunctionProps({
      runtime: "nodejs22.x",
      architecture: "arm_64",
      // Below the 120 s TimeoutSeconds of the stage ASL's Task states, so a stuck call surfaces
      // as a Lambda error the state machine retries, not as a States.Timeout.
      timeout: "60 seconds",
      memorySize: "512 MB",
      tracing: "active",
      nodejs: {
        format: "esm",
        // Source maps ship inside the bundle (NODE_OPTIONS=--enable-source-maps in the stack)
        // instead of SST's default upload to the CDK bootstrap bucket, which needs AWS at synth.
        sourcemap: true,
        minify: true,
        // The holiday calendars (over 1 MB) are a dynamic import(): with splitting they are a
        // chunk that loads when the gate first judges holidays, not at every cold start.
        splitting: true,
      },
    });
    if (app.stage === PROD_STAGE) app.setDefaultRemovalPolicy("retain");
    await app.stack(Breakwater);
  },
} satisfies SSTConfig;
