import { describe, expect, it } from "vitest";
import type { Run } from "../../src/domain/model.ts";
import {
  type NextAfterStage,
  type NextAfterStageInput,
  nextAfterStage,
  type StageEnd,
} from "../../src/domain/next-after-stage.ts";
import { type Pipeline, parsePipeline } from "../../src/domain/pipeline.ts";

const definition: Pipeline = parsePipeline({
  name: "orders-api",
  stages: [
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 5 } },
    { name: "prod", regions: ["eu-west-1"], bake: { minutes: 10 } },
  ],
});

const run = (r: Partial<Run> = {}): Run => ({
  runId: "orders-api@v7",
  pipeline: "orders-api",
  version: "v7",
  seq: 7,
  status: "running",
  currentStage: "beta",
  definition,
  createdAt: "2026-12-01T09:00:00.000Z",
  updatedAt: "2026-12-01T09:00:00.000Z",
  stages: { beta: { status: "running", startedAt: "2026-12-01T09:00:00.000Z" } },
  rolledBack: [],
  cause: "merged",
  ...r,
});

/** v6, older, halted awaiting a decision after its rollback in prod. */
const v6 = run({
  runId: "orders-api@v6",
  version: "v6",
  seq: 6,
  status: "halted",
  haltReason: "rollback",
  currentStage: "prod",
});

const end = (e: Partial<StageEnd> = {}): StageEnd => ({
  runId: "orders-api@v7",
  stage: "beta",
  status: "SUCCEEDED",
  ...e,
});

const halted = (r: Partial<Run>): Partial<Run> => ({
  status: "halted",
  haltedAt: "2026-12-01T09:30:00.000Z",
  ...r,
});

type Row = [string, NextAfterStageInput, NextAfterStage];

describe("nextAfterStage: nothing to do", () => {
  const rows: Row[] = [
    [
      "an unknown run",
      { end: end(), run: undefined },
      { kind: "ignore", reason: "unknown run orders-api@v7" },
    ],
    [
      "the execution still runs",
      { end: end({ status: "RUNNING" }), run: run() },
      { kind: "ignore", reason: "execution still running" },
    ],
    [
      "an earlier attempt of the stage (a retry started attempt 2)",
      { end: end({ status: "FAILED" }), run: run({ attempts: { beta: 2 } }) },
      { kind: "ignore", reason: "an earlier attempt of the stage" },
    ],
    [
      "attempt 1 is the default on both sides",
      { end: end({ attempt: 2 }), run: run() },
      { kind: "ignore", reason: "an earlier attempt of the stage" },
    ],
    [
      "a failure of a run that already ended",
      { end: end({ status: "ABORTED" }), run: run({ status: "cancelled" }) },
      { kind: "ignore", reason: "run is cancelled" },
    ],
    [
      "a success for a run halted on its own account (it awaits a decision)",
      { end: end(), run: run(halted({ haltReason: "rollback" })) },
      { kind: "ignore", reason: "already promoted" },
    ],
    [
      "a success for a run already running its next stage",
      {
        end: end(),
        run: run({
          currentStage: "prod",
          stages: { prod: { status: "running", startedAt: "2026-12-01T10:00:00.000Z" } },
        }),
      },
      { kind: "ignore", reason: "already promoted" },
    ],
  ];
  it.each(rows)("%s", (_label, input, expected) => {
    expect(nextAfterStage(input)).toEqual(expected);
  });
});

describe("nextAfterStage: a stage that did not succeed halts the run, which keeps its stage", () => {
  const rows: Row[] = [
    [
      "a running run halts as a control-plane error, announced",
      { end: end({ status: "FAILED", error: "States.TaskFailed" }), run: run() },
      {
        kind: "halt",
        reason: "stage beta execution FAILED: States.TaskFailed",
        haltRunning: true,
        announce: true,
      },
    ],
    [
      "a timeout without an error",
      { end: end({ status: "TIMED_OUT" }), run: run() },
      { kind: "halt", reason: "stage beta execution TIMED_OUT", haltRunning: true, announce: true },
    ],
    [
      "a run its rollback halted: the halt names the scope",
      {
        end: end({ status: "FAILED" }),
        run: run(halted({ haltReason: "rollback", haltedBy: "beta/us-east-1" })),
      },
      {
        kind: "halt",
        reason: "stage beta halted: beta/us-east-1 rolled back",
        haltRunning: false,
        announce: true,
      },
    ],
    [
      "a run halted for another reason, already announced",
      {
        end: end({ status: "FAILED" }),
        run: run(
          halted({ haltReason: "inconclusive", haltAnnouncedAt: "2026-12-01T09:31:00.000Z" }),
        ),
      },
      {
        kind: "halt",
        reason: "stage beta halted: run (inconclusive)",
        haltRunning: false,
        announce: false,
      },
    ],
    [
      "the failure of a retried stage's current attempt counts",
      { end: end({ status: "FAILED", attempt: 2 }), run: run({ attempts: { beta: 2 } }) },
      { kind: "halt", reason: "stage beta execution FAILED", haltRunning: true, announce: true },
    ],
  ];
  it.each(rows)("%s", (_label, input, expected) => {
    expect(nextAfterStage(input)).toEqual(expected);
  });
});

describe("nextAfterStage: a stage that succeeded moves the run still in it on", () => {
  const rows: Row[] = [
    [
      "into line for the next stage",
      { end: end(), run: run() },
      { kind: "wait-for-next", stage: "beta", next: "prod" },
    ],
    [
      "to a stop at the boundary behind an older version awaiting a decision",
      { end: end(), run: run(), olderHalt: v6 },
      { kind: "stop-at-boundary", stage: "beta", next: "prod", behind: v6 },
    ],
    [
      "to success after the last stage (the line behind is not weighed)",
      { end: end({ stage: "prod" }), run: run({ currentStage: "prod" }), olderHalt: v6 },
      { kind: "succeed", stage: "prod" },
    ],
  ];
  it.each(rows)("%s", (_label, input, expected) => {
    expect(nextAfterStage(input)).toEqual(expected);
  });
});

describe("nextAfterStage: a move already made is finished from the record", () => {
  const waiting = run({ status: "waiting", waitingFor: "prod" });
  const atBoundary = run(
    halted({ haltReason: "older-version-halted", haltedBy: v6.runId, nextStage: "prod" }),
  );
  const succeeded = run({ status: "succeeded", currentStage: "prod" });
  const rows: Row[] = [
    [
      "entered the next stage but never started it (a crash): start it",
      { end: end(), run: run({ currentStage: "prod", stages: {} }) },
      { kind: "enter-next", stage: "beta", next: "prod" },
    ],
    [
      "admitted to await the next stage's approval (a crash before its announcement or timer): enter again",
      {
        end: end(),
        run: run({
          status: "awaiting-approval",
          currentStage: "prod",
          stages: { beta: { status: "succeeded", startedAt: "2026-12-01T09:00:00.000Z" } },
          approval: {
            stage: "prod",
            requestedAt: "2026-12-01T09:40:00.000Z",
            deadline: "2026-12-01T10:40:00.000Z",
          },
        }),
      },
      { kind: "enter-next", stage: "beta", next: "prod" },
    ],
    [
      "this delivery's move into line: release, get in line, report the next stage",
      { end: end(), run: waiting, afterMove: { won: true } },
      {
        kind: "release",
        stage: "beta",
        requeue: "prod",
        announceAgain: false,
        report: { kind: "next-stage", stage: "prod" },
      },
    ],
    [
      "this delivery's stop at the boundary",
      { end: end(), run: atBoundary, afterMove: { won: true } },
      {
        kind: "release",
        stage: "beta",
        announceAgain: false,
        report: { kind: "halted-at-boundary", stage: "prod", behind: v6.runId },
      },
    ],
    [
      "this delivery's success",
      { end: end({ stage: "prod" }), run: succeeded, afterMove: { won: true } },
      {
        kind: "release",
        stage: "prod",
        announceAgain: false,
        report: { kind: "run-succeeded" },
      },
    ],
    [
      "this delivery's move, then a decision superseded the run: reported as it is",
      {
        end: end(),
        run: run({ status: "superseded", supersededBy: "orders-api@v8" }),
        afterMove: { won: true },
      },
      {
        kind: "release",
        stage: "beta",
        announceAgain: false,
        report: { kind: "other", status: "superseded" },
      },
    ],
    [
      "a repeated delivery after the move into line: announced again (at least once)",
      { end: end(), run: waiting },
      {
        kind: "release",
        stage: "beta",
        requeue: "prod",
        announceAgain: true,
        report: { kind: "already-promoted" },
      },
    ],
    [
      "a repeated delivery after a stop at the boundary: announced again",
      { end: end(), run: atBoundary },
      {
        kind: "release",
        stage: "beta",
        announceAgain: true,
        report: { kind: "already-promoted" },
      },
    ],
    [
      "a repeated delivery after the success: announced again",
      { end: end({ stage: "prod" }), run: succeeded },
      {
        kind: "release",
        stage: "prod",
        announceAgain: true,
        report: { kind: "already-promoted" },
      },
    ],
    [
      "this delivery lost the move to a concurrent one: finished like a repeated delivery",
      { end: end(), run: waiting, afterMove: { won: false } },
      {
        kind: "release",
        stage: "beta",
        requeue: "prod",
        announceAgain: true,
        report: { kind: "already-promoted" },
      },
    ],
    [
      "a run superseded in its stage: released, nothing to announce",
      { end: end(), run: run({ status: "superseded" }) },
      {
        kind: "release",
        stage: "beta",
        announceAgain: false,
        report: { kind: "already-promoted" },
      },
    ],
    [
      "after the move the rule never moves the run again (read again still running)",
      { end: end(), run: run(), afterMove: { won: false } },
      { kind: "ignore", reason: "already promoted" },
    ],
  ];
  it.each(rows)("%s", (_label, input, expected) => {
    expect(nextAfterStage(input)).toEqual(expected);
  });
});
