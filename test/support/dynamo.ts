/** Helpers for tests that use the shared DynamoDB Local started by global-setup.ts. */
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { inject } from "vitest";
import { DynamoStateStore } from "../../src/adapters/aws/dynamo-store.ts";
import { createTable, localDynamoClient } from "../../src/local/dynamodb-local.ts";

let shared: DynamoDBClient | undefined;

/** A client for the shared DynamoDB Local. */
export function dynamoClient(): DynamoDBClient {
  shared ??= localDynamoClient(inject("dynamoEndpoint"), inject("dynamoCredentials"));
  return shared;
}

/** A store on a fresh table of its own. */
export async function freshStore(): Promise<{ store: DynamoStateStore; table: string }> {
  const table = `test-${randomUUID()}`;
  await createTable(dynamoClient(), table);
  return { store: new DynamoStateStore(dynamoClient(), table), table };
}
