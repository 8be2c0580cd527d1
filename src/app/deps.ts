import type {
  AlarmSource,
  Clock,
  Deployer,
  EventPublisher,
  MetricSource,
  StateStore,
  WorkflowStarter,
} from "../domain/ports.ts";

/** Everything an application service needs, injected (AWS adapters or their local twins). */
export interface Deps {
  store: StateStore;
  clock: Clock;
  deployer: Deployer;
  alarms: AlarmSource;
  metrics: MetricSource;
  workflows: WorkflowStarter;
  events: EventPublisher;
}
