#!/usr/bin/env node
// The `breakwater` command. Runs the TypeScript sources through tsx, so no build step is needed.
import { register } from "tsx/esm/api";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// The local mode has no CloudWatch: handlers' embedded-metric output would only be noise.
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv);
