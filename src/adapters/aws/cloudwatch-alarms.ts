import { type CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import type { AlarmObservation, AlarmSource, HealthQuery } from "../../domain/ports.ts";
import type { ScopeRef } from "../../domain/scope.ts";

/**
 * Resolves an alarm name template for one scope. A template that mentions {az} only applies
 * to AZ scopes.
 *
 * @example
 * resolveAlarmName("orders-{stage}-{region}-faults", scope) // "orders-prod-1-eu-north-1-faults"
 */
export function resolveAlarmName(
  template: string,
  pipeline: string,
  scope: ScopeRef,
): string | undefined {
  if (template.includes("{az}") && !scope.az) return undefined;
  return template
    .replaceAll("{pipeline}", pipeline)
    .replaceAll("{stage}", scope.stage)
    .replaceAll("{region}", scope.region)
    .replaceAll("{az}", scope.az ?? "")
    .replaceAll("{scope}", scope.id);
}

/** Reads the pipeline's alarms for a scope from CloudWatch (metric and composite alarms). */
export class CloudWatchAlarmSource implements AlarmSource {
  constructor(private readonly clientFor: (region: string) => CloudWatchClient) {}

  async alarmsFor(q: HealthQuery): Promise<AlarmObservation[]> {
    const names = [
      ...new Set(
        (q.pipeline.alarms ?? [])
          .map((t) => resolveAlarmName(t, q.pipeline.name, q.scope))
          .filter((n): n is string => !!n),
      ),
    ];
    if (names.length === 0) return [];
    const client = this.clientFor(q.scope.region);
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
