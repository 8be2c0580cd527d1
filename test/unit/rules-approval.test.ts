/** The pure rules of a stage's manual approval (src/domain/next-after-stage.ts), table-tested. */
import { describe, expect, it } from "vitest";
import type { Run } from "../../src/domain/model.ts";
import {
  approvalDecisionProblem,
  approvalTimerFired,
  onAdmission,
  supersedesApprovalHolder,
  waitsOnApproval,
} from "../../src/domain/next-after-stage.ts";
import {
  DEFAULT_APPROVAL_TIMEOUT_MINUTES,
  MAX_APPROVAL_TIMEOUT_MINUTES,
  type Pipeline,
  PipelineValidationError,
  parsePipeline,
} from "../../src/domain/pipeline.ts";

const definition: Pipeline = parsePipeline({
  name: "orders-api",
  stages: [
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 5 } },
    {
      name: "prod",
      regions: ["eu-west-1"],
      approval: { timeoutMinutes: 60 },
      bake: { minutes: 10 },
    },
    { name: "prod-2", regions: ["eu-north-1"], approval: true, bake: { minutes: 10 } },
  ],
});

const NOW = new Date("2026-12-02T09:00:00.000Z");
const ASKED = {
  stage: "prod",
  requestedAt: "2026-12-02T09:00:00.000Z",
  deadline: "2026-12-02T10:00:00.000Z",
};

const run = (r: Partial<Run> = {}): Run => ({
  runId: "orders-api@v7",
  pipeline: "orders-api",
  version: "v7",
  seq: 7,
  status: "waiting",
  waitingFor: "prod",
  definition,
  createdAt: "2026-12-02T08:00:00.000Z",
  updatedAt: "2026-12-02T08:00:00.000Z",
  stages: {},
  rolledBack: [],
  cause: "merged",
  ...r,
});

const awaiting = (r: Partial<Run> = {}) =>
  run({ status: "awaiting-approval", currentStage: "prod", approval: ASKED, ...r });
const timedOut = (r: Partial<Run> = {}) =>
  awaiting({ status: "halted", haltReason: "approval-timeout", ...r });
const decision = (action: "approve" | "reject") => ({
  action,
  actor: "alice",
  principal: "local:alice",
  reason: "ok",
  at: "2026-12-02T09:10:00.000Z",
});

describe("onAdmission: enter a stage, or wait for its approval", () => {
  const rows: [string, Run, string, ReturnType<typeof onAdmission>][] = [
    ["a stage without approval is entered", run({ waitingFor: "beta" }), "beta", { kind: "enter" }],
    [
      "a stage with approval waits until now + timeoutMinutes",
      run(),
      "prod",
      { kind: "await-approval", approval: ASKED },
    ],
    [
      `approval: true waits the default ${DEFAULT_APPROVAL_TIMEOUT_MINUTES} minutes`,
      run({ waitingFor: "prod-2" }),
      "prod-2",
      {
        kind: "await-approval",
        approval: {
          stage: "prod-2",
          requestedAt: NOW.toISOString(),
          deadline: "2026-12-03T09:00:00.000Z",
        },
      },
    ],
    [
      "a stage already approved for this run is entered (a retry, a resumed line)",
      run({ approvals: { prod: decision("approve") } }),
      "prod",
      { kind: "enter" },
    ],
    [
      "another stage's approval does not count",
      run({ waitingFor: "prod-2", approvals: { prod: decision("approve") } }),
      "prod-2",
      {
        kind: "await-approval",
        approval: {
          stage: "prod-2",
          requestedAt: NOW.toISOString(),
          deadline: "2026-12-03T09:00:00.000Z",
        },
      },
    ],
  ];
  it.each(rows)("%s", (_name, r, stage, expected) => {
    expect(onAdmission({ run: r, stage, now: NOW })).toEqual(expected);
  });
});

describe("supersedesApprovalHolder: safety rule 6 for a run that waits on its approval", () => {
  const rows: [string, Run, number | undefined, boolean][] = [
    ["a newer waiter supersedes a holder awaiting approval", awaiting(), 8, true],
    ["a newer waiter supersedes a holder whose approval timed out", timedOut(), 8, true],
    ["no waiter: the holder keeps waiting", awaiting(), undefined, false],
    ["an older waiter never supersedes", awaiting(), 6, false],
    [
      "a holder that started the stage keeps it",
      run({ status: "running", currentStage: "prod" }),
      8,
      false,
    ],
    [
      "a holder halted by its own rollback keeps it (an engineer decides)",
      run({ status: "halted", haltReason: "rollback", currentStage: "prod" }),
      8,
      false,
    ],
  ];
  it.each(rows)("%s", (_name, holder, newestWaiterSeq, expected) => {
    expect(supersedesApprovalHolder({ holder, stage: "prod", newestWaiterSeq })).toBe(expected);
  });
  it("a holder of another stage is not superseded here", () => {
    expect(
      supersedesApprovalHolder({ holder: awaiting(), stage: "beta", newestWaiterSeq: 8 }),
    ).toBe(false);
  });
});

describe("approvalTimerFired: a timer that ran out", () => {
  const timer = { stage: "prod", requestedAt: ASKED.requestedAt };
  const rows: [string, Run | undefined, ReturnType<typeof approvalTimerFired>["kind"]][] = [
    ["the run still awaits that approval: halt", awaiting(), "halt"],
    ["unknown run: ignore", undefined, "ignore"],
    ["approved meanwhile (running): ignore", awaiting({ status: "running" }), "ignore"],
    ["rejected meanwhile (cancelled): ignore", awaiting({ status: "cancelled" }), "ignore"],
    ["already timed out (a duplicate delivery): ignore", timedOut(), "ignore"],
    [
      "an approval asked for again later: ignore the earlier timer",
      awaiting({ approval: { ...ASKED, requestedAt: "2026-12-02T09:30:00.000Z" } }),
      "ignore",
    ],
    [
      "an approval of another stage: ignore",
      awaiting({ currentStage: "prod-2", approval: { ...ASKED, stage: "prod-2" } }),
      "ignore",
    ],
  ];
  it.each(rows)("%s", (_name, r, kind) => {
    expect(approvalTimerFired({ run: r, timer }).kind).toBe(kind);
  });
  it("says which stage and how long", () => {
    expect(approvalTimerFired({ run: awaiting(), timer })).toEqual({
      kind: "halt",
      detail:
        "nobody approved or rejected prod within 60 minutes (asked at 2026-12-02T09:00:00.000Z)",
    });
  });
});

describe("approvalDecisionProblem: when approve and reject apply", () => {
  const rows: [string, Run, "approve" | "reject", boolean][] = [
    ["approve a run awaiting approval", awaiting(), "approve", true],
    ["reject a run awaiting approval", awaiting(), "reject", true],
    ["approve after the timeout (a late, explicit decision)", timedOut(), "approve", true],
    ["reject after the timeout", timedOut(), "reject", true],
    ["approve a waiting run: no", run(), "approve", false],
    [
      "approve a running run: no",
      run({ status: "running", currentStage: "beta" }),
      "approve",
      false,
    ],
    [
      "reject a run halted by a rollback: no",
      run({ status: "halted", haltReason: "rollback", currentStage: "prod" }),
      "reject",
      false,
    ],
    [
      "repeat an approve that took effect: accepted (changes nothing)",
      run({ status: "running", currentStage: "prod", decision: decision("approve") }),
      "approve",
      true,
    ],
    [
      "repeat a reject that took effect: accepted",
      run({ status: "cancelled", decision: decision("reject") }),
      "reject",
      true,
    ],
    [
      "approve a superseded run: no",
      run({ status: "superseded", decision: decision("approve") }),
      "approve",
      false,
    ],
  ];
  it.each(rows)("%s", (_name, r, action, ok) => {
    const problem = approvalDecisionProblem(r, action);
    if (ok) expect(problem).toBeUndefined();
    else
      expect(problem).toMatch(new RegExp(`^v7 is .*: ${action} decides a run awaiting approval$`));
  });
  it("waitsOnApproval names the stage", () => {
    expect(waitsOnApproval(awaiting(), "prod")).toBe(true);
    expect(waitsOnApproval(awaiting(), "beta")).toBe(false);
    expect(waitsOnApproval(run())).toBe(false);
  });
});

describe("stages[].approval in the pipeline schema", () => {
  const stage = (approval: unknown) => ({
    name: "orders-api",
    stages: [{ name: "prod", regions: ["eu-west-1"], bake: { minutes: 10 }, approval }],
  });
  it.each([true, false, { timeoutMinutes: 1 }, { timeoutMinutes: MAX_APPROVAL_TIMEOUT_MINUTES }])(
    "accepts %j",
    (approval) => {
      expect(parsePipeline(stage(approval)).stages[0]?.approval).toEqual(approval);
    },
  );
  const bad: [unknown, string][] = [
    [{ timeoutMinutes: 0 }, "stages[0].approval.timeoutMinutes"],
    [{ timeoutMinutes: MAX_APPROVAL_TIMEOUT_MINUTES + 1 }, "stages[0].approval.timeoutMinutes"],
    [{ timeoutMinutes: 1.5 }, "stages[0].approval.timeoutMinutes"],
    [{ timeout: 5 }, "stages[0].approval.timeout"],
    ["yes", "stages[0].approval"],
  ];
  it.each(bad)("refuses %j, naming %s", (approval, path) => {
    try {
      parsePipeline(stage(approval));
      expect.unreachable("parsed");
    } catch (err) {
      expect(err).toBeInstanceOf(PipelineValidationError);
      const problems = (err as PipelineValidationError).problems;
      expect(problems.map((p) => `${p.path}: ${p.message}`).join("\n")).toContain(`${path}: `);
    }
  });
});
