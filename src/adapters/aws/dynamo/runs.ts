/** Runs, their arrival counters and their timelines (see table.ts for the layout). */
import {
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { changedLine, type LineState } from "../../../domain/line.ts";
import { compareEvents, type Run, type TimelineEvent } from "../../../domain/model.ts";
import type { RunStore, RunUpdate } from "../../../domain/ports.ts";
import {
  DynamoTable,
  type Item,
  pipelinePk,
  runPk,
  strip,
  TABLE_KEYS,
  type TransactItem,
} from "./table.ts";

/** Compare-and-set rounds on the line item before giving up (contention is rare: rollbacks). */
const MAX_LINE_ATTEMPTS = 20;

export class DynamoRunStore extends DynamoTable implements RunStore {
  async createRun(run: Run): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            pk: runPk(run.runId),
            sk: "RUN",
            gsi1pk: pipelinePk(run.pipeline),
            gsi1sk: `RUN#${run.createdAt}#${run.runId}`,
            ...run,
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

  async getRun(runId: string): Promise<Run | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: runPk(runId), sk: "RUN" },
        ConsistentRead: true,
      }),
    );
    return strip<Run>(out.Item);
  }

  async listRuns(pipeline: string): Promise<Run[]> {
    const items = await this.queryAll<Run & Item>({
      TableName: this.table,
      IndexName: TABLE_KEYS.gsi1.name,
      KeyConditionExpression: "gsi1pk = :p AND begins_with(gsi1sk, :r)",
      ExpressionAttributeValues: { ":p": pipelinePk(pipeline), ":r": "RUN#" },
    });
    return items
      .map((i) => strip<Run>(i) as Run)
      .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0) || (a.createdAt < b.createdAt ? -1 : 1));
  }

  async nextSeq(pipeline: string): Promise<number> {
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { pk: pipelinePk(pipeline), sk: "SEQ" },
        UpdateExpression: "ADD #s :one",
        ExpressionAttributeNames: { "#s": "seq" },
        ExpressionAttributeValues: { ":one": 1 },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(out.Attributes?.seq);
  }

  async updateRun(runId: string, update: RunUpdate): Promise<boolean> {
    return (await this.applyUpdate(runId, update, false)) !== false;
  }

  async updateRunReturning(runId: string, update: RunUpdate): Promise<Run | undefined> {
    const out = await this.applyUpdate(runId, update, true);
    if (out === false) return undefined;
    // Nothing to write, or a transaction with the line (no ReturnValues there): read it.
    return out === true ? this.getRun(runId) : out;
  }

  /**
   * The conditional update: false when `expect` does not hold; with `returnNew`, the item as
   * the update left it (UpdateItem's ALL_NEW: the same write, no read after it) where it can.
   */
  private async applyUpdate(
    runId: string,
    update: RunUpdate,
    returnNew: boolean,
  ): Promise<Run | boolean> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    let n = 0;
    const name = (k: string) => {
      const key = `#n${n++}`;
      names[key] = k;
      return key;
    };
    const value = (v: unknown) => {
      const key = `:v${n++}`;
      values[key] = v;
      return key;
    };
    for (const [k, v] of Object.entries(update.set)) {
      if (v === undefined) continue;
      if (k === "stages") {
        // Merge stage progress per stage so concurrent writers of different stages don't clash.
        for (const [stage, progress] of Object.entries(v as Record<string, unknown>)) {
          sets.push(`${name("stages")}.${name(stage)} = ${value(progress)}`);
        }
      } else sets.push(`${name(k)} = ${value(v)}`);
    }
    if (update.addRolledBack) {
      const rb = name("rolledBack");
      sets.push(`${rb} = list_append(${rb}, ${value([update.addRolledBack])})`);
    }
    const conditions = ["attribute_exists(pk)"];
    if (update.expect?.status) {
      const list = update.expect.status.map((s) => value(s)).join(", ");
      conditions.push(`${name("status")} IN (${list})`);
    }
    if (update.expect?.currentStage !== undefined) {
      if (update.expect.currentStage === null) {
        conditions.push(`attribute_not_exists(${name("currentStage")})`);
      } else {
        conditions.push(`${name("currentStage")} = ${value(update.expect.currentStage)}`);
      }
    }
    for (const attr of update.expect?.absent ?? []) {
      conditions.push(`attribute_not_exists(${name(attr)})`);
    }
    if (update.expect?.waitingFor !== undefined) {
      conditions.push(`${name("waitingFor")} = ${value(update.expect.waitingFor)}`);
    }
    if (update.addRolledBack) {
      // Idempotent: a scope is listed once however often its rollback is retried.
      conditions.push(`NOT contains(${name("rolledBack")}, ${value(update.addRolledBack)})`);
    }
    if (update.expect?.haltReason) {
      const list = update.expect.haltReason.map((r) => value(r)).join(", ");
      conditions.push(`${name("haltReason")} IN (${list})`);
    }
    const removes = (update.remove ?? []).map((k) => name(k));
    if (sets.length === 0 && removes.length === 0) return true;
    const params = {
      TableName: this.table,
      Key: { pk: runPk(runId), sk: "RUN" },
      UpdateExpression: [
        sets.length ? `SET ${sets.join(", ")}` : "",
        removes.length ? `REMOVE ${removes.join(", ")}` : "",
      ]
        .filter(Boolean)
        .join(" "),
      ConditionExpression: conditions.join(" AND "),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: Object.keys(values).length ? values : undefined,
    };
    if (update.line) return this.updateRunAndLine(runId, params, update.line);
    try {
      const out = await this.doc.send(
        new UpdateCommand({ ...params, ...(returnNew ? { ReturnValues: "ALL_NEW" } : {}) }),
      );
      return (returnNew && strip<Run>(out.Attributes)) || true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async getLine(pipeline: string): Promise<LineState> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: pipelinePk(pipeline), sk: "LINE" },
        ConsistentRead: true,
      }),
    );
    const item = strip<LineState>(out.Item);
    return item ? { ...item, stops: item.stops ?? {} } : { pipeline, stops: {}, rev: 0 };
  }

  /**
   * The run's update and the line's change in one transaction: the line item is read, changed
   * and put conditionally on the rev that was read (compare-and-set), so two rollbacks stopping
   * the line at once never lose a stop; a lost race reads again. The run's own condition
   * failing writes nothing and answers false, as without a line change.
   */
  private async updateRunAndLine(
    runId: string,
    params: NonNullable<TransactItem["Update"]>,
    change: NonNullable<RunUpdate["line"]>,
  ): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_LINE_ATTEMPTS; attempt++) {
      const line = await this.getLine(change.pipeline);
      const next = changedLine(line, runId, change);
      const items: TransactItem[] = [{ Update: params }];
      if (next) {
        items.push({
          Put: {
            TableName: this.table,
            Item: { pk: pipelinePk(change.pipeline), sk: "LINE", ...next, rev: line.rev + 1 },
            ...(line.rev === 0
              ? { ConditionExpression: "attribute_not_exists(pk)" }
              : {
                  ConditionExpression: "#rev = :rev",
                  ExpressionAttributeNames: { "#rev": "rev" },
                  ExpressionAttributeValues: { ":rev": line.rev },
                }),
          },
        });
      }
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
        return true;
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw err;
        const reasons = err.CancellationReasons ?? [];
        if (reasons[0]?.Code === "ConditionalCheckFailed") return false;
        if (reasons[1]?.Code !== "ConditionalCheckFailed") throw err;
        // Another rollback or decision changed the line meanwhile: read it again.
      }
    }
    throw new Error(`line of ${change.pipeline}: too much contention`);
  }

  /**
   * Appends timeline events, 25 to a transaction. Events are keyed by their content, so a
   * retried handler re-appends recorded ones: a transaction cancelled ONLY by such duplicates
   * (every reason `ConditionalCheckFailed` or `None`) is re-sent with the events whose reason
   * was `None` (a cancelled transaction wrote none of them). Any other cancellation (throttling,
   * a conflict, validation) wrote nothing and throws, so the caller's retry can record it.
   */
  async appendEvents(events: TimelineEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += 25) {
      let batch = events.slice(i, i + 25);
      while (batch.length > 0) {
        try {
          await this.doc.send(
            new TransactWriteCommand({ TransactItems: batch.map((e) => this.eventPut(e)) }),
          );
          break;
        } catch (err) {
          const codes =
            err instanceof TransactionCanceledException
              ? (err.CancellationReasons ?? []).map((r) => r.Code ?? "None")
              : [];
          const onlyDuplicates =
            codes.length === batch.length &&
            codes.every((c) => c === "ConditionalCheckFailed" || c === "None");
          if (!onlyDuplicates) throw err;
          // Each round drops at least one event (a duplicate), so this ends.
          batch = batch.filter((_, k) => codes[k] === "None");
        }
      }
    }
  }

  async timeline(runId: string): Promise<TimelineEvent[]> {
    const events = await this.queryAll<TimelineEvent>({
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :p)",
      ExpressionAttributeValues: { ":pk": runPk(runId), ":p": "EVT#" },
      ConsistentRead: true,
    });
    return events.sort(compareEvents);
  }
}
