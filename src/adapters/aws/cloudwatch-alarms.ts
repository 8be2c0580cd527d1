import { type CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import type { AlarmObservation, AlarmSource } from "../../domain/ports.ts";

/** Reads alarms by name from CloudWatch in a region (metric and composite alarms). */
export class CloudWatchAlarmSource implements AlarmSource {
  constructor(private readonly clientFor: (region: string) => CloudWatchClient) {}

  async describe(requested: string[], region: string): Promise<AlarmObservation[]> {
    const names = [...new Set(requested)];
    if (names.length === 0) return [];
    const client = this.clientFor(region);
    const found = new Map<string, AlarmObservation>();
    for (let i = 0; i < names.length; i += 100) {
      let token: string | undefined;
      do {
        const out = await client.send(
          new DescribeAlarmsCommand({
            AlarmNames: names.slice(i, i + 100),
            AlarmTypes: ["MetricAlarm", "CompositeAlarm"],
            NextToken: token,
          }),
        );
        for (const a of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])]) {
          if (!a.AlarmName) continue;
          found.set(a.AlarmName, {
            name: a.AlarmName,
            state: (a.StateValue ?? "INSUFFICIENT_DATA") as AlarmObservation["state"],
            ...(a.StateReason ? { reason: a.StateReason } : {}),
          });
        }
        token = out.NextToken;
      } while (token);
    }
    // A configured alarm that does not exist is reported, not ignored: a typo must not pass as healthy.
    return names.map(
      (n) =>
        found.get(n) ?? { name: n, state: "ALARM", reason: "alarm does not exist in CloudWatch" },
    );
  }
}
