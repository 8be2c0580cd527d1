// Writes statemachines/*.asl.json from src/asl (test/unit/asl-generate.test.ts keeps them in sync).
import { writeFileSync } from "node:fs";
import { generatedAslFiles } from "../src/asl/index.ts";

for (const { path, text } of generatedAslFiles()) {
  const url = new URL(`../${path}`, import.meta.url);
  writeFileSync(url, text);
  console.log(`wrote ${url.pathname}`);
}
