/**
 * A state machine definition that passed asl-validator is remembered by its exact text, so a
 * new process skips the ASL schema's compilation (about 0.7 s); any other text, an edited file
 * above all, is validated again, and one that fails is never remembered.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { aslPassed, rememberAslPassed } from "../../src/local/asl-validation.ts";
import { LocalEventBus } from "../../src/local/event-bus.ts";
import { LocalStateMachine } from "../../src/local/step-functions.ts";
import { VirtualClock } from "../../src/local/virtual-time.ts";

const dir = mkdtempSync(join(tmpdir(), "breakwater-asl-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const machine = (text: string) => {
  const clock = new VirtualClock(new Date("2026-01-05T09:00:00Z"));
  return new LocalStateMachine("test", text, {}, clock, new LocalEventBus(clock), new Map(), {
    transitions: 0,
  });
};

describe("remembered ASL validation", () => {
  it("remembers a text that passed, and only that exact text", () => {
    const text = JSON.stringify({ StartAt: "A", States: { A: { Type: "Pass", End: true } } });
    expect(aslPassed(text, dir)).toBe(false);
    rememberAslPassed(text, dir);
    expect(aslPassed(text, dir)).toBe(true);
    expect(aslPassed(`${text} `, dir)).toBe(false);
    // One marker, no temporary file left behind.
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it("validates a definition it has not seen, remembers it when it passes, rejects it when it fails", () => {
    const valid = JSON.stringify({
      Comment: "asl-validation test",
      StartAt: "A",
      States: { A: { Type: "Pass", End: true } },
    });
    machine(valid);
    expect(aslPassed(valid)).toBe(true);
    // An edit that breaks the definition: a new text, validated, refused, not remembered.
    const broken = JSON.stringify({
      Comment: `edited ${randomUUID()}`,
      StartAt: "A",
      States: { A: { Type: "Pass", Next: "Missing" } },
    });
    expect(() => machine(broken)).toThrow();
    expect(aslPassed(broken)).toBe(false);
  });

  it("validates every time where it cannot write (a read-only install), without failing", () => {
    const file = join(dir, "not-a-directory");
    writeFileSync(file, "");
    const text = JSON.stringify({ StartAt: "B", States: { B: { Type: "Succeed" } } });
    expect(() => rememberAslPassed(text, join(file, "asl"))).not.toThrow();
    expect(aslPassed(text, join(file, "asl"))).toBe(false);
  });
});
