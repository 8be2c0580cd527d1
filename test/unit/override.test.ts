/** The override function's input rules: strict, every problem with its path, times checked. */
import { describe, expect, it } from "vitest";
import {
  OverrideRejectedError,
  parseOverride,
  parsePrincipalPatterns,
  principalMatches,
} from "../../src/domain/override.ts";

const now = new Date("2026-01-12T09:00:00Z");

function problems(input: unknown): string[] {
  try {
    parseOverride(input, now);
  } catch (err) {
    expect(err).toBeInstanceOf(OverrideRejectedError);
    return (err as OverrideRejectedError).problems.map((p) => `${p.path}: ${p.message}`).sort();
  }
  return [];
}

describe("parseOverride", () => {
  it.each([
    [{ action: "block", level: "org", actor: "alice", reason: "sev-1 open" }],
    [
      {
        action: "block",
        level: "pipeline",
        pipeline: "billing",
        actor: "alice",
        reason: "freeze",
        until: "2026-01-13T09:00:00Z",
      },
    ],
    [
      {
        action: "block",
        level: "scope",
        pipeline: "billing",
        scopes: "prod-2/*",
        actor: "ops-bot",
        reason: "ticket 42",
      },
    ],
    [{ action: "unblock", level: "org", actor: "alice", reason: "resolved" }],
    [
      {
        action: "bypass",
        pipeline: "billing",
        version: "v7",
        kinds: ["manual", "time-window"],
        actor: "bob",
        reason: "the fix",
        expiresAt: "2026-01-12T15:00:00Z",
      },
    ],
  ])("accepts %j", (input) => {
    expect(problems(input)).toEqual([]);
  });

  it.each([
    [
      { action: "nuke", actor: "a", reason: "why" },
      [
        "action: must be one of block, unblock, bypass, start, apply-pipeline, rollback-all, retry, roll-forward, cancel, approve, reject",
      ],
    ],
    [
      { action: "cancel", actor: "a", reason: "why" },
      ["pipeline: is required", "version: is required"],
    ],
    [{ action: "start", pipeline: "billing", actor: "a", reason: "why" }, ["version: is required"]],
    [
      {
        action: "start",
        pipeline: "billing",
        version: "v7",
        artifactDigest: "sha256:ABC",
        actor: "a",
        reason: "why",
      },
      ['artifactDigest: must be "sha256:" followed by 64 lowercase hex characters'],
    ],
    [
      {
        action: "start",
        pipeline: "billing",
        version: "v7",
        approvers: ["alice"],
        actor: "a",
        reason: "why",
      },
      ["approvers: unknown field"],
    ],
    [{ action: "block", level: "org", reason: "why" }, ["actor: is required"]],
    [{ action: "block", level: "org", actor: "alice" }, ["reason: is required"]],
    [
      { action: "block", level: "org", actor: "alice", reason: "  " },
      ["reason: must say why, in at least 3 characters"],
    ],
    [
      { action: "block", level: "pipeline", actor: "alice", reason: "why" },
      ["pipeline: is required for level pipeline"],
    ],
    [
      { action: "block", level: "scope", pipeline: "billing", actor: "alice", reason: "why" },
      ["scopes: is required for level scope"],
    ],
    [
      { action: "block", level: "org", pipeline: "billing", actor: "alice", reason: "why" },
      ["pipeline: must not be set for level org"],
    ],
    [
      { action: "block", level: "org", actor: "alice", reason: "why", force: true },
      ["force: unknown field"],
    ],
    [
      {
        action: "block",
        level: "org",
        actor: "alice",
        reason: "why",
        until: "2026-01-12T08:00:00Z",
      },
      ["until: must be in the future"],
    ],
    [
      {
        action: "block",
        level: "org",
        actor: "alice",
        reason: "why",
        until: "2026-03-12T08:00:00Z",
      },
      ["until: must be at most 30 days ahead"],
    ],
    [
      {
        action: "bypass",
        pipeline: "billing",
        version: "v7",
        kinds: ["manual"],
        actor: "bob",
        reason: "fix",
        expiresAt: "2026-01-14T09:00:00Z",
      },
      ["expiresAt: must be at most 24 hours ahead"],
    ],
    [
      {
        action: "bypass",
        pipeline: "billing",
        version: "v7",
        kinds: [],
        actor: "bob",
        reason: "fix",
        expiresAt: "2026-01-12T10:00:00Z",
      },
      ["kinds: must list at least one blocker kind"],
    ],
    [
      {
        action: "bypass",
        pipeline: "billing",
        version: "v7",
        kinds: ["weather"],
        actor: "bob",
        reason: "fix",
        expiresAt: "2026-01-12T10:00:00Z",
      },
      ["kinds[0]: must be one of alarm, org-alarm, time-window, manual"],
    ],
  ])("rejects %j naming the field", (input, expected) => {
    expect(problems(input)).toEqual([...expected].sort());
  });
});

describe("principal allow-list patterns", () => {
  const role = "arn:aws:sts::123456789012:assumed-role/Operators/alice";
  it.each([
    ["arn:aws:sts::123456789012:assumed-role/Operators/*", role, true],
    ["arn:aws:sts::123456789012:assumed-role/Operators/alice", role, true],
    ["arn:aws:sts::123456789012:assumed-role/Operators/bob", role, false],
    ["arn:aws:sts::123456789012:assumed-role/Operators/", role, false],
    ["arn:aws:sts::123456789012:assumed-role/*/alice", role, true],
    ["arn:aws:sts::123456789012:assumed-role/Op*rs/*", role, true],
    ["arn:aws:sts::210987654321:assumed-role/Operators/*", role, false],
    ["arn:aws:sts::123456789012:assumed-role/Operators*", role, true],
    [
      "arn:aws:iam::123456789012:user/breakglass",
      "arn:aws:iam::123456789012:user/breakglass-2",
      false,
    ],
    ["local:*", "local:token", true],
  ])("%s matches %s: %s", (pattern, arn, expected) => {
    expect(principalMatches(pattern, arn)).toBe(expected);
  });

  it("matches in at most len(arn) × len(pattern) steps: no exponential backtracking", () => {
    const arn = `arn:aws:sts::123456789012:assumed-role/${"a".repeat(20_000)}`;
    const pattern = `arn:aws:sts::123456789012:assumed-role/${"*a".repeat(30)}b`;
    const start = performance.now();
    expect(principalMatches(pattern, arn)).toBe(false);
    expect(performance.now() - start).toBeLessThan(500);
  });

  it("refuses what is not a principal ARN pattern, naming it", () => {
    expect(
      parsePrincipalPatterns(
        " arn:aws:sts::123456789012:assumed-role/Operators/*, arn:aws:iam::123456789012:user/x ",
      ),
    ).toEqual([
      "arn:aws:sts::123456789012:assumed-role/Operators/*",
      "arn:aws:iam::123456789012:user/x",
    ]);
    expect(() => parsePrincipalPatterns("alice,bob")).toThrow(
      '"alice", "bob" is not a principal ARN pattern',
    );
    expect(() => parsePrincipalPatterns("*")).toThrow('"*" is not a principal ARN pattern');
    expect(() => parsePrincipalPatterns("arn:aws:sts::12:assumed-role/x")).toThrow(
      /not a principal/,
    );
  });
});
