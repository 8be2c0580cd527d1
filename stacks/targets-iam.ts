/**
 * IAM from the deploy targets (issue 12, item 4): the statements the deploy and rollback
 * functions get so their drivers (src/adapters/aws/targets/<type>.ts) can make exactly their API
 * calls, on exactly the resources each configured target's name templates resolve to in each
 * stage's scopes (region, and AZ on AZ stages), nothing wider.
 *
 * - A target with `roleArn` gets only sts:AssumeRole on that role: its rights live in the target
 *   account ({@link targetRolePolicy} writes the policy that role needs).
 * - `{pipeline}`, `{stage}`, `{region}`, `{az}` and `{account}` resolve at synth. `{version}` and
 *   `{digest}` are only known per run: in an S3 key (the version's artifact) they become `*`,
 *   for that segment only; in any other resource name they fail the synth (a resource per
 *   version cannot be granted ahead of time).
 * - Actions without resource-level permissions (Service Authorization Reference) are granted on
 *   `*`, and only they: {@link TARGET_WILDCARDS} is the documented allow-list (README, "Least
 *   privilege"), with the few ARNs whose last segment AWS assigns at run time (a stack's id, an
 *   AppConfig deployment number or strategy id).
 */
import { BreakwaterError } from "../src/domain/errors.ts";
import type { Pipeline } from "../src/domain/pipeline.ts";
import { stageScopes } from "../src/domain/scope.ts";
import {
  type DeployTarget,
  ecsPassedRoles,
  effectiveTarget,
  resolveTemplate,
  type TargetOf,
  type TemplateValues,
  UnresolvedPlaceholderError,
} from "../src/domain/targets/index.ts";
import { deployTargetAccess } from "./pipelines.ts";
import { stageTestGrants } from "./tests-iam.ts";

/** One IAM statement (Allow) of the deploy and rollback roles. */
export interface TargetGrant {
  actions: string[];
  resources: string[];
  conditions?: Record<string, Record<string, string>>;
}

/** The synth cannot grant a target's names (e.g. {version} in a stack name). */
export class TargetGrantError extends BreakwaterError {
  override name = "TargetGrantError";
}

interface Env {
  partition: string;
  account: string;
}

/** A statement kind: fixed actions (and condition), the resources collected per target. */
export type Kind =
  | "lambda-invoke"
  | "assume-role"
  | "lambda-function"
  | "lambda-alias"
  | "s3-object"
  | "ecs-service"
  | "ecs-pass-role"
  | "ecs-unscoped"
  | "cfn-stack"
  | "appconfig-start"
  | "appconfig-deployment"
  | "appconfig-environment"
  | "appconfig-profile"
  | "appconfig-application"
  | "appconfig-strategy"
  | "appconfig-unscoped"
  | "codebuild-project";

export const KINDS: Record<Kind, Omit<TargetGrant, "resources">> = {
  "lambda-invoke": { actions: ["lambda:InvokeFunction"] },
  "assume-role": { actions: ["sts:AssumeRole"] },
  "lambda-function": {
    actions: [
      "lambda:GetAlias",
      "lambda:GetFunctionConfiguration",
      "lambda:ListVersionsByFunction",
      "lambda:PublishVersion",
      "lambda:UpdateAlias",
      "lambda:UpdateFunctionCode",
    ],
  },
  // The alias operations name the function; the alias-qualified ARN is granted as well so a
  // request authorized on the alias ARN is covered, and no other alias of the function is.
  "lambda-alias": { actions: ["lambda:GetAlias", "lambda:UpdateAlias"] },
  "s3-object": { actions: ["s3:GetObject"] },
  "ecs-service": {
    actions: ["ecs:CreateService", "ecs:DescribeServices", "ecs:TagResource", "ecs:UpdateService"],
  },
  "ecs-pass-role": {
    actions: ["iam:PassRole"],
    conditions: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
  },
  "ecs-unscoped": {
    actions: [
      "ecs:DescribeTaskDefinition",
      "ecs:ListTaskDefinitions",
      "ecs:RegisterTaskDefinition",
    ],
  },
  "cfn-stack": {
    actions: [
      "cloudformation:CancelUpdateStack",
      "cloudformation:CreateChangeSet",
      "cloudformation:DeleteChangeSet",
      "cloudformation:DescribeChangeSet",
      "cloudformation:DescribeStackEvents",
      "cloudformation:DescribeStacks",
      "cloudformation:ExecuteChangeSet",
    ],
  },
  "appconfig-start": { actions: ["appconfig:StartDeployment"] },
  "appconfig-deployment": { actions: ["appconfig:GetDeployment", "appconfig:StopDeployment"] },
  "appconfig-environment": { actions: ["appconfig:GetEnvironment", "appconfig:ListDeployments"] },
  "appconfig-profile": {
    actions: ["appconfig:GetConfigurationProfile", "appconfig:ListHostedConfigurationVersions"],
  },
  "appconfig-application": {
    actions: [
      "appconfig:GetApplication",
      "appconfig:ListConfigurationProfiles",
      "appconfig:ListEnvironments",
    ],
  },
  "appconfig-strategy": { actions: ["appconfig:GetDeploymentStrategy"] },
  "appconfig-unscoped": {
    actions: [
      "appconfig:CreateDeploymentStrategy",
      "appconfig:ListApplications",
      "appconfig:ListDeploymentStrategies",
    ],
  },
  "codebuild-project": {
    actions: [
      "codebuild:BatchGetBuilds",
      "codebuild:ListBuildsForProject",
      "codebuild:StartBuild",
      "codebuild:StopBuild",
    ],
  },
};

/**
 * Actions granted on a wildcard resource, each with why (also in README, "Least privilege").
 * `resource` is the shape of the wildcard ARN (`<…>` stands for a resolved name).
 */
export const TARGET_WILDCARDS: { actions: string[]; resource: string; reason: string }[] = [
  {
    actions: KINDS["ecs-unscoped"].actions,
    resource: "*",
    reason:
      "ECS supports no resource-level permissions for these actions (Service Authorization Reference: no resource type); the service's task roles are still bound by iam:PassRole on the target's taskRoleArn and executionRoleArn",
  },
  {
    actions: KINDS["appconfig-unscoped"].actions,
    resource: "*",
    reason:
      "AppConfig supports no resource-level permissions for these actions; the driver creates or finds the all-at-once strategy by name",
  },
  {
    actions: ["s3:GetObject"],
    resource: "arn:<partition>:s3:::<bucket>/<key with * for {version} or {digest}>",
    reason:
      "the version's artifact (code zip, template) is named by the version, known only per run: the * replaces {version}/{digest} and nothing else",
  },
  {
    actions: KINDS["cfn-stack"].actions,
    resource: "arn:<partition>:cloudformation:<region>:<account>:stack/<stackName>/*",
    reason: "a stack's ARN ends in the id CloudFormation gives it at creation; the name is exact",
  },
  {
    actions: KINDS["appconfig-deployment"].actions,
    resource:
      "arn:<partition>:appconfig:<region>:<account>:application/<application>/environment/<environment>/deployment/*",
    reason: "AppConfig numbers an environment's deployments as they start",
  },
  {
    actions: ["appconfig:GetDeploymentStrategy", "appconfig:StartDeployment"],
    resource: "arn:<partition>:appconfig:<region>:<account>:deploymentstrategy/*",
    reason:
      "the all-at-once strategy's id is AWS's or given at its creation (first use); a strategy only sets the pace, the environment and profile ARNs bound what is deployed",
  },
];

/**
 * The deploy and rollback roles' statements for the pipelines' targets: one statement per kind
 * of access, its resources sorted, for every stage's effective target in every scope.
 *
 * @example
 * deployTargetGrants([{ name: "orders", target: { type: "codebuild", project: "orders-{region}" },
 *   stages: [{ name: "prod", regions: ["eu-west-1"], ... }] }], { partition: "aws", account: "123456789012" })
 * // [{ actions: ["codebuild:BatchGetBuilds", …], resources: ["arn:aws:codebuild:eu-west-1:123456789012:project/orders-eu-west-1"] }]
 */
export function deployTargetGrants(pipelines: readonly Pipeline[], env: Env): TargetGrant[] {
  const found = new Map<Kind, Set<string>>();
  const add = (kind: Kind, ...arns: string[]) => {
    const set = found.get(kind) ?? new Set<string>();
    found.set(kind, set);
    for (const arn of arns) set.add(arn);
  };
  const custom = deployTargetAccess(pipelines, env);
  add("lambda-invoke", ...custom.invokeArns);
  add("assume-role", ...custom.assumeRoleArns);
  for (const p of pipelines) {
    for (const stage of p.stages) {
      const target = effectiveTarget(p, stage.name);
      if (!target || target.type === "none" || target.type === "lambda-function") continue;
      if (target.roleArn) continue; // sts:AssumeRole only (above)
      const where = `pipeline ${p.name}, stage ${stage.name}`;
      for (const scope of stageScopes(stage)) {
        const values: TemplateValues = {
          pipeline: p.name,
          stage: stage.name,
          region: scope.region,
          ...(scope.az ? { az: scope.az } : {}),
          account: env.account,
        };
        const arn = (service: string, resource: string) =>
          `arn:${env.partition}:${service}:${scope.region}:${env.account}:${resource}`;
        const name = (field: string, template: string) => exact(where, field, template, values);
        grantsOf(
          target,
          { arn, name, s3: (f, b, k) => s3Object(where, f, b, k, values, env) },
          add,
        );
      }
    }
  }
  const out: TargetGrant[] = [];
  for (const [kind, spec] of Object.entries(KINDS) as [Kind, (typeof KINDS)[Kind]][]) {
    const resources = found.get(kind);
    if (!resources || resources.size === 0) continue;
    out.push({ ...spec, resources: [...resources].sort() });
  }
  return out;
}

interface Names {
  arn: (service: string, resource: string) => string;
  name: (field: string, template: string) => string;
  s3: (field: string, bucket: string, key: string) => string;
}

function grantsOf(
  target: Exclude<DeployTarget, TargetOf<"none"> | TargetOf<"lambda-function">>,
  n: Names,
  add: (kind: Kind, ...arns: string[]) => void,
): void {
  switch (target.type) {
    case "lambda-alias": {
      const fn = n.arn("lambda", `function:${n.name("functionName", target.functionName)}`);
      add("lambda-function", fn);
      add("lambda-alias", `${fn}:${n.name("alias", target.alias)}`);
      if (target.code) add("s3-object", n.s3("code", target.code.s3Bucket, target.code.s3Key));
      return;
    }
    case "ecs": {
      const cluster = n.name("cluster", target.cluster);
      const service = n.name("service", target.service);
      // The one-box is a `<service>-canary` service beside the main one (ecs driver).
      add(
        "ecs-service",
        n.arn("ecs", `service/${cluster}/${service}`),
        n.arn("ecs", `service/${cluster}/${service}-canary`),
      );
      add("ecs-unscoped", "*");
      // The task definition's roles, as the target names them (the driver refuses any other).
      const roles = ecsPassedRoles(target);
      add(
        "ecs-pass-role",
        ...roles.map((r) =>
          n.name(r === target.taskRoleArn ? "taskRoleArn" : "executionRoleArn", r),
        ),
      );
      return;
    }
    case "cloudformation": {
      add("cfn-stack", n.arn("cloudformation", `stack/${n.name("stackName", target.stackName)}/*`));
      const { bucket, key } = s3Location(target.templateUrl);
      add("s3-object", n.s3("templateUrl", bucket, key));
      return;
    }
    case "appconfig": {
      // AppConfig's ARNs carry ids: IAM matches these only when the target names ids (README).
      const app = n.arn("appconfig", `application/${n.name("application", target.application)}`);
      const environment = `${app}/environment/${n.name("environment", target.environment)}`;
      const profile = `${app}/configurationprofile/${n.name("configurationProfile", target.configurationProfile)}`;
      const strategies = n.arn("appconfig", "deploymentstrategy/*");
      add("appconfig-start", environment, profile, strategies);
      add("appconfig-deployment", `${environment}/deployment/*`);
      add("appconfig-environment", environment);
      add("appconfig-profile", profile);
      add("appconfig-application", app);
      add("appconfig-strategy", strategies);
      add("appconfig-unscoped", "*");
      return;
    }
    case "codebuild":
      add("codebuild-project", n.arn("codebuild", `project/${n.name("project", target.project)}`));
      return;
  }
}

/** A resource name: every placeholder resolved, none per version. */
function exact(where: string, field: string, template: string, values: TemplateValues): string {
  try {
    return resolveTemplate(template, values);
  } catch (err) {
    if (!(err instanceof UnresolvedPlaceholderError)) throw err;
    throw new TargetGrantError(
      `${where}: target.${field} "${template}" cannot be granted at synth: only an S3 key may name {version} or {digest} (IAM grants exact resource names)`,
    );
  }
}

/** An S3 object's ARN; `{version}`/`{digest}` in the key become `*` (that segment only). */
function s3Object(
  where: string,
  field: string,
  bucket: string,
  key: string,
  values: TemplateValues,
  env: Env,
): string {
  const b = exact(where, `${field} (bucket)`, bucket, values);
  const k = resolveTemplate(key, { ...values, version: "*", digest: "*" });
  return `arn:${env.partition}:s3:::${b}/${k}`;
}

const S3_VIRTUAL_HOST =
  /^https:\/\/([a-z0-9{][a-z0-9.{}-]*?)\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?\/(.+)$/;
const S3_PATH_STYLE = /^https:\/\/s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com(?:\.cn)?\/([^/]+)\/(.+)$/;

/**
 * The bucket and key of a template URL (virtual-hosted or path-style S3 URL; the templates are
 * still unresolved).
 *
 * @example
 * s3Location("https://templates.s3.eu-west-1.amazonaws.com/orders/{version}.json") // { bucket: "templates", key: "orders/{version}.json" }
 */
export function s3Location(url: string): { bucket: string; key: string } {
  const m = S3_VIRTUAL_HOST.exec(url) ?? S3_PATH_STYLE.exec(url);
  if (!m) {
    throw new TargetGrantError(
      `target.templateUrl "${url}" is not an S3 URL (https://<bucket>.s3.<region>.amazonaws.com/<key>): the deploy role is granted s3:GetObject on the template object`,
    );
  }
  return { bucket: m[1] as string, key: m[2] as string };
}

/**
 * The policy each target role (`roleArn`) needs in its own account: the statements the deploy
 * and rollback roles would get for that target without a role, in the role's account. `npm run
 * synth` writes them next to the templates (README, "Least privilege").
 *
 * @example
 * targetRolePolicies(pipelines, "aws") // Map { "arn:aws:iam::210987654321:role/deployer" => [{ actions, resources }] }
 */
export function targetRolePolicies(
  pipelines: readonly Pipeline[],
  partition: string,
): Map<string, TargetGrant[]> {
  const byRole = new Map<string, Pipeline[]>();
  for (const p of pipelines) {
    for (const stage of p.stages) {
      const target = effectiveTarget(p, stage.name);
      if (!target || target.type === "none" || !("roleArn" in target) || !target.roleArn) continue;
      const { roleArn, ...rest } = target;
      // The stage alone, with its target minus the role: what the role itself must be allowed.
      const copy = {
        ...p,
        target: undefined,
        stages: [{ ...stage, target: rest as DeployTarget }],
      };
      byRole.set(roleArn, [...(byRole.get(roleArn) ?? []), copy as Pipeline]);
    }
  }
  const out = new Map<string, TargetGrant[]>();
  for (const [roleArn, ps] of [...byRole].sort(([a], [b]) => a.localeCompare(b))) {
    const account = /^arn:[^:]+:iam::(\d{12}):/.exec(roleArn)?.[1] as string;
    out.set(roleArn, [
      ...deployTargetGrants(ps, { partition, account }),
      // The stages' tests run in the role's account too (issue 13): their functions, projects.
      ...stageTestGrants(ps, { partition, account }),
      // Evaluation reads the scope's alarms, metrics and canaries in the role's account (no
      // resource-level permissions for these two actions).
      { actions: ["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData"], resources: ["*"] },
    ]);
  }
  return out;
}

/** An IAM policy document of grants. */
export function policyDocument(grants: readonly TargetGrant[]): Record<string, unknown> {
  return {
    Version: "2012-10-17",
    Statement: grants.map((g) => ({
      Effect: "Allow",
      Action: g.actions,
      Resource: g.resources,
      ...(g.conditions ? { Condition: g.conditions } : {}),
    })),
  };
}
