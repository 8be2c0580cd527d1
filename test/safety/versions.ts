/**
 * Safety rules 2, 3, 5 and 6 (docs/design.md) with several versions in flight, and rule 1 for
 * an engineer's rollback-all (a rollback is a deployment): random arrival
 * schedules, random per-version fault sets and an optional engineer's decision go through the
 * real local control plane (the real stage and rollback ASL in the local interpreter, the real
 * handlers, a simulated fleet, a virtual clock, on the in-memory stores or DynamoDB Local). The rules are checked on
 * what the control plane recorded — every run's record and timeline, every scope's history —
 * and on what the fleet itself serves.
 *
 * A failing case stops at once (no shrinking: each shrink step is a full simulation) and prints
 * the scenario and every violated rule.
 */
import { randomUUID } from "node:crypto";
import { DeleteTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import { applyOverride } from "../../src/app/override.ts";
import { runIdFor } from "../../src/app/runs.ts";
import { azIdsOf } from "../../src/domain/aws-regions.ts";
import type { HistoryEntry, Run, TimelineEvent } from "../../src/domain/model.ts";
import { waitsOnApproval } from "../../src/domain/next-after-stage.ts";
import { type Pipeline, type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { parseScopeId, pipelineScopes, scopeMatcher } from "../../src/domain/scope.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { type FaultKind, type FaultSpec, SimulatedFleet } from "../../src/local/fleet.ts";

const START = new Date("2026-03-02T09:00:00Z");
const OPERATOR_ARN = "arn:aws:sts::123456789012:assumed-role/Operators/oncall";
const NP = { noNullPrototype: true } as const;
const FAULT_KINDS: readonly FaultKind[] = ["faults", "latency", "traffic-drop"];

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/** A stage's manual approval, now and then (most stages have none). */
const approvalArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.record({ timeoutMinutes: fc.integer({ min: 30, max: 600 }) }, NP) },
);

const stageArb = (name: string, regions: string[], approvals = false) =>
  fc
    .record(
      {
        name: fc.constant(name),
        ...(approvals ? { approval: approvalArb } : {}),
        regions: fc
          .subarray(regions, { minLength: 1, maxLength: Math.min(2, regions.length) })
          .chain((rs) =>
            fc.tuple(
              ...rs.map((r) =>
                fc
                  .constantFrom("region", "zonal", "cells")
                  .map((kind) =>
                    kind === "zonal"
                      ? { region: r, azs: azIdsOf(r).slice(0, 2) }
                      : kind === "cells"
                        ? { region: r, cells: ["c1", "c2"] }
                        : r,
                  ),
              ),
            ),
          ),
        regionsInParallel: fc.option(fc.constant(2), { nil: undefined }),
        oneBox: fc.option(fc.boolean(), { nil: undefined }),
        bake: fc.record({ minutes: fc.integer({ min: 10, max: 60 }) }, NP),
      },
      { requiredKeys: ["name", "regions", "bake"], ...NP },
    )
    .map((s) => {
      // No key at all rather than `approval: undefined` (the scenario prints as JSON).
      const { approval, ...rest } = s as typeof s & { approval?: unknown };
      return approval === undefined ? rest : { ...rest, approval };
    })
    // At most the stage's regions (the schema refuses more; more meant "all at once").
    .map((s) =>
      s.regionsInParallel === undefined
        ? s
        : { ...s, regionsInParallel: Math.min(s.regionsInParallel, s.regions.length) },
    );

const pipelineArb: fc.Arbitrary<PipelineInput> = fc
  .tuple(
    stageArb("beta", ["us-east-1"]),
    stageArb("prod-1", ["eu-west-1", "eu-north-1"], true),
    stageArb("prod-2", ["us-west-2", "ap-southeast-2", "sa-east-1"], true),
  )
  .map((stages) => ({ name: "orders-api", stages: stages as PipelineInput["stages"] }));

type DecisionSpec =
  | {
      action: "rollback-all" | "roll-forward";
      atMinutes: number;
      /** rollback-all: every scope at once (the incident form) instead of wave by wave. */
      fast?: boolean;
    }
  | undefined;

/** An operator's approve or reject, at a time, of the oldest run waiting on an approval then. */
export interface ApprovalSpec {
  action: "approve" | "reject";
  atMinutes: number;
}

export interface Scenario {
  pipeline: PipelineInput;
  /** Arrival offsets in minutes, ascending; versions are v2, v3, … in that order. */
  arrivals: number[];
  faults: FaultSpec[];
  decision: DecisionSpec;
  /** Approval decisions (absent in scenarios recorded before approvals existed). */
  approvals?: ApprovalSpec[];
}

export const scenarioArb: fc.Arbitrary<Scenario> = pipelineArb.chain((input) => {
  const scopes = pipelineScopes(parsePipeline(input)).map((s) => s.id);
  return fc
    .uniqueArray(fc.integer({ min: 1, max: 360 }), { minLength: 1, maxLength: 3 })
    .chain((offsets) => {
      const arrivals = [0, ...offsets.sort((a, b) => a - b)];
      const versions = arrivals.map((_, i) => `v${i + 2}`);
      return fc.record(
        {
          pipeline: fc.constant(input),
          arrivals: fc.constant(arrivals),
          faults: fc.array(
            fc.record(
              {
                version: fc.constantFrom(...versions),
                scopes: fc.constantFrom(...scopes),
                kind: fc.constantFrom(...FAULT_KINDS),
              },
              NP,
            ),
            { maxLength: 2 },
          ),
          decision: fc.option(
            fc.record(
              {
                action: fc.constantFrom("rollback-all" as const, "roll-forward" as const),
                atMinutes: fc.integer({ min: 120, max: 1200 }),
                fast: fc.boolean(),
              },
              { requiredKeys: ["action", "atMinutes"], ...NP },
            ),
            { nil: undefined },
          ),
          approvals: fc.array(
            fc.record(
              {
                action: fc.constantFrom("approve" as const, "approve" as const, "reject" as const),
                atMinutes: fc.integer({ min: 30, max: 900 }),
              },
              NP,
            ),
            { maxLength: 3 },
          ),
        },
        NP,
      );
    });
});

/** Whether the scenario's pipeline asks for an approval before some stage. */
export const hasApprovals = (s: Scenario): boolean =>
  s.pipeline.stages.some((st) => (st as { approval?: unknown }).approval !== undefined);

export interface Outcome {
  scenario: Scenario;
  pipeline: Pipeline;
  versions: string[];
  runs: Map<string, Run>;
  timelines: Map<string, TimelineEvent[]>;
  history: Map<string, HistoryEntry[]>;
  serving: Map<string, { stable: string; canary?: { version: string; percent: number } }>;
  decidedAt?: number;
}

/** Runs one scenario on the given stores (the in-memory twins, or DynamoDB Local). */
export async function simulateScenario(
  s: Scenario,
  dynamo: DynamoDBClient | "memory",
  /** Other state machine definitions (tests of the tests: a deliberately broken one). */
  asl?: { stage?: string; rollback?: string },
): Promise<Outcome> {
  const tableName = `prop-versions-${randomUUID()}`;
  try {
    return await simulateOn(s, dynamo, tableName, asl);
  } finally {
    if (dynamo !== "memory") {
      await dynamo.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
    }
  }
}

async function simulateOn(
  s: Scenario,
  dynamo: DynamoDBClient | "memory",
  tableName: string,
  asl?: { stage?: string; rollback?: string },
): Promise<Outcome> {
  const pipeline = parsePipeline(s.pipeline);
  const plane = await createLocalControlPlane({
    dynamo,
    ...(asl ? { asl } : {}),
    ...(dynamo === "memory" ? {} : { tableName }),
    start: START,
    fleet: (clock) =>
      new SimulatedFleet({ pipeline, initialVersion: "v1", clock, faults: s.faults }),
  });
  await plane.register(pipeline, "v1");
  const versions = s.arrivals.map((_, i) => `v${i + 2}`);
  const at = (m: number) => new Date(START.getTime() + m * 60_000);
  s.arrivals.forEach((m, i) => {
    plane.at(at(m), async () => plane.requestRun(pipeline.name, versions[i] as string));
  });
  let decidedAt: number | undefined;
  if (s.decision) {
    const d = s.decision;
    plane.at(at(d.atMinutes), async () => {
      const runs = await plane.store.listRuns(pipeline.name);
      const target =
        d.action === "rollback-all"
          ? runs.find((r) => r.status === "halted" && r.haltReason !== "older-version-halted")
          : [...runs].reverse().find((r) => ["running", "waiting", "halted"].includes(r.status));
      if (!target) return;
      try {
        await applyOverride(
          plane.deps,
          {
            action: d.action,
            pipeline: pipeline.name,
            version: target.version,
            actor: "oncall",
            reason: "property test decision",
            ...(d.action === "rollback-all" && d.fast ? { fast: true } : {}),
          },
          { principal: { arn: OPERATOR_ARN } },
        );
        decidedAt = plane.clock.nowMillis();
      } catch {
        // Not applicable in this state (a clear error, nothing changed): no decision.
      }
    });
  }
  for (const a of s.approvals ?? []) {
    plane.at(at(a.atMinutes), async () => {
      const target = (await plane.store.listRuns(pipeline.name)).find((r) => waitsOnApproval(r));
      if (!target) return;
      await applyOverride(
        plane.deps,
        {
          action: a.action,
          pipeline: pipeline.name,
          version: target.version,
          actor: "oncall",
          reason: "property test approval",
        },
        { principal: { arn: OPERATOR_ARN } },
      );
    });
  }
  await plane.run(new Date(START.getTime() + 7 * 86_400_000));
  const runs = new Map<string, Run>();
  const timelines = new Map<string, TimelineEvent[]>();
  for (const v of versions) {
    const run = await plane.store.getRun(runIdFor(pipeline.name, v));
    if (run) runs.set(v, run);
    timelines.set(v, await plane.store.timeline(runIdFor(pipeline.name, v)));
  }
  const history = new Map<string, HistoryEntry[]>();
  const serving = new Map<
    string,
    { stable: string; canary?: { version: string; percent: number } }
  >();
  for (const scope of pipelineScopes(pipeline)) {
    history.set(scope.id, await plane.store.history(pipeline.name, scope.id));
    const served = (plane.fleet as SimulatedFleet).servingIn(scope.id);
    if (served) serving.set(scope.id, served);
  }
  return {
    scenario: s,
    pipeline,
    versions,
    runs,
    timelines,
    history,
    serving,
    ...(decidedAt !== undefined ? { decidedAt } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Rules
// ---------------------------------------------------------------------------------------------

const t = (iso: string) => Date.parse(iso);
/** A rollback an engineer's rollback-all started (its rollback-started names the decision). */
const isDecisionRollback = (e: TimelineEvent) =>
  e.event === "rollback-started" && (e.reason?.includes("rollback-all") ?? false);

/**
 * A version's timeline without an engineer's rollback-all: each rollback-started that names the
 * decision and the rollback-finished that ends it (same scope and step, later; it carries no
 * reason). Rules 2 and 6 judge how the version entered and held each stage, not the decision.
 */
function withoutDecisionRollbacks(tl: TimelineEvent[]): TimelineEvent[] {
  const open = new Set<string>();
  return tl.filter((e) => {
    const key = `${e.scope} ${e.step}`;
    if (isDecisionRollback(e)) {
      open.add(key);
      return false;
    }
    if (e.event === "rollback-finished" && open.has(key)) {
      open.delete(key);
      return false;
    }
    return true;
  });
}

/** Rule 2: a version never enters stage N+1 before it finished stage N, bake included. */
function checkRule2(o: Outcome): string[] {
  const problems: string[] = [];
  for (const v of o.versions) {
    const tl = withoutDecisionRollbacks(o.timelines.get(v) ?? []);
    const stages = o.pipeline.stages.map((s) => s.name);
    for (let i = 1; i < stages.length; i++) {
      const entered = tl.filter((e) => e.stage === stages[i] && e.event === "deploy-started");
      if (entered.length === 0) continue;
      const first = Math.min(...entered.map((e) => t(e.at)));
      const previous = tl.filter((e) => e.stage === stages[i - 1]);
      const bakes = previous.filter((e) => e.event === "bake-finished");
      const lastPrev = Math.max(...previous.map((e) => t(e.at)));
      if (bakes.length === 0 || first < lastPrev || bakes.some((b) => b.outcome !== "Healthy")) {
        problems.push(
          `rule 2: ${v} entered ${stages[i]} at ${new Date(first).toISOString()} before finishing ${stages[i - 1]} healthy`,
        );
      }
    }
  }
  return problems;
}

/**
 * Rule 3: rollbacks (other than an engineer's rollback-all) happen only in scopes where that
 * version is faulty; after a run halts no new deploy step of it starts; a newer version enters
 * no new stage while an older one is halted awaiting a decision.
 */
function checkRule3(o: Outcome): string[] {
  const problems: string[] = [];
  for (const v of o.versions) {
    const tl = o.timelines.get(v) ?? [];
    const faulty = o.scenario.faults
      .filter((f) => f.version === v)
      .map((f) => scopeMatcher(f.scopes));
    for (const e of tl) {
      if (
        e.event === "rollback-started" &&
        !isDecisionRollback(e) &&
        !faulty.some((m) => m(e.scope))
      ) {
        problems.push(`rule 3: ${v} rolled back ${e.scope}, which has no fault of ${v}`);
      }
    }
    const run = o.runs.get(v);
    // An approval that timed out halts its own run (checked by the approval rule) but does not
    // stop the line: the version is not known to be bad, and a newer one supersedes it.
    const halted =
      run?.haltedAt &&
      run.haltReason !== "older-version-halted" &&
      run.haltReason !== "approval-timeout"
        ? t(run.haltedAt)
        : undefined;
    if (halted !== undefined) {
      const resumed =
        run?.decision?.action === "retry" ? t(run.decision.at) : Number.POSITIVE_INFINITY;
      for (const e of tl) {
        if (e.event === "deploy-started" && t(e.at) > halted && t(e.at) < resumed) {
          problems.push(
            `rule 3: ${v} started a deploy in ${e.scope} at ${e.at}, after halting at ${run?.haltedAt}`,
          );
        }
      }
      // Newer versions stop at their next stage boundary until the decision.
      const decided = o.decidedAt ?? Number.POSITIVE_INFINITY;
      for (const newer of o.versions.slice(o.versions.indexOf(v) + 1)) {
        const ntl = o.timelines.get(newer) ?? [];
        for (const stage of o.pipeline.stages.map((s) => s.name)) {
          const deploys = ntl.filter((e) => e.stage === stage && e.event === "deploy-started");
          if (deploys.length === 0) continue;
          const first = Math.min(...deploys.map((e) => t(e.at)));
          if (first > halted && first < decided) {
            problems.push(
              `rule 3: ${newer} entered ${stage} at ${new Date(first).toISOString()} while older ${v} was halted (since ${run?.haltedAt})`,
            );
          }
        }
      }
    }
  }
  return problems;
}

/**
 * Rule 3, tightened (the line stops at once): from the first rollback of a version on, that
 * instant included, no deploy step of that version or of any newer one starts, until the
 * engineer's decision after it (its retry, roll-forward, cancel or rollback-all clears the line).
 */
function checkLineStop(o: Outcome): string[] {
  const problems: string[] = [];
  for (const [i, v] of o.versions.entries()) {
    const rollbacks = (o.timelines.get(v) ?? []).filter(
      (e) => e.event === "rollback-started" && !isDecisionRollback(e),
    );
    if (rollbacks.length === 0) continue;
    const first = Math.min(...rollbacks.map((e) => t(e.at)));
    const until =
      o.decidedAt !== undefined && o.decidedAt > first ? o.decidedAt : Number.POSITIVE_INFINITY;
    for (const w of o.versions.slice(i)) {
      for (const e of o.timelines.get(w) ?? []) {
        if (e.event === "deploy-started" && t(e.at) >= first && t(e.at) < until) {
          problems.push(
            `rule 3: ${w} started a deploy in ${e.scope} at ${e.at}, at or after ${v}'s first rollback at ${new Date(first).toISOString()}`,
          );
        }
      }
    }
  }
  return problems;
}

/** Rule 5: every change of a scope's version is in its history, with who and why. */
function checkRule5(o: Outcome): string[] {
  const problems: string[] = [];
  for (const [scope, entries] of o.history) {
    const revs = entries.map((e) => e.rev);
    if (JSON.stringify(revs) !== JSON.stringify(entries.map((_, i) => i + 1))) {
      problems.push(`rule 5: ${scope} history revs ${JSON.stringify(revs)}`);
    }
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as HistoryEntry;
      if (!e.actor || !e.cause)
        problems.push(`rule 5: ${scope} rev ${e.rev} has no actor or cause`);
      const prev = entries[i - 1];
      // A version change names the version it replaced; a status change keeps the version.
      const from = e.fromVersion ?? e.toVersion;
      if (prev && from !== prev.toVersion) {
        problems.push(
          `rule 5: ${scope} rev ${e.rev} changes from ${from}, but the scope ran ${prev.toVersion}`,
        );
      }
    }
    const last = entries.at(-1);
    const served = o.serving.get(scope);
    if (served && last && !served.canary && served.stable !== last.toVersion) {
      problems.push(
        `rule 5: ${scope} serves ${served.stable}, its history ends on ${last.toVersion}`,
      );
    }
    if (served?.canary && last && served.canary.version !== last.toVersion) {
      problems.push(
        `rule 5: ${scope} serves ${served.canary.version} at ${served.canary.percent}%, its history ends on ${last.toVersion}`,
      );
    }
  }
  return problems;
}

/**
 * Rule 6: each stage processes one version at a time (the deploy-to-bake spans of two versions
 * in one stage never overlap), and versions enter a stage in arrival order (a newer one that
 * entered is never followed by an older one: the older was superseded).
 */
function checkRule6(o: Outcome): string[] {
  const problems: string[] = [];
  for (const stage of o.pipeline.stages.map((s) => s.name)) {
    const spans = o.versions
      .map((v, seq) => {
        const events = withoutDecisionRollbacks(o.timelines.get(v) ?? []).filter(
          (e) => e.stage === stage,
        );
        if (!events.some((e) => e.event === "deploy-started")) return undefined;
        return {
          v,
          seq,
          from: Math.min(...events.map((e) => t(e.at))),
          to: Math.max(...events.map((e) => t(e.at))),
        };
      })
      .filter((x): x is NonNullable<typeof x> => x !== undefined)
      .sort((a, b) => a.from - b.from);
    for (let i = 1; i < spans.length; i++) {
      const a = spans[i - 1] as (typeof spans)[number];
      const b = spans[i] as (typeof spans)[number];
      if (b.from < a.to) problems.push(`rule 6: ${a.v} and ${b.v} overlap in ${stage}`);
      if (b.seq < a.seq) problems.push(`rule 6: older ${b.v} entered ${stage} after newer ${a.v}`);
    }
  }
  // A newer waiting version supersedes older waiting ones, never the reverse.
  const seqOf = (runId: string | undefined) =>
    o.versions.findIndex((v) => runIdFor(o.pipeline.name, v) === runId);
  for (const [v, run] of o.runs) {
    if (run.status !== "superseded") continue;
    if (!run.supersededBy) problems.push(`rule 6: ${v} superseded by nobody`);
    else if (seqOf(run.supersededBy) <= o.versions.indexOf(v)) {
      problems.push(`rule 6: ${v} superseded by ${run.supersededBy}, which is not newer`);
    }
  }
  return problems;
}

/**
 * A stage's approval: no deploy step of a version starts in a stage that asks for approval
 * unless that version's approval of the stage came first (its `approved` timeline event, by an
 * operator whose authenticated identity the run keeps), and none after a `rejected` one.
 */
function checkApprovals(o: Outcome): string[] {
  const problems: string[] = [];
  for (const stage of o.pipeline.stages) {
    if (stage.approval === undefined || stage.approval === false) continue;
    for (const v of o.versions) {
      const tl = withoutDecisionRollbacks(o.timelines.get(v) ?? []).filter(
        (e) => e.stage === stage.name,
      );
      const approved = tl.find((e) => e.step === "approval" && e.event === "approved");
      const rejected = tl.find((e) => e.step === "approval" && e.event === "rejected");
      for (const e of tl.filter((x) => x.event === "deploy-started")) {
        if (!approved || t(e.at) < t(approved.at)) {
          problems.push(
            `approval: ${v} deployed ${e.scope} at ${e.at} before ${stage.name} was approved`,
          );
        }
        if (rejected)
          problems.push(`approval: ${v} deployed ${e.scope} although ${stage.name} was rejected`);
      }
      const given = o.runs.get(v)?.approvals?.[stage.name];
      if (approved && given?.principal !== OPERATOR_ARN) {
        problems.push(`approval: ${v}'s approval of ${stage.name} keeps no authenticated operator`);
      }
    }
  }
  return problems;
}

export function describeOutcome(o: Outcome): string {
  const runs = [...o.runs.values()].map(
    (r) =>
      `${r.version}: ${r.status}${r.haltReason ? ` (${r.haltReason} at ${r.haltedAt})` : ""}${r.supersededBy ? ` by ${r.supersededBy}` : ""}`,
  );
  return [JSON.stringify(o.scenario), ...runs].join("\n");
}

/** A rollback-all's rollback of one scope: rollback-started naming the decision → its end. */
export interface DecisionSpan {
  scope: string;
  stage: string;
  region: string;
  start: number;
  end: number;
}

/** Every scope's rollback by the engineer's rollback-all, across every version's timeline. */
export function decisionSpans(o: Outcome): DecisionSpan[] {
  const spans: DecisionSpan[] = [];
  for (const v of o.versions) {
    const tl = o.timelines.get(v) ?? [];
    for (const e of tl.filter(isDecisionRollback)) {
      const end = tl.find(
        (f) => f.event === "rollback-finished" && f.scope === e.scope && f.at >= e.at,
      );
      const ref = parseScopeId(e.scope);
      spans.push({
        scope: e.scope,
        stage: ref.stage,
        region: ref.region,
        start: t(e.at),
        end: end ? t(end.at) : Number.POSITIVE_INFINITY,
      });
    }
  }
  return spans;
}

/** Whether two spans share an instant (one ending at T and another starting at T do not). */
const overlap = (a: DecisionSpan, b: DecisionSpan) => a.start < b.end && b.start < a.end;

/**
 * Rule 1 for rollback-all (a rollback is a deployment), unless the engineer asked it fast or
 * the pipeline says `"rollbackAll": "all-at-once"`: the newest stage first (every rollback of a
 * later stage ends before any of an earlier stage starts), and in a region the AZs one at a
 * time unless the stage deploys them in parallel. Regions of a stage may go together.
 */
function checkRule1(o: Outcome): string[] {
  if (o.scenario.decision?.fast || o.pipeline.rollbackAll === "all-at-once") return [];
  const problems: string[] = [];
  const spans = decisionSpans(o);
  const order = o.pipeline.stages.map((s) => s.name);
  for (const a of spans) {
    for (const b of spans) {
      if (order.indexOf(b.stage) > order.indexOf(a.stage) && a.start < b.end) {
        problems.push(
          `rule 1: rollback-all rolled back ${a.scope} from ${new Date(a.start).toISOString()}, before newer stage's ${b.scope} was back (${new Date(b.end).toISOString()})`,
        );
      }
    }
  }
  for (const stage of o.pipeline.stages.filter((s) => !s.azsInParallel)) {
    const inStage = spans.filter((s) => s.stage === stage.name);
    for (const [i, a] of inStage.entries()) {
      for (const b of inStage.slice(i + 1)) {
        if (a.region === b.region && overlap(a, b)) {
          problems.push(
            `rule 1: rollback-all rolled back ${a.scope} and ${b.scope} at once (${stage.name} deploys AZs one at a time)`,
          );
        }
      }
    }
  }
  return problems;
}

/** Every violation of rules 1 (rollback-all), 2, 3, 5 and 6, and of a stage's approval, in one outcome. */
export function violations(o: Outcome): string[] {
  return [
    ...checkRule1(o),
    ...checkRule2(o),
    ...checkRule3(o),
    ...checkLineStop(o),
    ...checkRule5(o),
    ...checkRule6(o),
    ...checkApprovals(o),
  ];
}
