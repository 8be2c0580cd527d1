/**
 * IAM for the stages' tests (issue 13, item 2): the deploy function runs them (StartTests and
 * CheckTests are its actions), so its role gets exactly the calls the test runner makes
 * (src/adapters/aws/test-runner.ts) on the functions and projects each stage's test templates
 * resolve to in each of its scopes, nothing wider. A stage whose target names a `roleArn` runs
 * its tests in that account through the role (already among the deploy role's target grants):
 * nothing is granted here for it, and the role's own policy (`targetRolePolicies`) lists them.
 */
import { resolveTests } from "../src/domain/checks.ts";
import type { Pipeline } from "../src/domain/pipeline.ts";
import { stageScopes } from "../src/domain/scope.ts";
import { targetRoleArn } from "../src/domain/targets/index.ts";

/** One Allow statement (the shape of targets-iam.ts's `TargetGrant`, without its conditions). */
export interface TestGrant {
  actions: string[];
  resources: string[];
}

/** What the test runner calls: Invoke for a Lambda test; a build's start, status and stop. */
export const TEST_ACTIONS = {
  lambda: ["lambda:InvokeFunction"],
  codebuild: ["codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"],
} as const;

/**
 * The deploy role's statements for the pipelines' tests: one per kind, resources sorted.
 *
 * @example
 * stageTestGrants([{ name: "orders", stages: [{ name: "beta", regions: ["us-east-1"],
 *   tests: [{ lambda: "it-{region}" }], … }] }], { partition: "aws", account: "123456789012" })
 * // [{ actions: ["lambda:InvokeFunction"], resources: ["arn:aws:lambda:us-east-1:123456789012:function:it-us-east-1"] }]
 */
export function stageTestGrants(
  pipelines: readonly Pipeline[],
  env: { partition: string; account: string },
): TestGrant[] {
  const found = { lambda: new Set<string>(), codebuild: new Set<string>() };
  for (const p of pipelines) {
    for (const stage of p.stages) {
      if (!stage.tests?.length || targetRoleArn(p, stage.name)) continue;
      for (const scope of stageScopes(stage)) {
        const arn = (service: string, resource: string) =>
          `arn:${env.partition}:${service}:${scope.region}:${env.account}:${resource}`;
        for (const t of resolveTests(stage, scope)) {
          if (t.kind === "lambda") found.lambda.add(arn("lambda", `function:${t.name}`));
          else found.codebuild.add(arn("codebuild", `project/${t.name}`));
        }
      }
    }
  }
  return (["lambda", "codebuild"] as const)
    .filter((kind) => found[kind].size > 0)
    .map((kind) => ({ actions: [...TEST_ACTIONS[kind]], resources: [...found[kind]].sort() }));
}
