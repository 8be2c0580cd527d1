/**
 * Single-table DynamoDB store. Layout (pk / sk):
 *
 *   PIPELINE#<name> / DEF                         pipeline definition
 *   PIPELINE#<name> / SCOPE#<scope>               version-per-scope state
 *   PIPELINE#<name> / HIST#<scope>#<rev>          append-only history (rev zero-padded)
 *   RUN#<runId>     / RUN                         run record (gsi1: PIPELINE#<name> / RUN#<createdAt>)
 *   RUN#<runId>     / EVT#<at>#<rank>#<scope>#<step>#<event>   run timeline
 *   CONFIG          / INSTALLATION                installation config (organisation alarms, regions)
 *   BLOCKS          / org | pipeline#<p> | scope#<p>:<glob>      manual blocks (stop the line)
 *   PIPELINE#<name> / BYPASS#<version>            a version's bypass of blocker kinds
 *   AUDIT           / SEQ#<n> (COUNTER)           override audit log, totally ordered
 *   PIPELINE#<name> / SEQ                         the pipeline's arrival counter
 *   PIPELINE#<name> / SLOT#<stage>                stage slot: holder + waiting list (rule 6)
 *   LOCK#<service>#<region> / LOCK                scope lock of a service's pipelines
 *   RUNREQ#<pipeline>@<version> / RUNREQ          run request (dynamo-run-requests.ts)
 *
 * The triggers' items (reviews, deliveries, trigger records) are in dynamo-triggers.ts; the whole
 * data model is in docs/design.md ("Data model").
 *
 * Pipeline definitions also carry gsi1 (PIPELINES / <name>) so they can be listed.
 *
 * Every write that changes a scope is conditional (compare-and-set on rev, status or version)
 * and goes in one transaction with its history record and timeline events, so concurrent
 * writers never lose an update and history never misses a change.
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { blockKey, blockTargetKey, type ManualBlock } from "../../domain/blockers.ts";
import { BreakwaterError } from "../../domain/errors.ts";
import type { Installation } from "../../domain/installation.ts";
import {
  compareEvents,
  EVENT_RANK,
  type HistoryEntry,
  type Run,
  type ScopeState,
  type TimelineEvent,
} from "../../domain/model.ts";
import type { Bypass } from "../../domain/override.ts";
import type { Pipeline } from "../../domain/pipeline.ts";
import type {
  AuditEntry,
  LocationLock,
  LockHolder,
  OverrideWrite,
  RunUpdate,
  ScopeTransition,
  StageSlot,
  StateStore,
  TransitionResult,
} from "../../domain/ports.ts";

type Item = Record<string, unknown>;

/** How often an override's transaction is tried while only the audit counter is contended. */
const AUDIT_ATTEMPTS = 200;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The audit log was contended beyond reason (hundreds of overrides at once); nothing was written. */
export class OverrideContentionError extends BreakwaterError {
  override name = "OverrideContentionError";
}

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
type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

const pipelinePk = (name: string) => `PIPELINE#${name}`;
const runPk = (runId: string) => `RUN#${runId}`;
const eventSk = (e: TimelineEvent) =>
  `EVT#${e.at}#${EVENT_RANK[e.event]}#${e.scope}#${e.step}#${e.event}`;

function strip<T>(item: Item | undefined, keys = ["pk", "sk", "gsi1pk", "gsi1sk"]): T | undefined {
  if (!item) return undefined;
  const out: Item = {};
  for (const [k, v] of Object.entries(item)) if (!keys.includes(k)) out[k] = v;
  return out as T;
}

export class DynamoStateStore implements StateStore {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
  ) {
    this.doc = documentClient(client);
  }

  async putPipeline(pipeline: Pipeline): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: pipelineItem(pipeline) }));
  }

  async getPipeline(name: string): Promise<Pipeline | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: pipelinePk(name), sk: "DEF" } }),
    );
    return out.Item?.definition as Pipeline | undefined;
  }

  async listPipelines(): Promise<Pipeline[]> {
    const items = await this.queryAll<{ definition: Pipeline }>({
      TableName: this.table,
      IndexName: TABLE_KEYS.gsi1.name,
      KeyConditionExpression: "gsi1pk = :p",
      ExpressionAttributeValues: { ":p": "PIPELINES" },
    });
    return items.map((i) => i.definition);
  }

  async putInstallation(config: Installation): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: installationItem(config) }));
  }

  async getInstallation(): Promise<Installation> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: { pk: "CONFIG", sk: "INSTALLATION" } }),
    );
    return (out.Item?.config as Installation | undefined) ?? {};
  }

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

  async putBypass(bypass: Bypass): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.table,
        Item: { pk: pipelinePk(bypass.pipeline), sk: `BYPASS#${bypass.version}`, ...bypass },
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

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.commitOverride([], entry);
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

  /** Removes every block of the target (open-ended and scheduled); false when there was none. */
  async removeBlock(level: ManualBlock["level"], target: string): Promise<boolean> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues: { ":pk": "BLOCKS", ":p": blockTargetKey(level, target) },
        ConsistentRead: true,
      }),
    );
    const found = out.Items ?? [];
    for (const item of found) {
      await this.doc.send(
        new DeleteCommand({ TableName: this.table, Key: { pk: "BLOCKS", sk: item.sk } }),
      );
    }
    return found.length > 0;
  }

  async listBlocks(): Promise<ManualBlock[]> {
    return this.queryAll<ManualBlock>({
      TableName: this.table,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": "BLOCKS" },
      ConsistentRead: true,
    });
  }

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

  async updateRun(runId: string, update: RunUpdate): Promise<boolean> {
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
    const removes = (update.remove ?? []).map((k) => name(k));
    if (sets.length === 0 && removes.length === 0) return true;
    try {
      await this.doc.send(
        new UpdateCommand({
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
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }

  async seedScope(state: Omit<ScopeState, "rev">, actor: string): Promise<boolean> {
    const history: HistoryEntry = {
      pipeline: state.pipeline,
      scope: state.scope,
      at: state.since,
      toVersion: state.version,
      status: state.status,
      percent: state.percent,
      actor,
      cause: state.cause,
    };
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: {
                  pk: pipelinePk(state.pipeline),
                  sk: `SCOPE#${state.scope}`,
                  ...state,
                  rev: 1,
                },
                ConditionExpression: "attribute_not_exists(pk)",
              },
            },
            this.historyPut({ ...history, rev: 1 }),
          ],
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof TransactionCanceledException) return false;
      throw err;
    }
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
    // Within a scope the key orders by rev; across scopes, by time, then scope, then rev.
    return entries.sort((a, b) =>
      a.at !== b.at
        ? a.at < b.at
          ? -1
          : 1
        : a.scope !== b.scope
          ? a.scope < b.scope
            ? -1
            : 1
          : (a.rev ?? 0) - (b.rev ?? 0),
    );
  }

  async transitionScope(t: ScopeTransition): Promise<TransitionResult> {
    // Read, check the expectation, then write conditionally on the rev that was read: the
    // strictest compare-and-set, and the history record gets the exact previous state and the
    // new rev (its key), so history is totally ordered per scope.
    const current = await this.getScope(t.pipeline, t.scope);
    if (!current) return { ok: false, reason: "scope-changed" };
    const expected =
      (!t.expect.status || t.expect.status.includes(current.status)) &&
      (t.expect.version === undefined || t.expect.version === current.version) &&
      (t.expect.runId === undefined || t.expect.runId === current.runId);
    if (!expected) return { ok: false, reason: "scope-changed", current };
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
    items.push(
      this.historyPut({
        pipeline: t.pipeline,
        scope: t.scope,
        at: t.at,
        rev: current.rev + 1,
        ...(current.version !== t.set.version ? { fromVersion: current.version } : {}),
        toVersion: t.set.version,
        fromStatus: current.status,
        status: t.set.status,
        percent: t.set.percent,
        actor: t.actor,
        cause: t.cause,
        ...((t.set.runId ?? current.runId) ? { runId: t.set.runId ?? current.runId } : {}),
      }),
    );
    for (const e of t.events ?? []) items.push(this.eventPut(e));
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (err) {
      if (err instanceof TransactionCanceledException) {
        const reasons = err.CancellationReasons ?? [];
        if (t.requireRunning && reasons[0]?.Code === "ConditionalCheckFailed") {
          return { ok: false, reason: "run-not-running" };
        }
        if (reasons.some((r) => r.Code === "ConditionalCheckFailed")) {
          const latest = await this.getScope(t.pipeline, t.scope);
          return latest
            ? { ok: false, reason: "scope-changed", current: latest }
            : { ok: false, reason: "scope-changed" };
        }
      }
      throw err;
    }
    return { ok: true };
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

  private eventPut(e: TimelineEvent): TransactItem {
    return {
      Put: {
        TableName: this.table,
        Item: { pk: runPk(e.runId), sk: eventSk(e), ...e },
        ConditionExpression: "attribute_not_exists(pk)",
      },
    };
  }

  private async queryAll<T>(input: QueryCommandInput): Promise<T[]> {
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

/** The item of a pipeline definition (also written by the stack's registration at deploy). */
export function pipelineItem(pipeline: Pipeline): Item {
  return {
    pk: pipelinePk(pipeline.name),
    sk: "DEF",
    gsi1pk: "PIPELINES",
    gsi1sk: pipeline.name,
    definition: pipeline,
  };
}

/** The item of the installation config (also written by the stack at deploy). */
export function installationItem(config: Installation): Item {
  return { pk: "CONFIG", sk: "INSTALLATION", config };
}

/** Key schema of the table, shared by the stack and the local mode's table creation. */
export const TABLE_KEYS = {
  partitionKey: "pk",
  sortKey: "sk",
  gsi1: { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
} as const;
