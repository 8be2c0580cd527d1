import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readRollbackAsl, readStageAsl, taskResources } from "../../src/app/asl.ts";
import {
  generatedAslFiles,
  ROLLBACK_ATTEMPTS,
  rollbackMachine,
  stageMachine,
  TASK_RETRY,
} from "../../src/asl/index.ts";

const repo = new URL("../../", import.meta.url);

type Node = Record<string, unknown> & { Type?: string; States?: Record<string, Node> };

/** Every state at every nesting level, by name (names are unique within each machine's branch). */
function statesOf(body: { States: Record<string, Node> }): [string, Node][] {
  return Object.entries(body.States).flatMap(([name, state]): [string, Node][] => {
    const inner = state.ItemProcessor as { States: Record<string, Node> } | undefined;
    return [[name, state], ...(inner ? statesOf(inner) : [])];
  });
}

describe.each(generatedAslFiles())("$path", ({ path, text }) => {
  const committed = readFileSync(new URL(path, repo), "utf8");

  it("is, parsed, the definition src/asl generates", () => {
    expect(JSON.parse(committed)).toEqual(JSON.parse(text));
  });

  it("is byte-for-byte what `npm run asl` writes", () => {
    expect(committed, `run \`npm run asl\` to regenerate ${path}`).toBe(text);
  });
});

describe("generated definitions", () => {
  it("are the files the stack and the local mode read (src/app/asl.ts)", () => {
    const [stage, rollback] = generatedAslFiles();
    expect(readStageAsl()).toBe(stage?.text);
    expect(readRollbackAsl()).toBe(rollback?.text);
  });

  it("give every Lambda task the one retry policy and the 120 s timeout", () => {
    for (const machine of [stageMachine(), rollbackMachine()]) {
      const tasks = statesOf(machine as never).filter(([, s]) => s.Type === "Task");
      expect(tasks.length).toBe(taskResources(machine as never).size);
      for (const [name, state] of tasks) {
        expect(state.Retry, name).toEqual(TASK_RETRY);
        expect(state.TimeoutSeconds, name).toBe(120);
      }
    }
    // Nine, and StartTests and CheckTests (issue 13: a stage's tests).
    expect(statesOf(stageMachine() as never).filter(([, s]) => s.Type === "Task")).toHaveLength(11);
  });

  it("share no array or object between states (a change to one cannot leak into another)", () => {
    const stage = stageMachine() as never;
    const retries = statesOf(stage)
      .map(([, s]) => s.Retry)
      .filter(Boolean);
    expect(new Set(retries).size).toBe(retries.length);
    expect(retries).not.toContain(TASK_RETRY);
  });

  it("run one rollback loop in both machines; only its comment and its failure state differ", () => {
    const steps = new Map(statesOf(stageMachine() as never));
    const fast = new Map(statesOf(rollbackMachine() as never));
    for (const name of ["InitRollback", "RollbackDone?", "WaitForRollback", "CheckRollback"]) {
      expect(fast.has(name), name).toBe(true);
      expect(steps.get(name), name).toEqual(fast.get(name));
    }
    expect(steps.get("RolledBack")).toEqual(fast.get("RolledBack"));
    const { Comment: inStage, ...startInStage } = steps.get("StartRollback") ?? {};
    const { Comment: inFast, ...startInFast } = fast.get("StartRollback") ?? {};
    expect(startInStage).toEqual(startInFast);
    expect(startInFast.Type).toBe("Task");
    expect(inStage).not.toBe(inFast);
    expect(steps.get("RollbackFailed")?.Type).toBe("Pass");
    expect(fast.get("RollbackFailed")?.Type).toBe("Fail");
    const retryRule = JSON.stringify(fast.get("RollbackDone?"));
    expect(retryRule).toContain(`"NumericLessThan":${ROLLBACK_ATTEMPTS}`);
  });
});
