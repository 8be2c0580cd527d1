/**
 * Where the CLI (`breakwater status|history|override --aws --stage <stage>`) finds a deployed
 * stage: SSM String parameters the stack writes with the table's generated name and the
 * override function's URL (auth type AWS_IAM). Shared by the stack and the CLI so the two
 * cannot drift apart.
 */
export const parameterNames = (stage: string) => ({
  table: `/breakwater/${stage}/table-name`,
  overrideUrl: `/breakwater/${stage}/override-url`,
});
