import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { InvalidInputError } from "../src/domain/errors.ts";
import { type ArtifactTriggerDeps, handleArtifactPublished } from "../src/triggers/artifact.ts";
import { functionMetrics, logger, observe } from "./lib/handler.ts";
import { awsTriggerDeps } from "./lib/trigger-deps.ts";

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
  const { metrics, count } = functionMetrics();
  return middy(async (event: unknown, context: Context) => {
    try {
      // The event id's claim stays in progress as long as this invocation may still run; a
      // claim held by another invocation throws DeliveryInProgressError, retried by Lambda.
      const out = await handleArtifactPublished(event, await provide(), {
        remainingTimeMs: context.getRemainingTimeInMillis(),
      });
      const counts = {
        "run-requested": "ArtifactRunsRequested",
        rejected: "ArtifactsRejected",
        duplicate: "ArtifactDuplicates",
        refused: "ArtifactPublishersRefused",
      } as const;
      count(counts[out.outcome]);
      if (out.outcome === "refused") {
        logger.warn("Artifact Published refused: not from a named CI publisher", {
          reason: out.reason,
        });
        return { outcome: out.outcome, reason: out.reason };
      }
      return out.outcome === "duplicate"
        ? { outcome: out.outcome, id: out.id }
        : { outcome: out.outcome, pipeline: out.decision.pipeline };
    } catch (err) {
      if (!(err instanceof InvalidInputError)) throw err;
      logger.warn("invalid Artifact Published event dropped", { error: err.message });
      count("ArtifactEventsInvalid");
      return { outcome: "invalid", message: err.message };
    }
  }).use(observe(metrics));
}

let deps: ArtifactTriggerDeps | undefined;

async function awsArtifactDeps(): Promise<ArtifactTriggerDeps> {
  if (deps) return deps;
  const { dynamo: _d, table: _t, ...shared } = await awsTriggerDeps();
  deps = shared;
  return deps;
}

export const handler = createArtifactPublishedHandler(awsArtifactDeps);
