/**
 * An example `lambda-function` deploy target: your own function that Breakwater invokes to
 * start, poll and cancel each step (README, "Deploy targets"). This one does what the built-in
 * `lambda-alias` target does, to show the contract: it moves an alias of the scope's function.
 *
 * - The Breakwater version maps to the published Lambda version whose description is
 *   `breakwater:<version>` (publish with `aws lambda publish-version --description breakwater:v2`).
 * - one-box: the alias stays on its version and sends `percent` of the traffic to the new one
 *   (weighted routing); full and rollback: the alias on that version alone.
 * - Idempotent per step: a start whose alias is already where it should be changes nothing, and
 *   every change is conditional on the alias revision read just before (a concurrent change
 *   fails the invocation, and Breakwater retries it).
 * - cancel has nothing to stop: an alias update is atomic (the rollback step moves it back).
 *
 * Deploy it in every region the pipeline uses, as the function its `target.lambda` names, with
 * `lambda:GetAlias`, `lambda:UpdateAlias` and `lambda:ListVersionsByFunction` on the functions
 * it deploys. `FUNCTION_NAME` is the deployed function's name template ({pipeline}, {stage},
 * {region}, {az}; default `{pipeline}`), `ALIAS` the alias (default `live`).
 */
import {
  GetAliasCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  UpdateAliasCommand,
} from "@aws-sdk/client-lambda";
import type {
  TargetFunctionRequest,
  TargetFunctionStartAnswer,
  TargetFunctionStatusAnswer,
} from "breakwater";

const clients = new Map<string, LambdaClient>();
function lambdaIn(region: string): LambdaClient {
  let client = clients.get(region);
  if (!client) {
    client = new LambdaClient({ region });
    clients.set(region, client);
  }
  return client;
}

/** The function a scope runs, from the `FUNCTION_NAME` template. */
export function functionNameFor(req: TargetFunctionRequest, template = "{pipeline}"): string {
  const values: Record<string, string | undefined> = {
    pipeline: req.pipeline,
    stage: req.stage,
    region: req.region,
    az: req.az,
  };
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** The published version whose description names the Breakwater version. */
async function publishedVersion(
  lambda: LambdaClient,
  functionName: string,
  version: string,
): Promise<string | undefined> {
  let marker: string | undefined;
  do {
    const page = await lambda.send(
      new ListVersionsByFunctionCommand({ FunctionName: functionName, Marker: marker }),
    );
    const found = page.Versions?.find((v) => v.Description === `breakwater:${version}`);
    if (found?.Version) return found.Version;
    marker = page.NextMarker;
  } while (marker);
  return undefined;
}

interface Wanted {
  functionVersion: string;
  weights: Record<string, number>;
}

/** Where the step puts the alias, or why it cannot. */
async function wanted(
  lambda: LambdaClient,
  req: TargetFunctionRequest,
  functionName: string,
  alias: string,
  current: { FunctionVersion?: string | undefined },
): Promise<Wanted | { problem: string }> {
  const target = await publishedVersion(lambda, functionName, req.version);
  if (!target) {
    return {
      problem: `no published version of ${functionName} has the description breakwater:${req.version}`,
    };
  }
  // One-box and rolling steps send a share of the alias's traffic to the new version.
  const share = req.kind === "one-box" || req.kind === "rolling";
  if (!share || req.percent >= 100) return { functionVersion: target, weights: {} };
  const stable = current.FunctionVersion;
  if (!stable) return { problem: `alias ${functionName}:${alias} has no version` };
  return { functionVersion: stable, weights: { [target]: req.percent / 100 } };
}

const sameWeights = (a: Record<string, number> | undefined, b: Record<string, number>) =>
  JSON.stringify(Object.entries(a ?? {}).sort()) === JSON.stringify(Object.entries(b).sort());

/** The Lambda handler: `start`, `status` or `cancel` of one step. */
export async function handler(
  req: TargetFunctionRequest,
): Promise<TargetFunctionStartAnswer | TargetFunctionStatusAnswer | Record<string, never>> {
  if (req.action === "cancel") return {};
  const lambda = lambdaIn(req.region);
  const functionName = functionNameFor(req, process.env.FUNCTION_NAME);
  const alias = process.env.ALIAS ?? "live";
  const current = await lambda.send(
    new GetAliasCommand({ FunctionName: functionName, Name: alias }),
  );
  // The one-box weight is relative to the version the alias serves before the step: once the
  // step has run, the alias's own version is still that stable one, so this is stable per step.
  const goal = await wanted(lambda, req, functionName, alias, current);
  if ("problem" in goal) {
    return req.action === "start" ? { pollSeconds: 0 } : { state: "failed", reason: goal.problem };
  }
  const there =
    current.FunctionVersion === goal.functionVersion &&
    sameWeights(current.RoutingConfig?.AdditionalVersionWeights, goal.weights);
  if (req.action === "status") {
    return there
      ? { state: "succeeded" }
      : {
          state: "failed",
          reason: `alias ${functionName}:${alias} is on ${current.FunctionVersion}, not where the step put it (changed by someone else?)`,
        };
  }
  if (!there) {
    await lambda.send(
      new UpdateAliasCommand({
        FunctionName: functionName,
        Name: alias,
        FunctionVersion: goal.functionVersion,
        RoutingConfig: { AdditionalVersionWeights: goal.weights },
        RevisionId: current.RevisionId,
      }),
    );
  }
  return { pollSeconds: 0 };
}
