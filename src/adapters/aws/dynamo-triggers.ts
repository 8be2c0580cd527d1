/**
 * The triggers' stores in the single table:
 *
 *   REVIEWS#<owner/name lowercased>#<pr> / REVIEW#<id>   a pull request review
 *   DELIVERY#<id>                        / DELIVERY      a claimed webhook delivery
 *
 * A review stored as dismissed stays dismissed (conditional put); a delivery is claimed once
 * (conditional put) and given back when its processing failed.
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
} from "@aws-sdk/lib-dynamodb";
import type { StoredReview } from "../../triggers/decisions.ts";
import type { ReviewStore, WebhookDeliveryStore } from "../../triggers/ports.ts";

/** Deliveries are remembered this long (GitHub redelivers within days, not weeks). */
const DELIVERY_TTL_SECONDS = 14 * 86_400;

const reviewsPk = (repository: string, pr: number) => `REVIEWS#${repository.toLowerCase()}#${pr}`;

export class DynamoReviewStore implements ReviewStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
  ) {
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  async recordReview(repository: string, pr: number, review: StoredReview): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: reviewsPk(repository, pr), sk: `REVIEW#${review.id}`, ...review },
          ConditionExpression: "attribute_not_exists(pk) OR #state <> :dismissed",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":dismissed": "dismissed" },
        }),
      );
    } catch (err) {
      // Already dismissed: a dismissal is final, the late delivery changes nothing.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async reviews(repository: string, pr: number): Promise<StoredReview[]> {
    const out: StoredReview[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :p)",
          ExpressionAttributeValues: { ":pk": reviewsPk(repository, pr), ":p": "REVIEW#" },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        out.push({
          id: item.id as number,
          reviewer: item.reviewer as string,
          state: item.state as StoredReview["state"],
          commitId: item.commitId as string,
          submittedAt: item.submittedAt as string,
        });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }
}

export class DynamoDeliveryStore implements WebhookDeliveryStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
    private readonly now: () => number = Date.now,
  ) {
    this.doc = DynamoDBDocumentClient.from(client);
  }

  async firstDelivery(deliveryId: string): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: `DELIVERY#${deliveryId}`,
            sk: "DELIVERY",
            expiresAt: Math.floor(this.now() / 1000) + DELIVERY_TTL_SECONDS,
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async releaseDelivery(deliveryId: string): Promise<void> {
    await this.doc.send(
      new DeleteCommand({
        TableName: this.table,
        Key: { pk: `DELIVERY#${deliveryId}`, sk: "DELIVERY" },
      }),
    );
  }
}
