/**
 * The shared table of the DynamoDB stores (one file per aggregate in this folder). Layout (pk / sk):
 *
 *   PIPELINE#<name> / DEF                         pipeline definition
 *   PIPELINE#<name> / SCOPE#<scope>               version-per-scope state
 *   PIPELINE#<name> / HIST#<scope>#<rev>          append-only history (rev zero-padded)
 *   RUN#<runId>     / RUN                         run record (gsi1: PIPELINE#<name> / RUN#<createdAt>)
 *   RUN#<runId>     / EVT#<at>#<rank>#<scope>#<step>#<event>   run timeline
 *   CONFIG          / INSTALLATION                installation config (organisation alarms, regions)
 *   CONFIG          / BLOCKS                      the blocks' index: count, rev, complete (overrides.ts)
 *   BLOCKS          / org | pipeline#<p> | scope#<p>:<glob>      manual blocks (stop the line)
 *   PIPELINE#<name> / BYPASS#<version>            a version's bypass of blocker kinds
 *   AUDIT           / SEQ#<n> (COUNTER)           override audit log, totally ordered
 *   PIPELINE#<name> / SEQ                         the pipeline's arrival counter
 *   PIPELINE#<name> / LINE                        the line: rollbacks stopping it (rule 3)
 *   PIPELINE#<name> / SLOT#<stage>                stage slot: holder + waiting list (rule 6)
 *   LOCK#<service>#<region> / LOCK                scope lock of a service's pipelines
 *   RUNREQ#<pipeline>@<version> / RUNREQ          run request (../dynamo-run-requests.ts)
 *
 * The triggers' items (reviews, deliveries, trigger records) are in ../dynamo-triggers.ts; the whole
 * data model is in docs/design.md ("Data model").
 *
 * Pipeline definitions also carry gsi1 (PIPELINES / <name>) so they can be listed.
 *
 * Every write that changes a scope is conditional (compare-and-set on rev, status or version)
 * and goes in one transaction with its history record and timeline events, so concurrent
 * writers never lose an update and history never misses a change.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { EVENT_RANK, type TimelineEvent } from "../../../domain/model.ts";

export type Item = Record<string, unknown>;
export type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/**
 * The one way this project wraps a DynamoDB client. `DynamoDBDocumentClient.from` writes its
 * marshalling options into the wrapped client's shared config: two wrappers of one client with
 * different options silently use whichever was created last (a store without
 * `removeUndefinedValues` broke every other store's writes of optional fields).
 */
export function documentClient(client: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export const pipelinePk = (name: string) => `PIPELINE#${name}`;
export const runPk = (runId: string) => `RUN#${runId}`;
export const eventSk = (e: TimelineEvent) =>
  `EVT#${e.at}#${EVENT_RANK[e.event]}#${e.scope}#${e.step}#${e.event}`;

export function strip<T>(
  item: Item | undefined,
  keys = ["pk", "sk", "gsi1pk", "gsi1sk"],
): T | undefined {
  if (!item) return undefined;
  const out: Item = {};
  for (const [k, v] of Object.entries(item)) if (!keys.includes(k)) out[k] = v;
  return out as T;
}

/** Key schema of the table, shared by the stack and the local mode's table creation. */
export const TABLE_KEYS = {
  partitionKey: "pk",
  sortKey: "sk",
  gsi1: { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
} as const;

/** What every aggregate's store shares: the document client, the table, paged queries. */
export abstract class DynamoTable {
  constructor(
    protected readonly doc: DynamoDBDocumentClient,
    protected readonly table: string,
  ) {}

  /** A timeline event's conditional put (events are keyed by content: a re-append is refused). */
  protected eventPut(e: TimelineEvent): TransactItem {
    return {
      Put: {
        TableName: this.table,
        Item: { pk: runPk(e.runId), sk: eventSk(e), ...e },
        ConditionExpression: "attribute_not_exists(pk)",
      },
    };
  }

  protected async queryAll<T>(input: QueryCommandInput): Promise<T[]> {
    const out: T[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) out.push(strip<T>(item) as T);
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }
}
