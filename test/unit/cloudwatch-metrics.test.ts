/**
 * CloudWatchMetricSource: per-minute request, fault and p99 metrics of a scope from
 * GetMetricData, as the pipeline's `metrics` section describes them.
 */
import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  type MetricDataResult,
} from "@aws-sdk/client-cloudwatch";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { CloudWatchMetricSource } from "../../src/adapters/aws/cloudwatch-metrics.ts";
import { type Pipeline, parsePipeline } from "../../src/domain/pipeline.ts";
import type { MetricQuery, MetricSource } from "../../src/domain/ports.ts";
import { parseScopeId } from "../../src/domain/scope.ts";

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

const METRICS = {
  namespace: "Orders",
  dimensions: { Service: "{pipeline}", Stage: "{stage}", AvailabilityZone: "{az}" },
  versionDimension: "Version",
  requests: "RequestCount",
  faults: "FaultCount",
  latency: "Latency",
};

function pipeline(metrics: Record<string, unknown> | null = METRICS): Pipeline {
  return parsePipeline({
    name: "orders-api",
    stages: [
      {
        name: "prod-1",
        regions: ["us-west-2", { region: "eu-north-1", azs: ["eun1-az1", "eun1-az2"] }],
        bake: { minutes: 60 },
      },
    ],
    ...(metrics ? { metrics } : {}),
  });
}

const FROM = new Date("2026-03-04T10:00:00.000Z");
const minute = (n: number) => new Date(FROM.getTime() + n * 60_000);

function query(extra: Partial<MetricQuery> = {}): MetricQuery {
  return {
    pipeline: pipeline(),
    scope: parseScopeId("prod-1/eu-north-1/eun1-az1"),
    select: { version: "v2" },
    from: FROM,
    to: minute(5),
    ...extra,
  };
}

/** One result series: values at the given minutes after FROM. */
const series = (id: string, points: [minute: number, value: number][]): MetricDataResult => ({
  Id: id,
  Timestamps: points.map(([m]) => minute(m)),
  Values: points.map(([, v]) => v),
  StatusCode: "Complete",
});

describe("CloudWatchMetricSource", () => {
  const cw = mockClient(CloudWatchClient);
  const regions: string[] = [];
  // Used through the port, as evaluateStep uses it.
  const source: MetricSource = new CloudWatchMetricSource((region) => {
    regions.push(region);
    return new CloudWatchClient({ region, credentials });
  });
  beforeEach(() => {
    cw.reset();
    regions.length = 0;
  });

  const sent = (i = 0) =>
    cw.commandCalls(GetMetricDataCommand)[i]?.args[0].input as GetMetricDataCommandInput;
  const queries = (i = 0) =>
    Object.fromEntries((sent(i).MetricDataQueries ?? []).map((q) => [q.Id, q]));

  it("without a `metrics` section there is nothing to read: undefined, no call", async () => {
    expect(await source.minutes(query({ pipeline: pipeline(null) }))).toBeUndefined();
    expect(cw.calls()).toHaveLength(0);
    expect(regions).toEqual([]);
  });

  it("asks the scope's region for requests (Sum), faults (Sum) and p99 latency, per minute", async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await source.minutes(query());
    expect(regions).toEqual(["eu-north-1"]);
    const input = sent();
    expect(input.StartTime).toEqual(FROM);
    expect(input.EndTime).toEqual(minute(5));
    expect(input.ScanBy).toBe("TimestampAscending");
    const q = queries();
    expect(Object.keys(q).sort()).toEqual(["faults", "p99", "requests"]);
    expect(q.requests?.MetricStat).toMatchObject({
      Metric: { Namespace: "Orders", MetricName: "RequestCount" },
      Period: 60,
      Stat: "Sum",
    });
    expect(q.faults?.MetricStat).toMatchObject({
      Metric: { Namespace: "Orders", MetricName: "FaultCount" },
      Period: 60,
      Stat: "Sum",
    });
    expect(q.p99?.MetricStat).toMatchObject({
      Metric: { Namespace: "Orders", MetricName: "Latency" },
      Period: 60,
      Stat: "p99",
    });
    for (const id of ["requests", "faults", "p99"]) expect(q[id]?.ReturnData).toBe(true);
  });

  it("resolves the dimension templates for the scope and adds the version dimension for { version }", async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await source.minutes(query({ select: { version: "v2" } }));
    for (const q of sent().MetricDataQueries ?? []) {
      expect(q.MetricStat?.Metric?.Dimensions).toEqual([
        { Name: "Service", Value: "orders-api" },
        { Name: "Stage", Value: "prod-1" },
        { Name: "AvailabilityZone", Value: "eun1-az1" },
        { Name: "Version", Value: "v2" },
      ]);
    }
  });

  it('"all" reads the scope whatever the version: no version dimension', async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await source.minutes(query({ select: "all" }));
    for (const q of sent().MetricDataQueries ?? []) {
      expect(q.MetricStat?.Metric?.Dimensions).toEqual([
        { Name: "Service", Value: "orders-api" },
        { Name: "Stage", Value: "prod-1" },
        { Name: "AvailabilityZone", Value: "eun1-az1" },
      ]);
    }
  });

  it("a region scope has no AZ: an {az} dimension is left out", async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    await source.minutes(query({ scope: parseScopeId("prod-1/us-west-2") }));
    expect(regions).toEqual(["us-west-2"]);
    expect(sent().MetricDataQueries?.[0]?.MetricStat?.Metric?.Dimensions).toEqual([
      { Name: "Service", Value: "orders-api" },
      { Name: "Stage", Value: "prod-1" },
      { Name: "Version", Value: "v2" },
    ]);
  });

  it("without dimension templates, only the version dimension", async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    const { dimensions: _, ...noDims } = METRICS;
    await source.minutes(query({ pipeline: pipeline(noDims) }));
    expect(sent().MetricDataQueries?.[0]?.MetricStat?.Metric?.Dimensions).toEqual([
      { Name: "Version", Value: "v2" },
    ]);
  });

  it("gives one sample per minute of [from, to), aligned: no traffic counts as zero, an unknown p99 as NaN", async () => {
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        // CloudWatch returns no datapoint for a minute without requests (minute 2 here), and
        // not necessarily in order.
        series("requests", [
          [3, 950],
          [0, 1000],
          [1, 980],
          [4, 1010],
        ]),
        series("faults", [
          [0, 1],
          [4, 3],
        ]),
        series("p99", [
          [0, 120],
          [1, 118],
          [3, 125],
          [4, 122],
        ]),
      ],
    });
    expect(await source.minutes(query())).toEqual([
      { requests: 1000, faults: 1, p99Ms: 120 },
      { requests: 980, faults: 0, p99Ms: 118 },
      // No datapoint: zero requests and faults; the p99 is unknown, not fast (NaN, which the
      // detector ignores).
      { requests: 0, faults: 0, p99Ms: Number.NaN },
      { requests: 950, faults: 0, p99Ms: 125 },
      { requests: 1010, faults: 3, p99Ms: 122 },
    ]);
  });

  it("a window that does not start on a minute starts at its minute; a partial last minute counts", async () => {
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        series("requests", [
          [0, 10],
          [1, 20],
          [2, 30],
        ]),
      ],
    });
    const samples = await source.minutes(
      query({ from: new Date(FROM.getTime() + 30_000), to: new Date(minute(2).getTime() + 1) }),
    );
    expect(samples?.map((s) => s.requests)).toEqual([10, 20, 30]);
  });

  it("an empty window is no samples", async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [] });
    expect(await source.minutes(query({ from: FROM, to: FROM }))).toEqual([]);
  });

  it("follows NextToken through every page and merges the pages' points", async () => {
    cw.on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          series("requests", [
            [0, 100],
            [1, 101],
          ]),
          series("faults", [[0, 1]]),
          series("p99", [[0, 90]]),
        ],
        NextToken: "page-2",
      })
      .resolvesOnce({
        MetricDataResults: [
          series("requests", [[2, 102]]),
          series("faults", [[2, 2]]),
          series("p99", [
            [1, 91],
            [2, 92],
          ]),
        ],
        NextToken: "page-3",
      })
      .resolvesOnce({ MetricDataResults: [series("requests", [[3, 103]])] });
    const samples = await source.minutes(query({ to: minute(4) }));
    const calls = cw.commandCalls(GetMetricDataCommand);
    expect(calls.map((c) => c.args[0].input.NextToken)).toEqual([undefined, "page-2", "page-3"]);
    // Every page asks the same question.
    for (const c of calls) {
      expect(c.args[0].input.MetricDataQueries).toEqual(calls[0]?.args[0].input.MetricDataQueries);
    }
    expect(samples).toEqual([
      { requests: 100, faults: 1, p99Ms: 90 },
      { requests: 101, faults: 0, p99Ms: 91 },
      { requests: 102, faults: 2, p99Ms: 92 },
      { requests: 103, faults: 0, p99Ms: Number.NaN },
    ]);
  });

  it("propagates CloudWatch errors", async () => {
    cw.on(GetMetricDataCommand).rejects(new Error("Rate exceeded"));
    await expect(source.minutes(query())).rejects.toThrow("Rate exceeded");
  });
});
