/**
 * The deploy and rollback roles must hold every action a target's driver calls, or the first
 * deploy of that type fails with AccessDenied in AWS (no mock can show that). Each driver's SDK
 * commands (`new XCommand`, `paginateX`) are read from its source and checked against the
 * statement kinds the stack grants for its type (stacks/targets-iam.ts).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { KINDS, type Kind } from "../../stacks/targets-iam.ts";

const DRIVERS: { type: string; file: string; service: string; kinds: Kind[] }[] = [
  {
    type: "lambda-alias",
    file: "lambda-alias.ts",
    service: "lambda",
    kinds: ["lambda-function", "lambda-alias"],
  },
  {
    type: "ecs",
    file: "ecs.ts",
    service: "ecs",
    kinds: ["ecs-service", "ecs-unscoped"],
  },
  {
    type: "cloudformation",
    file: "cloudformation.ts",
    service: "cloudformation",
    kinds: ["cfn-stack"],
  },
  {
    type: "appconfig",
    file: "appconfig.ts",
    service: "appconfig",
    kinds: [
      "appconfig-start",
      "appconfig-deployment",
      "appconfig-environment",
      "appconfig-profile",
      "appconfig-application",
      "appconfig-strategy",
      "appconfig-unscoped",
    ],
  },
  { type: "codebuild", file: "codebuild.ts", service: "codebuild", kinds: ["codebuild-project"] },
];

/** The API actions a driver's source calls. */
function actionsCalled(file: string, service: string): string[] {
  const source = readFileSync(
    new URL(`../../src/adapters/aws/targets/${file}`, import.meta.url),
    "utf8",
  );
  const names = new Set<string>();
  for (const m of source.matchAll(/new ([A-Z][A-Za-z]+)Command\b/g)) names.add(m[1] as string);
  for (const m of source.matchAll(/\bpaginate([A-Z][A-Za-z]+)\b/g)) names.add(m[1] as string);
  return [...names].map((n) => `${service}:${n}`).sort();
}

describe("the stack grants every action each target driver calls", () => {
  it.each(DRIVERS)("$type", ({ file, service, kinds }) => {
    const called = actionsCalled(file, service);
    expect(called.length).toBeGreaterThan(2);
    const granted = new Set(kinds.flatMap((k) => KINDS[k].actions));
    expect(called.filter((a) => !granted.has(a))).toEqual([]);
  });
});
