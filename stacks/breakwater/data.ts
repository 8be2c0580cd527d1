/**
 * The control plane's state: the table, what is written into it at deploy (the installation
 * config and the pipeline definitions, with the store's own item layout), and the SSM
 * parameters the CLI's --aws finds the stage with.
 */
import { marshall } from "@aws-sdk/util-dynamodb";
import { AttributeType, BillingMode, ProjectionType, Table } from "aws-cdk-lib/aws-dynamodb";
import { Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { FunctionUrl } from "aws-cdk-lib/aws-lambda";
import { StringParameter } from "aws-cdk-lib/aws-ssm";
import { RemovalPolicy, type Stack } from "aws-cdk-lib/core";
import {
  AwsCustomResource,
  AwsCustomResourcePolicy,
  PhysicalResourceId,
} from "aws-cdk-lib/custom-resources";
import { capabilitiesItem } from "../../src/adapters/aws/dynamo/config.ts";
import { installationItem, pipelineItem, TABLE_KEYS } from "../../src/adapters/aws/dynamo-store.ts";
import type { Installation } from "../../src/domain/installation.ts";
import type { Capabilities } from "../../src/domain/pipeline-registry.ts";
import { parameterNames } from "../../src/ops/names.ts";
import type { LoadedPipeline } from "../pipelines.ts";

/** The state table: the store's key schema and index, on demand, recoverable; kept on prod. */
export function stateTable(stack: Stack, isProd: boolean): Table {
  const table = new Table(stack, "State", {
    partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
    sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: isProd,
    // Claimed webhook deliveries and trigger records expire (the only items with this attribute).
    timeToLiveAttribute: "expiresAt",
    removalPolicy: isProd ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  table.addGlobalSecondaryIndex({
    indexName: TABLE_KEYS.gsi1.name,
    partitionKey: { name: TABLE_KEYS.gsi1.partitionKey, type: AttributeType.STRING },
    sortKey: { name: TABLE_KEYS.gsi1.sortKey, type: AttributeType.STRING },
    projectionType: ProjectionType.ALL,
  });
  return table;
}

/**
 * Writes the installation config (if any) and every validated pipeline definition into the table
 * at deploy, with PutItem on the table only.
 */
export function registerConfiguration(
  stack: Stack,
  table: Table,
  installation: Installation | undefined,
  pipelines: LoadedPipeline[],
  capabilities: Capabilities,
): void {
  const writeItem = (id: string, resourceType: string, item: Record<string, unknown>) => {
    const put = {
      service: "DynamoDB",
      action: "PutItem",
      parameters: {
        TableName: table.tableName,
        Item: marshall(item, { removeUndefinedValues: true }),
      },
      physicalResourceId: PhysicalResourceId.of(`${item.pk}#${item.sk}`),
    };
    return new AwsCustomResource(stack, id, {
      resourceType,
      onCreate: put,
      onUpdate: put,
      // No onDelete: runs keep their own copy of the definition, and a removed file should not
      // silently erase what the control plane knows while runs may still refer to it.
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ["dynamodb:PutItem"],
          resources: [table.tableArn],
        }),
      ]),
      installLatestAwsSdk: false,
    });
  };
  if (installation) {
    writeItem(
      "InstallationConfig",
      "Custom::BreakwaterInstallation",
      installationItem(installation),
    );
  }

  // What `pipelines apply` may register without a redeploy (src/domain/pipeline-registry.ts).
  writeItem("Capabilities", "Custom::BreakwaterCapabilities", capabilitiesItem(capabilities));

  for (const { file, pipeline } of pipelines) {
    writeItem(
      `Pipeline-${pipeline.name}`,
      "Custom::BreakwaterPipeline",
      pipelineItem(pipeline),
    ).node.addMetadata("breakwater:source", file);
  }
}

/**
 * The CLI's --aws finds the stage here (the names are generated; a fixed table name would
 * replace the table of an existing stage). Readers need ssm:GetParameters on /breakwater/<stage>/*.
 */
export function cliParameters(
  stack: Stack,
  stage: string,
  table: Table,
  overrideUrl: FunctionUrl,
): void {
  const names = parameterNames(stage);
  new StringParameter(stack, "TableNameParameter", {
    parameterName: names.table,
    stringValue: table.tableName,
    description: "Breakwater: the state table (breakwater status/history --aws)",
  });
  new StringParameter(stack, "OverrideUrlParameter", {
    parameterName: names.overrideUrl,
    stringValue: overrideUrl.url,
    description:
      "Breakwater: the override function URL, auth type AWS_IAM (breakwater override --aws)",
  });
}
