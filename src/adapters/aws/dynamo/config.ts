/** Pipeline definitions and the installation's configuration (see table.ts for the layout). */
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { Installation } from "../../../domain/installation.ts";
import type { Pipeline } from "../../../domain/pipeline.ts";
import type {
  Capabilities,
  PipelineRecord,
  PipelineRevision,
} from "../../../domain/pipeline-registry.ts";
import type { ConfigStore } from "../../../domain/ports.ts";
import { DynamoTable, type Item, pipelinePk, TABLE_KEYS } from "./table.ts";

export class DynamoConfigStore extends DynamoTable implements ConfigStore {
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
    return (await this.listPipelineRecords()).map((r) => r.definition);
  }

  async getPipelineRecord(name: string): Promise<(PipelineRecord & { rev?: number }) | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: pipelinePk(name), sk: "DEF" },
        ConsistentRead: true,
      }),
    );
    return out.Item ? recordOf(out.Item) : undefined;
  }

  async listPipelineRecords(): Promise<PipelineRecord[]> {
    const items = await this.queryAll<Item>({
      TableName: this.table,
      IndexName: TABLE_KEYS.gsi1.name,
      KeyConditionExpression: "gsi1pk = :p",
      ExpressionAttributeValues: { ":p": "PIPELINES" },
    });
    return items.map((i) => {
      const { rev: _rev, ...record } = recordOf(i);
      return record;
    });
  }

  async listPipelineRevisions(name: string): Promise<PipelineRevision[]> {
    const items = await this.queryAll<Item>({
      TableName: this.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :rev)",
      ExpressionAttributeValues: { ":pk": pipelinePk(name), ":rev": REVISION_PREFIX },
      ConsistentRead: true,
    });
    return items.map(({ pk: _pk, sk: _sk, ...r }) => r as unknown as PipelineRevision);
  }

  async getCapabilities(): Promise<Capabilities | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.table, Key: CAPABILITIES_KEY, ConsistentRead: true }),
    );
    return out.Item?.capabilities as Capabilities | undefined;
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
}

/** Applied revisions: PIPELINE#<name> / DEF#<revision, zero-padded>. */
const REVISION_PREFIX = "DEF#";
export const revisionSk = (revision: number) =>
  `${REVISION_PREFIX}${String(revision).padStart(8, "0")}`;
/** What the deployed control plane can do for applied pipelines (written by the stack at deploy). */
export const CAPABILITIES_KEY = { pk: "CONFIG", sk: "CAPABILITIES" } as const;

/** A DEF item read back: an item without `source` was written from a file (before 2026-12-02 too). */
function recordOf(item: Item): PipelineRecord & { rev?: number } {
  const definition = item.definition as Pipeline;
  return {
    name: definition.name,
    definition,
    source: item.source === "apply" ? "apply" : "file",
    ...(typeof item.rev === "number" ? { rev: item.rev } : {}),
    ...Object.fromEntries(
      (["revision", "digest", "appliedAt", "appliedBy", "actor", "reason"] as const)
        .filter((k) => item[k] !== undefined)
        .map((k) => [k, item[k]]),
    ),
  };
}

/** The item of an applied definition (`pipelines apply`), with its revision's fields. */
export function appliedPipelineItem(record: PipelineRecord, rev: number): Item {
  return { ...pipelineItem(record.definition), ...record, rev };
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

/** The capabilities item (written by the stack at deploy). */
export function capabilitiesItem(capabilities: Capabilities): Item {
  return { ...CAPABILITIES_KEY, capabilities };
}

/** The item of the installation config (also written by the stack at deploy). */
export function installationItem(config: Installation): Item {
  return { pk: "CONFIG", sk: "INSTALLATION", config };
}
