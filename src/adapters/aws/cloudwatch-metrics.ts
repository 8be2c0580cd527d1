import {
  type Dimension,
  GetMetricDataCommand,
  type MetricDataQuery,
} from "@aws-sdk/client-cloudwatch";
import { resolveAlarmName } from "../../domain/blockers.ts";
import type { MetricQuery, MetricSource, MinuteSample } from "../../domain/ports.ts";
import { targetRoleArn } from "../../domain/targets/index.ts";
import type { CloudWatchClients } from "./cloudwatch-alarms.ts";

/** Where a scope's per-version request, fault and latency metrics are in CloudWatch. */
export interface TargetMetricLocation {
  namespace: string;
  /** The scope's dimensions, with the version's when one version is asked for. */
  dimensions: Dimension[];
  requests: string;
  faults: string;
  latency: string;
  /** The target's role when the metrics live in the target's account (read through it). */
  roleArn?: string;
}

/**
 * A deploy target's own per-version metrics, used when the pipeline has no `metrics` section
 * (`AWS/Lambda` by ExecutedVersion for a lambda-alias target: LambdaAliasMetrics).
 */
export interface TargetMetrics {
  /** Undefined when the target has no metrics of its own, or none for the version. */
  locate(q: MetricQuery): Promise<TargetMetricLocation | undefined>;
}

/**
 * Per-minute request, fault and p99 latency metrics of a scope from CloudWatch, as the
 * pipeline's `metrics` section describes them (namespace, scope dimensions, and the dimension
 * that carries the version). Without a `metrics` section, the deploy target's own metrics when
 * it has some ({@link TargetMetrics}); else there is nothing to read and the detector abstains.
 */
export class CloudWatchMetricSource implements MetricSource {
  constructor(
    /** A client in the scope's region; with a role, one in the target's account through it. */
    private readonly clientFor: CloudWatchClients,
    private readonly targetMetrics?: TargetMetrics,
  ) {}

  async minutes(q: MetricQuery): Promise<MinuteSample[] | undefined> {
    const m = q.pipeline.metrics ? fromSection(q) : await this.targetMetrics?.locate(q);
    if (!m) return undefined;
    const dimensions = m.dimensions;
    const stat = (id: string, metric: string, statistic: string): MetricDataQuery => ({
      Id: id,
      MetricStat: {
        Metric: { Namespace: m.namespace, MetricName: metric, Dimensions: dimensions },
        Period: 60,
        Stat: statistic,
      },
      ReturnData: true,
    });
    // The scope's own region and account: a target with roleArn is read through that role.
    const client = m.roleArn
      ? this.clientFor(q.scope.region, m.roleArn)
      : this.clientFor(q.scope.region);
    const series = new Map<string, Map<number, number>>();
    let token: string | undefined;
    do {
      const out = await client.send(
        new GetMetricDataCommand({
          StartTime: q.from,
          EndTime: q.to,
          ScanBy: "TimestampAscending",
          MetricDataQueries: [
            stat("requests", m.requests, "Sum"),
            stat("faults", m.faults, "Sum"),
            stat("p99", m.latency, "p99"),
          ],
          NextToken: token,
        }),
      );
      for (const r of out.MetricDataResults ?? []) {
        const byMinute = series.get(r.Id ?? "") ?? new Map<number, number>();
        for (const [i, t] of (r.Timestamps ?? []).entries()) {
          byMinute.set(t.getTime(), r.Values?.[i] ?? 0);
        }
        series.set(r.Id ?? "", byMinute);
      }
      token = out.NextToken;
    } while (token);
    const samples: MinuteSample[] = [];
    for (let t = Math.floor(q.from.getTime() / 60_000) * 60_000; t < q.to.getTime(); t += 60_000) {
      samples.push({
        requests: series.get("requests")?.get(t) ?? 0,
        faults: series.get("faults")?.get(t) ?? 0,
        // A minute without a p99 datapoint is unknown, not fast: NaN is ignored by the detector.
        p99Ms: series.get("p99")?.get(t) ?? Number.NaN,
      });
    }
    return samples;
  }
}

/** The pipeline's `metrics` section, its dimension templates resolved for the scope. */
function fromSection(q: MetricQuery): TargetMetricLocation | undefined {
  const m = q.pipeline.metrics;
  if (!m) return undefined;
  const dims = Object.entries(m.dimensions ?? {}).flatMap(([Name, template]) => {
    const Value = resolveAlarmName(template, q.pipeline.name, q.scope);
    return Value === undefined ? [] : [{ Name, Value }];
  });
  const roleArn = targetRoleArn(q.pipeline, q.scope.stage);
  return {
    namespace: m.namespace,
    dimensions:
      q.select === "all" ? dims : [...dims, { Name: m.versionDimension, Value: q.select.version }],
    requests: m.requests,
    faults: m.faults,
    latency: m.latency,
    ...(roleArn ? { roleArn } : {}),
  };
}
