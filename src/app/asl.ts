/**
 * The state machine definitions in `statemachines/`. The stack deploys these files with
 * DefinitionSubstitutions; the local mode substitutes the same placeholders and runs the same
 * bytes.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const STAGE_ASL_PATH = fileURLToPath(
  new URL("../../statemachines/stage.asl.json", import.meta.url),
);

export const ROLLBACK_ASL_PATH = fileURLToPath(
  new URL("../../statemachines/rollback.asl.json", import.meta.url),
);

export const APPROVAL_TIMER_ASL_PATH = fileURLToPath(
  new URL("../../statemachines/approval-timer.asl.json", import.meta.url),
);

export function readApprovalTimerAsl(): string {
  return readFileSync(APPROVAL_TIMER_ASL_PATH, "utf8");
}

export function readStageAsl(): string {
  return readFileSync(STAGE_ASL_PATH, "utf8");
}

export function readRollbackAsl(): string {
  return readFileSync(ROLLBACK_ASL_PATH, "utf8");
}

/** Every `${Placeholder}` in a definition. */
export function placeholdersIn(text: string): string[] {
  return [
    ...new Set([...text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1] as string)),
  ].sort();
}

/** Replaces `${Name}` placeholders, as CloudFormation's DefinitionSubstitutions does. */
export function substitute(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_whole, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`no substitution for \${${name}}`);
    return v;
  });
}

type StateNode = { Type?: string; Resource?: string; States?: Record<string, StateNode> } & Record<
  string,
  unknown
>;

/** Maps every Task state (nested Map/Parallel included) to its Resource. */
export function taskResources(definition: {
  States: Record<string, StateNode>;
}): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (states: Record<string, StateNode>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === "Task" && typeof state.Resource === "string")
        out.set(name, state.Resource);
      const nested = [
        state.ItemProcessor,
        state.Iterator,
        ...((state.Branches as unknown[]) ?? []),
      ];
      for (const n of nested) {
        if (n && typeof n === "object" && "States" in n)
          walk((n as { States: Record<string, StateNode> }).States);
      }
    }
  };
  walk(definition.States);
  return out;
}
