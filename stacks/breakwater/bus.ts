/**
 * The Breakwater event bus and its resource policy: who may put which events (issue 10,
 * finding 3).
 */
import { EventBus } from "aws-cdk-lib/aws-events";
import { AnyPrincipal, Effect, PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Stack } from "aws-cdk-lib/core";
import type { App } from "sst/constructs";

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
  denyPut("DenyPutEventsButProducers", {
    StringNotEquals: { "aws:PrincipalArn": [...o.producers, ...ciPrincipals] },
  });
  denyPut("DenyApprovedChangeMergedButTriggers", {
    "ForAnyValue:StringEquals": { "events:detail-type": ["Approved Change Merged"] },
    StringNotEquals: { "aws:PrincipalArn": o.runRequesters },
  });
  denyPut("DenyArtifactPublishedButCi", {
    "ForAnyValue:StringEquals": { "events:detail-type": ["Artifact Published"] },
    ...(ciPrincipals.length > 0 ? { StringNotEquals: { "aws:PrincipalArn": ciPrincipals } } : {}),
  });
  if (ciPrincipals.length > 0) {
    denyPut("DenyCiAnythingButArtifactPublished", {
      "ForAnyValue:StringNotEquals": { "events:detail-type": ["Artifact Published"] },
      StringEquals: { "aws:PrincipalArn": ciPrincipals },
    });
  }
}
