/**
 * Credentials of the roles deploy targets name (`roleArn`, cross-account targets): assumed with
 * STS once, reused until five minutes before they expire.
 */
import { AssumeRoleCommand, type STSClient } from "@aws-sdk/client-sts";
import type { AwsCredentialIdentity } from "@aws-sdk/types";
import { TransientError } from "../../../domain/errors.ts";

const REFRESH_BEFORE_MS = 5 * 60_000;

export class AssumedRoles {
  private readonly cache = new Map<string, Promise<AwsCredentialIdentity>>();

  constructor(
    private readonly sts: STSClient,
    private readonly now: () => number = Date.now,
  ) {}

  /** The role's credentials (assumed on first use, assumed again five minutes before expiry). */
  async credentials(roleArn: string, sessionName: string): Promise<AwsCredentialIdentity> {
    const cached = this.cache.get(roleArn);
    if (cached) {
      const c = await cached.catch(() => undefined);
      if (c && (!c.expiration || c.expiration.getTime() - this.now() > REFRESH_BEFORE_MS)) return c;
    }
    const assuming = this.assume(roleArn, sessionName);
    this.cache.set(roleArn, assuming);
    assuming.catch(() => this.cache.delete(roleArn));
    return assuming;
  }

  private async assume(roleArn: string, sessionName: string): Promise<AwsCredentialIdentity> {
    const out = await this.sts.send(
      new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName.slice(0, 64) }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey)
      throw new TransientError(`could not assume ${roleArn}`);
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
      ...(c.Expiration ? { expiration: c.Expiration } : {}),
    };
  }
}
