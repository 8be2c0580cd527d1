import { ConcurrentUpdateError } from "../../domain/errors.ts";
import type { DeployStep } from "../../domain/planner.ts";
import type { Deps } from "../deps.ts";
import { releaseScopeLock } from "../scope-locks.ts";
import { loadRun, type StageContext } from "./context.ts";

/** Records a healthy, baked step: the scope is stable on the new version. */
export async function recordStep(
  deps: Deps,
  ctx: StageContext,
  step: DeployStep,
  inconclusive?: string[],
): Promise<{ recorded: true }> {
  const at = deps.clock.now().toISOString();
  const result = await deps.store.transitionScope({
    pipeline: ctx.pipeline,
    scope: step.scope,
    at,
    actor: "breakwater/record",
    cause: inconclusive
      ? `run ${ctx.runId}: ${step.kind} step of ${ctx.version} bake inconclusive (${inconclusive.join("; ")}); run halted, version kept until an engineer decides`
      : `run ${ctx.runId}: ${step.kind} step of ${ctx.version} baked healthy`,
    expect: { status: ["baking"], version: ctx.version, runId: ctx.runId },
    set: { version: ctx.version, percent: step.percent, status: "stable" },
  });
  if (!result.ok) {
    const current = result.current;
    const done =
      current?.status === "stable" &&
      current.version === ctx.version &&
      current.runId === ctx.runId;
    if (!done) {
      throw new ConcurrentUpdateError(
        `scope ${step.scope} changed during its bake (now ${current?.status} ${current?.version})`,
      );
    }
  }
  await releaseScopeLock(deps, (await loadRun(deps, ctx.runId)).definition, step.scope);
  return { recorded: true };
}
