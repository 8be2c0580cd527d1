/**
 * What both trigger functions (GitHub webhook, "Artifact Published") use in AWS: the table's
 * delivery, trigger-record and run-request stores, the CI publishers, the installation's approval rules, the bus, the clock.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { DynamoRunRequestStore } from "../../src/adapters/aws/dynamo-run-requests.ts";
import { DynamoStateStore } from "../../src/adapters/aws/dynamo-store.ts";
import { DynamoDeliveryStore, DynamoTriggerLog } from "../../src/adapters/aws/dynamo-triggers.ts";
import { EventBridgePublisher } from "../../src/adapters/aws/event-bus.ts";
import { config } from "../../src/config.ts";
import type { ArtifactTriggerDeps } from "../../src/triggers/artifact.ts";

export async function awsTriggerDeps(): Promise<
  Required<ArtifactTriggerDeps> & { dynamo: DynamoDBClient; table: string }
> {
  const dynamo = new DynamoDBClient({});
  const table = config.tableName();
  // Approval requirements per pipeline: the installation's GitHub trigger config.
  const installation = await new DynamoStateStore(dynamo, table).getInstallation();
  const publisher = new EventBridgePublisher(new EventBridgeClient({}), config.eventBusName());
  return {
    dynamo,
    table,
    config: installation.github ?? [],
    publishers: installation.artifactPublishers ?? [],
    runRequests: new DynamoRunRequestStore(dynamo, table),
    deliveries: new DynamoDeliveryStore(dynamo, table),
    triggers: new DynamoTriggerLog(dynamo, table),
    publish: (events) => publisher.publish(events),
    clock: { now: () => new Date() },
  };
}
