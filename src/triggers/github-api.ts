/**
 * Who may approve: GitHub's REST API asked about each reviewer whose approval would count. Any
 * user who can read a repository (anyone, on a public one) can leave an approving review, so an
 * approval counts only from a reviewer with write access (admin, maintain or write), and, when the
 * pipeline's config entry lists `approvers`, only from a listed user or an active member of a
 * listed team.
 *
 * Fail closed: a reviewer whose access cannot be established (unreachable API, timeout, error
 * status, oversized or malformed answer, no token) makes the whole check fail with
 * {@link ApprovalCheckError}; the caller approves nothing and lets a redelivery decide again.
 */
import * as z from "zod";
import { BreakwaterError } from "../domain/errors.ts";
import type { PipelineTrigger } from "./decisions.ts";

export const DEFAULT_GITHUB_API_URL = "https://api.github.com";
/** The REST API version the requests ask for (GitHub's `X-GitHub-Api-Version`). */
export const GITHUB_API_VERSION = "2022-11-28";

/** The approval check could not be made; nothing it would have approved is approved. */
export class ApprovalCheckError extends BreakwaterError {
  override name = "ApprovalCheckError";
}

/** Roles whose approvals count. `permission` is legacy (maintain → write); `role_name` is not. */
const WRITE_ROLES = new Set(["admin", "maintain", "write"]);

/** The two questions the approval check asks GitHub. */
export interface GitHubApi {
  /** `GET /repos/{owner}/{repo}/collaborators/{username}/permission`. */
  repositoryPermission(
    apiUrl: string,
    repository: string,
    login: string,
  ): Promise<{ permission: string; roleName?: string }>;
  /** `GET /orgs/{org}/teams/{team_slug}/memberships/{username}`; 404 is `none`. */
  teamMembership(
    apiUrl: string,
    org: string,
    team: string,
    login: string,
  ): Promise<"active" | "pending" | "none">;
}

const permissionSchema = z.looseObject({
  permission: z.string(),
  role_name: z.string().optional(),
});
const membershipSchema = z.looseObject({ state: z.enum(["active", "pending"]) });

export interface GitHubRestApiOptions {
  /** The token (a fine-grained token or app token with Metadata read and Members read). */
  token: () => string | Promise<string>;
  /** Per request; default 5 s (well inside the webhook function's time). */
  timeoutMs?: number;
  /** Bigger answers are refused; default 64 KiB (the answers are a few hundred bytes). */
  maxResponseBytes?: number;
}

/**
 * GitHub's REST API over `fetch`, with the documented headers (`Authorization: Bearer`,
 * `Accept: application/vnd.github+json`, `X-GitHub-Api-Version`), a timeout, a bounded
 * response, and no redirects (a redirect could carry the token elsewhere).
 *
 * @example
 * const api = new GitHubRestApi({ token: () => loadSecureParameter(ssm, name) });
 * await api.repositoryPermission("https://api.github.com", "acme/orders", "alice");
 * // → { permission: "write", roleName: "maintain" }
 */
export class GitHubRestApi implements GitHubApi {
  private readonly timeoutMs: number;
  private readonly maxBytes: number;

  constructor(private readonly options: GitHubRestApiOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxBytes = options.maxResponseBytes ?? 64 * 1024;
  }

  async repositoryPermission(apiUrl: string, repository: string, login: string) {
    const [owner = "", repo = ""] = repository.split("/");
    const body = await this.get(
      apiUrl,
      `/repos/${seg(owner)}/${seg(repo)}/collaborators/${seg(login)}/permission`,
    );
    const parsed = permissionSchema.safeParse(body.json);
    if (!parsed.success) throw new ApprovalCheckError(`${body.what}: unexpected answer`);
    return {
      permission: parsed.data.permission,
      ...(parsed.data.role_name ? { roleName: parsed.data.role_name } : {}),
    };
  }

  async teamMembership(apiUrl: string, org: string, team: string, login: string) {
    const body = await this.get(
      apiUrl,
      `/orgs/${seg(org)}/teams/${seg(team)}/memberships/${seg(login)}`,
      { notFound: true },
    );
    if (body.status === 404) return "none" as const;
    const parsed = membershipSchema.safeParse(body.json);
    if (!parsed.success) throw new ApprovalCheckError(`${body.what}: unexpected answer`);
    return parsed.data.state;
  }

  private async get(
    apiUrl: string,
    path: string,
    opts: { notFound?: boolean } = {},
  ): Promise<{ status: number; json: unknown; what: string }> {
    const what = `GET ${path}`;
    let token: string;
    try {
      token = await this.options.token();
    } catch (err) {
      throw new ApprovalCheckError(`no GitHub API token: ${(err as Error).message}`);
    }
    if (!token) throw new ApprovalCheckError("no GitHub API token is configured");
    let res: Response;
    try {
      res = await fetch(`${apiUrl.replace(/\/+$/, "")}${path}`, {
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/vnd.github+json",
          "x-github-api-version": GITHUB_API_VERSION,
          "user-agent": "breakwater",
        },
        redirect: "error",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const e = err as Error;
      const why = e.name === "TimeoutError" ? `no answer within ${this.timeoutMs} ms` : e.message;
      throw new ApprovalCheckError(`${what}: ${why}`);
    }
    let text: string;
    try {
      text = await readBounded(res, this.maxBytes);
    } catch (err) {
      throw new ApprovalCheckError(`${what}: ${(err as Error).message}`);
    }
    if (res.status === 404 && opts.notFound) return { status: 404, json: undefined, what };
    if (res.status !== 200) throw new ApprovalCheckError(`${what}: GitHub answered ${res.status}`);
    try {
      return { status: 200, json: JSON.parse(text), what };
    } catch {
      throw new ApprovalCheckError(`${what}: the answer is not JSON`);
    }
  }
}

const seg = (s: string) => encodeURIComponent(s);

/** The body as text, refused as soon as it passes `max` bytes (declared or streamed). */
async function readBounded(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel();
    throw new Error(`the answer exceeds ${max} bytes`);
  }
  if (!res.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > max) {
      await res.body.cancel().catch(() => {});
      throw new Error(`the answer exceeds ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Why each of `logins` may not approve for `trigger` (a login absent from the result may):
 * "no write access" (their role), or "not an approver" (write access, but outside the entry's
 * `approvers`). One API call per login and listed team at most; throws
 * {@link ApprovalCheckError} when any answer cannot be had.
 *
 * @example
 * await ineligibleApprovers(api, trigger, "acme/orders", ["alice", "mallory"], "https://api.github.com");
 * // → Map { "mallory" => "mallory has no write access to acme/orders (role read)" }
 */
export async function ineligibleApprovers(
  api: GitHubApi | undefined,
  trigger: PipelineTrigger,
  repository: string,
  logins: readonly string[],
  defaultApiUrl = DEFAULT_GITHUB_API_URL,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (logins.length === 0) return out;
  if (!api) throw new ApprovalCheckError("no GitHub API access is configured (token, API URL)");
  const apiUrl = trigger.apiUrl ?? defaultApiUrl;
  for (const login of logins) {
    const role = await api.repositoryPermission(apiUrl, repository, login);
    if (!WRITE_ROLES.has(role.permission) && !WRITE_ROLES.has(role.roleName ?? "")) {
      out.set(
        login.toLowerCase(),
        `${login} has no write access to ${repository} (role ${role.roleName ?? role.permission})`,
      );
      continue;
    }
    const allowed = trigger.approvers;
    if (!allowed) continue;
    if (allowed.users?.some((u) => u.toLowerCase() === login.toLowerCase())) continue;
    let member = false;
    for (const team of allowed.teams ?? []) {
      const [org = "", slug = ""] = team.split("/");
      if ((await api.teamMembership(apiUrl, org, slug, login)) === "active") {
        member = true;
        break;
      }
    }
    if (!member) out.set(login.toLowerCase(), `${login} is not an approver of ${trigger.pipeline}`);
  }
  return out;
}
