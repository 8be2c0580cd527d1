/**
 * A Lambda function URL request with AWS_IAM auth (payload format 2.0), as Lambda delivers it to
 * the override function after checking the SigV4 signature: the caller's principal ARN is in
 * `requestContext.authorizer.iam.userArn`.
 */
import { randomUUID } from "node:crypto";

export const ALICE = "arn:aws:sts::123456789012:assumed-role/Operators/alice";

/** A function URL request (payload format 2.0) as Lambda delivers it after checking SigV4. */
export function urlRequest(body: unknown, arn: string) {
  return {
    version: "2.0",
    rawPath: "/",
    rawQueryString: "",
    headers: { "content-type": "application/json" },
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      authorizer: {
        iam: {
          accessKey: "ASIAEXAMPLE",
          accountId: "123456789012",
          callerId: "AROAEXAMPLE:alice",
          userArn: arn,
          userId: "AROAEXAMPLE:alice",
        },
      },
      domainName: "abc123.lambda-url.eu-west-1.on.aws",
      http: { method: "POST", path: "/", protocol: "HTTP/1.1", sourceIp: "203.0.113.7" },
      requestId: randomUUID(),
      time: "12/Jan/2026:09:00:00 +0000",
      timeEpoch: 1768208400000,
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}
