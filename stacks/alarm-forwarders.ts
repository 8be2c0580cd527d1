/**
 * Alarms from every region and account (issue 12, item 7). CloudWatch publishes an alarm's
 * state changes on the default bus of the alarm's own region and account, and the control
 * plane's AlarmStateChangeRule only sees its own. So, for every other region and account the
 * pipelines deploy to, a forwarder: an EventBridge rule there that sends the pipelines' alarms'
 * "CloudWatch Alarm State Change" events (to ALARM) to the Breakwater bus, with a role that may
 * put events on that bus only, and that the bus policy admits for that detail type only.
 *
 * - Regions of the control plane's own account: the stack creates the rules itself
 *   (stacks/breakwater/forwarders.ts).
 * - Target accounts (a target's `roleArn`): a small template per account and region that
 *   `npm run synth` writes (`<out>/forwarders/<account>-<region>.template.json`) for the team to
 *   deploy there (README, "Deploy to AWS").
 * Why not SST stacks in other regions or a StackSet: docs/decisions.md, 2026-12-02.
 */
import { resolveAlarmNames } from "../src/domain/blockers.ts";
import { BreakwaterError } from "../src/domain/errors.ts";
import type { Pipeline } from "../src/domain/pipeline.ts";
import { stageScopes } from "../src/domain/scope.ts";
import { effectiveTarget, targetAccount } from "../src/domain/targets/index.ts";

export const ALARM_STATE_CHANGE = "CloudWatch Alarm State Change";
/** EventBridge's limit on an event pattern's length (PutRule EventPattern). */
const MAX_PATTERN = 4096;

/** A forwarder cannot be named (IAM's limits). */
export class ForwarderNameError extends BreakwaterError {
  override name = "ForwarderNameError";
}

/** One region of one account whose alarms must reach the control plane. */
export interface AlarmForwarder {
  account: string;
  region: string;
  /** The alarm names (and name prefixes, ending in `*`) of the pipelines' scopes there. */
  alarms: string[];
}

/** Where the control plane runs. */
export interface Home {
  account: string;
  region: string;
  /** The Breakwater bus's name (in `account`, `region`). */
  busName: string;
  /** The stage of the control plane (names the forwarder roles and rules). */
  stage: string;
  partition?: string;
}

/**
 * The regions and accounts other than the control plane's own whose scopes have alarms: a scope
 * is in its stage's region and in its target's account (the role's, else the control plane's).
 *
 * @example
 * alarmForwarders(pipelines, { account: "123456789012", region: "us-east-1", ... })
 * // [{ account: "123456789012", region: "eu-west-1", alarms: ["orders-prod-eu-west-1-errors"] }]
 */
export function alarmForwarders(pipelines: readonly Pipeline[], home: Home): AlarmForwarder[] {
  const found = new Map<string, AlarmForwarder>();
  for (const p of pipelines) {
    for (const stage of p.stages) {
      const target = effectiveTarget(p, stage.name);
      const account = target ? targetAccount(target, home.account) : home.account;
      for (const scope of stageScopes(stage)) {
        if (account === home.account && scope.region === home.region) continue;
        const names = resolveAlarmNames(
          [...(p.alarms ?? []), ...(p.oneBoxAlarms ?? [])],
          p.name,
          scope,
        );
        if (names.length === 0) continue;
        const key = `${account}/${scope.region}`;
        const f = found.get(key) ?? { account, region: scope.region, alarms: [] };
        f.alarms = [...new Set([...f.alarms, ...names])].sort();
        found.set(key, f);
      }
    }
  }
  return [...found.values()].sort(
    (a, b) => a.account.localeCompare(b.account) || a.region.localeCompare(b.region),
  );
}

/** The names a forwarder's rule passes, or undefined when it passes every alarm (too many names). */
export function forwardedAlarmNames(alarms: readonly string[]): string[] | undefined {
  const detail = forwarderPattern(alarms).detail as Record<string, unknown>;
  return "alarmName" in detail ? [...alarms] : undefined;
}

/**
 * The forwarder rule's event pattern: the alarms by name (a `*` name is a prefix) going to
 * ALARM. When the names would exceed EventBridge's pattern limit, every alarm of the region is
 * forwarded (the handler ignores alarms that judge no deploying scope).
 */
export function forwarderPattern(alarms: readonly string[]): Record<string, unknown> {
  const names = alarms.map((n) => (n.endsWith("*") ? { prefix: n.slice(0, -1) } : n));
  const pattern = {
    source: ["aws.cloudwatch"],
    "detail-type": [ALARM_STATE_CHANGE],
    detail: { alarmName: names, state: { value: ["ALARM"] } },
  };
  if (JSON.stringify(pattern).length <= MAX_PATTERN) return pattern;
  return { ...pattern, detail: { state: { value: ["ALARM"] } } };
}

/** A forwarder's names: of its rule (in its region) and, in a target account, of its role. */
export function forwarderNames(home: Home, region: string): { rule: string; role: string } {
  const role = `breakwater-${home.stage}-alarms-${region}`;
  if (role.length > 64) {
    throw new ForwarderNameError(
      `alarm forwarder role name ${role} is longer than IAM's 64 characters: use a shorter stage name`,
    );
  }
  return { rule: `breakwater-${home.stage}-alarm-forwarder`, role };
}

/** The Breakwater bus's ARN, as literal text (for templates deployed in other accounts). */
export function busArn(home: Home): string {
  return `arn:${home.partition ?? "aws"}:events:${home.region}:${home.account}:event-bus/${home.busName}`;
}

/** The ARN of a target account's forwarder role (the bus policy admits exactly these). */
export function forwarderRoleArn(home: Home, f: AlarmForwarder): string {
  return `arn:${home.partition ?? "aws"}:iam::${f.account}:role/${forwarderNames(home, f.region).role}`;
}

/**
 * The CloudFormation template a target account deploys in one region: the rule and the role it
 * puts events with (PutEvents on the Breakwater bus only).
 */
export function forwarderTemplate(home: Home, f: AlarmForwarder): Record<string, unknown> {
  const names = forwarderNames(home, f.region);
  return {
    AWSTemplateFormatVersion: "2010-09-09",
    Description: `Breakwater (${home.stage}): forwards the pipelines' CloudWatch alarm state changes in ${f.account} ${f.region} to the control plane's bus in ${home.account} ${home.region}. Deploy in ${f.region} of ${f.account}.`,
    Resources: {
      ForwarderRole: {
        Type: "AWS::IAM::Role",
        Properties: {
          RoleName: names.role,
          AssumeRolePolicyDocument: {
            Version: "2012-10-17",
            Statement: [
              {
                Effect: "Allow",
                Principal: { Service: "events.amazonaws.com" },
                Action: "sts:AssumeRole",
                Condition: { StringEquals: { "aws:SourceAccount": f.account } },
              },
            ],
          },
          Policies: [
            {
              PolicyName: "put-events-on-the-breakwater-bus",
              PolicyDocument: {
                Version: "2012-10-17",
                Statement: [
                  { Effect: "Allow", Action: "events:PutEvents", Resource: busArn(home) },
                ],
              },
            },
          ],
        },
      },
      ForwarderRule: {
        Type: "AWS::Events::Rule",
        Properties: {
          Name: names.rule,
          Description: "Breakwater: the pipelines' alarms going to ALARM, to the control plane",
          EventPattern: forwarderPattern(f.alarms),
          State: "ENABLED",
          Targets: [
            {
              Id: "breakwater-bus",
              Arn: busArn(home),
              RoleArn: { "Fn::GetAtt": ["ForwarderRole", "Arn"] },
            },
          ],
        },
      },
    },
  };
}
