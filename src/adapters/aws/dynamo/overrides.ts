/** Manual blocks, bypasses and the override audit log (see table.ts for the layout). */
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { blockKey, type ManualBlock } from "../../../domain/blockers.ts";
import { BreakwaterError } from "../../../domain/errors.ts";
import type { Bypass } from "../../../domain/override.ts";
import type { AuditEntry, OverrideStore, OverrideWrite } from "../../../domain/ports.ts";
import { DynamoTable, pipelinePk, type TransactItem } from "./table.ts";

/** How often an override's transaction is tried while only the audit counter is contended. */
const AUDIT_ATTEMPTS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The audit log was contended beyond reason (hundreds of overrides at once); nothing was written. */
export class OverrideContentionError extends BreakwaterError {
  override name = "OverrideContentionError";
}

export class DynamoOverrideStore extends DynamoTable implements OverrideStore {
  async putBlock(block: ManualBlock): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        // An override's block (no start) is one per target; scheduled blocks are keyed by start.
        Item: {
          pk: "BLOCKS",
          sk: blockKey(block.level, block.target, block.scheduled ? block.from : undefined),
          ...block,
        },
      }),
    );
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
    const items = writes.map((w) => this.overrideItem(w));
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

  /** One override write as a transaction item, conditional on the item being as read. */
  private overrideItem(w: OverrideWrite): TransactItem {
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
