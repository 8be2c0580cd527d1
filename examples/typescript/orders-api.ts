// The same pipeline as orders-api.json, written in TypeScript: `definePipeline` type-checks the
// definition in the editor and validates it when the file is loaded, and the targets the stages
// share are plain constants.
import { definePipeline } from "breakwater";

const code = {
  s3Bucket: "orders-api-builds-{account}-{region}",
  s3Key: "orders-api/{version}.zip",
};
/** Pre-production lives in its own account: one function per stage, reached through a role. */
const preProduction = {
  type: "lambda-alias",
  functionName: "orders-api-{stage}",
  alias: "live",
  code,
  roleArn: "arn:aws:iam::111122223333:role/breakwater-deployer",
} as const;
/** A wave that goes AZ by AZ needs one function per AZ (one resource per scope). */
const perAz = {
  type: "lambda-alias",
  functionName: "orders-api-{az}",
  alias: "live",
  code,
} as const;

export default definePipeline({
  name: "orders-api",
  kind: "app",
  target: { type: "lambda-alias", functionName: "orders-api", alias: "live", code },
  stages: [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 }, target: preProduction },
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 15 }, target: preProduction },
    {
      name: "gamma",
      regions: ["us-east-1", "eu-west-1"],
      regionsInParallel: 2,
      oneBox: true,
      bake: { minutes: 30 },
      target: preProduction,
    },
    {
      name: "prod-1",
      regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2", "eun1-az3"] }],
      oneBox: true,
      bake: { minutes: 60 },
      target: perAz,
    },
    {
      name: "prod-2",
      regions: [{ region: "us-east-1", azs: ["use1-az1", "use1-az2", "use1-az4"] }],
      oneBox: true,
      bake: { minutes: 60 },
      target: perAz,
    },
    {
      name: "prod-3",
      regions: ["us-west-2", "eu-west-1", "ap-southeast-2"],
      regionsInParallel: 3,
      oneBox: true,
      bake: { minutes: 30 },
    },
    {
      name: "prod-4",
      regions: ["ap-northeast-1", "sa-east-1", "ca-central-1", "eu-central-1"],
      regionsInParallel: 4,
      oneBox: { percent: 5 },
      bake: { minutes: 30 },
    },
  ],
});
