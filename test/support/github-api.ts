/**
 * A stand-in for GitHub's REST API on a real local HTTP server (node:http on 127.0.0.1): the two
 * endpoints the approval check calls, answering like GitHub documents them.
 *
 *   GET /repos/{owner}/{repo}/collaborators/{username}/permission → 200 { permission, role_name, user }
 *   GET /orgs/{org}/teams/{team_slug}/memberships/{username}      → 200 { state, role } | 404
 *
 * A request without the expected bearer token gets 401, like GitHub. `mode` turns the server
 * into a failing one: every request answered 500, left hanging, or answered with a huge body.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { GitHubRestApi } from "../../src/triggers/github-api.ts";

export const GITHUB_TOKEN = "ghp_test_token_0123456789";

export interface GitHubApiServer {
  url: string;
  /** `owner/repo/login` (lowercase) → the role GitHub reports; anyone else has `defaultRole`. */
  roles: Map<string, { permission: string; role_name: string }>;
  /** The role of reviewers not in `roles` (default "read": no write access). */
  defaultRole: "write" | "read";
  /** `org/slug/login` (lowercase) → membership state; anyone else is not a member (404). */
  teams: Map<string, "active" | "pending">;
  mode: "ok" | "error" | "hang" | "huge";
  requests: { method: string; path: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** Sets `login`'s role on `repo` (`owner/name`), e.g. `grant(api, "acme/orders", "alice", "write")`. */
export function grant(
  api: GitHubApiServer,
  repo: string,
  login: string,
  roleName: "admin" | "maintain" | "write" | "triage" | "read",
): void {
  // The legacy `permission` field folds maintain into write and triage into read.
  const permission =
    roleName === "maintain" ? "write" : roleName === "triage" ? "read" : (roleName as string);
  api.roles.set(`${repo}/${login}`.toLowerCase(), { permission, role_name: roleName });
}

/**
 * Starts the stand-in on 127.0.0.1 (a free port); `close()` it after the test.
 *
 * @example
 * const api = await startGitHubApi();
 * grant(api, "acme/orders", "alice", "write");
 */
export async function startGitHubApi(token = GITHUB_TOKEN): Promise<GitHubApiServer> {
  const api: Omit<GitHubApiServer, "url" | "close"> = {
    roles: new Map(),
    defaultRole: "read",
    teams: new Map(),
    mode: "ok",
    requests: [],
  };
  const send = (res: import("node:http").ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
    res.end(text);
  };
  const server = createServer((req, res) => {
    const path = req.url ?? "/";
    api.requests.push({ method: req.method ?? "", path, headers: req.headers });
    if (api.mode === "hang") return; // never answers: the client's timeout must fire
    if (api.mode === "error") return send(res, 500, { message: "Server Error" });
    if (api.mode === "huge") return send(res, 200, { permission: "write", pad: "x".repeat(2e6) });
    if (req.headers.authorization !== `Bearer ${token}`) {
      return send(res, 401, { message: "Bad credentials" });
    }
    const perm = /^\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)\/permission$/.exec(path);
    if (req.method === "GET" && perm) {
      const [owner, repo, login] = perm.slice(1).map(decodeURIComponent) as [
        string,
        string,
        string,
      ];
      const role = api.roles.get(`${owner}/${repo}/${login}`.toLowerCase()) ?? {
        permission: api.defaultRole,
        role_name: api.defaultRole,
      };
      return send(res, 200, { ...role, user: { login } });
    }
    const team = /^\/orgs\/([^/]+)\/teams\/([^/]+)\/memberships\/([^/]+)$/.exec(path);
    if (req.method === "GET" && team) {
      const [org, slug, login] = team.slice(1).map(decodeURIComponent) as [string, string, string];
      const state = api.teams.get(`${org}/${slug}/${login}`.toLowerCase());
      if (!state) return send(res, 404, { message: "Not Found" });
      return send(res, 200, { state, role: "member", url: path });
    }
    return send(res, 404, { message: "Not Found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(api, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as GitHubApiServer;
}

/**
 * A stand-in where every reviewer has write access, for tests about other rules than who may
 * approve, and the client that asks it (pass both into the webhook's deps).
 */
export async function writersEverywhere(): Promise<{
  api: GitHubApiServer;
  deps: { github: GitHubRestApi; defaultApiUrl: string };
}> {
  const api = await startGitHubApi();
  api.defaultRole = "write";
  return {
    api,
    deps: {
      github: new GitHubRestApi({ token: async () => GITHUB_TOKEN }),
      defaultApiUrl: api.url,
    },
  };
}
