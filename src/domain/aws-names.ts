/**
 * The shapes of AWS names and ARNs the pipeline files name (regions, accounts, roles, Lambda
 * functions). Shared by the pipeline schema and the deploy targets' schema.
 */

export const REGION_PATTERN = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d+$/;

/** `*` and `?` are wildcards in an IAM policy's Resource (any characters / one character). */
export const IAM_WILDCARD = /[*?]/;
/** The partitions of AWS (aws, aws-cn, aws-us-gov, the ISO and EU sovereign ones). */
export const PARTITION = "aws(?:-cn|-us-gov|-iso(?:-[a-z])?|-eusc)?";
export const ACCOUNT = "\\d{12}";
/** Lambda function names: letters, digits, `-`, `_`, 1 to 64 (Lambda's CreateFunction rule). */
const FUNCTION_NAME = "[A-Za-z0-9_-]{1,64}";
/** Invoke's Qualifier: `$LATEST`, a version number or an alias name. */
const QUALIFIER = String.raw`(?:\$LATEST|[A-Za-z0-9_-]{1,128})`;
const REGION = REGION_PATTERN.source.slice(1, -1);
/** The three forms Lambda's Invoke accepts as FunctionName, each optionally `:qualifier`. */
export const FUNCTION_TARGET = new RegExp(
  `^(?:arn:${PARTITION}:lambda:${REGION}:${ACCOUNT}:function:|${ACCOUNT}:function:)?${FUNCTION_NAME}(?::${QUALIFIER})?$`,
);
/** IAM role ARNs: an optional path (`/a/b/`) and a name of 1 to 64 of `[\w+=,.@-]`. */
export const ROLE_ARN = new RegExp(
  `^arn:${PARTITION}:iam::${ACCOUNT}:role/(?:[\\w+=,.@-]+/)*[\\w+=,.@-]{1,64}$`,
);

/** The 12-digit account of an IAM role ARN. */
export function accountOfRole(roleArn: string): string | undefined {
  return /^arn:[^:]+:iam::(\d{12}):role\//.exec(roleArn)?.[1];
}
