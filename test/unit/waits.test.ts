/** What a scope waits for, and until when (src/domain/waits.ts): one sentence per state. */
import { describe, expect, it } from "vitest";
import type { ScopeState, TimelineEvent } from "../../src/domain/model.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { explainWait, waitNote } from "../../src/domain/waits.ts";

const definition = parsePipeline({
  name: "orders-api",
  stages: [{ name: "prod-1", regions: ["eu-west-1"], bake: { minutes: 60 } }],
});
const scope = (over: Partial<ScopeState>) => ({
  scope: "prod-1/eu-west-1",
  status: "baking" as const,
  since: "2026-12-01T10:05:00.000Z",
  version: "v2",
  previousVersion: "v1",
  ...over,
});
const event = (over: Partial<TimelineEvent>): TimelineEvent => ({
  at: "2026-12-01T10:05:00.000Z",
  runId: "orders-api@v2",
  pipeline: "orders-api",
  version: "v2",
  stage: "prod-1",
  scope: "prod-1/eu-west-1",
  step: "full",
  event: "bake-started",
  ...over,
});

describe("explainWait", () => {
  it("a blocked step: the blockers' reason and their known end", () => {
    const blocked = {
      reason: "outside the allowed window (…); window opens Tue 09:00 Europe/Dublin",
      since: "2026-12-01T18:00:00.000Z",
      kinds: ["time-window"],
      until: "2026-12-02T09:00:00.000Z",
    };
    expect(explainWait(scope({ status: "stable", version: "v1", blocked }))).toEqual({
      kind: "blocked",
      reason: `blocked: ${blocked.reason}`,
      until: blocked.until,
    });
  });

  it("a bake: its minutes and its end, from the bake's start", () => {
    expect(explainWait(scope({}), [event({})], definition)).toEqual({
      kind: "baking",
      reason: "baking 60 min",
      until: "2026-12-01T11:05:00.000Z",
    });
  });

  it("an extended bake: the requests served, until the next judging", () => {
    const extended = event({
      at: "2026-12-01T11:05:00.000Z",
      event: "bake-extended",
      reason: "extended: 1,840 of 5,000 requests served",
      until: "2026-12-01T11:45:00.000Z",
    });
    expect(explainWait(scope({}), [extended, event({})], definition)).toEqual({
      kind: "bake-extended",
      reason: "extended: 1,840 of 5,000 requests served",
      until: "2026-12-01T11:45:00.000Z",
    });
    // A new bake (the next step) after an extension of the previous one: the new bake counts.
    const next = event({ at: "2026-12-01T12:00:00.000Z", step: "full" });
    expect(explainWait(scope({}), [extended, next], definition)?.kind).toBe("baking");
  });

  it("deploying and rolling back; nothing for a settled scope", () => {
    const deploy = event({ event: "deploy-started", step: "one-box", percent: 10 });
    expect(explainWait(scope({ status: "deploying" }), [deploy])).toEqual({
      kind: "deploying",
      reason: "deploying to 10% (one-box)",
    });
    expect(explainWait(scope({ status: "rolling-back" }))).toEqual({
      kind: "rolling-back",
      reason: "rolling back to v1",
    });
    expect(explainWait(scope({ status: "stable" }))).toBeUndefined();
    expect(explainWait(scope({ status: "rolled-back" }))).toBeUndefined();
  });

  it("other runs' and other scopes' events do not count", () => {
    const elsewhere = event({ scope: "prod-1/us-east-1", event: "bake-extended", reason: "x" });
    const older = event({ version: "v1", event: "bake-extended", reason: "y" });
    expect(explainWait(scope({}), [elsewhere, older, event({})], definition)?.kind).toBe("baking");
  });
});

describe("waitNote", () => {
  it("says until when, to the minute", () => {
    expect(
      waitNote({ kind: "baking", reason: "baking 60 min", until: "2026-12-01T11:05:30Z" }),
    ).toBe("baking 60 min (until 2026-12-01 11:05Z)");
    expect(waitNote({ kind: "deploying", reason: "deploying (full)" })).toBe("deploying (full)");
  });
});
