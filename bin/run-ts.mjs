#!/usr/bin/env node
// Runs a TypeScript entry point of this project (no build step): node bin/run-ts.mjs <file.ts> [args...]
import { pathToFileURL } from "node:url";
import { register } from "tsx/esm/api";

// The Lambda runtime is Node 22; on a Node 20 laptop the AWS SDK's upgrade notice is noise.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// The local mode has no CloudWatch: handlers' embedded-metric output would only be noise.
process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
register();
const [, , entry, ...rest] = process.argv;
if (!entry) {
  console.error("usage: node bin/run-ts.mjs <file.ts> [args...]");
  process.exit(2);
}
process.argv = [process.argv[0], entry, ...rest];
await import(pathToFileURL(entry).href);
