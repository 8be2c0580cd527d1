import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AWS_REGIONS, azIdsOf, closest } from "../../src/domain/aws-regions.ts";
import {
  definePipeline,
  formatProblems,
  type PipelineInput,
  PipelineValidationError,
  type Problem,
  parsePipeline,
} from "../../src/domain/pipeline.ts";
import { loadPipelineFile } from "../../src/pipeline-file.ts";

const repo = new URL("../../", import.meta.url);
const examplePath = (name: string) => new URL(`examples/${name}`, repo).pathname;

/** The problems `parsePipeline` reports, or [] when the input is valid. */
function problemsOf(input: unknown): Problem[] {
  try {
    parsePipeline(input, "test.json");
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(PipelineValidationError);
    return (err as PipelineValidationError).problems;
  }
}

const byPath = (a: Problem, b: Problem) =>
  a.path < b.path ? -1 : a.path > b.path ? 1 : a.message < b.message ? -1 : 1;

/** Same problems, in any order (all of them, nothing more). */
function expectProblems(input: unknown, expected: Problem[]) {
  expect([...problemsOf(input)].sort(byPath)).toEqual([...expected].sort(byPath));
}

// biome-ignore lint/suspicious/noExplicitAny: test inputs are deliberately malformed
type Loose = any;

/** A valid pipeline exercising every shape (string regions, region objects, oneBox forms). */
function valid(): Loose {
  return {
    name: "orders-api",
    stages: [
      { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
      { name: "beta", regions: ["us-east-1", "eu-west-1"], bake: { minutes: 15 } },
      {
        name: "gamma",
        regions: ["us-east-1", { region: "eu-west-1", azs: ["euw1-az1", "euw1-az2"] }],
        regionsInParallel: 2,
        oneBox: { percent: 5 },
        bake: { minutes: 30 },
      },
    ],
  };
}

const canonical = {
  name: "orders-api",
  stages: [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
    {
      name: "gamma",
      regions: ["us-east-1", "eu-west-1"],
      regionsInParallel: 2,
      oneBox: true,
      bake: { minutes: 30 },
    },
    {
      name: "prod-1",
      regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2", "eun1-az3"] }],
      oneBox: true,
      bake: { minutes: 60 },
    },
    {
      name: "prod-2",
      regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2", "use1-az4"] }],
      oneBox: true,
      bake: { minutes: 60 },
    },
    {
      name: "prod-3",
      regions: ["us-west-2", "eu-west-1", "ap-southeast-2"],
      regionsInParallel: 3,
      oneBox: true,
      bake: { minutes: 30 },
    },
  ],
} satisfies PipelineInput;

describe("valid pipelines", () => {
  it("examples/orders-api.json and examples/typescript/orders-api.ts define the same pipeline", async () => {
    const fromJson = await loadPipelineFile(examplePath("orders-api.json"));
    const fromTs = await loadPipelineFile(examplePath("typescript/orders-api.ts"));
    // Only the JSON file carries editor metadata; everything else must be identical.
    const onlyInJson = Object.keys(fromJson).filter((k) => !(k in fromTs));
    expect(onlyInJson.sort()).toEqual(["$schema", "description"]);
    expect(Object.keys(fromTs).filter((k) => !(k in fromJson))).toEqual([]);
    const { $schema, description, ...rest } = fromJson;
    expect($schema).toBe("../schema/pipeline.schema.json");
    expect(description).toEqual(expect.any(String));
    expect(rest).toEqual(fromTs);
    expect(fromTs.name).toBe("orders-api");
    expect(fromTs.stages.map((s) => s.name)).toEqual([
      "alpha",
      "beta",
      "gamma",
      "prod-1",
      "prod-2",
      "prod-3",
      "prod-4",
    ]);
  });

  it("the JSON example is returned as written (validation adds no defaults)", async () => {
    const raw = JSON.parse(readFileSync(examplePath("orders-api.json"), "utf8"));
    expect(await loadPipelineFile(examplePath("orders-api.json"))).toEqual(raw);
  });

  it("parses the canonical orders-api pipeline", () => {
    const pipeline = parsePipeline(canonical, "orders-api.json");
    expect(pipeline).toEqual(canonical);
    expect(definePipeline(canonical)).toEqual(canonical);
  });

  it.each([
    ["GovCloud region", "us-gov-west-1"],
    ["China region", "cn-north-1"],
    ["ISO region", "us-isob-east-1"],
    ["region with a short area", "il-central-1"],
  ])("accepts a %s (%s)", (_, region) => {
    expect(
      problemsOf({ ...valid(), stages: [{ ...valid().stages[0], regions: [region] }] }),
    ).toEqual([]);
  });

  it.each([
    ["oneBox false", { oneBox: false }],
    ["oneBox percent 1", { oneBox: { percent: 1 } }],
    ["oneBox percent 50", { oneBox: { percent: 50 } }],
    ["azsInParallel", { azsInParallel: true }],
    ["regionsInParallel as many as the stage's regions", { regionsInParallel: 2 }],
    [
      "bakes that add up to one year (2 AZ steps of half a year)",
      { oneBox: false, bake: { minutes: 262_800 } },
    ],
  ])("accepts %s", (_, extra) => {
    const p = valid();
    Object.assign(p.stages[2], extra);
    expect(problemsOf(p)).toEqual([]);
  });

  it("accepts the optional top-level fields", () => {
    expect(
      problemsOf({
        ...valid(),
        $schema: "../schema/pipeline.schema.json",
        description: "orders",
        kind: "config",
        target: { lambda: "deployer", roleArn: "arn:aws:iam::123456789012:role/deployer" },
        alarms: ["{pipeline}-{stage}-{region}-faults", "{scope} latency", "org-wide"],
        oneBoxAlarms: ["{pipeline}-{az}-one-box-faults"],
        alarmMissingData: "inconclusive",
        anomalyDetection: false,
        timeWindows: {
          allowed: [{ days: ["mon", "tue", "wed", "thu"], from: "09:00", to: "17:00" }],
          holidays: true,
          freezes: [
            {
              from: "2026-12-20T00:00:00Z",
              to: "2027-01-04T00:00:00Z",
              reason: "end-of-year freeze",
            },
          ],
        },
        metrics: {
          namespace: "Orders",
          dimensions: { Service: "{pipeline}", AvailabilityZone: "{az}" },
          versionDimension: "Version",
          requests: "Requests",
          faults: "Faults",
          latency: "Latency",
        },
      }),
    ).toEqual([]);
  });

  it.each([
    ["bake.minRequests", { bake: { minutes: 30, minRequests: 1000 } }],
    [
      "bake.minRequests and maxMinutes",
      { bake: { minutes: 30, minRequests: 1000, maxMinutes: 90 } },
    ],
    ["bake.maxMinutes equal to minutes", { bake: { minutes: 30, maxMinutes: 30 } }],
    ["onInsufficientTraffic halt", { onInsufficientTraffic: "halt" }],
    ["onInsufficientTraffic proceed", { onInsufficientTraffic: "proceed" }],
    [
      "stage timeWindows",
      { timeWindows: { allowed: [{ days: ["sat"], from: "00:00", to: "24:00" }] } },
    ],
    ["empty stage timeWindows (any time)", { timeWindows: {} }],
  ])("accepts the stage's %s", (_, extra) => {
    const p = valid();
    Object.assign(p.stages[2], extra);
    expect(problemsOf(p)).toEqual([]);
  });

  it("returns the safety-gate fields as written", () => {
    const p = valid();
    p.oneBoxAlarms = ["{az}-one-box"];
    p.alarmMissingData = "alarm";
    p.anomalyDetection = true;
    Object.assign(p.stages[2], {
      bake: { minutes: 30, minRequests: 500, maxMinutes: 120 },
      onInsufficientTraffic: "proceed",
    });
    const parsed = parsePipeline(p, "test.json");
    expect(parsed.oneBoxAlarms).toEqual(["{az}-one-box"]);
    expect(parsed.alarmMissingData).toBe("alarm");
    expect(parsed.anomalyDetection).toBe(true);
    expect(parsed.stages[2]).toMatchObject({
      bake: { minutes: 30, minRequests: 500, maxMinutes: 120 },
      onInsufficientTraffic: "proceed",
    });
  });
});

type Case = [label: string, mutate: (p: Loose) => void, problems: Problem[]];

const positiveInt = "must be a positive integer";
const regionMsg = "must be an AWS region name such as us-east-1";
const azMsg =
  "must be an Availability Zone id such as use1-az1 (lowercase letters, digits, dashes)";
const percentMsg = "must be a whole percentage from 1 to 50";
const PLACEHOLDERS = "may only use the placeholders {pipeline}, {stage}, {region}, {az}, {scope}";
const ALARM_PLACEHOLDERS =
  "may only use the placeholders {pipeline}, {stage}, {region}, {az}, {scope}, and a final * for a name prefix";
const nameMsg =
  "must be 1-40 lowercase letters, digits or dashes, not starting or ending with a dash";

const TARGET_WILDCARD = "must not contain an IAM wildcard (* or ?): name exactly one function";
const ROLE_WILDCARD = "must not contain an IAM wildcard (* or ?): name exactly one role";
const TARGET_SHAPE =
  "must be a Lambda function name (letters, digits, - and _, at most 64), optionally :qualifier, or its ARN arn:<partition>:lambda:<region>:<12-digit account>:function:<name>[:qualifier] (or <account>:function:<name>)";
const ROLE_SHAPE =
  "must be an IAM role ARN arn:<partition>:iam::<12-digit account>:role/[path/]<name>";

const invalid: Case[] = [
  // bake.minutes
  ...[0, -1, 1.5, "10", null, true].map(
    (minutes): Case => [
      `bake.minutes ${JSON.stringify(minutes)}`,
      (p) => {
        p.stages[2].bake.minutes = minutes;
      },
      [{ path: "stages[2].bake.minutes", message: positiveInt }],
    ],
  ),
  ...[0, -3, 2.5].map(
    (n): Case => [
      `regionsInParallel ${n}`,
      (p) => {
        p.stages[0].regionsInParallel = n;
      },
      [{ path: "stages[0].regionsInParallel", message: positiveInt }],
    ],
  ),
  // issue 10, finding 9: beyond the stage's regions, or what Step Functions can wait
  ...[3, 1e9].map(
    (n): Case => [
      `regionsInParallel ${n} with 2 regions`,
      (p) => {
        p.stages[2].regionsInParallel = n;
      },
      [{ path: "stages[2].regionsInParallel", message: "must be at most the stage's 2 regions" }],
    ],
  ),
  ...(["minutes", "maxMinutes"] as const).map(
    (field): Case => [
      `bake.${field} 1e9`,
      (p) => {
        p.stages[2].bake = { minutes: 10, minRequests: 100, [field]: 1e9 };
      },
      [
        {
          path: `stages[2].bake.${field}`,
          message:
            "must be at most 525600 minutes (one year, the longest a Step Functions execution waits)",
        },
      ],
    ],
  ),
  [
    "bakes that add up to more than a year in one stage",
    (p) => {
      // one-box then each of 2 AZs in eu-west-1, in parallel with us-east-1: 3 steps of 200 days
      p.stages[2].bake = { minutes: 288_000 };
    },
    [
      {
        path: "stages[2].bake",
        message:
          "this stage's bakes, one after another, add up to 600 days: more than one year, the longest a Step Functions execution runs (fewer minutes, or more regionsInParallel)",
      },
    ],
  ],
  // unknown fields at every level
  [
    "unknown top-level field",
    (p) => {
      p.stage = [];
    },
    [{ path: "stage", message: "unknown field" }],
  ],
  [
    "unknown stage field (typo)",
    (p) => {
      p.stages[1].regionInParallel = 2;
    },
    [{ path: "stages[1].regionInParallel", message: "unknown field" }],
  ],
  [
    "unknown bake field (a typo of minRequests)",
    (p) => {
      p.stages[0].bake.minRequest = 1000;
    },
    [{ path: "stages[0].bake.minRequest", message: "unknown field" }],
  ],
  [
    "unknown region-object field",
    (p) => {
      p.stages[2].regions[1].az = ["euw1-az3"];
    },
    [{ path: "stages[2].regions[1].az", message: "unknown field" }],
  ],
  [
    "unknown oneBox field",
    (p) => {
      p.stages[2].oneBox.pct = 5;
    },
    [{ path: "stages[2].oneBox.pct", message: "unknown field" }],
  ],
  [
    "unknown target field",
    (p) => {
      p.target = { lambda: "deployer", role: "x" };
    },
    [{ path: "target.role", message: "unknown field" }],
  ],
  [
    "two unknown fields in one object",
    (p) => {
      p.stages[0].foo = 1;
      p.stages[0].bar = 2;
    },
    [
      { path: "stages[0].foo", message: "unknown field" },
      { path: "stages[0].bar", message: "unknown field" },
    ],
  ],
  // required fields
  [
    "missing name",
    (p) => {
      delete p.name;
    },
    [{ path: "name", message: "is required" }],
  ],
  [
    "missing stages",
    (p) => {
      delete p.stages;
    },
    [{ path: "stages", message: "is required" }],
  ],
  [
    "missing stage name",
    (p) => {
      delete p.stages[1].name;
    },
    [{ path: "stages[1].name", message: "is required" }],
  ],
  [
    "missing stage regions",
    (p) => {
      delete p.stages[1].regions;
    },
    [{ path: "stages[1].regions", message: "is required" }],
  ],
  [
    "missing bake",
    (p) => {
      delete p.stages[1].bake;
    },
    [{ path: "stages[1].bake", message: "is required" }],
  ],
  [
    "missing bake.minutes",
    (p) => {
      p.stages[1].bake = {};
    },
    [{ path: "stages[1].bake.minutes", message: "is required" }],
  ],
  [
    "region object without region",
    (p) => {
      p.stages[2].regions[1] = { azs: ["euw1-az1"] };
    },
    [{ path: "stages[2].regions[1].region", message: "is required" }],
  ],
  [
    "oneBox object without percent",
    (p) => {
      p.stages[2].oneBox = {};
    },
    [{ path: "stages[2].oneBox.percent", message: "is required" }],
  ],
  [
    "target without lambda or type",
    (p) => {
      p.target = {};
    },
    [
      {
        path: "target.type",
        message:
          'must be one of lambda-function, lambda-alias, ecs, cloudformation, appconfig, codebuild, none (or { "lambda": … }, a lambda-function target)',
      },
    ],
  ],
  // region names
  ...["us-east1", "US-EAST-1", "useast-1", "us-east-", "virginia", ""].map(
    (region): Case => [
      `bad region name ${JSON.stringify(region)}`,
      (p) => {
        p.stages[1].regions[1] = region;
      },
      [{ path: "stages[1].regions[1]", message: regionMsg }],
    ],
  ),
  [
    "bad region name in a region object",
    (p) => {
      p.stages[2].regions[1].region = "europe";
    },
    [{ path: "stages[2].regions[1].region", message: regionMsg }],
  ],
  [
    "region that is neither a string nor an object",
    (p) => {
      p.stages[0].regions = [42];
    },
    [
      {
        path: "stages[0].regions[0]",
        message: 'must be a region name ("us-east-1") or { "region": ..., "azs": [...] }',
      },
    ],
  ],
  // AZ ids
  ...["EUW1-AZ1", "euw1_az1", "az1", "euw1-az1 ", "-euw1-az1", ""].map(
    (az): Case => [
      `bad AZ id ${JSON.stringify(az)}`,
      (p) => {
        p.stages[2].regions[1].azs[1] = az;
      },
      [{ path: "stages[2].regions[1].azs[1]", message: azMsg }],
    ],
  ),
  // duplicates
  [
    "duplicate stage name",
    (p) => {
      p.stages[2].name = "alpha";
    },
    [{ path: "stages[2].name", message: 'duplicate stage name "alpha" (also stages[0])' }],
  ],
  [
    "duplicate region (strings)",
    (p) => {
      p.stages[1].regions.push("us-east-1");
    },
    [{ path: "stages[1].regions[2]", message: 'duplicate region "us-east-1" (also regions[0])' }],
  ],
  [
    "duplicate region (string and object)",
    (p) => {
      p.stages[2].regions[1].region = "us-east-1";
      p.stages[2].regions[1].azs = ["use1-az1", "use1-az2"];
    },
    [{ path: "stages[2].regions[1]", message: 'duplicate region "us-east-1" (also regions[0])' }],
  ],
  [
    "duplicate AZ",
    (p) => {
      p.stages[2].regions[1].azs.push("euw1-az1");
    },
    [{ path: "stages[2].regions[1].azs[2]", message: 'duplicate Availability Zone "euw1-az1"' }],
  ],
  // oneBox
  ...[0, 51, "10", 2.5, -5].map(
    (percent): Case => [
      `oneBox percent ${JSON.stringify(percent)}`,
      (p) => {
        p.stages[2].oneBox = { percent };
      },
      [{ path: "stages[2].oneBox.percent", message: percentMsg }],
    ],
  ),
  [
    "oneBox neither boolean nor object",
    (p) => {
      p.stages[2].oneBox = "yes";
    },
    [{ path: "stages[2].oneBox", message: 'must be true, false or { "percent": n }' }],
  ],
  // empty lists
  [
    "empty stages",
    (p) => {
      p.stages = [];
    },
    [{ path: "stages", message: "must list at least one stage" }],
  ],
  [
    "empty regions",
    (p) => {
      p.stages[1].regions = [];
    },
    [{ path: "stages[1].regions", message: "must list at least one region" }],
  ],
  [
    "empty azs",
    (p) => {
      p.stages[2].regions[1].azs = [];
    },
    [{ path: "stages[2].regions[1].azs", message: "must list at least one Availability Zone" }],
  ],
  // wrong container types
  [
    "stages not a list",
    (p) => {
      p.stages = {};
    },
    [{ path: "stages", message: "must be a list of stages" }],
  ],
  [
    "regions not a list",
    (p) => {
      p.stages[0].regions = "us-east-1";
    },
    [{ path: "stages[0].regions", message: "must be a list of regions" }],
  ],
  [
    "azs not a list",
    (p) => {
      p.stages[2].regions[1].azs = "euw1-az1";
    },
    [{ path: "stages[2].regions[1].azs", message: "must be a list of Availability Zone ids" }],
  ],
  // names and enums
  ...["Orders", "-orders", "orders-", "orders_api", "", "a".repeat(41)].map(
    (name): Case => [
      `bad pipeline name ${JSON.stringify(name)}`,
      (p) => {
        p.name = name;
      },
      [{ path: "name", message: nameMsg }],
    ],
  ),
  [
    "bad stage name",
    (p) => {
      p.stages[1].name = "Beta";
    },
    [{ path: "stages[1].name", message: nameMsg }],
  ],
  [
    "unknown kind",
    (p) => {
      p.kind = "library";
    },
    [
      {
        path: "kind",
        message: "must be one of app, infrastructure, config, os-patches, static-assets",
      },
    ],
  ],
  [
    "azsInParallel not a boolean",
    (p) => {
      p.stages[2].azsInParallel = "yes";
    },
    [{ path: "stages[2].azsInParallel", message: "must be true or false" }],
  ],
  [
    "alarm template with an unknown placeholder",
    (p) => {
      p.alarms = ["ok-{stage}", "bad-{account}"];
    },
    [
      {
        path: "alarms[1]",
        message: ALARM_PLACEHOLDERS,
      },
    ],
  ],
  [
    "alarm name with a * that is not at the end",
    (p) => {
      p.alarms = ["orders-{stage}-*", "orders-*-faults"];
    },
    [{ path: "alarms[1]", message: ALARM_PLACEHOLDERS }],
  ],
  [
    "one-box alarm template with an unknown placeholder",
    (p) => {
      p.oneBoxAlarms = ["{zone}-one-box"];
    },
    [{ path: "oneBoxAlarms[0]", message: ALARM_PLACEHOLDERS }],
  ],
  [
    "oneBoxAlarms not a list",
    (p) => {
      p.oneBoxAlarms = "one-box-faults";
    },
    [{ path: "oneBoxAlarms", message: "must be a list of alarm names" }],
  ],
  [
    "unknown alarmMissingData",
    (p) => {
      p.alarmMissingData = "ignore";
    },
    [{ path: "alarmMissingData", message: "must be ok, alarm or inconclusive" }],
  ],
  [
    "anomalyDetection not a boolean",
    (p) => {
      p.anomalyDetection = "on";
    },
    [{ path: "anomalyDetection", message: "must be true or false" }],
  ],
  [
    "unknown onInsufficientTraffic",
    (p) => {
      p.stages[1].onInsufficientTraffic = "wait";
    },
    [{ path: "stages[1].onInsufficientTraffic", message: "must be halt or proceed" }],
  ],
  ...[0, -5, 2.5, "100"].map(
    (minRequests): Case => [
      `bake.minRequests ${JSON.stringify(minRequests)}`,
      (p) => {
        p.stages[2].bake.minRequests = minRequests;
      },
      [{ path: "stages[2].bake.minRequests", message: positiveInt }],
    ],
  ),
  [
    "bake.maxMinutes shorter than bake.minutes",
    (p) => {
      p.stages[2].bake = { minutes: 30, minRequests: 100, maxMinutes: 29 };
    },
    [{ path: "stages[2].bake.maxMinutes", message: "must be at least bake.minutes" }],
  ],
  [
    "unknown timeWindows field",
    (p) => {
      p.timeWindows = { allowed: [], holiday: true };
    },
    [{ path: "timeWindows.holiday", message: "unknown field" }],
  ],
  [
    "stage time window that wraps past midnight",
    (p) => {
      p.stages[1].timeWindows = { allowed: [{ days: ["mon"], from: "22:00", to: "06:00" }] };
    },
    [
      {
        path: "stages[1].timeWindows.allowed[0].to",
        message: "must be later than from (22:00); split an overnight window into two windows",
      },
    ],
  ],
  [
    "freeze without a reason",
    (p) => {
      p.timeWindows = { freezes: [{ from: "2026-12-20T00:00:00Z", to: "2027-01-04T00:00:00Z" }] };
    },
    [{ path: "timeWindows.freezes[0].reason", message: "is required" }],
  ],
  [
    "metrics without versionDimension, with an unknown field and a bad dimension template",
    (p) => {
      p.metrics = {
        namespace: "Orders",
        dimensions: { AvailabilityZone: "{zone}" },
        requests: "Requests",
        faults: "Faults",
        latency: "Latency",
        period: 60,
      };
    },
    [
      { path: "metrics.versionDimension", message: "is required" },
      { path: "metrics.period", message: "unknown field" },
      { path: "metrics.dimensions.AvailabilityZone", message: PLACEHOLDERS },
    ],
  ],
  [
    "metrics with an empty namespace",
    (p) => {
      p.metrics = {
        namespace: "",
        versionDimension: "Version",
        requests: "Requests",
        faults: "Faults",
        latency: "Latency",
      };
    },
    [{ path: "metrics.namespace", message: "must be a CloudWatch namespace" }],
  ],
  [
    "target role that is not an IAM role ARN",
    (p) => {
      p.target = { lambda: "deployer", roleArn: "deployer-role" };
    },
    [{ path: "target.roleArn", message: ROLE_SHAPE }],
  ],
];

describe("deploy targets (finding 7: no wildcard IAM from a pipeline file)", () => {
  it.each([
    ["a name", "orders-deployer"],
    ["a name with an alias", "orders-deployer:live"],
    ["a name with $LATEST", "orders-deployer:$LATEST"],
    ["a name with a version", "orders_deployer:42"],
    ["a partial ARN", "123456789012:function:orders-deployer"],
    ["a full ARN", "arn:aws:lambda:eu-west-1:210987654321:function:payments-deployer:live"],
    ["a GovCloud ARN", "arn:aws-us-gov:lambda:us-gov-west-1:210987654321:function:deployer"],
    ["a China ARN", "arn:aws-cn:lambda:cn-north-1:210987654321:function:deployer"],
  ])("accepts %s as target.lambda", (_, lambda) => {
    expect(problemsOf({ ...valid(), target: { lambda } })).toEqual([]);
  });

  it.each([
    "arn:aws:iam::123456789012:role/deployer",
    "arn:aws:iam::123456789012:role/service-role/breakwater/deployer+ci@example.com",
    "arn:aws-us-gov:iam::123456789012:role/deployer",
  ])("accepts the role ARN %s", (roleArn) => {
    expect(problemsOf({ ...valid(), target: { lambda: "deployer", roleArn } })).toEqual([]);
  });

  it.each([
    "*",
    "deploy*",
    "deploy?",
    "deployer:*",
    "arn:aws:lambda:*:*:function:*",
    "arn:aws:lambda:us-east-1:123456789012:function:*",
    "arn:aws:lambda:us-east-1:123456789012:function:deployer:*",
    "arn:aws:lambda:us-east-?:123456789012:function:deployer",
    "123456789012:function:*",
  ])("rejects the wildcard target.lambda %j, naming the field", (lambda) => {
    expectProblems({ ...valid(), target: { lambda } }, [
      { path: "target.lambda", message: TARGET_WILDCARD },
    ]);
  });

  it.each([
    "arn:aws:iam::123456789012:role/*",
    "arn:aws:iam::*:role/deployer",
    "arn:aws:iam::123456789012:role/deploy?r",
    "arn:aws:iam::123456789012:role/team/*",
  ])("rejects the wildcard role ARN %j, naming the field", (roleArn) => {
    expectProblems({ ...valid(), target: { lambda: "deployer", roleArn } }, [
      { path: "target.roleArn", message: ROLE_WILDCARD },
    ]);
  });

  it.each([
    ["a space", "orders deployer"],
    ["a name over 64 characters", "d".repeat(65)],
    ["an ARN of another service", "arn:aws:iam::123456789012:role/deployer"],
    ["an ARN with an 11-digit account", "arn:aws:lambda:us-east-1:12345678901:function:deployer"],
    ["an ARN without region", "arn:aws:lambda::123456789012:function:deployer"],
    ["an ARN with a bad partition", "arn:amazon:lambda:us-east-1:123456789012:function:deployer"],
    ["an ARN with a bad region", "arn:aws:lambda:moon-1:123456789012:function:deployer"],
    ["an ARN of a layer", "arn:aws:lambda:us-east-1:123456789012:layer:deployer"],
    ["an ARN with an empty qualifier", "arn:aws:lambda:us-east-1:123456789012:function:deployer:"],
    ["a partial ARN with a short account", "1234:function:deployer"],
  ])("rejects %s as target.lambda", (_, lambda) => {
    expectProblems({ ...valid(), target: { lambda } }, [
      { path: "target.lambda", message: TARGET_SHAPE },
    ]);
  });

  it.each([
    ["a role name", "deployer-role"],
    ["an 11-digit account", "arn:aws:iam::12345678901:role/deployer"],
    ["a region", "arn:aws:iam:us-east-1:123456789012:role/deployer"],
    ["a bad partition", "arn:amazon:iam::123456789012:role/deployer"],
    ["a user", "arn:aws:iam::123456789012:user/deployer"],
    ["no role name", "arn:aws:iam::123456789012:role/"],
    ["a role name over 64 characters", `arn:aws:iam::123456789012:role/${"r".repeat(65)}`],
  ])("rejects a role ARN with %s", (_, roleArn) => {
    expectProblems({ ...valid(), target: { lambda: "deployer", roleArn } }, [
      { path: "target.roleArn", message: ROLE_SHAPE },
    ]);
  });
});

describe("invalid pipelines: every problem with its path", () => {
  it.each(invalid)("%s", (_, mutate, problems) => {
    const p = valid();
    mutate(p);
    expectProblems(p, problems);
  });

  it.each([
    ["null", null],
    ["a number", 42],
    ["a string", "orders-api"],
    ["a list", []],
  ])("rejects %s as a whole with a root-level problem", (_, input) => {
    const problems = problemsOf(input);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe("");
    expect(problems[0]?.message).toMatch(/expected object/);
  });

  it.each([0, 1.5])("bake.maxMinutes %j is named as not a positive integer", (maxMinutes) => {
    const p = valid();
    p.stages[2].bake.maxMinutes = maxMinutes;
    const problems = problemsOf(p);
    expect(problems).toContainEqual({ path: "stages[2].bake.maxMinutes", message: positiveInt });
    // Only that field is at fault. (The maxMinutes >= minutes refinement currently also runs on
    // the malformed value and adds "must be at least bake.minutes" for the same field.)
    expect(new Set(problems.map((x) => x.path))).toEqual(new Set(["stages[2].bake.maxMinutes"]));
  });

  it("reports every problem of a file at once, not just the first", () => {
    const p = valid();
    p.owner = "team-orders";
    delete p.stages[0].name;
    p.stages[0].bake.minutes = 0;
    p.stages[1].regions = ["us-east-1", "nowhere", "us-east-1"];
    p.stages[1].bake.minRequest = 10;
    p.stages[2].oneBox = { percent: 51 };
    p.stages[2].regions[1].azs = ["euw1-az1", "EUW1-AZ2"];
    p.stages[2].regions[1].zones = [];
    expectProblems(p, [
      { path: "owner", message: "unknown field" },
      { path: "stages[0].name", message: "is required" },
      { path: "stages[0].bake.minutes", message: positiveInt },
      { path: "stages[1].regions[1]", message: regionMsg },
      { path: "stages[1].bake.minRequest", message: "unknown field" },
      { path: "stages[2].oneBox.percent", message: percentMsg },
      { path: "stages[2].regions[1].azs[1]", message: azMsg },
      { path: "stages[2].regions[1].zones", message: "unknown field" },
    ]);
  });

  it("reports duplicates together with the other problems", () => {
    const p = valid();
    p.stages[1].name = "alpha";
    p.stages[1].regions.push("eu-west-1");
    p.stages[2].bake.minutes = -1;
    expectProblems(p, [
      { path: "stages[1].name", message: 'duplicate stage name "alpha" (also stages[0])' },
      { path: "stages[1].regions[2]", message: 'duplicate region "eu-west-1" (also regions[1])' },
      { path: "stages[2].bake.minutes", message: positiveInt },
    ]);
  });

  it("the error message names the source and lists every problem as `path: message`", () => {
    const p = valid();
    p.stages[2].bake.minutes = 0;
    p.extra = true;
    expect(() => parsePipeline(p, "pipelines/orders.json")).toThrow(
      /^pipelines\/orders\.json: invalid pipeline\n/,
    );
    try {
      parsePipeline(p, "pipelines/orders.json");
    } catch (err) {
      const lines = (err as Error).message.split("\n").slice(1).sort();
      expect(lines).toEqual([
        "  extra: unknown field",
        "  stages[2].bake.minutes: must be a positive integer",
      ]);
      expect((err as Error).name).toBe("PipelineValidationError");
    }
  });
});

describe("definePipeline", () => {
  it("returns the validated pipeline", () => {
    expect(definePipeline(valid())).toEqual(valid());
  });

  it("throws PipelineValidationError naming the pipeline and every problem", () => {
    const p = valid();
    p.stages[0].bake.minutes = 0;
    p.stages[1].regions = [];
    let error: unknown;
    try {
      definePipeline(p);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PipelineValidationError);
    const e = error as PipelineValidationError;
    expect(e.source).toBe('pipeline "orders-api"');
    expect([...e.problems].sort(byPath)).toEqual(
      [
        { path: "stages[0].bake.minutes", message: positiveInt },
        { path: "stages[1].regions", message: "must list at least one region" },
      ].sort(byPath),
    );
  });

  it("throws PipelineValidationError for input that is not an object", () => {
    expect(() => definePipeline(null as unknown as PipelineInput)).toThrow(PipelineValidationError);
  });
});

describe("loadPipelineFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "breakwater-pipeline-file-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  async function loadError(path: string): Promise<PipelineValidationError> {
    const error = await loadPipelineFile(path).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(PipelineValidationError);
    const e = error as PipelineValidationError;
    expect(e.source).toBe(path);
    return e;
  }

  it("reports a missing JSON file", async () => {
    const e = await loadError(join(dir, "missing.json"));
    expect(e.problems).toEqual([{ path: "", message: "cannot read file (ENOENT)" }]);
    expect(e.message).toContain("missing.json: invalid pipeline");
  });

  it("reports invalid JSON with its line and column", async () => {
    const path = write(
      "bad-syntax.json",
      ["{", '  "name": "orders-api"', '  "stages": []', "}", ""].join("\n"),
    );
    const e = await loadError(path);
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]?.path).toBe("");
    expect(e.problems[0]?.message).toMatch(/^not valid JSON: .* at line 3, column 3$/);
  });

  it("reports a truncated JSON file with the position where it ends", async () => {
    const path = write("truncated.json", '{\n  "name": "orders-api",');
    const e = await loadError(path);
    expect(e.problems[0]?.message).toMatch(/^not valid JSON: .* at line 2, column 24$/);
  });

  it("reports a valid JSON file with an invalid definition with every problem's path", async () => {
    const p = valid();
    p.stages[2].bake.minutes = 0;
    p.stages[0].bake.typo = 1;
    const e = await loadError(write("invalid.json", JSON.stringify(p, null, 2)));
    expect([...e.problems].sort(byPath)).toEqual(
      [
        { path: "stages[0].bake.typo", message: "unknown field" },
        { path: "stages[2].bake.minutes", message: positiveInt },
      ].sort(byPath),
    );
  });

  it.each([".yaml", ".yml", ".txt", ""])("rejects the unsupported extension %j", async (ext) => {
    const e = await loadError(write(`pipeline${ext || "-no-ext"}${ext}`, "name: orders-api\n"));
    expect(e.problems).toEqual([
      { path: "", message: `unsupported file type "${ext}" (use .json or .ts)` },
    ]);
  });

  const noDefault = [
    {
      path: "",
      message: "the module has no default export (export default definePipeline({...}))",
    },
  ];

  it("reports an ES module (.mts) without a default export", async () => {
    const e = await loadError(write("no-default.mts", "export const orders = 1;\n"));
    expect(e.problems).toEqual(noDefault);
  });

  it("reports a .ts file without a default export in an ESM package", async () => {
    const pkg = join(dir, "esm-package");
    mkdirSync(pkg);
    writeFileSync(join(pkg, "package.json"), '{ "type": "module" }\n');
    const e = await loadError(write("esm-package/no-default.ts", "export const orders = 1;\n"));
    expect(e.problems).toEqual(noDefault);
  });

  it("loads a valid default export and validates it", async () => {
    const p = valid();
    const ok = write("ok.mts", `export default ${JSON.stringify(p)};\n`);
    expect(await loadPipelineFile(ok)).toEqual(p);
    p.stages[1].bake.minutes = 1.5;
    const e = await loadError(write("bad.mts", `export default ${JSON.stringify(p)};\n`));
    expect(e.problems).toEqual([{ path: "stages[1].bake.minutes", message: positiveInt }]);
  });

  it("reports JSON errors Node gives no position for, with line and column", async () => {
    const e = await loadError(
      write("comma.json", '{\n  "name": "orders-api",\n  "stages": [,]\n}\n'),
    );
    expect(e.problems).toEqual([
      { path: "", message: "not valid JSON: ValueExpected at line 3, column 14" },
    ]);
    const empty = await loadError(write("empty.json", ""));
    expect(empty.problems[0]?.message).toMatch(/^not valid JSON: .* at line 1, column 1$/);
  });

  it("reports a .ts file without a default export outside an ESM package (loaded as CommonJS)", async () => {
    const e = await loadError(write("cjs-no-default.ts", "export const orders = 1;\n"));
    expect(e.problems).toEqual(noDefault);
  });

  it("loads `export const pipeline` when there is no default export", async () => {
    const p = valid();
    const path = write("named.ts", `export const pipeline = ${JSON.stringify(p)};\n`);
    expect(await loadPipelineFile(path)).toEqual(p);
  });

  it("keeps every path-named problem of an invalid definePipeline() inside a .ts file", async () => {
    const p = valid();
    p.stages[0].bake.minutes = 0;
    p.stages[1].oneBx = true;
    const define = join(process.cwd(), "src/domain/pipeline.ts");
    const path = write(
      "define-bad.mts",
      `import { definePipeline } from ${JSON.stringify(define)};\nexport default definePipeline(${JSON.stringify(p)});\n`,
    );
    const e = await loadError(path);
    expect([...e.problems].sort(byPath)).toEqual(
      [
        { path: "stages[0].bake.minutes", message: positiveInt },
        { path: "stages[1].oneBx", message: "unknown field" },
      ].sort(byPath),
    );
  });

  it("reports a missing .ts file as unreadable", async () => {
    const e = await loadError(join(dir, "missing.ts"));
    expect(e.problems).toEqual([{ path: "", message: "cannot read file (ENOENT)" }]);
  });

  it("reports a module that does not compile", async () => {
    const e = await loadError(write("syntax.mts", "export default {;\n"));
    expect(e.problems).toHaveLength(1);
    expect(e.problems[0]?.message).toMatch(/^cannot load module: /);
  });
});

describe("loading files: hostile input (issue 10, finding 9)", () => {
  const dir = mkdtempSync(join(tmpdir(), "breakwater-load-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("names every key given twice, with its path and line, at any depth", async () => {
    const path = join(dir, "dup.json");
    writeFileSync(
      path,
      [
        "{",
        '  "name": "orders-api",',
        '  "stages": [',
        '    { "name": "alpha", "regions": ["us-east-1"], "bake": { "minutes": 10 } },',
        '    { "name": "beta", "name": "gamma", "regions": ["us-east-1"], "bake": { "minutes": 10 } }',
        "  ],",
        '  "name": "other"',
        "}",
      ].join("\n"),
    );
    const e = await loadPipelineFile(path).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(PipelineValidationError);
    expect((e as PipelineValidationError).problems).toEqual([
      {
        path: "stages[1].name",
        message: 'duplicate key "name" at line 5, column 23 (JSON would keep only the last one)',
      },
      {
        path: "name",
        message: 'duplicate key "name" at line 7, column 3 (JSON would keep only the last one)',
      },
    ]);
  });

  it("the same key in different objects is fine", async () => {
    const path = join(dir, "ok.json");
    writeFileSync(
      path,
      JSON.stringify({
        name: "orders-api",
        stages: [
          { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
          { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } },
        ],
      }),
    );
    await expect(loadPipelineFile(path)).resolves.toMatchObject({ name: "orders-api" });
  });

  it("a message lists the first 50 problems and counts the rest", () => {
    const problems = Array.from({ length: 120 }, (_, i) => ({
      path: `stages[${i}]`,
      message: "is wrong",
    }));
    const message = new PipelineValidationError("big.json", problems).message;
    expect(message.split("\n")).toHaveLength(1 + 50 + 1);
    expect(message).toContain("  stages[49]: is wrong\n  … and 70 more problems");
    expect(message).not.toContain("stages[50]");
    expect(formatProblems(problems.slice(0, 2), "; ")).toBe(
      "stages[0]: is wrong; stages[1]: is wrong",
    );
  });
});

describe("regions and AZs AWS has (issue 14: a typo is a schema error, with did you mean)", () => {
  const withRegions = (regions: unknown[]) => {
    const p = valid();
    p.stages[2].regions = regions;
    delete p.stages[2].regionsInParallel;
    return p;
  };

  it("refuses a region AWS does not have, suggesting the closest one", () => {
    expectProblems(withRegions(["us-est-1"]), [
      {
        path: "stages[2].regions[0]",
        message: 'unknown AWS region "us-est-1" (did you mean "us-east-1"?)',
      },
    ]);
  });

  it("refuses a well-formed name far from any region, with no suggestion", () => {
    expectProblems(withRegions(["xx-mars-1"]), [
      { path: "stages[2].regions[0]", message: 'unknown AWS region "xx-mars-1"' },
    ]);
  });

  it("refuses an AZ id of another region, naming the region it belongs to", () => {
    expectProblems(withRegions([{ region: "us-east-1", azs: ["use1-az1", "eun1-az2"] }]), [
      {
        path: "stages[2].regions[0].azs[1]",
        message:
          'Availability Zone "eun1-az2" is in eu-north-1, not us-east-1 (us-east-1\'s ids are use1-az1..use1-az6)',
      },
    ]);
  });

  it("refuses an AZ id its region does not have, suggesting one it has", () => {
    expectProblems(withRegions([{ region: "eu-west-1", azs: ["euw1-az4"] }]), [
      {
        path: "stages[2].regions[0].azs[0]",
        message:
          'Availability Zone "euw1-az4" is not an AZ id of eu-west-1 (euw1-az1..euw1-az3) (did you mean "euw1-az1"?)',
      },
    ]);
  });

  it("accepts every AZ id of every region in the table", () => {
    const regions = Object.keys(AWS_REGIONS).map((region) => ({
      region,
      ...(azIdsOf(region).length ? { azs: azIdsOf(region) } : {}),
    }));
    expect(problemsOf(withRegions(regions))).toEqual([]);
  });

  it("suggests by edit distance, and only for near misses", () => {
    expect(closest("eu-wset-1", Object.keys(AWS_REGIONS))).toBe("eu-west-1");
    expect(closest("ap-southeast-9", Object.keys(AWS_REGIONS))).toBe("ap-southeast-1");
    expect(closest("nowhere", Object.keys(AWS_REGIONS))).toBeUndefined();
    expect(closest("x".repeat(10_000), Object.keys(AWS_REGIONS))).toBeUndefined();
  });
});
