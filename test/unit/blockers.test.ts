/**
 * The blocker rules (safety rule 4): which blockers hold for a scope at an instant, how they
 * read, when to check again, and how the pipeline's alarm templates resolve for a scope.
 */
import { describe, expect, it } from "vitest";
import {
  type Blocker,
  type BlockerInputs,
  blockApplies,
  blockKey,
  describeBlockers,
  findBlockers,
  type ManualBlock,
  recheckSeconds,
  resolveAlarmName,
  resolveAlarmNames,
} from "../../src/domain/blockers.ts";
import type { AlarmObservation } from "../../src/domain/ports.ts";
import { parseScopeId } from "../../src/domain/scope.ts";
import type { WindowVerdict } from "../../src/domain/time-windows/index.ts";

const AT = new Date("2026-03-04T10:00:00.000Z");
const SCOPE = parseScopeId("prod-1/eu-north-1/eun1-az1");
const iso = (minutesFromAt: number) =>
  new Date(AT.getTime() + minutesFromAt * 60_000).toISOString();

const open: WindowVerdict = { allowed: true };
const CLOSED =
  "outside the allowed window (mon-fri 09:00-17:00 Europe/Stockholm); local time is Wed 11:00";
const closed: WindowVerdict = {
  allowed: false,
  kind: "outside-window",
  reason: CLOSED,
  until: new Date("2026-03-04T16:00:00.000Z"),
};

function block(extra: Partial<ManualBlock> & Pick<ManualBlock, "level" | "target">): ManualBlock {
  return {
    reason: "incident INC-42",
    actor: "engineer:alice",
    createdAt: iso(-60),
    ...extra,
  };
}

function inputs(extra: Partial<BlockerInputs> = {}): BlockerInputs {
  return {
    pipeline: "orders-api",
    scope: SCOPE,
    at: AT,
    appAlarms: [],
    orgAlarms: [],
    window: open,
    blocks: [],
    ...extra,
  };
}

const alarm = (name: string, state: AlarmObservation["state"]): AlarmObservation => ({
  name,
  state,
});

describe("findBlockers", () => {
  type Row = [label: string, extra: Partial<BlockerInputs>, expected: Blocker[]];
  const rows: Row[] = [
    ["nothing holds", {}, []],
    [
      "app alarms OK or without data do not block",
      {
        appAlarms: [alarm("orders-faults", "OK"), alarm("orders-latency", "INSUFFICIENT_DATA")],
        orgAlarms: [alarm("org-sev1-open", "OK")],
      },
      [],
    ],
    [
      "an app alarm in ALARM",
      { appAlarms: [alarm("orders-faults", "OK"), alarm("orders-latency", "ALARM")] },
      [{ kind: "alarm", reason: "alarm orders-latency is in ALARM" }],
    ],
    [
      "an organisation alarm in ALARM",
      { orgAlarms: [alarm("org-sev1-open", "ALARM")] },
      [{ kind: "org-alarm", reason: "organisation alarm org-sev1-open is in ALARM" }],
    ],
    [
      "outside the time window: the window's reason, and when it opens",
      { window: closed },
      [{ kind: "time-window", reason: CLOSED, until: new Date("2026-03-04T16:00:00.000Z") }],
    ],
    [
      "a closed window without a known end",
      { window: { allowed: false, kind: "freeze", reason: "frozen: release train" } },
      [{ kind: "time-window", reason: "frozen: release train" }],
    ],
    [
      "an organisation-wide manual block, until removed",
      { blocks: [block({ level: "org", target: "" })] },
      [
        {
          kind: "manual",
          reason: "manual block on organisation by engineer:alice: incident INC-42",
        },
      ],
    ],
    [
      "a manual block of the pipeline, with its end",
      { blocks: [block({ level: "pipeline", target: "orders-api", to: iso(30) })] },
      [
        {
          kind: "manual",
          reason: "manual block on pipeline orders-api by engineer:alice: incident INC-42",
          until: new Date(iso(30)),
        },
      ],
    ],
    [
      "a manual block of another pipeline does not apply",
      { blocks: [block({ level: "pipeline", target: "payments-api" })] },
      [],
    ],
    [
      "a manual block of a scope glob of the pipeline",
      { blocks: [block({ level: "scope", target: "orders-api:prod-*/eu-north-1/*" })] },
      [
        {
          kind: "manual",
          reason:
            "manual block on scopes orders-api:prod-*/eu-north-1/* by engineer:alice: incident INC-42",
        },
      ],
    ],
    [
      "every blocker at once, in a fixed order: app alarms, org alarms, window, manual",
      {
        blocks: [block({ level: "org", target: "", reason: "sev-1" })],
        window: closed,
        orgAlarms: [alarm("org-sev1-open", "ALARM")],
        appAlarms: [alarm("orders-faults", "ALARM"), alarm("orders-latency", "ALARM")],
      },
      [
        { kind: "alarm", reason: "alarm orders-faults is in ALARM" },
        { kind: "alarm", reason: "alarm orders-latency is in ALARM" },
        { kind: "org-alarm", reason: "organisation alarm org-sev1-open is in ALARM" },
        {
          kind: "time-window",
          reason: CLOSED,
          until: new Date("2026-03-04T16:00:00.000Z"),
        },
        { kind: "manual", reason: "manual block on organisation by engineer:alice: sev-1" },
      ],
    ],
  ];

  it.each(rows)("%s", (_, extra, expected) => {
    expect(findBlockers(inputs(extra))).toEqual(expected);
  });
});

describe("manual blocks: level, target and [from, to)", () => {
  type Row = [label: string, b: ManualBlock, pipeline: string, scope: string, applies: boolean];
  const rows: Row[] = [
    [
      "org: every pipeline",
      block({ level: "org", target: "" }),
      "payments-api",
      "beta/us-east-1",
      true,
    ],
    [
      "pipeline: its own",
      block({ level: "pipeline", target: "orders-api" }),
      "orders-api",
      SCOPE.id,
      true,
    ],
    [
      "pipeline: not another",
      block({ level: "pipeline", target: "orders-api" }),
      "orders",
      SCOPE.id,
      false,
    ],
    [
      "scope: an exact scope",
      block({ level: "scope", target: "orders-api:prod-1/eu-north-1/eun1-az1" }),
      "orders-api",
      SCOPE.id,
      true,
    ],
    [
      "scope: a sibling AZ is not blocked",
      block({ level: "scope", target: "orders-api:prod-1/eu-north-1/eun1-az1" }),
      "orders-api",
      "prod-1/eu-north-1/eun1-az2",
      false,
    ],
    [
      "scope: * crosses /",
      block({ level: "scope", target: "orders-api:prod-*" }),
      "orders-api",
      "prod-2/us-east-1/use1-az4",
      true,
    ],
    [
      "scope: the glob must match the whole id",
      block({ level: "scope", target: "orders-api:prod-1/eu-north-1" }),
      "orders-api",
      SCOPE.id,
      false,
    ],
    [
      "scope: of another pipeline",
      block({ level: "scope", target: "payments-api:prod-*" }),
      "orders-api",
      SCOPE.id,
      false,
    ],
    [
      "scope: without a pipeline prefix, of any pipeline",
      block({ level: "scope", target: "*/eu-north-1/*" }),
      "payments-api",
      SCOPE.id,
      true,
    ],
    [
      "scope: a glob's dots are literal",
      block({ level: "scope", target: "orders-api:prod-1/eu.north-1/*" }),
      "orders-api",
      SCOPE.id,
      false,
    ],
    [
      "from in the future: not yet",
      block({ level: "org", target: "", from: iso(1) }),
      "orders-api",
      SCOPE.id,
      false,
    ],
    [
      "from now: applies (inclusive)",
      block({ level: "org", target: "", from: iso(0) }),
      "orders-api",
      SCOPE.id,
      true,
    ],
    [
      "to now: over (exclusive)",
      block({ level: "org", target: "", to: iso(0) }),
      "orders-api",
      SCOPE.id,
      false,
    ],
    [
      "inside [from, to)",
      block({ level: "pipeline", target: "orders-api", from: iso(-10), to: iso(10) }),
      "orders-api",
      SCOPE.id,
      true,
    ],
    [
      "after [from, to)",
      block({ level: "pipeline", target: "orders-api", from: iso(-20), to: iso(-10) }),
      "orders-api",
      SCOPE.id,
      false,
    ],
  ];

  it.each(rows)("%s", (_, b, pipeline, scope, applies) => {
    expect(blockApplies(b, pipeline, parseScopeId(scope), AT)).toBe(applies);
    // findBlockers applies the same rule.
    const found = findBlockers(inputs({ pipeline, scope: parseScopeId(scope), blocks: [b] }));
    expect(found.length).toBe(applies ? 1 : 0);
  });

  it("a block's key is its level and target, plus the start of a scheduled block", () => {
    expect(blockKey("org", "")).toBe("org#");
    expect(blockKey("org", "ignored")).toBe("org#");
    expect(blockKey("pipeline", "orders-api")).toBe("pipeline#orders-api#");
    expect(blockKey("scope", "orders-api:prod-*")).toBe("scope#orders-api:prod-*#");
    expect(blockKey("pipeline", "orders-api", "2026-01-12T09:00:00Z")).toBe(
      "pipeline#orders-api#2026-01-12T09:00:00Z",
    );
    // A target's key never prefixes another target's.
    expect(
      blockKey("pipeline", "orders-api-2").startsWith(blockKey("pipeline", "orders-api")),
    ).toBe(false);
  });
});

describe("describeBlockers", () => {
  it("names every blocker in one line", () => {
    const blockers = findBlockers(
      inputs({ appAlarms: [alarm("orders-faults", "ALARM")], window: closed }),
    );
    expect(describeBlockers(blockers)).toBe(`alarm orders-faults is in ALARM; ${CLOSED}`);
  });

  it("is the same text for the same blockers (a re-check that finds them again changes nothing)", () => {
    const extra = {
      appAlarms: [alarm("orders-faults", "ALARM")],
      orgAlarms: [alarm("org-sev1-open", "ALARM")],
      blocks: [block({ level: "pipeline", target: "orders-api", to: iso(30) })],
    };
    const first = describeBlockers(findBlockers(inputs(extra)));
    // Later, the same blockers hold: only the instant moved.
    const later = describeBlockers(
      findBlockers(inputs({ ...extra, at: new Date(AT.getTime() + 5 * 60_000) })),
    );
    expect(later).toBe(first);
    expect(describeBlockers(findBlockers(inputs({ ...extra, blocks: [] })))).not.toBe(first);
  });

  it("is empty for no blockers", () => {
    expect(describeBlockers([])).toBe("");
  });
});

describe("recheckSeconds", () => {
  const interval = 300;
  const ending = (minutes: number): Blocker => ({
    kind: "time-window",
    reason: "closed",
    until: new Date(AT.getTime() + minutes * 60_000),
  });
  const open: Blocker = { kind: "org-alarm", reason: "organisation alarm x is in ALARM" };

  it.each([
    ["one blocker with a known end: exactly until it ends", [ending(90)], 90 * 60],
    ["several with known ends: until the last one ends", [ending(30), ending(90)], 90 * 60],
    [
      "a known end far beyond the interval: no polling in between",
      [ending(3 * 24 * 60)],
      3 * 86_400,
    ],
    ["a blocker without a known end: the recheck interval", [open], interval],
    ["one end known, one not: the recheck interval", [ending(90), open], interval],
    ["an end already past: at least one second", [ending(-5)], 1],
  ])("%s", (_, blockers, seconds) => {
    expect(recheckSeconds(blockers, AT, interval)).toBe(seconds);
  });

  it("rounds a partial second up (never wakes before the blocker ends)", () => {
    const b: Blocker = { kind: "manual", reason: "x", until: new Date(AT.getTime() + 1500) };
    expect(recheckSeconds([b], AT, interval)).toBe(2);
  });

  it("never asks for less than one second", () => {
    expect(recheckSeconds([open], AT, 0)).toBe(1);
  });
});

describe("resolveAlarmName(s)", () => {
  const az = parseScopeId("prod-1/eu-north-1/eun1-az1");
  const region = parseScopeId("prod-1/us-west-2");

  it.each([
    ["{pipeline}-{stage}-{region}-faults", az, "orders-api-prod-1-eu-north-1-faults"],
    ["{pipeline}-{stage}-{region}-faults", region, "orders-api-prod-1-us-west-2-faults"],
    ["{az}-latency", az, "eun1-az1-latency"],
    ["{scope} health", az, "prod-1/eu-north-1/eun1-az1 health"],
    ["{scope} health", region, "prod-1/us-west-2 health"],
    ["org-wide-sev2", region, "org-wide-sev2"],
    ["{region}/{region}", region, "us-west-2/us-west-2"],
    // A zonal alarm has no meaning for a region scope: skipped, not resolved to "-latency".
    ["{az}-latency", region, undefined],
    ["{stage}-{az}", region, undefined],
  ])("%j for %o is %j", (template, scope, expected) => {
    expect(resolveAlarmName(template, "orders-api", scope)).toBe(expected);
  });

  it("resolves a list in order, skips {az} templates for a region scope, names each alarm once", () => {
    const templates = ["{stage}-faults", "{az}-latency", "prod-1-faults", "{scope} health"];
    expect(resolveAlarmNames(templates, "orders-api", az)).toEqual([
      "prod-1-faults",
      "eun1-az1-latency",
      "prod-1/eu-north-1/eun1-az1 health",
    ]);
    expect(resolveAlarmNames(templates, "orders-api", region)).toEqual([
      "prod-1-faults",
      "prod-1/us-west-2 health",
    ]);
  });

  it.each([
    ["no templates", undefined],
    ["an empty list", []],
    ["only {az} templates", ["{az}-latency", "{az}-faults"]],
  ])("%s: no names for a region scope", (_, templates) => {
    expect(resolveAlarmNames(templates, "orders-api", region)).toEqual([]);
  });
});
