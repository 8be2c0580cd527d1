import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import {
  placeholdersIn,
  readRollbackAsl,
  readStageAsl,
  substitute,
  taskResources,
} from "../../src/app/asl.ts";

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

/** `${Name}`, as written in the definitions. */
const placeholder = (name: string) => `\${${name}}`;

interface AslFile {
  file: string;
  text: string;
  /** The placeholders the file uses: all five for the stage, a subset for the rollback. */
  placeholders: string[];
  /** States that must be there (nested ones by path). */
  mustHave: string[];
}

const FILES: AslFile[] = [
  {
    file: "statemachines/stage.asl.json",
    text: readStageAsl(),
    placeholders: FUNCTION_ARNS,
    mustHave: [
      "Plan",
      "FinishStage",
      "Regions > Phases > Steps > StartDeploy",
      "Regions > Phases > Steps > WaitWhileBlocked",
      "Regions > Phases > Steps > Evaluate",
      "Regions > Phases > Steps > ExtendBake",
      "Regions > Phases > Steps > RecordInconclusive",
      "Regions > Phases > Steps > StepSuperseded",
      "Regions > Phases > Steps > StartRollback",
    ],
  },
  {
    file: "statemachines/rollback.asl.json",
    text: readRollbackAsl(),
    placeholders: ["RollbackFunctionArn"],
    mustHave: ["InitRollback", "StartRollback", "CheckRollback", "RolledBack", "RollbackFailed"],
  },
];

describe.each(FILES)("$file", ({ text, placeholders, mustHave }) => {
  const definition = () => JSON.parse(text) as StateMachine;

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
    const start = broken.States[broken.StartAt as string] as State;
    // A Choice (the rollback machine's Waves?) goes on by its Default.
    const next = start.Type === "Choice" ? "Default" : "Next";
    expect(start[next], "the first state goes on to another").toEqual(expect.any(String));
    start[next] = "NoSuchState";
    const result = aslValidator(broken, { checkArn: true, checkPaths: true });
    expect(result.isValid).toBe(false);
    expect(result.errorsText("\n")).toContain("NoSuchState");
  });

  it("uses only function ARN placeholders of the stack's five, and every one it declares", () => {
    expect(placeholdersIn(text)).toEqual(placeholders);
    expect(placeholders.every((p) => FUNCTION_ARNS.includes(p))).toBe(true);
    const resources = new Set(taskResources(definition()).values());
    expect([...resources].sort()).toEqual(placeholders.map(placeholder));
  });

  it("contains no literal ARN: every ARN comes from DefinitionSubstitutions", () => {
    expect(text).not.toMatch(/arn:/i);
  });

  it("substitute() fills every placeholder and refuses a missing one", () => {
    const filled = substitute(text, dummyArns);
    expect(placeholdersIn(filled)).toEqual([]);
    for (const name of placeholders) {
      const { [name]: _, ...missing } = dummyArns;
      expect(() => substitute(text, missing)).toThrow(
        new RegExp(`^no substitution for \\$\\{${name}\\}$`),
      );
    }
  });

  const states = allStates(definition());

  it("has its states, nested ones included", () => {
    const names = states.map(([path]) => path);
    for (const name of mustHave) expect(names).toContain(name);
  });

  it.each(states)("state %s has a non-empty Comment", (_, state) => {
    expect(typeof state.Comment).toBe("string");
    expect((state.Comment as string).trim().length).toBeGreaterThan(0);
  });

  const tasks = states.filter(([, state]) => state.Type === "Task");

  it("has Task states", () => {
    expect(tasks.length).toBeGreaterThan(0);
  });

  it.each(tasks)("Task %s has a Retry and a TimeoutSeconds", (_, state) => {
    expect(Array.isArray(state.Retry) && state.Retry.length > 0).toBe(true);
    expect(state.TimeoutSeconds).toEqual(expect.any(Number));
    expect(state.TimeoutSeconds as number).toBeGreaterThan(0);
  });

  // Step Functions reports a function that died mid-invocation (crash, out of memory, timeout)
  // as Lambda.Unknown; the handlers are idempotent, so such a task is retried, not caught.
  it.each(tasks)("Task %s retries a crashed function (Lambda.Unknown)", (_, state) => {
    const retried = (state.Retry as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals);
    expect(retried).toContain("Lambda.Unknown");
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

describe("the stage machine routes every verdict of its tasks", () => {
  const steps = new Map(
    allStates(JSON.parse(readStageAsl()) as StateMachine)
      .filter(([path]) => path.startsWith("Regions > Phases > Steps > "))
      .map(([path, state]) => [path.slice("Regions > Phases > Steps > ".length), state]),
  );
  const targets = (name: string) => {
    const state = steps.get(name) as State & { Choices: { Next: string }[]; Default?: string };
    return [...state.Choices.map((c) => c.Next), state.Default];
  };

  it("a blocked deploy step waits (recheckSeconds) and checks again", () => {
    expect(targets("DeployStarted?")).toContain("WaitWhileBlocked");
    const wait = steps.get("WaitWhileBlocked");
    expect(wait).toMatchObject({
      Type: "Wait",
      SecondsPath: "$.deploy.recheckSeconds",
      Next: "StartDeploy",
    });
  });

  it("Extend bakes longer (extendSeconds) and judges again; Inconclusive records without a rollback; Superseded ends the branch", () => {
    expect(targets("Healthy?")).toEqual(
      expect.arrayContaining(["RecordStep", "ExtendBake", "RecordInconclusive", "StepSuperseded"]),
    );
    expect(steps.get("ExtendBake")).toMatchObject({
      Type: "Wait",
      SecondsPath: "$.health.extendSeconds",
      Next: "Evaluate",
    });
    expect(steps.get("RecordInconclusive")).toMatchObject({
      Type: "Task",
      Resource: placeholder("RecordFunctionArn"),
      Parameters: { action: "step", "reasons.$": "$.health.reasons" },
    });
    expect(steps.get("StepSuperseded")?.Type).toBe("Succeed");
    expect(targets("DeployDone?")).toContain("StepSuperseded");
  });

  it("passes deployStartedAt from the deploy step to CheckDeploy and Evaluate", () => {
    expect(steps.get("CheckDeploy")?.Parameters).toMatchObject({
      "deployStartedAt.$": "$.deploy.deployStartedAt",
    });
    expect(steps.get("Evaluate")?.Parameters).toMatchObject({
      "deployStartedAt.$": "$.deploy.deployStartedAt",
      "bakeStartedAt.$": "$.deploy.bakeStartedAt",
    });
  });
});
