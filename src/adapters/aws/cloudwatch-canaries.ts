/**
 * Canaries' success rates from CloudWatch (issue 13, item 3): CloudWatch Synthetics publishes
 * `SuccessPercent` in the `CloudWatchSynthetics` namespace with the `CanaryName` dimension,
 * once per canary run. The rate over a bake is the average of its runs in the window (one
 * GetMetricData query per canary, one-minute periods, in the scope's region and account).
 */
import { GetMetricDataCommand, type MetricDataQuery } from "@aws-sdk/client-cloudwatch";
import type { CanaryObservation } from "../../domain/checks.ts";
import type { CanaryQuery, CanarySource } from "../../domain/ports.ts";
import type { CloudWatchClients } from "./cloudwatch-alarms.ts";

export const SYNTHETICS_NAMESPACE = "CloudWatchSynthetics";
export const SUCCESS_PERCENT = "SuccessPercent";

export class CloudWatchCanarySource implements CanarySource {
  constructor(private readonly clientFor: CloudWatchClients) {}

  async successPercent(q: CanaryQuery): Promise<CanaryObservation[]> {
    if (q.names.length === 0) return [];
    const client = q.account?.roleArn
      ? this.clientFor(q.scope.region, q.account.roleArn)
      : this.clientFor(q.scope.region);
    // Ids must start with a lowercase letter: `c<index>`, mapped back to the names.
    const queries: MetricDataQuery[] = q.names.map((name, i) => ({
      Id: `c${i}`,
      MetricStat: {
        Metric: {
          Namespace: SYNTHETICS_NAMESPACE,
          MetricName: SUCCESS_PERCENT,
          Dimensions: [{ Name: "CanaryName", Value: name }],
        },
        Period: 60,
        Stat: "Average",
      },
      ReturnData: true,
    }));
    const values = new Map<string, number[]>();
    let token: string | undefined;
    do {
      const out = await client.send(
        new GetMetricDataCommand({
          StartTime: q.from,
          EndTime: q.to,
          ScanBy: "TimestampAscending",
          MetricDataQueries: queries,
          NextToken: token,
        }),
      );
      for (const r of out.MetricDataResults ?? []) {
        const list = values.get(r.Id ?? "") ?? [];
        list.push(...(r.Values ?? []));
        values.set(r.Id ?? "", list);
      }
      token = out.NextToken;
    } while (token);
    return q.names.map((name, i) => {
      const v = values.get(`c${i}`) ?? [];
      return v.length
        ? { name, successPercent: v.reduce((a, b) => a + b, 0) / v.length }
        : { name };
    });
  }
}
