/**
 * The function URLs: the operators' override lever (IAM-authenticated) and the public GitHub
 * webhook (authenticated by GitHub's signature).
 */
import { ArnPrincipal } from "aws-cdk-lib/aws-iam";
import { type FunctionUrl, FunctionUrlAuthType } from "aws-cdk-lib/aws-lambda";
import type { ControlPlaneFunctions } from "./functions.ts";

export interface FunctionUrls {
  overrideUrl: FunctionUrl;
  webhookUrl: FunctionUrl;
}

/** Adds both URLs; `overrideRoleArn` (optional) is the operators' role allowed to call override. */
export function functionUrls(
  functions: ControlPlaneFunctions,
  overrideRoleArn: string | undefined,
): FunctionUrls {
  // Who may pull the lever: callers of its function URL, authenticated by IAM (SigV4), so the
  // function learns who they are (requestContext.authorizer.iam) and audits that principal. The
  // configured operators' role gets lambda:InvokeFunctionUrl (auth type AWS_IAM) and
  // lambda:InvokeFunction only via the URL (lambda:InvokedViaFunctionUrl; AWS wants both for
  // function URLs created since October 2025); no plain lambda:InvokeFunction path. Without a
  // role, only principals whose own IAM policy allows it. A direct invoke, which names no caller,
  // is refused by the function itself.
  const overrideUrl = functions.override.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
  if (overrideRoleArn) functions.override.grantInvokeUrl(new ArnPrincipal(overrideRoleArn));

  // The webhook is public; GitHub's HMAC signature (X-Hub-Signature-256) authenticates it, and
  // is verified before anything is read or recorded.
  const webhookUrl = functions["github-webhook"].addFunctionUrl({
    authType: FunctionUrlAuthType.NONE,
  });
  return { overrideUrl, webhookUrl };
}
