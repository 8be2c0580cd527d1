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
}

export class SimulatedAlarms implements AlarmSource {
  constructor(private readonly intervals: AlarmInterval[]) {}

  private inAlarm(name: string, at: number): AlarmInterval | undefined {
    return this.intervals.find(
      (i) =>
        i.name === name && i.from.getTime() <= at && (i.to === undefined || at < i.to.getTime()),
    );
  }

  async describe(names: string[], _region: string, at: Date): Promise<AlarmObservation[]> {
    // A name ending in `*` is a prefix, as in CloudWatch: every simulated alarm it matches.
    const expanded = [...new Set(names)].flatMap((name) =>
      name.endsWith("*")
        ? [...new Set(this.intervals.map((i) => i.name))].filter((n) =>
            n.startsWith(name.slice(0, -1)),
          )
        : [name],
    );
    return [...new Set(expanded)].map((name) => {
      const hit = this.inAlarm(name, at.getTime());
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
            const state = this.inAlarm(interval.name, at) ? "ALARM" : "OK";
            if (value === "OK" && state === "ALARM") return;
            bus.put({
              source: "aws.cloudwatch",
              "detail-type": "CloudWatch Alarm State Change",
              resources: [
                `arn:aws:cloudwatch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:alarm:${interval.name}`,
              ],
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
