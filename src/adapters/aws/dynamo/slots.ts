/** Stage slots (safety rule 6) and location locks, by compare-and-set (see table.ts). */
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { LocationLock, LockHolder, SlotStore, StageSlot } from "../../../domain/ports.ts";
import { DynamoTable, type Item, pipelinePk, strip } from "./table.ts";

export class DynamoSlotStore extends DynamoTable implements SlotStore {
  async getStageSlot(pipeline: string, stage: string): Promise<StageSlot> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: pipelinePk(pipeline), sk: `SLOT#${stage}` },
        ConsistentRead: true,
      }),
    );
    const item = strip<StageSlot>(out.Item);
    return item
      ? { ...item, waiters: item.waiters ?? {} }
      : { pipeline, stage, waiters: {}, rev: 0 };
  }

  async putStageSlot(slot: StageSlot): Promise<boolean> {
    return this.casPut(
      { pk: pipelinePk(slot.pipeline), sk: `SLOT#${slot.stage}`, ...slot, rev: slot.rev + 1 },
      slot.rev,
    );
  }

  async getLocationLock(key: string): Promise<LocationLock> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: `LOCK#${key}`, sk: "LOCK" },
        ConsistentRead: true,
      }),
    );
    const item = strip<LocationLock>(out.Item);
    return item
      ? { key, holders: item.holders ?? {}, rev: item.rev }
      : { key, holders: {}, rev: 0 };
  }

  async putLocationLock(
    key: string,
    holders: Record<string, LockHolder>,
    rev: number,
  ): Promise<boolean> {
    return this.casPut({ pk: `LOCK#${key}`, sk: "LOCK", key, holders, rev: rev + 1 }, rev);
  }

  async releaseLocationLock(key: string, holderKey: string): Promise<void> {
    for (;;) {
      const lock = await this.getLocationLock(key);
      if (!lock.holders[holderKey]) return;
      const { [holderKey]: _gone, ...rest } = lock.holders;
      if (await this.putLocationLock(key, rest, lock.rev)) return;
    }
  }

  /** Puts `item` if the stored item is at `rev` (absent when rev is 0). */
  private async casPut(item: Item, rev: number): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: item,
          ...(rev === 0
            ? { ConditionExpression: "attribute_not_exists(pk)" }
            : {
                ConditionExpression: "#rev = :rev",
                ExpressionAttributeNames: { "#rev": "rev" },
                ExpressionAttributeValues: { ":rev": rev },
              }),
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}
