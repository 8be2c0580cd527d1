/**
 * Run requests in the single table:
 *
 *   RUNREQ#<pipeline>@<version> / RUNREQ   the request behind a run (see src/app/run-requests.ts)
 *
 * Written once (`attribute_not_exists(pk)`), read strongly consistent, never updated or deleted.
 * IAM lets only the trigger functions and override write items under `RUNREQ#` (the
 * `dynamodb:LeadingKeys` conditions in stacks/breakwater/functions.ts).
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import * as z from "zod";
import {
  type NewRunRequest,
  newRunRequest,
  type RunRequest,
  type RunRequestStore,
  runRequestKey,
} from "../../app/run-requests.ts";
import { changeFactsSchema } from "../../app/schemas.ts";
import { documentClient } from "./dynamo-store.ts";

export const RUN_REQUEST_PREFIX = "RUNREQ#";
const key = (pipeline: string, version: string) => ({
  pk: `${RUN_REQUEST_PREFIX}${runRequestKey(pipeline, version)}`,
  sk: "RUNREQ",
});

// What is read back is checked like any other input: a request item that does not parse is a
// fault (it starts nothing), not something to trust half-way.
const storedSchema = z
  .object({
    requestId: z.string().min(1),
    pipeline: z.string().min(1),
    version: z.string().min(1),
    artifactDigest: z.string().optional(),
    source: z.enum(["github", "artifact", "operator", "local"]),
    writtenBy: z.string().min(1),
    ref: z.string().optional(),
    cause: z.string(),
    change: changeFactsSchema,
    createdAt: z.string(),
  })
  .strict();

export class DynamoRunRequestStore implements RunRequestStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.doc = documentClient(client);
  }

  async put(request: NewRunRequest): Promise<RunRequest & { created: boolean }> {
    const stored = newRunRequest(request, this.now());
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...key(stored.pipeline, stored.version), ...stored },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return { ...stored, created: true };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
    const existing = await this.get(stored.pipeline, stored.version);
    if (!existing)
      throw new Error(`run request ${runRequestKey(stored.pipeline, stored.version)} vanished`);
    return { ...existing, created: false };
  }

  async get(pipeline: string, version: string): Promise<RunRequest | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: key(pipeline, version), ConsistentRead: true }),
    );
    if (!out.Item) return undefined;
    const { pk: _pk, sk: _sk, ...rest } = out.Item;
    const parsed = storedSchema.safeParse(rest);
    if (!parsed.success) {
      throw new Error(`run request ${runRequestKey(pipeline, version)}: ${parsed.error.message}`);
    }
    return parsed.data as RunRequest;
  }
}
