/**
 * The installation's configuration (breakwater.config.json): organisation alarms, region
 * overrides, the blocker recheck interval. Validated strictly, every problem with its path.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RECHECK_MINUTES,
  type Installation,
  orgAlarmsOf,
  parseInstallation,
} from "../../src/domain/installation.ts";
import { PipelineValidationError, type Problem } from "../../src/domain/pipeline.ts";

const SOURCE = "breakwater.config.json";

function problemsOf(input: unknown): Problem[] {
  try {
    parseInstallation(input, SOURCE);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineValidationError);
    expect((err as Error).name).toBe("PipelineValidationError");
    return (err as PipelineValidationError).problems;
  }
}

describe("parseInstallation: valid configurations", () => {
  it.each<[string, unknown]>([
    ["empty (every default)", {}],
    ["with $schema", { $schema: "./schema/installation.schema.json" }],
    ["organisation alarms by name", { orgAlarms: ["org-sev1-open", "org-sev2-open"] }],
    [
      "organisation alarms with and without a region",
      { orgAlarms: ["org-sev1-open", { name: "org-dr" }, { name: "eu-dr", region: "eu-west-1" }] },
    ],
    ["GovCloud region of an org alarm", { orgAlarms: [{ name: "x", region: "us-gov-west-1" }] }],
    ["no organisation alarms", { orgAlarms: [] }],
    ["recheck every minute", { blockerRecheckMinutes: 1 }],
    ["recheck every hour", { blockerRecheckMinutes: 60 }],
    [
      "region overrides: time zone, holiday calendar, no holidays",
      {
        regions: {
          "eu-west-1": { timeZone: "Europe/Dublin", holidays: { country: "IE" } },
          "us-east-1": { holidays: { country: "US", state: "VA" } },
          "ap-southeast-2": { holidays: false },
        },
      },
    ],
  ])("%s", (_, input) => {
    expect(problemsOf(input)).toEqual([]);
  });

  it("returns the configuration as written", () => {
    const input = {
      orgAlarms: ["org-sev1-open", { name: "eu-dr", region: "eu-west-1" }],
      regions: { "eu-west-1": { timeZone: "Europe/Dublin" } },
      blockerRecheckMinutes: 10,
    };
    expect(parseInstallation(structuredClone(input), SOURCE)).toEqual(input);
  });

  it("the default recheck interval is 5 minutes", () => {
    expect(DEFAULT_RECHECK_MINUTES).toBe(5);
    expect(parseInstallation({}).blockerRecheckMinutes).toBeUndefined();
  });
});

describe("parseInstallation: invalid configurations, every problem with its path", () => {
  const minutes = "must be a whole number of minutes from 1 to 60";
  type Row = [label: string, input: unknown, expected: Problem[]];
  const rows: Row[] = [
    [
      "org alarm region that is not a region",
      { orgAlarms: [{ name: "org-dr", region: "Ireland" }] },
      [{ path: "orgAlarms[0].region", message: "must be an AWS region name" }],
    ],
    [
      "org alarm object with an empty name",
      { orgAlarms: ["ok", { name: "" }] },
      [{ path: "orgAlarms[1].name", message: "must be an alarm name" }],
    ],
    [
      "orgAlarms that is not a list",
      { orgAlarms: "org-sev1-open" },
      [{ path: "orgAlarms", message: "must be a list of alarm names" }],
    ],
    ...[0, 61, 1.5, "5", null].map(
      (value): Row => [
        `blockerRecheckMinutes ${JSON.stringify(value)}`,
        { blockerRecheckMinutes: value },
        [{ path: "blockerRecheckMinutes", message: minutes }],
      ],
    ),
    [
      "a time zone that does not exist",
      { regions: { "eu-west-1": { timeZone: "Europe/Atlantis" } } },
      [
        {
          path: "regions.eu-west-1.timeZone",
          message: "must be an IANA time zone such as Europe/Berlin",
        },
      ],
    ],
    [
      "a region key that is not a region",
      { regions: { Ireland: { timeZone: "Europe/Dublin" } } },
      [{ path: "regions.Ireland", message: "must be an AWS region name such as us-east-1" }],
    ],
    [
      "an artifact publisher with a wildcard account",
      { artifactPublishers: [{ principalArn: "arn:aws:iam::*:role/ci" }] },
      [
        {
          path: "artifactPublishers[0].principalArn",
          message:
            "must be an IAM role or user ARN with a 12-digit account and no wildcard (arn:aws:iam::123456789012:role/ci)",
        },
      ],
    ],
    [
      "an artifact publisher whose role name is a wildcard",
      { artifactPublishers: [{ principalArn: "arn:aws:iam::123456789012:role/*" }] },
      [
        {
          path: "artifactPublishers[0].principalArn",
          message:
            "must be an IAM role or user ARN with a 12-digit account and no wildcard (arn:aws:iam::123456789012:role/ci)",
        },
      ],
    ],
    [
      "an artifact publisher claiming an AWS source, and an unknown field",
      {
        artifactPublishers: [
          { principalArn: "arn:aws:iam::123456789012:role/ci", sources: ["aws.codebuild"], who: 1 },
        ],
      },
      [
        {
          path: "artifactPublishers[0].sources[0]",
          message: 'must be an event source such as "ci.buildkite" (not aws.* nor breakwater)',
        },
        { path: "artifactPublishers[0].who", message: "unknown field" },
      ],
    ],
    [
      "an artifact publisher without a principal",
      { artifactPublishers: [{ sources: ["ci.buildkite"] }] },
      [{ path: "artifactPublishers[0].principalArn", message: "is required" }],
    ],
    [
      "a holiday calendar of an unknown country",
      { regions: { "eu-west-1": { holidays: { country: "XX" } } } },
      [
        {
          path: "regions.eu-west-1.holidays.country",
          message: "must be a country code known to date-holidays, such as US or DE",
        },
      ],
    ],
  ];

  it.each(rows)("%s", (_, input, expected) => {
    expect(problemsOf(input)).toEqual(expected);
  });

  it("reports every problem at once, not just the first", () => {
    const problems = problemsOf({
      orgAlarms: [{ name: "org-dr", region: "Ireland" }],
      blockerRecheckMinutes: 0,
      regions: { "eu-west-1": { timeZone: "Europe/Atlantis" } },
    });
    expect(problems.map((p) => p.path).sort()).toEqual([
      "blockerRecheckMinutes",
      "orgAlarms[0].region",
      "regions.eu-west-1.timeZone",
    ]);
  });

  it("an empty org alarm name is rejected at its index", () => {
    expect(problemsOf({ orgAlarms: ["ok", ""] }).map((p) => p.path)).toEqual(["orgAlarms[1]"]);
  });

  it.each([
    ["top level", { orgAlarm: ["org-sev1-open"] }, "orgAlarm"],
    ["org alarm object", { orgAlarms: [{ name: "org-dr", regoin: "eu-west-1" }] }, "regoin"],
    ["region override", { regions: { "eu-west-1": { tz: "Europe/Dublin" } } }, "tz"],
  ])("rejects an unknown field (a typo) in the %s, naming it", (_, input, field) => {
    const problems = problemsOf(input);
    expect(problems).toHaveLength(1);
    expect(`${problems[0]?.path} ${problems[0]?.message}`).toContain(field);
    expect(problems[0]?.message).toContain("unknown field");
  });

  it.each([
    ["null", null],
    ["a list", []],
    ["a string", "org-sev1-open"],
  ])("rejects %s as a whole with a root-level problem", (_, input) => {
    const problems = problemsOf(input);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe("");
  });

  it("the error names the source and lists every problem as `path: message`", () => {
    const error = (() => {
      try {
        parseInstallation({ blockerRecheckMinutes: 0, orgAlarms: "x" }, SOURCE);
      } catch (err) {
        return err as Error;
      }
    })();
    expect(error?.message.startsWith(`${SOURCE}: `)).toBe(true);
    const lines = error?.message
      .split("\n")
      .slice(1)
      .map((l) => l.trim());
    expect(lines?.sort()).toEqual([
      `blockerRecheckMinutes: ${minutes}`,
      "orgAlarms: must be a list of alarm names",
    ]);
  });
});

describe("orgAlarmsOf", () => {
  it("gives every organisation alarm a region: its own, else the control plane's home region", () => {
    const config: Installation = {
      orgAlarms: ["org-sev1-open", { name: "org-dr" }, { name: "eu-dr", region: "eu-west-1" }],
    };
    expect(orgAlarmsOf(config, "us-east-1")).toEqual([
      { name: "org-sev1-open", region: "us-east-1" },
      { name: "org-dr", region: "us-east-1" },
      { name: "eu-dr", region: "eu-west-1" },
    ]);
    expect(orgAlarmsOf(config, "eu-north-1").map((a) => a.region)).toEqual([
      "eu-north-1",
      "eu-north-1",
      "eu-west-1",
    ]);
  });

  it("none configured: none", () => {
    expect(orgAlarmsOf({}, "us-east-1")).toEqual([]);
    expect(orgAlarmsOf({ orgAlarms: [] }, "us-east-1")).toEqual([]);
  });

  it("works on a parsed configuration", () => {
    const config = parseInstallation({ orgAlarms: ["a", { name: "b", region: "sa-east-1" }] });
    expect(orgAlarmsOf(config, "local")).toEqual([
      { name: "a", region: "local" },
      { name: "b", region: "sa-east-1" },
    ]);
  });
});
