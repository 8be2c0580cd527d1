import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Deps } from "../src/app/deps.ts";
import { applyOverride } from "../src/app/override.ts";
import { awsDeps } from "./lib/aws-deps.ts";
import { count, logger } from "./lib/handler.ts";

/**
 * Override: invoked directly (`aws lambda invoke`; IAM decides who may) by an engineer. Actions:
 * block / unblock (stop the line at organisation, pipeline or scope level) and bypass (let one
 * version ignore named blocker kinds until an expiry). Input is validated strictly; a rejected
 * request changes nothing and names every problem. An optional allow-list of actors
 * (`OVERRIDE_ALLOWED_ACTORS`, comma-separated) adds a check on who says they act.
 */
export function createOverrideHandler(
  provide: () => Deps | Promise<Deps>,
  allowedActors?: string[],
) {
  return middy(async (event: unknown) => {
    const result = await applyOverride(
      await provide(),
      event,
      allowedActors ? { allowedActors } : {},
    );
    count(result.changed ? "OverrideActions" : "OverrideRepeats");
    return result;
  }).use(injectLambdaContext(logger));
}

const allowList = process.env.OVERRIDE_ALLOWED_ACTORS?.split(",")
  .map((a) => a.trim())
  .filter(Boolean);

export const handler = createOverrideHandler(awsDeps, allowList?.length ? allowList : undefined);
