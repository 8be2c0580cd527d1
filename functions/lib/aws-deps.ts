/**
 * Dependencies of the deployed functions: AWS adapters, built once per container. Each adapter
 * and its SDK client load on the port's first call (./lazy.ts), so module init carries none of
 * the SDK and a function loads only the clients its path uses.
 */

import type { TargetMetrics } from "../../src/adapters/aws/cloudwatch-metrics.ts";
import type { TargetDrivers } from "../../src/adapters/aws/targets/driver.ts";
import type { Deps } from "../../src/app/deps.ts";
import type { RunRequestStore } from "../../src/app/run-requests.ts";
import { config } from "../../src/config.ts";
import type {
  AlarmSource,
  CanarySource,
  Deployer,
  EventPublisher,
  MetricSource,
  StateStore,
  TestRunner,
  WorkflowStarter,
} from "../../src/domain/ports.ts";
import { effectiveTarget } from "../../src/domain/targets/index.ts";
import type { TriggerLog } from "../../src/triggers/ports.ts";
import { lazyPort, once } from "./lazy.ts";

let deps: Deps | undefined;

/** One DynamoDB client for the table's stores. */
const dynamo = once(async () => {
  const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
  return new DynamoDBClient({});
});

/**
 * CloudWatch clients by region and account: alarms and metrics live in each scope's region, and
 * in its target's account (read through the target's role, assumed once and refreshed before it
 * expires).
 */
const cloudwatch = once(async () => {
  const [{ CloudWatchClient }, { STSClient }, { AssumedRoles }] = await Promise.all([
    import("@aws-sdk/client-cloudwatch"),
    import("@aws-sdk/client-sts"),
    import("../../src/adapters/aws/targets/credentials.ts"),
  ]);
  const clients = new Map<string, InstanceType<typeof CloudWatchClient>>();
  let roles: InstanceType<typeof AssumedRoles> | undefined;
  return (region: string, roleArn?: string) => {
    const key = `${region}|${roleArn ?? ""}`;
    let client = clients.get(key);
    if (!client) {
      if (roleArn) roles ??= new AssumedRoles(new STSClient({}));
      const assumed = roles;
      client = new CloudWatchClient({
        region,
        ...(roleArn && assumed
          ? { credentials: () => assumed.credentials(roleArn, "breakwater-cloudwatch") }
          : {}),
      });
      clients.set(key, client);
    }
    return client;
  };
});

/** The control plane's own account: the stack sets ACCOUNT_ID; STS answers otherwise. */
async function controlPlaneAccount(
  sts: InstanceType<typeof import("@aws-sdk/client-sts").STSClient>,
): Promise<string> {
  const fromEnv = process.env.ACCOUNT_ID;
  if (fromEnv && /^\d{12}$/.test(fromEnv)) return fromEnv;
  const { GetCallerIdentityCommand } = await import("@aws-sdk/client-sts");
  const out = await sts.send(new GetCallerIdentityCommand({}));
  if (!out.Account) throw new Error("STS GetCallerIdentity answered no account");
  return out.Account;
}

/** The lambda-alias driver: one per container, shared by the deployer and the metric source. */
const lambdaAliasDriver = once(async () => {
  const { LambdaAliasDriver } = await import("../../src/adapters/aws/targets/lambda-alias.ts");
  return new LambdaAliasDriver();
});

/** Each target type's driver, loaded (with its SDK client) when a step first uses that type. */
function targetDrivers(): TargetDrivers {
  return {
    "lambda-function": lazyPort(async () => {
      const { LambdaFunctionDriver } = await import(
        "../../src/adapters/aws/targets/lambda-function.ts"
      );
      return new LambdaFunctionDriver();
    }),
    ecs: lazyPort(async () => {
      const { EcsDriver } = await import("../../src/adapters/aws/targets/ecs.ts");
      return new EcsDriver();
    }),
    codebuild: lazyPort(async () => {
      const { CodeBuildDriver } = await import("../../src/adapters/aws/targets/codebuild.ts");
      return new CodeBuildDriver();
    }),
    cloudformation: lazyPort(async () => {
      const { CloudFormationDriver } = await import(
        "../../src/adapters/aws/targets/cloudformation.ts"
      );
      return new CloudFormationDriver();
    }),
    appconfig: lazyPort(async () => {
      const { AppConfigDriver } = await import("../../src/adapters/aws/targets/appconfig.ts");
      return new AppConfigDriver();
    }),
    "lambda-alias": lazyPort(lambdaAliasDriver),
  };
}

/** One TargetDeployer per container: the deploy steps use it, and the metric source resolves targets with it. */
const targetDeployer = once(async () => {
  const [{ STSClient }, { TargetDeployer }] = await Promise.all([
    import("@aws-sdk/client-sts"),
    import("../../src/adapters/aws/targets/index.ts"),
  ]);
  const sts = new STSClient({});
  return new TargetDeployer({
    sts,
    account: once(() => controlPlaneAccount(sts)),
    drivers: targetDrivers(),
  });
});

/**
 * Without a `metrics` section, a lambda-alias target's own AWS/Lambda metrics. STS, Lambda and
 * the target code load only when a scope on such a target is evaluated.
 */
function targetMetrics(): TargetMetrics {
  const aliasMetrics = lazyPort<TargetMetrics>(async () => {
    const [{ LambdaAliasMetrics }, deployer, driver] = await Promise.all([
      import("../../src/adapters/aws/targets/lambda-alias.ts"),
      targetDeployer(),
      lambdaAliasDriver(),
    ]);
    return new LambdaAliasMetrics(deployer, driver);
  });
  return {
    locate: async (q) =>
      effectiveTarget(q.pipeline, q.scope.stage)?.type === "lambda-alias"
        ? aliasMetrics.locate(q)
        : undefined,
  };
}

/**
 * The stages' tests: Lambda and CodeBuild clients by region and role (a stage whose target names
 * a `roleArn` runs its tests in that account), loaded when a tested step first runs.
 */
const testRunner = once(async () => {
  const [
    { LambdaClient },
    { CodeBuildClient },
    { STSClient },
    { AssumedRoles },
    { AwsTestRunner },
  ] = await Promise.all([
    import("@aws-sdk/client-lambda"),
    import("@aws-sdk/client-codebuild"),
    import("@aws-sdk/client-sts"),
    import("../../src/adapters/aws/targets/credentials.ts"),
    import("../../src/adapters/aws/test-runner.ts"),
  ]);
  let roles: InstanceType<typeof AssumedRoles> | undefined;
  const clientsOf = <C>(make: (config: object) => C) => {
    const clients = new Map<string, C>();
    return (region: string, roleArn?: string): C => {
      const key = `${region}|${roleArn ?? ""}`;
      let client = clients.get(key);
      if (!client) {
        if (roleArn) roles ??= new AssumedRoles(new STSClient({}));
        const assumed = roles;
        client = make({
          region,
          ...(roleArn && assumed
            ? { credentials: () => assumed.credentials(roleArn, "breakwater-tests") }
            : {}),
        });
        clients.set(key, client);
      }
      return client;
    };
  };
  return new AwsTestRunner({
    lambda: clientsOf((c) => new LambdaClient(c)),
    codebuild: clientsOf((c) => new CodeBuildClient(c)),
  });
});

export function awsDeps(): Deps {
  if (deps) return deps;
  deps = {
    store: lazyPort<StateStore>(async () => {
      const { DynamoStateStore } = await import("../../src/adapters/aws/dynamo-store.ts");
      return new DynamoStateStore(await dynamo(), config.tableName());
    }),
    clock: { now: () => new Date() },
    deployer: lazyPort<Deployer>(targetDeployer),
    alarms: lazyPort<AlarmSource>(async () => {
      const { CloudWatchAlarmSource } = await import("../../src/adapters/aws/cloudwatch-alarms.ts");
      return new CloudWatchAlarmSource(await cloudwatch());
    }),
    metrics: lazyPort<MetricSource>(async () => {
      const { CloudWatchMetricSource } = await import(
        "../../src/adapters/aws/cloudwatch-metrics.ts"
      );
      return new CloudWatchMetricSource(await cloudwatch(), targetMetrics());
    }),
    tests: lazyPort<TestRunner>(testRunner),
    canaries: lazyPort<CanarySource>(async () => {
      const { CloudWatchCanarySource } = await import(
        "../../src/adapters/aws/cloudwatch-canaries.ts"
      );
      return new CloudWatchCanarySource(await cloudwatch());
    }),
    workflows: lazyPort<WorkflowStarter>(async () => {
      const [{ SFNClient }, { SfnWorkflowStarter }] = await Promise.all([
        import("@aws-sdk/client-sfn"),
        import("../../src/adapters/aws/step-functions.ts"),
      ]);
      return new SfnWorkflowStarter(
        new SFNClient({}),
        config.stateMachineArn(),
        config.rollbackStateMachineArn(),
        config.approvalTimerStateMachineArn(),
      );
    }),
    events: lazyPort<EventPublisher>(async () => {
      const [{ EventBridgeClient }, { EventBridgePublisher }] = await Promise.all([
        import("@aws-sdk/client-eventbridge"),
        import("../../src/adapters/aws/event-bus.ts"),
      ]);
      return new EventBridgePublisher(new EventBridgeClient({}), config.eventBusName());
    }),
    runRequests: lazyPort<RunRequestStore>(async () => {
      const { DynamoRunRequestStore } = await import(
        "../../src/adapters/aws/dynamo-run-requests.ts"
      );
      return new DynamoRunRequestStore(await dynamo(), config.tableName());
    }),
    triggers: lazyPort<TriggerLog>(async () => {
      const { DynamoTriggerLog } = await import("../../src/adapters/aws/dynamo-triggers.ts");
      return new DynamoTriggerLog(await dynamo(), config.tableName());
    }),
  };
  return deps;
}
