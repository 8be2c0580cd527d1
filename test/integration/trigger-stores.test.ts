/** The DynamoDB trigger stores on DynamoDB Local, against the shared contract. */
import { DynamoRunRequestStore } from "../../src/adapters/aws/dynamo-run-requests.ts";
import {
  DynamoDeliveryStore,
  DynamoReviewStore,
  DynamoTriggerLog,
} from "../../src/adapters/aws/dynamo-triggers.ts";
import { describeTriggerStoresContract } from "../contract/trigger-stores.ts";
import { dynamoClient, freshStore } from "../support/dynamo.ts";

describeTriggerStoresContract("DynamoDB trigger stores", async (now) => {
  const { table } = await freshStore();
  return {
    reviews: new DynamoReviewStore(dynamoClient(), table),
    deliveries: new DynamoDeliveryStore(dynamoClient(), table, now),
    log: new DynamoTriggerLog(dynamoClient(), table, { now }),
    runRequests: new DynamoRunRequestStore(dynamoClient(), table, () => new Date(now())),
  };
});
