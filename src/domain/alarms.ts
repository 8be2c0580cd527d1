/** An alarm's state as read by an `AlarmSource` (CloudWatch in AWS; simulated alarms locally). */
export type AlarmValue = "OK" | "ALARM" | "INSUFFICIENT_DATA";

export interface AlarmObservation {
  name: string;
  state: AlarmValue;
  reason?: string;
}
