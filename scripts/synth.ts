/**
 * Offline synth: `npm run synth -- [--stage dev] [--out synth.out/<stage>] [--region r]
 * [--account 123456789012] [--pipelines dir]`. Writes the cloud assembly (CloudFormation
 * templates, bundled function code, manifest) without AWS credentials or network; see
 * stacks/offline-synth.ts for how. Deploying stays `sst deploy --stage <stage>`. The pipelines
 * are linted first (`breakwater lint`'s rules): an error refuses the synth, warnings are printed.
 */
import { parseArgs } from "node:util";

// SST still loads the AWS SDK v2 (for its CLI), which prints an end-of-support notice on load.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE ??= "1";
const { synthesize } = await import("../stacks/offline-synth.ts");

const { values } = parseArgs({
  options: {
    stage: { type: "string", default: "dev" },
    out: { type: "string" },
    region: { type: "string" },
    account: { type: "string" },
    pipelines: { type: "string" },
  },
  strict: true,
});

const stage = values.stage ?? "dev";
const started = Date.now();
try {
  // The lint first (the stack runs it again): an error refuses the synth before it starts, and
  // the warnings are printed here, where someone reads them.
  const { loadPipelines } = await import("../stacks/pipelines.ts");
  for (const { file, warnings } of await loadPipelines(values.pipelines ?? "pipelines")) {
    for (const w of warnings) {
      console.error(`${file}: warning ${w.rule}${w.path ? ` at ${w.path}` : ""}: ${w.message}`);
    }
  }
  const result = await synthesize({
    stage,
    outdir: values.out ?? `synth.out/${stage}`,
    ...(values.region ? { region: values.region } : {}),
    ...(values.account ? { account: values.account } : {}),
    ...(values.pipelines ? { pipelinesDir: values.pipelines } : {}),
  });
  for (const name of Object.keys(result.templates)) {
    console.log(`${result.outdir}/${name}.template.json`);
  }
  // For the target accounts to deploy (README, "Deploy to AWS" and "Least privilege").
  for (const path of Object.keys(result.targetAccountFiles))
    console.log(`${result.outdir}/${path}`);
  console.log(`synthesized stage ${stage} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
}
