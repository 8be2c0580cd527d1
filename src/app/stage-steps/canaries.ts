/**
 * A stage's canaries (issue 13, item 3) at the end of a bake: their success rates over the bake
 * window, read in the scope's region and account (its target's role), judged by
 * `judgeCanaries`. A canary sees the whole scope, every version it serves: during a one-box
 * step, the mixed fleet.
 */
import { type CanaryVerdict, judgeCanaries, resolveCanaries } from "../../domain/checks.ts";
import type { Pipeline } from "../../domain/pipeline.ts";
import type { ScopeRef } from "../../domain/scope.ts";
import { targetRoleArn } from "../../domain/targets/index.ts";
import type { Deps } from "../deps.ts";

/** The canaries' verdict over `from`..`to`; undefined when the stage has none for this scope. */
export async function canaryVerdict(
  deps: Deps,
  pipeline: Pipeline,
  scope: ScopeRef,
  from: Date,
  to: Date,
): Promise<CanaryVerdict | undefined> {
  const stage = pipeline.stages.find((s) => s.name === scope.stage);
  const canaries = stage ? resolveCanaries(stage, scope) : [];
  if (canaries.length === 0) return undefined;
  // Fail closed: canaries nobody can read prove nothing.
  if (!deps.canaries) {
    return {
      phase: "Inconclusive",
      reasons: ["the stage has canaries, but this control plane cannot read canaries"],
    };
  }
  const observed = await deps.canaries.successPercent({
    pipeline,
    scope,
    names: canaries.map((c) => c.name),
    from,
    to,
    account: { roleArn: targetRoleArn(pipeline, scope.stage) },
  });
  return judgeCanaries(canaries, observed);
}
