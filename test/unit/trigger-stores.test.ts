/** The in-memory trigger stores keep the same contract as the DynamoDB ones, without Java. */
import { InMemoryRunRequestStore } from "../../src/app/run-requests.ts";
import {
  InMemoryReviewStore,
  InMemoryTriggerLog,
  InMemoryWebhookDeliveryStore,
} from "../../src/triggers/in-memory.ts";
import { describeTriggerStoresContract } from "../contract/trigger-stores.ts";

describeTriggerStoresContract("in-memory trigger stores", async (now) => ({
  reviews: new InMemoryReviewStore(),
  deliveries: new InMemoryWebhookDeliveryStore({ now }),
  log: new InMemoryTriggerLog(),
  runRequests: new InMemoryRunRequestStore(() => new Date(now())),
}));
