/**
 * The version on each scope and its history (see table.ts for the layout). Every write that
 * changes a scope is conditional (compare-and-set on rev, status or version) and goes in one
 * transaction with its history record and timeline events, so concurrent writers never lose an
 * update and history never misses a change.
 */
import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { GetCommand, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { HistoryEntry, ScopeState } from "../../../domain/model.ts";
import { compareHistory } from "../../../domain/model.ts";
import type { ScopeStore, ScopeTransition, TransitionResult } from "../../../domain/ports.ts";
import {
  historyEntryOf,
  nextScopeState,
  seedHistoryEntryOf,
} from "../../../domain/scope-history.ts";
import { DynamoTable, pipelinePk, runPk, strip, type TransactItem } from "./table.ts";

/** Scopes seeded per transaction: two items each, within TransactWriteItems' 100. */
const SEEDS_PER_TRANSACTION = 50;

export class DynamoScopeStore extends DynamoTable implements ScopeStore {
  /** The scope's first state, written only where none is (with its history record). */
  private seedItems(state: Omit<ScopeState, "rev">, actor: string): TransactItem[] {
    return [
      {
        Put: {
          TableName: this.table,
          Item: { pk: pipelinePk(state.pipeline), sk: `SCOPE#${state.scope}`, ...state, rev: 1 },
          ConditionExpression: "attribute_not_exists(pk)",
        },
      },
      this.historyPut(seedHistoryEntryOf(state, actor)),
    ];
  }

  async seedScope(state: Omit<ScopeState, "rev">, actor: string): Promise<boolean> {
    try {
      await this.doc.send(
        new TransactWriteCommand({ TransactItems: this.seedItems(state, actor) }),
      );
      return true;
    } catch (err) {
      if (err instanceof TransactionCanceledException) return false;
      throw err;
    }
  }

  /**
   * Up to 50 scopes per transaction (registering a 76-scope pipeline: 2 writes, not 76). A
   * transaction that one present scope cancels is redone one scope at a time: each scope is
   * still seeded only where it has no state.
   */
  async seedScopes(states: Omit<ScopeState, "rev">[], actor: string): Promise<string[]> {
    const seeded: string[] = [];
    for (let i = 0; i < states.length; i += SEEDS_PER_TRANSACTION) {
      const chunk = states.slice(i, i + SEEDS_PER_TRANSACTION);
      try {
        await this.doc.send(
          new TransactWriteCommand({
            TransactItems: chunk.flatMap((state) => this.seedItems(state, actor)),
          }),
        );
        seeded.push(...chunk.map((s) => s.scope));
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw err;
        for (const state of chunk) {
          if (await this.seedScope(state, actor)) seeded.push(state.scope);
        }
      }
    }
    return seeded;
  }

  async getScope(pipeline: string, scope: string): Promise<ScopeState | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: pipelinePk(pipeline), sk: `SCOPE#${scope}` },
        ConsistentRead: true,
      }),
    );
    return strip<ScopeState>(out.Item);
  }

  async listScopes(pipeline: string): Promise<ScopeState[]> {
    return this.queryAll<ScopeState>({
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :p)",
      ExpressionAttributeValues: { ":pk": pipelinePk(pipeline), ":p": "SCOPE#" },
      ConsistentRead: true,
    });
  }

  async history(pipeline: string, scope?: string): Promise<HistoryEntry[]> {
    const entries = await this.queryAll<HistoryEntry>({
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :p)",
      ExpressionAttributeValues: {
        ":pk": pipelinePk(pipeline),
        ":p": scope ? `HIST#${scope}#` : "HIST#",
      },
      ConsistentRead: true,
    });
    return entries.sort(compareHistory);
  }

  async transitionScope(t: ScopeTransition): Promise<TransitionResult> {
    // With a basis still current, one round trip: the write is conditional on the basis's rev.
    // A stale basis (the scope moved on since the caller saw it) costs a read and a second
    // write, and decides exactly as without a basis: the basis saves calls, never a check.
    if (t.basis) {
      const first = await this.write(t, t.basis);
      if (first !== "stale") return first;
    }
    const current = await this.getScope(t.pipeline, t.scope);
    if (!current) return { ok: false, reason: "scope-changed" };
    const result = await this.write(t, current);
    if (result !== "stale") return result;
    const latest = await this.getScope(t.pipeline, t.scope);
    return latest
      ? { ok: false, reason: "scope-changed", current: latest }
      : { ok: false, reason: "scope-changed" };
  }

  /**
   * Checks the expectation against `current`, then writes conditionally on its rev. "stale":
   * `current` is not (or no longer) what is stored, or does not meet the expectation when it
   * is a basis; the caller reads again.
   */
  private async write(
    t: ScopeTransition,
    current: ScopeState,
  ): Promise<TransitionResult | "stale"> {
    // Read, check the expectation, then write conditionally on the rev that was read: the
    // strictest compare-and-set, and the history record gets the exact previous state and the
    // new rev (its key), so history is totally ordered per scope.
    const expected =
      (!t.expect.status || t.expect.status.includes(current.status)) &&
      (t.expect.version === undefined || t.expect.version === current.version) &&
      (t.expect.runId === undefined || t.expect.runId === current.runId);
    if (!expected) {
      return current === t.basis ? "stale" : { ok: false, reason: "scope-changed", current };
    }
    const names: Record<string, string> = {
      "#status": "status",
      "#version": "version",
      "#rev": "rev",
      "#percent": "percent",
      "#since": "since",
      "#cause": "cause",
    };
    const values: Record<string, unknown> = {
      ":status": t.set.status,
      ":version": t.set.version,
      ":percent": t.set.percent,
      ":since": t.at,
      ":cause": t.cause,
      ":one": 1,
      ":rev": current.rev,
    };
    const sets = [
      "#status = :status",
      "#version = :version",
      "#percent = :percent",
      "#since = :since",
      "#cause = :cause",
      "#rev = #rev + :one",
    ];
    const removes: string[] = [];
    if (t.set.previousVersion === null) removes.push("previousVersion");
    else if (t.set.previousVersion !== undefined) {
      sets.push("previousVersion = :prev");
      values[":prev"] = t.set.previousVersion;
    }
    if (t.set.runId !== undefined) {
      sets.push("runId = :runId");
      values[":runId"] = t.set.runId;
    }
    if (t.set.blocked === null) removes.push("blocked");
    else if (t.set.blocked !== undefined) {
      sets.push("blocked = :blocked");
      values[":blocked"] = t.set.blocked;
    }
    const conditions = ["attribute_exists(pk)", "#rev = :rev"];
    const items: TransactItem[] = [];
    if (t.requireRunning) {
      items.push({
        ConditionCheck: {
          TableName: this.table,
          Key: { pk: runPk(t.requireRunning), sk: "RUN" },
          ConditionExpression: "#status = :running",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":running": "running" },
        },
      });
    }
    const lineCheck = items.length;
    if (t.lineOpenFor !== undefined) {
      // Safety rule 3: the line stop a rollback's halt wrote (its own transaction) refuses this
      // deploy of a version at or after the stopped arrival.
      items.push({
        ConditionCheck: {
          TableName: this.table,
          Key: { pk: pipelinePk(t.pipeline), sk: "LINE" },
          ConditionExpression:
            "attribute_not_exists(pk) OR attribute_not_exists(#stoppedAt) OR #stoppedAt > :seq",
          ExpressionAttributeNames: { "#stoppedAt": "stoppedAt" },
          ExpressionAttributeValues: { ":seq": t.lineOpenFor },
        },
      });
    }
    const scopeUpdate = items.length;
    items.push({
      Update: {
        TableName: this.table,
        Key: { pk: pipelinePk(t.pipeline), sk: `SCOPE#${t.scope}` },
        UpdateExpression: `SET ${sets.join(", ")}${removes.length ? ` REMOVE ${removes.join(", ")}` : ""}`,
        ConditionExpression: conditions.join(" AND "),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: "ALL_OLD",
      },
    });
    items.push(this.historyPut(historyEntryOf(current, t)));
    for (const e of t.events ?? []) items.push(this.eventPut(e));
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (err) {
      if (err instanceof TransactionCanceledException) {
        const reasons = err.CancellationReasons ?? [];
        // A stale basis that also failed its own condition is checked afresh first (as without
        // a basis, where the expectation is checked before the write).
        const staleBasis =
          current === t.basis && reasons[scopeUpdate]?.Code === "ConditionalCheckFailed";
        if (t.requireRunning && reasons[0]?.Code === "ConditionalCheckFailed" && !staleBasis) {
          return { ok: false, reason: "run-not-running" };
        }
        if (
          t.lineOpenFor !== undefined &&
          reasons[lineCheck]?.Code === "ConditionalCheckFailed" &&
          !staleBasis
        ) {
          return { ok: false, reason: "line-stopped" };
        }
        if (reasons.some((r) => r.Code === "ConditionalCheckFailed")) return "stale";
      }
      throw err;
    }
    return { ok: true, state: nextScopeState(current, t) };
  }

  private historyPut(h: HistoryEntry): TransactItem {
    return {
      Put: {
        TableName: this.table,
        Item: {
          pk: pipelinePk(h.pipeline),
          sk: `HIST#${h.scope}#${String(h.rev ?? 0).padStart(10, "0")}`,
          ...h,
        },
        ConditionExpression: "attribute_not_exists(pk)",
      },
    };
  }
}
