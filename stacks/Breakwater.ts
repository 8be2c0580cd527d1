/**
 * The Breakwater control plane on AWS, one CloudFormation stack composed of its seams
 * (stacks/breakwater/): the state table and what is written into it at deploy (data.ts), the
 * event bus and its policy (bus.ts), the dead-letter queues and the notification topic
 * (notify.ts), the functions and their IAM (functions.ts), the function URLs (triggers.ts), the
 * stage and rollback state machines (state-machines.ts, the same ASL files the local mode runs),
 * the EventBridge rules (rules.ts, the same pattern objects the local bus routes with) and the
 * alarms on the control plane's own failures (alarms.ts). Why one stack and not one per seam:
 * docs/decisions.md, 2026-12-02.
 */
import { join, relative } from "node:path";
import type { StackContext } from "sst/constructs";
import { useProject } from "sst/project.js";
import {
  alarmForwarders,
  forwardedAlarmNames,
  forwarderNames,
  forwarderRoleArn,
  forwarderTemplate,
  type Home,
} from "./alarm-forwarders.ts";
import { controlPlaneAlarms } from "./breakwater/alarms.ts";
import { busPolicy, eventBus } from "./breakwater/bus.ts";
import { cliParameters, registerConfiguration, stateTable } from "./breakwater/data.ts";
import { alarmForwarders as forwarderConstructs } from "./breakwater/forwarders.ts";
import { controlPlaneFunctions, roleArnOf } from "./breakwater/functions.ts";
import { deadLetterQueues, namedDeadLetterQueues, notifications } from "./breakwater/notify.ts";
import { eventRules } from "./breakwater/rules.ts";
import { readSettings } from "./breakwater/settings.ts";
import { stateMachineNames, stateMachines } from "./breakwater/state-machines.ts";
import { functionUrls } from "./breakwater/triggers.ts";
import { suppressNagFindings } from "./nag.ts";
import { deployTargetGrants, policyDocument, targetRolePolicies } from "./targets-iam.ts";
import { stageTestGrants } from "./tests-iam.ts";

const PROD_STAGE = "prod";

export async function Breakwater({ stack, app }: StackContext) {
  const isProd = app.stage === PROD_STAGE;
  // Paths from the project root, not from this module: `sst deploy` bundles sst.config.ts and
  // this file into one module at the root, which changes import.meta.url.
  const root = useProject().paths.root;
  const fromCwd = (...parts: string[]) => relative(process.cwd(), join(root, ...parts));
  const settings = await readSettings(app, root);
  const artifactPublishers = settings.installation?.artifactPublishers ?? [];

  // The seams are created in this order so the template lists the resources as it always did.
  const table = stateTable(stack, isProd);
  const bus = eventBus(stack, app);
  const names = stateMachineNames(stack, app);
  const deadLetters = deadLetterQueues(stack);
  const { topic, notifyPermissions } = notifications(stack, {
    stage: app.stage,
    isProd,
    slackParameter: settings.slackParameter,
    slackDeadLetters: deadLetters.slack,
  });
  const { functions, publishers, asyncFunctions } = controlPlaneFunctions(stack, {
    isProd,
    handlerPath: (name) => fromCwd("functions", name),
    settings,
    table,
    bus,
    stateMachines: names,
    deadLetters,
    notify: { topicArn: topic.topicArn, permissions: notifyPermissions },
  });
  const { overrideUrl, webhookUrl } = functionUrls(functions, settings.overrideRoleArn);
  // Alarms from every region and account the pipelines deploy to (issue 12, item 7).
  const home: Home = {
    account: app.account,
    region: app.region,
    busName: app.logicalPrefixedName("events"),
    stage: app.stage,
  };
  const forwarders = alarmForwarders(
    settings.pipelines.map((p) => p.pipeline),
    home,
  );
  const ownForwarders = forwarders.filter((f) => f.account === home.account);
  const targetAccountForwarders = forwarders.filter((f) => f.account !== home.account);
  const forwarderRole = forwarderConstructs(stack, {
    bus,
    forwarders: ownForwarders,
    ruleName: forwarderNames(home, home.region).rule,
    anyForwarders: forwarders.length > 0,
    functions,
    deadLetters,
  });
  const byAccount = new Map<string, string[]>();
  for (const f of targetAccountForwarders) {
    byAccount.set(f.account, [...(byAccount.get(f.account) ?? []), forwarderRoleArn(home, f)]);
  }
  busPolicy(bus, {
    alarmForwarders: {
      roleArns: forwarderRole ? [forwarderRole.roleArn] : [],
      accounts: [...byAccount].map(([account, roleArns]) => ({ account, roleArns })),
    },
    producers: publishers.map((name) => roleArnOf(functions[name])),
    runRequesters: (["github-webhook", "artifact-published", "override"] as const).map((name) =>
      roleArnOf(functions[name]),
    ),
    ciPrincipalArns: artifactPublishers.map((p) => p.principalArn),
  });
  const {
    stateMachine,
    rollbackStateMachine,
    approvalTimerStateMachine,
    stateMachineRole,
    taskFunctions,
  } = stateMachines(stack, { root, isProd, names, functions });
  eventRules(stack, {
    bus,
    stateMachine,
    approvalTimerStateMachine,
    functions,
    deadLetters,
    artifactPublishers,
  });
  const queues = namedDeadLetterQueues(deadLetters);
  controlPlaneAlarms(stack, { topic, queues, functions, stateMachine, rollbackStateMachine });
  registerConfiguration(stack, table, settings.installation, settings.pipelines, {
    partition: stack.partition,
    account: stack.account,
    region: stack.region,
    // What the deploy role holds: the targets' grants and the stages' tests' (stacks/tests-iam.ts).
    grants: [
      ...deployTargetGrants(
        settings.pipelines.map((p) => p.pipeline),
        { partition: stack.partition, account: stack.account },
      ),
      ...stageTestGrants(
        settings.pipelines.map((p) => p.pipeline),
        { partition: stack.partition, account: stack.account },
      ),
    ].map(({ actions, resources }) => ({ actions, resources })),
    alarmLocations: forwarders.map((f) => {
      const alarms = forwardedAlarmNames(f.alarms);
      return { account: f.account, region: f.region, ...(alarms ? { alarms } : {}) };
    }),
  });
  cliParameters(stack, app.stage, table, overrideUrl);

  stack.addOutputs({
    TableName: table.tableName,
    EventBusName: bus.eventBusName,
    StateMachineArn: stateMachine.attrArn,
    RollbackStateMachineArn: rollbackStateMachine.attrArn,
    ApprovalTimerStateMachineArn: approvalTimerStateMachine.attrArn,
    NotificationTopicArn: topic.topicArn,
    OverrideFunctionName: functions.override.functionName,
    OverrideUrl: overrideUrl.url,
    GitHubWebhookUrl: webhookUrl.url,
    SlackDeadLetterQueueUrl: deadLetters.slack.queueUrl,
  });

  suppressNagFindings(stack, {
    functions: Object.values(functions),
    stateMachineRole,
    deadLetterQueues: queues.map(([, q]) => q),
    slackDeadLetters: deadLetters.slack,
    syncFunctions: [...taskFunctions, functions.override, functions["github-webhook"]],
    asyncFunctions: asyncFunctions.map((name) => functions[name]),
    targetRoles: [functions.deploy, functions.rollback].flatMap((fn) => (fn.role ? [fn.role] : [])),
  });

  return {
    table,
    bus,
    stateMachine,
    rollbackStateMachine,
    functions,
    pipelines: settings.pipelines,
    /**
     * What target accounts deploy themselves (`npm run synth` writes these next to the cloud
     * assembly, by path): each account and region's alarm forwarder template, and the policy
     * each target role (`roleArn`) needs.
     */
    targetAccountFiles: {
      ...Object.fromEntries(
        targetAccountForwarders.map((f) => [
          `forwarders/${f.account}-${f.region}.template.json`,
          forwarderTemplate(home, f),
        ]),
      ),
      ...Object.fromEntries(
        [
          ...targetRolePolicies(
            settings.pipelines.map((p) => p.pipeline),
            "aws",
          ),
        ].map(([roleArn, grants]) => [
          `target-roles/${roleArn.replace(/^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?/, "$1-")}.policy.json`,
          policyDocument(grants),
        ]),
      ),
    } as Record<string, Record<string, unknown>>,
  };
}
