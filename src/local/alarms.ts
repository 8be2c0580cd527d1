/**
 * The local twin of CloudWatch alarms: named alarms that are in ALARM during given intervals
 * (`breakwater simulate --alarm name@start..end`). They answer DescribeAlarms-like queries and,
 * like CloudWatch, put an "Alarm State Change" event on the bus at every change, which drives
 * fast rollback.
 */
import type { AlarmObservation, AlarmSource } from "../domain/ports.ts";
import type { LocalEventBus } from "./event-bus.ts";
import { LOCAL_ACCOUNT, LOCAL_REGION } from "./event-bus.ts";
import type { VirtualClock } from "./virtual-time.ts";

export interface AlarmInterval {
  name: string;
  from: Date;
  /** Absent: stays in ALARM. */
  to?: Date;
  /**
   * The alarm's region (as in AWS, where each region has its own alarms and its state changes
   * reach the control plane through a forwarder): it judges only scopes of that region, and
   * its events carry that region. Absent: the local region, an alarm of every region.
   */
  region?: string;
  /** The alarm's account on its events (a target account's forwarder); default the local one. */
  account?: string;
}

export class SimulatedAlarms implements AlarmSource {
  constructor(private readonly intervals: AlarmInterval[]) {}

  private inAlarm(name: string, at: number, region?: string): AlarmInterval | undefined {
    return this.intervals.find(
      (i) =>
        i.name === name &&
        (region === undefined || i.region === undefined || i.region === region) &&
        i.from.getTime() <= at &&
        (i.to === undefined || at < i.to.getTime()),
    );
  }

  async describe(names: string[], region: string, at: Date): Promise<AlarmObservation[]> {
    // A name ending in `*` is a prefix, as in CloudWatch: every simulated alarm it matches.
    const expanded = [...new Set(names)].flatMap((name) =>
      name.endsWith("*")
        ? [...new Set(this.intervals.map((i) => i.name))].filter((n) =>
            n.startsWith(name.slice(0, -1)),
          )
        : [name],
    );
    return [...new Set(expanded)].map((name) => {
      // Read in the scope's region: an alarm of another region is another alarm.
      const hit = this.inAlarm(name, at.getTime(), region);
      return hit
        ? { name, state: "ALARM", reason: `simulated: in ALARM since ${hit.from.toISOString()}` }
        : { name, state: "OK" };
    });
  }

  /** Schedules the state-change events on the virtual clock. */
  publishChanges(clock: VirtualClock, bus: LocalEventBus): void {
    const now = clock.nowMillis();
    for (const interval of this.intervals) {
      const changes: ["ALARM" | "OK", number][] = [["ALARM", interval.from.getTime()]];
      if (interval.to) changes.push(["OK", interval.to.getTime()]);
      for (const [value, at] of changes) {
        if (at < now) continue;
        clock.enter(() =>
          setTimeout(() => {
            // Another interval of the same alarm may keep it in ALARM: no change then.
            const state = this.inAlarm(interval.name, at, interval.region) ? "ALARM" : "OK";
            if (value === "OK" && state === "ALARM") return;
            const region = interval.region ?? LOCAL_REGION;
            const account = interval.account ?? LOCAL_ACCOUNT;
            bus.put({
              source: "aws.cloudwatch",
              "detail-type": "CloudWatch Alarm State Change",
              // As forwarded from the alarm's region and account: the event keeps both.
              region,
              account,
              resources: [`arn:aws:cloudwatch:${region}:${account}:alarm:${interval.name}`],
              detail: {
                alarmName: interval.name,
                state: {
                  value,
                  reason: `simulated: ${value === "ALARM" ? "in ALARM" : "back to OK"}`,
                  timestamp: new Date(at).toISOString(),
                },
                previousState: { value: value === "ALARM" ? "OK" : "ALARM" },
              },
            });
          }, at - now),
        );
      }
    }
  }
}
