import { type CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import type { AlarmAccount, AlarmObservation, AlarmSource } from "../../domain/ports.ts";

/**
 * CloudWatch's client for a region, in the control plane's account or (with `roleArn`) in a
 * target account through that role.
 */
export type CloudWatchClients = (region: string, roleArn?: string) => CloudWatchClient;

/** Reads alarms by name from CloudWatch in a region and account (metric and composite alarms). */
export class CloudWatchAlarmSource implements AlarmSource {
  constructor(private readonly clientFor: CloudWatchClients) {}

  /**
   * Exact names are read in batches of 100; a name ending in `*` is a prefix: every alarm whose
   * name starts with it is read (DescribeAlarms AlarmNamePrefix) and reported by its own name.
   */
  async describe(
    requested: string[],
    region: string,
    _at?: Date,
    account?: AlarmAccount,
  ): Promise<AlarmObservation[]> {
    const unique = [...new Set(requested)];
    const names = unique.filter((n) => !n.endsWith("*"));
    const prefixes = unique.filter((n) => n.endsWith("*")).map((n) => n.slice(0, -1));
    if (unique.length === 0) return [];
    const client = account?.roleArn
      ? this.clientFor(region, account.roleArn)
      : this.clientFor(region);
    const found = new Map<string, AlarmObservation>();
    const read = async (query: { AlarmNames?: string[]; AlarmNamePrefix?: string }) => {
      let token: string | undefined;
      do {
        const out = await client.send(
          new DescribeAlarmsCommand({
            ...query,
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
    };
    for (let i = 0; i < names.length; i += 100) await read({ AlarmNames: names.slice(i, i + 100) });
    const byPrefix = new Map<string, AlarmObservation[]>();
    for (const prefix of prefixes) {
      await read({ AlarmNamePrefix: prefix });
      byPrefix.set(
        prefix,
        [...found.values()].filter((a) => a.name.startsWith(prefix)),
      );
    }
    // A configured alarm that does not exist is reported, not ignored: a typo must not pass as
    // healthy. So is a prefix that matches no alarm.
    return [
      ...names.map(
        (n) =>
          found.get(n) ?? {
            name: n,
            state: "ALARM" as const,
            reason: "alarm does not exist in CloudWatch",
          },
      ),
      ...prefixes.flatMap((p) => {
        const matched = byPrefix.get(p) ?? [];
        return matched.length > 0
          ? matched.filter((a) => !names.includes(a.name))
          : [
              {
                name: `${p}*`,
                state: "ALARM" as const,
                reason: "no alarm in CloudWatch has this prefix",
              },
            ];
      }),
    ];
  }
}
