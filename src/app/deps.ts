import type {
  AlarmSource,
  Clock,
  Deployer,
  EventPublisher,
  MetricSource,
  StateStore,
  WorkflowStarter,
} from "../domain/ports.ts";
import type { TriggerLog } from "../triggers/ports.ts";
import type { RunRequestStore } from "./run-requests.ts";

/** Everything an application service needs, injected (AWS adapters or their local twins). */
export interface Deps {
  store: StateStore;
  clock: Clock;
  deployer: Deployer;
  alarms: AlarmSource;
  metrics: MetricSource;
  workflows: WorkflowStarter;
  events: EventPublisher;
  /** The run requests behind "Approved Change Merged" events (the bus is not proof of approval). */
  runRequests: RunRequestStore;
  /** Where start-run records a run request it refused (next to the trigger functions' records). */
  triggers: TriggerLog;
}
