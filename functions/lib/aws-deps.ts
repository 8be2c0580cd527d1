/** Dependencies of the deployed functions: AWS adapters, built once per container. */
import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SFNClient } from "@aws-sdk/client-sfn";
import { STSClient } from "@aws-sdk/client-sts";
import { CloudWatchAlarmSource } from "../../src/adapters/aws/cloudwatch-alarms.ts";
import { CloudWatchMetricSource } from "../../src/adapters/aws/cloudwatch-metrics.ts";
import { DynamoRunRequestStore } from "../../src/adapters/aws/dynamo-run-requests.ts";
import { DynamoStateStore } from "../../src/adapters/aws/dynamo-store.ts";
import { DynamoTriggerLog } from "../../src/adapters/aws/dynamo-triggers.ts";
import { EventBridgePublisher } from "../../src/adapters/aws/event-bus.ts";
import { LambdaDeployer } from "../../src/adapters/aws/lambda-deployer.ts";
import { SfnWorkflowStarter } from "../../src/adapters/aws/step-functions.ts";
import type { Deps } from "../../src/app/deps.ts";
import { config } from "../../src/config.ts";

let deps: Deps | undefined;

export function awsDeps(): Deps {
  if (deps) return deps;
  const cloudwatch = new Map<string, CloudWatchClient>();
  const cloudwatchIn = (region: string) => {
    const cached = cloudwatch.get(region);
    if (cached) return cached;
    const client = new CloudWatchClient({ region });
    cloudwatch.set(region, client);
    return client;
  };
  const dynamo = new DynamoDBClient({});
  deps = {
    store: new DynamoStateStore(dynamo, config.tableName()),
    clock: { now: () => new Date() },
    deployer: new LambdaDeployer(new STSClient({})),
    alarms: new CloudWatchAlarmSource((region) => cloudwatchIn(region)),
    metrics: new CloudWatchMetricSource((region) => cloudwatchIn(region)),
    workflows: new SfnWorkflowStarter(
      new SFNClient({}),
      config.stateMachineArn(),
      config.rollbackStateMachineArn(),
    ),
    events: new EventBridgePublisher(new EventBridgeClient({}), config.eventBusName()),
    runRequests: new DynamoRunRequestStore(dynamo, config.tableName()),
    triggers: new DynamoTriggerLog(dynamo, config.tableName()),
  };
  return deps;
}
