/**
 * The pure checks behind `pipelines apply` and `pipelines diff`: a need is covered only by a
 * grant of that exact action on that exact resource (and by a forwarder that passes the alarm
 * by name or prefix); a diff names each changed path, stages matched by name.
 */
import { describe, expect, it } from "vitest";
import {
  type Capabilities,
  diffDefinitions,
  missingCapabilities,
} from "../../src/domain/pipeline-registry.ts";

const have: Capabilities = {
  partition: "aws",
  account: "111111111111",
  region: "eu-west-1",
  grants: [
    {
      actions: ["lambda:UpdateFunctionCode", "lambda:PublishVersion"],
      resources: ["arn:aws:lambda:eu-west-1:111111111111:function:orders"],
    },
  ],
  alarmLocations: [
    { account: "111111111111", region: "us-east-1", alarms: ["orders-errors", "orders-p99-*"] },
    { account: "222222222222", region: "eu-west-1" },
  ],
};

describe("missingCapabilities", () => {
  it("is empty when every action on every resource and every alarm location is held", () => {
    expect(
      missingCapabilities(
        {
          grants: [
            {
              actions: ["lambda:PublishVersion"],
              resources: ["arn:aws:lambda:eu-west-1:111111111111:function:orders"],
            },
          ],
          alarmLocations: [
            { account: "111111111111", region: "us-east-1", alarms: ["orders-p99-use1-az1"] },
            { account: "222222222222", region: "eu-west-1", alarms: ["anything"] },
          ],
        },
        have,
      ),
    ).toEqual([]);
  });

  it("names each action missing on each resource, and each alarm no forwarder passes", () => {
    expect(
      missingCapabilities(
        {
          grants: [
            {
              actions: ["lambda:UpdateFunctionCode", "lambda:UpdateAlias"],
              resources: [
                "arn:aws:lambda:eu-west-1:111111111111:function:orders",
                "arn:aws:lambda:eu-west-1:111111111111:function:orders-2",
              ],
            },
          ],
          alarmLocations: [
            { account: "111111111111", region: "us-east-1", alarms: ["orders-latency"] },
            { account: "333333333333", region: "us-east-1", alarms: ["x"] },
          ],
        },
        have,
      ),
    ).toEqual([
      "lambda:UpdateAlias on arn:aws:lambda:eu-west-1:111111111111:function:orders",
      "lambda:UpdateFunctionCode, lambda:UpdateAlias on arn:aws:lambda:eu-west-1:111111111111:function:orders-2",
      "alarm orders-latency in account 111111111111, us-east-1 (its forwarder does not pass it)",
      "alarm events from account 333333333333 in us-east-1 (no alarm forwarder)",
    ]);
  });
});

describe("diffDefinitions", () => {
  const base = {
    name: "orders",
    alarms: ["a"],
    stages: [
      { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
      { name: "prod-1", regions: ["eu-west-1"], bake: { minutes: 60 } },
    ],
  };

  it("matches stages by name and names the changed field's path", () => {
    const next = structuredClone(base);
    (next.stages[1] as { bake: { minutes: number } }).bake.minutes = 90;
    next.alarms = ["a", "b"];
    expect(diffDefinitions(base, next)).toEqual([
      { path: "alarms[1]", change: "added", after: "b" },
      { path: "stages[prod-1].bake.minutes", change: "changed", before: 60, after: 90 },
    ]);
  });

  it("reports an added and a removed stage, and a new order of stages", () => {
    const next = {
      ...base,
      stages: [
        base.stages[1],
        { name: "prod-2", regions: ["us-west-2"], bake: { minutes: 30 } },
        base.stages[0],
      ].filter((s) => s?.name !== "alpha"),
    };
    expect(diffDefinitions(base, next).map((c) => [c.path, c.change])).toEqual([
      ["stages[alpha]", "removed"],
      ["stages[prod-2]", "added"],
    ]);
    const reordered = { ...base, stages: [base.stages[1], base.stages[0]] };
    expect(diffDefinitions(base, reordered)).toEqual([
      {
        path: "stages(order)",
        change: "changed",
        before: ["alpha", "prod-1"],
        after: ["prod-1", "alpha"],
      },
    ]);
  });

  it("is empty for the same definition, and one added entry for a new pipeline", () => {
    expect(diffDefinitions(base, structuredClone(base))).toEqual([]);
    expect(diffDefinitions(undefined, base)).toEqual([{ path: "", change: "added", after: base }]);
  });
});
