/** Manual blocks, bypasses and the override audit log (see table.ts for the layout). */
import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import { GetCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { blockKey, type ManualBlock } from "../../../domain/blockers.ts";
import { BreakwaterError } from "../../../domain/errors.ts";
import type { Bypass } from "../../../domain/override.ts";
import type { AuditEntry, OverrideStore, OverrideWrite } from "../../../domain/ports.ts";
import { appliedPipelineItem, revisionSk } from "./config.ts";
import { DynamoTable, pipelinePk, type TransactItem } from "./table.ts";

/** How often an override's transaction is tried while only the audit counter is contended. */
const AUDIT_ATTEMPTS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The audit log was contended beyond reason (hundreds of overrides at once); nothing was written. */
export class OverrideContentionError extends BreakwaterError {
  override name = "OverrideContentionError";
}

/**
 * The blocks' index: how many block items the BLOCKS partition holds, so the gate before every
 * deploy step can skip the partition's Query when there are none. Every block write moves it in
 * the same transaction (`count` by the write's exact delta, `rev` by one); it is trusted only
 * when `complete` — set by a reader that counted the partition with no write in between (a
 * table written before the index existed has blocks the index never counted). So the index can
 * only ever make the gate read blocks it need not, never miss one.
 */
export const BLOCK_INDEX_KEY = { pk: "CONFIG", sk: "BLOCKS" } as const;

export interface BlockIndex {
  count?: number;
  rev?: number;
  complete?: boolean;
}

export class DynamoOverrideStore extends DynamoTable implements OverrideStore {
  async putBlock(block: ManualBlock): Promise<void> {
    // It may replace a block (an unknown delta): the index is left for the next reader to count.
    await this.doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.table,
              // An override's block (no start) is one per target; scheduled blocks are keyed by start.
              Item: {
                pk: "BLOCKS",
                sk: blockKey(block.level, block.target, block.scheduled ? block.from : undefined),
                ...block,
              },
            },
          },
          {
            Update: {
              TableName: this.table,
              Key: BLOCK_INDEX_KEY,
              UpdateExpression: "SET #complete = :false ADD #rev :one",
              ExpressionAttributeNames: { "#complete": "complete", "#rev": "rev" },
              ExpressionAttributeValues: { ":false": false, ":one": 1 },
            },
          },
        ],
      }),
    );
  }

  /**
   * The blocks, reading the partition only when the index (read by the caller, in its batch)
   * does not say there are none; an index that cannot be trusted is repaired from that read,
   * conditionally on no block write since the index was read.
   */
  async blocksGiven(index: BlockIndex | undefined): Promise<ManualBlock[]> {
    if (index?.complete === true && index.count === 0) return [];
    const blocks = await this.listBlocks();
    if (index?.complete === true) return blocks;
    await this.doc
      .send(
        new UpdateCommand({
          TableName: this.table,
          Key: BLOCK_INDEX_KEY,
          UpdateExpression: "SET #count = :n, #complete = :true",
          ConditionExpression: !index
            ? "attribute_not_exists(pk)"
            : index.rev === undefined
              ? "attribute_not_exists(#rev)"
              : "#rev = :rev",
          ExpressionAttributeNames: {
            "#count": "count",
            "#complete": "complete",
            ...(index ? { "#rev": "rev" } : {}),
          },
          ExpressionAttributeValues: {
            ":n": blocks.length,
            ":true": true,
            ...(index?.rev !== undefined ? { ":rev": index.rev } : {}),
          },
        }),
      )
      .catch((err: unknown) => {
        // A block was written meanwhile: the next reader counts again.
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      });
    return blocks;
  }

  async listBypasses(pipeline: string): Promise<Bypass[]> {
    return this.queryAll<Bypass>({
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :p)",
      ExpressionAttributeValues: { ":pk": pipelinePk(pipeline), ":p": "BYPASS#" },
      ConsistentRead: true,
    });
  }

  async commitOverride(writes: OverrideWrite[], audit: AuditEntry): Promise<boolean> {
    const items = writes.flatMap((w) => this.overrideItems(w));
    // The blocks' index moves with the blocks, by the exact delta (each write is conditional on
    // the item being as read, so whether it existed is known).
    const exists = (v: unknown) => (v === undefined || v === null ? 0 : 1);
    const blockWrites = writes.filter((w) => w.kind === "block" && w.set !== undefined);
    const delta = blockWrites.reduce((d, w) => d + exists(w.set) - exists(w.was), 0);
    const index: TransactItem[] = blockWrites.length
      ? [
          {
            Update: {
              TableName: this.table,
              Key: BLOCK_INDEX_KEY,
              UpdateExpression: "ADD #count :delta, #rev :one",
              ExpressionAttributeNames: { "#count": "count", "#rev": "rev" },
              ExpressionAttributeValues: { ":delta": delta, ":one": 1 },
            },
          },
        ]
      : [];
    // The audit log is ordered by a counter that is advanced IN the transaction, conditionally
    // on the value read: the log's order is then the order in which the state changes took
    // effect (an ADD outside the transaction could number them differently).
    for (let attempt = 1; ; attempt++) {
      const counter = await this.doc.send(
        new GetCommand({
          TableName: this.table,
          Key: { pk: "AUDIT", sk: "COUNTER" },
          ConsistentRead: true,
        }),
      );
      const seq = Number(counter.Item?.seq ?? 0);
      try {
        await this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              ...items,
              {
                Put: {
                  TableName: this.table,
                  Item: { pk: "AUDIT", sk: "COUNTER", seq: seq + 1 },
                  ConditionExpression: seq === 0 ? "attribute_not_exists(#seq)" : "#seq = :seq",
                  ExpressionAttributeNames: { "#seq": "seq" },
                  ...(seq === 0 ? {} : { ExpressionAttributeValues: { ":seq": seq } }),
                },
              },
              {
                Put: {
                  TableName: this.table,
                  Item: { pk: "AUDIT", sk: `SEQ#${String(seq + 1).padStart(12, "0")}`, ...audit },
                  ConditionExpression: "attribute_not_exists(pk)",
                },
              },
              ...index,
            ],
          }),
        );
        return true;
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw err;
        const reasons = err.CancellationReasons ?? [];
        // An item the override decided on changed: the caller must decide again.
        if (reasons.slice(0, items.length).some((r) => r.Code === "ConditionalCheckFailed")) {
          return false;
        }
        // Only the audit counter moved (another override, possibly on another target) or a
        // concurrent transaction touched the same items: the same writes, with the next number.
        if (attempt >= AUDIT_ATTEMPTS) {
          throw new OverrideContentionError(
            `the audit log stayed contended for ${AUDIT_ATTEMPTS} attempts; try again`,
          );
        }
        await sleep(Math.random() * Math.min(200, 5 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /** One override write as transaction items, each conditional on the item being as read. */
  private overrideItems(w: OverrideWrite): TransactItem[] {
    if (w.kind !== "pipeline") return [this.overrideItem(w)];
    const key = { pk: pipelinePk(w.name), sk: "DEF" };
    const condition =
      w.was === undefined
        ? { ConditionExpression: "attribute_not_exists(pk)" }
        : {
            // Only an applied record (a file's is the folder's: apply refuses it).
            ConditionExpression: "#rev = :rev AND #source = :apply",
            ExpressionAttributeNames: { "#rev": "rev", "#source": "source" },
            ExpressionAttributeValues: { ":rev": w.was.rev, ":apply": "apply" },
          };
    return [
      {
        Put: {
          TableName: this.table,
          Item: appliedPipelineItem(w.set, (w.was?.rev ?? 0) + 1),
          ...condition,
        },
      },
      {
        Put: {
          TableName: this.table,
          Item: { pk: key.pk, sk: revisionSk(w.revision.revision), ...w.revision },
          ConditionExpression: "attribute_not_exists(pk)",
        },
      },
    ];
  }

  /** A block or bypass write as a transaction item, conditional on the item being as read. */
  private overrideItem(w: Exclude<OverrideWrite, { kind: "pipeline" }>): TransactItem {
    const key =
      w.kind === "block"
        ? { pk: "BLOCKS", sk: blockKey(w.level, w.target, w.scheduledFrom) }
        : { pk: pipelinePk(w.pipeline), sk: `BYPASS#${w.version}` };
    const was = w.was;
    const condition =
      was === undefined
        ? { ConditionExpression: "attribute_not_exists(pk)" }
        : was.rev === undefined
          ? {
              ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(#rev)",
              ExpressionAttributeNames: { "#rev": "rev" },
            }
          : {
              ConditionExpression: "#rev = :rev",
              ExpressionAttributeNames: { "#rev": "rev" },
              ExpressionAttributeValues: { ":rev": was.rev },
            };
    const common = { TableName: this.table, Key: key, ...condition };
    if (w.set === null) return { Delete: common };
    if (w.set === undefined) return { ConditionCheck: common };
    return {
      Put: {
        TableName: this.table,
        Item: { ...key, ...w.set, rev: (was?.rev ?? 0) + 1 },
        ...condition,
      },
    };
  }

  async listAudit(): Promise<AuditEntry[]> {
    return this.queryAll<AuditEntry>({
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :p)",
      ExpressionAttributeValues: { ":pk": "AUDIT", ":p": "SEQ#" },
      ConsistentRead: true,
    });
  }

  async listBlocks(): Promise<ManualBlock[]> {
    return this.queryAll<ManualBlock>({
      TableName: this.table,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": "BLOCKS" },
      ConsistentRead: true,
    });
  }
}
