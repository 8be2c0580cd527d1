/**
 * What an applied pipeline needs from the deployed control plane, computed with the very code
 * the stack's IAM and alarm forwarders are made with (stacks/targets-iam.ts, stacks/tests-iam.ts,
 * stacks/alarm-forwarders.ts), against the capabilities the stack recorded at deploy: the
 * override function refuses a `pipelines apply` these do not cover.
 */
import type { NeedsOf } from "../../src/app/pipeline-apply.ts";
import { alarmForwarders } from "../../stacks/alarm-forwarders.ts";
import { deployTargetGrants } from "../../stacks/targets-iam.ts";
import { stageTestGrants } from "../../stacks/tests-iam.ts";

const env = (c: { partition: string; account: string }) => ({
  partition: c.partition,
  account: c.account,
});

export const pipelineNeeds: NeedsOf = (pipeline, capabilities) => ({
  grants: [
    ...deployTargetGrants([pipeline], env(capabilities)),
    // Its stages' tests run from the deploy role too (stacks/tests-iam.ts).
    ...stageTestGrants([pipeline], env(capabilities)),
  ].map(({ actions, resources }) => ({ actions, resources })),
  alarmLocations: alarmForwarders([pipeline], {
    account: capabilities.account,
    region: capabilities.region,
    // Names only matter for the forwarders' own resources, not for where alarms come from.
    busName: "",
    stage: "",
    partition: capabilities.partition,
  }).map((f) => ({ account: f.account, region: f.region, alarms: f.alarms })),
});
