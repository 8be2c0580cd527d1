/** Pipeline definitions and the installation's configuration (see table.ts for the layout). */
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { Installation } from "../../../domain/installation.ts";
import type { Pipeline } from "../../../domain/pipeline.ts";
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
