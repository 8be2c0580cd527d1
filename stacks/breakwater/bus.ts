/**
 * The Breakwater event bus and its resource policy: who may put which events (issue 10,
 * finding 3).
 */
import { EventBus } from "aws-cdk-lib/aws-events";
import { AccountPrincipal, AnyPrincipal, Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Stack } from "aws-cdk-lib/core";
import type { App } from "sst/constructs";
import { ALARM_STATE_CHANGE } from "../alarm-forwarders.ts";

/** The bus that carries run requests and Breakwater's own events. */
export function eventBus(stack: Stack, app: App): EventBus {
  return new EventBus(stack, "Bus", { eventBusName: app.logicalPrefixedName("events") });
}

/**
 * The bus carries requests; it is not proof of approval. Explicit denies (they win over any
 * identity policy in the account): only the producing functions and the installation's CI
 * principals may put events at all; only the webhook, Artifact Published and override
 * functions may put "Approved Change Merged" (start-run also checks its run request); only the
 * CI principals may put "Artifact Published" — with none named, nobody may (fail closed) —
 * and they may put nothing else.
 */
export function busPolicy(
  bus: EventBus,
  o: {
    /** Role ARNs of the functions that publish. */
    producers: string[];
    /** Role ARNs of the functions that may request runs. */
    runRequesters: string[];
    /** The installation's artifact publishers' principal ARNs. */
    ciPrincipalArns: string[];
    /**
     * The alarm forwarders' roles (stacks/alarm-forwarders.ts): the control plane's own (other
     * regions) and each target account's, by account. They may put "CloudWatch Alarm State
     * Change" events and nothing else.
     */
    alarmForwarders?: { roleArns: string[]; accounts: { account: string; roleArns: string[] }[] };
  },
): void {
  const ciPrincipals = [...new Set(o.ciPrincipalArns)];
  const denyPut = (sid: string, conditions: Record<string, Record<string, unknown>>) =>
    bus.addToResourcePolicy(
      new PolicyStatement({
        sid,
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ["events:PutEvents"],
        resources: [bus.eventBusArn],
        conditions,
      }),
    );
  const forwarders = [
    ...(o.alarmForwarders?.roleArns ?? []),
    ...(o.alarmForwarders?.accounts ?? []).flatMap((a) => a.roleArns),
  ];
  denyPut("DenyPutEventsButProducers", {
    StringNotEquals: { "aws:PrincipalArn": [...o.producers, ...ciPrincipals, ...forwarders] },
  });
  denyPut("DenyApprovedChangeMergedButTriggers", {
    "ForAnyValue:StringEquals": { "events:detail-type": ["Approved Change Merged"] },
    StringNotEquals: { "aws:PrincipalArn": o.runRequesters },
  });
  denyPut("DenyArtifactPublishedButCi", {
    "ForAnyValue:StringEquals": { "events:detail-type": ["Artifact Published"] },
    ...(ciPrincipals.length > 0 ? { StringNotEquals: { "aws:PrincipalArn": ciPrincipals } } : {}),
  });
  if (forwarders.length > 0) {
    denyPut("DenyAlarmForwardersAnythingButAlarmStateChange", {
      "ForAnyValue:StringNotEquals": { "events:detail-type": [ALARM_STATE_CHANGE] },
      StringEquals: { "aws:PrincipalArn": forwarders },
    });
  }
  // Another account's forwarder needs an Allow here as well (a same-account role's own policy
  // suffices): exactly its role, for alarm state changes only.
  for (const { account, roleArns } of o.alarmForwarders?.accounts ?? []) {
    bus.addToResourcePolicy(
      new PolicyStatement({
        sid: `AllowAlarmForwarders${account}`,
        effect: Effect.ALLOW,
        principals: [new AccountPrincipal(account)],
        actions: ["events:PutEvents"],
        resources: [bus.eventBusArn],
        conditions: {
          StringEquals: { "aws:PrincipalArn": roleArns },
          "ForAllValues:StringEquals": { "events:detail-type": [ALARM_STATE_CHANGE] },
        },
      }),
    );
  }
  if (ciPrincipals.length > 0) {
    denyPut("DenyCiAnythingButArtifactPublished", {
      "ForAnyValue:StringNotEquals": { "events:detail-type": ["Artifact Published"] },
      StringEquals: { "aws:PrincipalArn": ciPrincipals },
    });
  }
}
