/**
 * The DynamoDB `StateStore`: one store per aggregate (`./dynamo/`: config, overrides, runs,
 * slots, scopes) on one single table whose layout is in `./dynamo/table.ts` and
 * docs/design.md ("Data model"). This class joins them so callers need one object.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Installation } from "../../domain/installation.ts";
import type { Run, ScopeState } from "../../domain/model.ts";
import type { ReadManyRequest, ReadManyResult, StateStore } from "../../domain/ports.ts";
import { DynamoConfigStore } from "./dynamo/config.ts";
import { BLOCK_INDEX_KEY, type BlockIndex, DynamoOverrideStore } from "./dynamo/overrides.ts";
import { DynamoRunStore } from "./dynamo/runs.ts";
import { DynamoScopeStore } from "./dynamo/scopes.ts";
import { DynamoSlotStore } from "./dynamo/slots.ts";
import { documentClient, type Item, pipelinePk, runPk, strip } from "./dynamo/table.ts";

export { installationItem, pipelineItem } from "./dynamo/config.ts";
export { OverrideContentionError } from "./dynamo/overrides.ts";
export { documentClient, TABLE_KEYS } from "./dynamo/table.ts";
export {
  DynamoConfigStore,
  DynamoOverrideStore,
  DynamoRunStore,
  DynamoScopeStore,
  DynamoSlotStore,
};

export class DynamoStateStore implements StateStore {
  readonly config: DynamoConfigStore;
  readonly overrides: DynamoOverrideStore;
  readonly runs: DynamoRunStore;
  readonly slots: DynamoSlotStore;
  readonly scopes: DynamoScopeStore;

  private readonly doc: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly table: string,
  ) {
    // One document client for all of them (see `documentClient`).
    const doc = documentClient(client);
    this.doc = doc;
    this.config = new DynamoConfigStore(doc, table);
    this.overrides = new DynamoOverrideStore(doc, table);
    this.runs = new DynamoRunStore(doc, table);
    this.slots = new DynamoSlotStore(doc, table);
    this.scopes = new DynamoScopeStore(doc, table);
  }

  putPipeline: StateStore["putPipeline"] = (...a) => this.config.putPipeline(...a);
  getPipeline: StateStore["getPipeline"] = (...a) => this.config.getPipeline(...a);
  listPipelines: StateStore["listPipelines"] = () => this.config.listPipelines();
  getPipelineRecord: StateStore["getPipelineRecord"] = (...a) =>
    this.config.getPipelineRecord(...a);
  listPipelineRecords: StateStore["listPipelineRecords"] = () => this.config.listPipelineRecords();
  listPipelineRevisions: StateStore["listPipelineRevisions"] = (...a) =>
    this.config.listPipelineRevisions(...a);
  getCapabilities: StateStore["getCapabilities"] = () => this.config.getCapabilities();
  putInstallation: StateStore["putInstallation"] = (...a) => this.config.putInstallation(...a);
  getInstallation: StateStore["getInstallation"] = () => this.config.getInstallation();

  listBypasses: StateStore["listBypasses"] = (...a) => this.overrides.listBypasses(...a);
  commitOverride: StateStore["commitOverride"] = (...a) => this.overrides.commitOverride(...a);
  listAudit: StateStore["listAudit"] = () => this.overrides.listAudit();
  putBlock: StateStore["putBlock"] = (...a) => this.overrides.putBlock(...a);
  listBlocks: StateStore["listBlocks"] = () => this.overrides.listBlocks();

  createRun: StateStore["createRun"] = (...a) => this.runs.createRun(...a);
  getRun: StateStore["getRun"] = (...a) => this.runs.getRun(...a);
  listRuns: StateStore["listRuns"] = (...a) => this.runs.listRuns(...a);
  nextSeq: StateStore["nextSeq"] = (...a) => this.runs.nextSeq(...a);
  updateRun: StateStore["updateRun"] = (...a) => this.runs.updateRun(...a);
  updateRunReturning: StateStore["updateRunReturning"] = (...a) =>
    this.runs.updateRunReturning(...a);
  getLine: StateStore["getLine"] = (...a) => this.runs.getLine(...a);
  appendEvents: StateStore["appendEvents"] = (...a) => this.runs.appendEvents(...a);
  timeline: StateStore["timeline"] = (...a) => this.runs.timeline(...a);

  getStageSlot: StateStore["getStageSlot"] = (...a) => this.slots.getStageSlot(...a);
  putStageSlot: StateStore["putStageSlot"] = (...a) => this.slots.putStageSlot(...a);
  getLocationLock: StateStore["getLocationLock"] = (...a) => this.slots.getLocationLock(...a);
  putLocationLock: StateStore["putLocationLock"] = (...a) => this.slots.putLocationLock(...a);
  releaseLocationLock: StateStore["releaseLocationLock"] = (...a) =>
    this.slots.releaseLocationLock(...a);

  seedScope: StateStore["seedScope"] = (...a) => this.scopes.seedScope(...a);
  seedScopes: StateStore["seedScopes"] = (...a) => this.scopes.seedScopes(...a);
  getScope: StateStore["getScope"] = (...a) => this.scopes.getScope(...a);
  listScopes: StateStore["listScopes"] = (...a) => this.scopes.listScopes(...a);
  transitionScope: StateStore["transitionScope"] = (...a) => this.scopes.transitionScope(...a);
  history: StateStore["history"] = (...a) => this.scopes.history(...a);

  /**
   * One BatchGetItem, strongly consistent (as `getRun` and `getScope` are), for the items of
   * several aggregates. Keys DynamoDB leaves unprocessed (throttling) are asked again until
   * none is left, so a result is never partial.
   */
  async readMany(request: ReadManyRequest): Promise<ReadManyResult> {
    const keys: { pk: string; sk: string }[] = [];
    if (request.run !== undefined) keys.push({ pk: runPk(request.run), sk: "RUN" });
    if (request.scope) {
      keys.push({ pk: pipelinePk(request.scope.pipeline), sk: `SCOPE#${request.scope.scope}` });
    }
    if (request.installation) keys.push({ pk: "CONFIG", sk: "INSTALLATION" });
    if (request.blocks) keys.push({ ...BLOCK_INDEX_KEY });
    const items: Item[] = [];
    let pending: Record<string, unknown>[] = keys;
    for (let round = 0; pending.length > 0; round++) {
      if (round > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** round)));
      const out = await this.doc.send(
        new BatchGetCommand({
          RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } },
        }),
      );
      items.push(...(out.Responses?.[this.table] ?? []));
      pending = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
    }
    const find = (pk: string, sk: string) => items.find((i) => i.pk === pk && i.sk === sk);
    const run = request.run === undefined ? undefined : strip<Run>(find(runPk(request.run), "RUN"));
    const scope = request.scope
      ? strip<ScopeState>(find(pipelinePk(request.scope.pipeline), `SCOPE#${request.scope.scope}`))
      : undefined;
    const installation = request.installation
      ? ((find("CONFIG", "INSTALLATION")?.config as Installation | undefined) ?? {})
      : undefined;
    const blocks = request.blocks
      ? await this.overrides.blocksGiven(
          strip<BlockIndex>(find(BLOCK_INDEX_KEY.pk, BLOCK_INDEX_KEY.sk)),
        )
      : undefined;
    return {
      ...(run ? { run } : {}),
      ...(scope ? { scope } : {}),
      ...(installation ? { installation } : {}),
      ...(blocks ? { blocks } : {}),
    };
  }
}
