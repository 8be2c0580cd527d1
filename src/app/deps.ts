import type {
  AlarmSource,
  CanarySource,
  Clock,
  Deployer,
  EventPublisher,
  MetricSource,
  StateStore,
  TestRunner,
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
  /**
   * Runs stages' tests (issue 13). Optional so that callers with no tested stage need none; a
   * stage with tests and no runner fails its step closed (the scope is rolled back).
   */
  tests?: TestRunner;
  /** Reads stages' canaries; a stage with canaries and no source bakes inconclusive. */
  canaries?: CanarySource;
}
