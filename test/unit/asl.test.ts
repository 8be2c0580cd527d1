import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { placeholdersIn, readStageAsl, substitute, taskResources } from "../../src/app/asl.ts";

interface ValidationResult {
  isValid: boolean;
  errors: { message: string }[];
  errorsText: (separator?: string) => string;
}
// asl-validator (v4) is CommonJS without type declarations: module.exports is the function.
const aslValidator = createRequire(import.meta.url)("asl-validator") as (
  definition: unknown,
  options?: { checkPaths?: boolean; checkArn?: boolean },
) => ValidationResult;

type State = Record<string, unknown> & { Type: string };
type StateMachine = { States: Record<string, State> } & Record<string, unknown>;

const text = readStageAsl();
const definition = () => JSON.parse(text) as StateMachine;

const FUNCTION_ARNS = [
  "DeployFunctionArn",
  "EvaluateFunctionArn",
  "PlanFunctionArn",
  "RecordFunctionArn",
  "RollbackFunctionArn",
];

const dummyArns = Object.fromEntries(
  FUNCTION_ARNS.map((name) => [
    name,
    `arn:aws:lambda:us-east-1:123456789012:function:breakwater-${name.replace("FunctionArn", "").toLowerCase()}`,
  ]),
);

/** Every state at every nesting level (Map ItemProcessor/Iterator, Parallel Branches), with its path. */
function allStates(machine: { States: Record<string, State> }, prefix = ""): [string, State][] {
  return Object.entries(machine.States).flatMap(([name, state]): [string, State][] => {
    const path = `${prefix}${name}`;
    const nested = [
      state.ItemProcessor,
      state.Iterator,
      ...((state.Branches as unknown[] | undefined) ?? []),
    ].filter((n): n is { States: Record<string, State> } => !!n && typeof n === "object");
    return [[path, state], ...nested.flatMap((n) => allStates(n, `${path} > `))];
  });
}

describe("statemachines/stage.asl.json", () => {
  it("is valid ASL (asl-validator, with ARN and path checks) once its placeholders are substituted", () => {
    const result = aslValidator(JSON.parse(substitute(text, dummyArns)), {
      checkArn: true,
      checkPaths: true,
    });
    expect(result.errorsText("\n")).toBe("");
    expect(result.isValid).toBe(true);
  });

  it("the validator is not vacuous: a dangling Next is reported", () => {
    const broken = JSON.parse(substitute(text, dummyArns)) as StateMachine;
    (broken.States.Plan as State).Next = "NoSuchState";
    const result = aslValidator(broken, { checkArn: true, checkPaths: true });
    expect(result.isValid).toBe(false);
    expect(result.errorsText("\n")).toContain("NoSuchState");
  });

  it("uses exactly the five function ARN placeholders, and every one of them", () => {
    expect(placeholdersIn(text)).toEqual(FUNCTION_ARNS);
    const resources = new Set(taskResources(definition()).values());
    expect([...resources].sort()).toEqual(FUNCTION_ARNS.map((p) => `\${${p}}`));
  });

  it("contains no literal ARN: every ARN comes from DefinitionSubstitutions", () => {
    expect(text).not.toMatch(/arn:/i);
  });

  it("substitute() fills every placeholder and refuses a missing one", () => {
    const filled = substitute(text, dummyArns);
    expect(placeholdersIn(filled)).toEqual([]);
    const { PlanFunctionArn: _, ...missingPlan } = dummyArns;
    expect(() => substitute(text, missingPlan)).toThrow(
      /^no substitution for \$\{PlanFunctionArn\}$/,
    );
  });

  const states = allStates(definition());

  it("walks the nested Map states", () => {
    const names = states.map(([path]) => path);
    expect(names).toContain("Regions > Phases > Steps > StartDeploy");
    expect(names).toContain("FinishStage");
    expect(states.length).toBeGreaterThan(20);
  });

  it.each(states)("state %s has a non-empty Comment", (_, state) => {
    expect(typeof state.Comment).toBe("string");
    expect((state.Comment as string).trim().length).toBeGreaterThan(0);
  });

  const tasks = states.filter(([, state]) => state.Type === "Task");

  it.each(tasks)("Task %s has a Retry and a TimeoutSeconds", (_, state) => {
    expect(Array.isArray(state.Retry) && state.Retry.length > 0).toBe(true);
    expect(state.TimeoutSeconds).toEqual(expect.any(Number));
    expect(state.TimeoutSeconds as number).toBeGreaterThan(0);
  });

  it.each(tasks)(
    "Task %s calls a Lambda placeholder directly (no .sync, no .waitForTaskToken)",
    (_, state) => {
      const resource = state.Resource as string;
      expect(resource).toMatch(/^\$\{[A-Za-z]+FunctionArn\}$/);
      expect(resource).not.toMatch(/\.(sync|waitForTaskToken)(:\d+)?$/);
    },
  );

  it("keeps to the ASL subset the local interpreter runs (JSONPath only, no variables)", () => {
    const machine = definition();
    expect(machine.QueryLanguage ?? "JSONPath").toBe("JSONPath");
    const allowed = new Set([
      "Task",
      "Wait",
      "Choice",
      "Map",
      "Parallel",
      "Pass",
      "Succeed",
      "Fail",
    ]);
    for (const [path, state] of states) {
      expect(allowed.has(state.Type), `${path} has type ${state.Type}`).toBe(true);
      expect(state, path).not.toHaveProperty("Arguments");
      expect(state, path).not.toHaveProperty("Assign");
      expect(state, path).not.toHaveProperty("Output");
      expect(state.QueryLanguage ?? "JSONPath", path).toBe("JSONPath");
      if (state.Type === "Map") {
        // Inline Map only: a distributed Map needs the real service.
        const processor = state.ItemProcessor as
          | { ProcessorConfig?: { Mode?: string } }
          | undefined;
        expect(processor?.ProcessorConfig?.Mode ?? "INLINE", path).toBe("INLINE");
        expect(state, path).not.toHaveProperty("ItemReader");
        expect(state, path).not.toHaveProperty("ResultWriter");
      }
    }
    expect(text).not.toContain("JSONata");
    expect(text).not.toMatch(/\{%/);
    expect(text).not.toMatch(/\.waitForTaskToken|\.sync/);
  });
});
