/**
 * Alarm forwarders in the control plane's own account (issue 12, item 7; stacks/alarm-forwarders.ts
 * says which): in every other region its pipelines deploy to, an EventBridge rule on that
 * region's default bus sends the pipelines' alarms going to ALARM to the Breakwater bus, with one
 * role that may put events on that bus only. The rules are created by CloudFormation custom
 * resources that call EventBridge in their region (SST v2 deploys every stack of the app in the
 * app's region; why not a StackSet: docs/decisions.md, 2026-12-02). On the Breakwater bus, a rule
 * routes the forwarded events to fast rollback, like the home region's AlarmStateChangeRule.
 */
import { type EventBus, type IRuleTarget, Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import {
  Effect,
  PolicyDocument,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from "aws-cdk-lib/aws-iam";
import { Duration, type Stack } from "aws-cdk-lib/core";
import {
  AwsCustomResource,
  AwsCustomResourcePolicy,
  PhysicalResourceId,
} from "aws-cdk-lib/custom-resources";
import { type AlarmForwarder, forwarderPattern } from "../alarm-forwarders.ts";
import type { ControlPlaneFunctions } from "./functions.ts";
import type { DeadLetterQueues } from "./notify.ts";

const TARGET_ID = "breakwater-bus";

export interface ForwardersOptions {
  bus: EventBus;
  /** Forwarders of the control plane's own account (other regions). */
  forwarders: AlarmForwarder[];
  /** The rule's name in each region. */
  ruleName: string;
  /** Every forwarder, the target accounts' included: the Breakwater bus routes their events. */
  anyForwarders: boolean;
  functions: ControlPlaneFunctions;
  deadLetters: DeadLetterQueues;
}

/**
 * Creates the rules in the other regions, their role, and the Breakwater bus's rule for
 * forwarded alarm events. Returns the role (the bus policy admits it), if any.
 */
export function alarmForwarders(stack: Stack, o: ForwardersOptions): Role | undefined {
  if (o.anyForwarders) {
    const target: IRuleTarget = new LambdaFunction(o.functions["alarm-state-change"], {
      deadLetterQueue: o.deadLetters.alarmStateChange,
      retryAttempts: 8,
      maxEventAge: Duration.hours(2),
    });
    new Rule(stack, "ForwardedAlarmStateChangeRule", {
      description:
        "An alarm in another region or account went to ALARM (forwarded): fast rollback of the scope it judges",
      eventBus: o.bus,
      eventPattern: {
        source: ["aws.cloudwatch"],
        detailType: ["CloudWatch Alarm State Change"],
        detail: { state: { value: ["ALARM"] } },
      },
      targets: [target],
    });
  }
  if (o.forwarders.length === 0) return undefined;
  const role = new Role(stack, "AlarmForwarderRole", {
    description: "Breakwater: the alarm forwarder rules put alarm state changes on the bus",
    assumedBy: new ServicePrincipal("events.amazonaws.com", {
      conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
    }),
    inlinePolicies: {
      "put-events-on-the-breakwater-bus": new PolicyDocument({
        statements: [
          new PolicyStatement({ actions: ["events:PutEvents"], resources: [o.bus.eventBusArn] }),
        ],
      }),
    },
  });
  for (const f of o.forwarders) {
    const id = `AlarmForwarder${f.region.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase())}`;
    const ruleArn = stack.formatArn({
      service: "events",
      region: f.region,
      resource: "rule",
      resourceName: o.ruleName,
    });
    const putRule = {
      service: "EventBridge",
      action: "PutRule",
      region: f.region,
      parameters: {
        Name: o.ruleName,
        Description: "Breakwater: the pipelines' alarms going to ALARM, to the control plane's bus",
        EventPattern: JSON.stringify(forwarderPattern(f.alarms)),
        State: "ENABLED",
      },
      physicalResourceId: PhysicalResourceId.of(`${f.region}/${o.ruleName}`),
    };
    const rule = new AwsCustomResource(stack, `${id}Rule`, {
      resourceType: "Custom::BreakwaterAlarmForwarderRule",
      onCreate: putRule,
      onUpdate: putRule,
      onDelete: {
        service: "EventBridge",
        action: "DeleteRule",
        region: f.region,
        parameters: { Name: o.ruleName },
      },
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ["events:PutRule", "events:DeleteRule"],
          resources: [ruleArn],
        }),
      ]),
      installLatestAwsSdk: false,
    });
    const putTargets = {
      service: "EventBridge",
      action: "PutTargets",
      region: f.region,
      parameters: {
        Rule: o.ruleName,
        Targets: [{ Id: TARGET_ID, Arn: o.bus.eventBusArn, RoleArn: role.roleArn }],
      },
      physicalResourceId: PhysicalResourceId.of(`${f.region}/${o.ruleName}/${TARGET_ID}`),
    };
    const targets = new AwsCustomResource(stack, `${id}Target`, {
      resourceType: "Custom::BreakwaterAlarmForwarderTarget",
      onCreate: putTargets,
      onUpdate: putTargets,
      onDelete: {
        service: "EventBridge",
        action: "RemoveTargets",
        region: f.region,
        parameters: { Rule: o.ruleName, Ids: [TARGET_ID] },
      },
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ["events:PutTargets", "events:RemoveTargets"],
          resources: [ruleArn],
        }),
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ["iam:PassRole"],
          resources: [role.roleArn],
          conditions: { StringEquals: { "iam:PassedToService": "events.amazonaws.com" } },
        }),
      ]),
      installLatestAwsSdk: false,
    });
    // Targets after the rule; on removal, CloudFormation removes the targets first.
    targets.node.addDependency(rule);
  }
  return role;
}
