// Writes schema/pipeline.schema.json from the zod schema (test/unit/json-schema.test.ts keeps it in sync).
import { writeFileSync } from "node:fs";
import { pipelineJsonSchema } from "../src/domain/pipeline.ts";

const path = new URL("../schema/pipeline.schema.json", import.meta.url);
writeFileSync(path, `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`);
console.log(`wrote ${path.pathname}`);
