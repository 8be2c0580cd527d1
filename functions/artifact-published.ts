import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import middy from "@middy/core";
import { DynamoStateStore } from "../src/adapters/aws/dynamo-store.ts";
import { DynamoDeliveryStore, DynamoTriggerLog } from "../src/adapters/aws/dynamo-triggers.ts";
import { EventBridgePublisher } from "../src/adapters/aws/event-bus.ts";
import { config } from "../src/config.ts";
import { InvalidInputError } from "../src/domain/errors.ts";
import { type ArtifactTriggerDeps, handleArtifactPublished } from "../src/triggers/artifact.ts";
import { count, logger } from "./lib/handler.ts";

/**
 * Artifact Published: target of the rule on "Artifact Published" events (any source) on the
 * Breakwater bus. An approved artifact publishes "Approved Change Merged" (whose rule starts the
 * run), an unapproved one "Breakwater Change Rejected"; a redelivered event id does nothing.
 *
 * A malformed event is recorded in the trigger log and dropped: retrying cannot make it valid,
 * so it is not thrown into the rule's retries and dead-letter queue. Faults (DynamoDB, the bus)
 * propagate and are retried.
 */
export function createArtifactPublishedHandler(
  provide: () => ArtifactTriggerDeps | Promise<ArtifactTriggerDeps>,
) {
  return middy(async (event: unknown) => {
    try {
      const out = await handleArtifactPublished(event, await provide());
      count(
        out.outcome === "run-requested"
          ? "ArtifactRunsRequested"
          : out.outcome === "rejected"
            ? "ArtifactsRejected"
            : "ArtifactDuplicates",
      );
      return out.outcome === "duplicate"
        ? { outcome: out.outcome, id: out.id }
        : { outcome: out.outcome, pipeline: out.decision.pipeline };
    } catch (err) {
      if (!(err instanceof InvalidInputError)) throw err;
      logger.warn("invalid Artifact Published event dropped", { error: err.message });
      count("ArtifactEventsInvalid");
      return { outcome: "invalid", message: err.message };
    }
  }).use(injectLambdaContext(logger));
}

let deps: ArtifactTriggerDeps | undefined;

async function awsArtifactDeps(): Promise<ArtifactTriggerDeps> {
  if (deps) return deps;
  const dynamo = new DynamoDBClient({});
  const table = config.tableName();
  // Approval requirements per pipeline: the installation's GitHub trigger config.
  const installation = await new DynamoStateStore(dynamo, table).getInstallation();
  const publisher = new EventBridgePublisher(new EventBridgeClient({}), config.eventBusName());
  deps = {
    config: installation.github ?? [],
    deliveries: new DynamoDeliveryStore(dynamo, table),
    triggers: new DynamoTriggerLog(dynamo, table),
    publish: (events) => publisher.publish(events),
    clock: { now: () => new Date() },
  };
  return deps;
}

export const handler = createArtifactPublishedHandler(awsArtifactDeps);
