/**
 * Alarms and metrics are read in the scope's own region AND account (issue 12, item 7): a stage
 * whose target names a `roleArn` lives in that account, so CloudWatch is asked there, with the
 * role's credentials (assumed with STS through functions/lib/aws-deps.ts). AWS is mocked with
 * aws-sdk-client-mock in the documented response shapes.
 */
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
} from "@aws-sdk/client-cloudwatch";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { awsDeps } from "../../functions/lib/aws-deps.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { parseScopeId } from "../../src/domain/scope.ts";

const ROLE = "arn:aws:iam::210987654321:role/breakwater-deployer";
const EXPIRES = new Date(Date.now() + 3_600_000);

const pipeline = parsePipeline({
  name: "orders",
  target: { type: "codebuild", project: "orders-{region}" },
  metrics: {
    namespace: "Orders",
    versionDimension: "Version",
    requests: "RequestCount",
    faults: "FaultCount",
    latency: "Latency",
  },
  stages: [
    {
      name: "alpha",
      regions: ["eu-west-1"],
      bake: { minutes: 10 },
      target: { type: "codebuild", project: "orders-alpha", roleArn: ROLE },
    },
    { name: "prod", regions: ["eu-west-1"], bake: { minutes: 10 } },
  ],
});

describe("CloudWatch in the target's account", () => {
  const cw = mockClient(CloudWatchClient);
  const sts = mockClient(STSClient);
  beforeEach(() => {
    cw.reset();
    sts.reset();
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: "ASIATARGETACCOUNT",
        SecretAccessKey: "secret",
        SessionToken: "token",
        Expiration: EXPIRES,
      },
      AssumedRoleUser: { Arn: `${ROLE}/breakwater-cloudwatch`, AssumedRoleId: "AROA:x" },
    });
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: "orders-alpha-errors", StateValue: "ALARM", StateReason: "5xx" }],
      CompositeAlarms: [],
    });
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
  });
  afterAll(() => {
    cw.restore();
    sts.restore();
  });

  /** The region and credentials of the client that sent the first DescribeAlarms. */
  const credentialsOf = async () => {
    const call = cw.commandCalls(DescribeAlarmsCommand)[0];
    const client = call?.thisValue as CloudWatchClient;
    return { region: await client.config.region(), creds: await client.config.credentials() };
  };

  it("reads a role target's alarms in its region with the role's credentials", async () => {
    const observed = await awsDeps().alarms.describe(
      ["orders-alpha-errors"],
      "eu-west-1",
      new Date(),
      { roleArn: ROLE },
    );
    expect(observed).toEqual([{ name: "orders-alpha-errors", state: "ALARM", reason: "5xx" }]);
    const { region, creds } = await credentialsOf();
    expect(region).toBe("eu-west-1");
    expect(creds.accessKeyId).toBe("ASIATARGETACCOUNT");
    // The mock answers before signing: the role is assumed when the credentials are asked for.
    expect(sts.commandCalls(AssumeRoleCommand)[0]?.args[0].input).toMatchObject({
      RoleArn: ROLE,
      RoleSessionName: "breakwater-cloudwatch",
    });
  });

  it("reads a role target's metrics with the role's credentials, another stage's with the function's own", async () => {
    const query = (scope: string) => ({
      pipeline,
      scope: parseScopeId(scope),
      select: { version: "v2" } as const,
      from: new Date("2026-12-02T00:00:00Z"),
      to: new Date("2026-12-02T00:05:00Z"),
    });
    await awsDeps().metrics.minutes(query("alpha/eu-west-1"));
    const alpha = cw.commandCalls(GetMetricDataCommand)[0]?.thisValue as CloudWatchClient;
    expect((await alpha.config.credentials()).accessKeyId).toBe("ASIATARGETACCOUNT");
    cw.resetHistory();
    sts.resetHistory();
    await awsDeps().metrics.minutes(query("prod/eu-west-1"));
    const prod = cw.commandCalls(GetMetricDataCommand)[0]?.thisValue as CloudWatchClient;
    // The control plane's own client for the same region: another client, no role assumed.
    expect(prod).toBeDefined();
    expect(prod).not.toBe(alpha);
    expect(sts.commandCalls(AssumeRoleCommand)).toEqual([]);
  });
});
