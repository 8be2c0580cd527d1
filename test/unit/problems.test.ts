/**
 * One problem formatter (`formatProblems` in src/domain/pipeline.ts): every message that lists
 * problems writes `path: message`, the first 50 and then a count, whoever raises it.
 */

import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseInput } from "../../functions/lib/handler.ts";
import { InvalidInputError } from "../../src/domain/errors.ts";
import { formatProblems, MAX_PROBLEMS_SHOWN } from "../../src/domain/pipeline.ts";
import { SlackWebhookNotifier } from "../../src/notify/slack.ts";

describe("formatProblems", () => {
  it.each([
    [[], "; ", ""],
    [[{ path: "name", message: "is required" }], "; ", "name: is required"],
    [[{ path: "", message: "is not an object" }], "; ", "is not an object"],
    [
      [
        { path: "a", message: "x" },
        { path: "b[0]", message: "y" },
      ],
      "\n",
      "a: x\nb[0]: y",
    ],
  ])("%j joined by %j → %j", (problems, separator, expected) => {
    expect(formatProblems(problems, separator)).toBe(expected);
  });

  it("shows the first 50 and counts the rest", () => {
    const problems = Array.from({ length: 53 }, (_, i) => ({ path: `f${i}`, message: "bad" }));
    const lines = formatProblems(problems, "\n", "  ").split("\n");
    expect(lines).toHaveLength(MAX_PROBLEMS_SHOWN + 1);
    expect(lines[0]).toBe("  f0: bad");
    expect(lines.at(-1)).toBe("  … and 3 more problems");
  });
});

describe("every problem list goes through formatProblems", () => {
  it("a handler's invalid input: the first 50 problems and a count", () => {
    const schema = z.object(
      Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`f${i}`, z.string()])),
    );
    const err = (() => {
      try {
        parseInput(schema, {}, "deploy");
      } catch (e) {
        return e;
      }
    })() as InvalidInputError;
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.problems).toHaveLength(60);
    expect(err.message).toMatch(/^invalid deploy input: f0: /);
    expect(err.message).toMatch(/; … and 10 more problems$/);
  });

  it("Slack webhook options name each field as `path: message`", () => {
    expect(
      () =>
        new SlackWebhookNotifier({
          url: "http://127.0.0.1:1/hook",
          deadLetter: { put: async () => {} },
          maxAttempts: 0,
        }),
    ).toThrowError("invalid Slack webhook options: maxAttempts: must be an integer >= 1");
  });
});
