/**
 * Application services behind the stage state machine's Task states. Each is idempotent: a
 * retried invocation (Lambda retry, ASL Retry, crash mid-step) finds the scope already in the
 * target state and carries on instead of double-applying the step.
 *
 * - ./plan.ts: PlanStage ({@link planStageForRun})
 * - ./deploy.ts: StartDeploy, CheckDeploy ({@link startDeploy}, {@link checkDeploy})
 * - ./gate.ts: the gate before every deploy step (`checkGate`, called by `startDeploy`)
 * - ./evaluate.ts: Evaluate at the end of a bake ({@link evaluateStep})
 * - ./bake-policy.ts: a stage's bake policy ({@link bakePolicy})
 * - ./record.ts: RecordStep ({@link recordStep})
 * - ./rollback.ts: StartRollback, CheckRollback ({@link startRollback}, {@link checkRollback})
 * - ./tests.ts: StartTests, CheckTests ({@link startTests}, {@link checkTests}), a stage's tests
 * - ./canaries.ts: the stage's canaries, judged with the bake in Evaluate
 * - ./finish.ts: FinishStage ({@link finishStage})
 * - ./halt.ts: halting the run ({@link haltRun}, also used by the fast rollback)
 * - ./step-events.ts: a step's timeline event and its publication
 * - ./context.ts: what the steps share (the stage context, run and stage lookups)
 *
 * Modules in this folder import each other directly, never this index (no import cycle).
 */
export { bakePolicy } from "./bake-policy.ts";
export type { StageContext } from "./context.ts";
export {
  type CheckDeployResult,
  checkDeploy,
  type StartDeployResult,
  startDeploy,
} from "./deploy.ts";
export { type EvaluateResult, evaluateStep } from "./evaluate.ts";
export { type FinishStageResult, finishStage } from "./finish.ts";
export { haltRun } from "./halt.ts";
export { planStageForRun } from "./plan.ts";
export { recordStep } from "./record.ts";
export { checkRollback, type RollbackResult, startRollback } from "./rollback.ts";
export { checkTests, startTests, type TestsResult } from "./tests.ts";
