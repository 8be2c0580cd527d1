/**
 * Approvals count only from reviewers with write access (issue 10, finding 1): the webhook
 * function as deployed (function URL request, DynamoDB Local stores) asks a real local HTTP
 * server standing in for GitHub's REST API who the reviewers are.
 */

import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { createGitHubWebhookHandler } from "../../functions/github-webhook.ts";
import { DynamoRunRequestStore } from "../../src/adapters/aws/dynamo-run-requests.ts";
import {
  DynamoDeliveryStore,
  DynamoReviewStore,
  DynamoTriggerLog,
} from "../../src/adapters/aws/dynamo-triggers.ts";
import type { BusEvent } from "../../src/domain/ports.ts";
import { lambdaContext } from "../../src/local/step-functions.ts";
import { parseTriggerConfig } from "../../src/triggers/decisions.ts";
import { GitHubRestApi } from "../../src/triggers/github-api.ts";
import { dynamoClient, freshStore } from "../support/dynamo.ts";
import {
  GITHUB_TOKEN,
  type GitHubApiServer,
  grant,
  startGitHubApi,
} from "../support/github-api.ts";
import {
  approvedReview as approval,
  mergedPullRequest as merge,
  signedWebhookRequest,
  WEBHOOK_SECRET,
} from "../support/github-examples.ts";

const REPO = "Codertocat/Hello-World";
const servers: GitHubApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/**
 * `timeoutMs`: the API client's timeout. Short only where a test makes the API hang: a loaded
 * machine can take longer than a few hundred ms to answer a healthy request.
 */
async function setup(
  entry: Record<string, unknown> = {},
  api?: GitHubApiServer,
  timeoutMs = 10_000,
) {
  const github = api ?? (await startGitHubApi());
  servers.push(github);
  const { table } = await freshStore();
  const triggers = new DynamoTriggerLog(dynamoClient(), table);
  const published: BusEvent[] = [];
  const handler = createGitHubWebhookHandler(async () => ({
    secret: WEBHOOK_SECRET,
    config: parseTriggerConfig([
      { repository: REPO, branch: "main", pipeline: "orders-api", apiUrl: github.url, ...entry },
    ]),
    reviews: new DynamoReviewStore(dynamoClient(), table),
    runRequests: new DynamoRunRequestStore(dynamoClient(), table),
    deliveries: new DynamoDeliveryStore(dynamoClient(), table),
    triggers,
    github: new GitHubRestApi({ token: async () => GITHUB_TOKEN, timeoutMs }),
    publish: async (events) => {
      published.push(...events);
    },
    clock: { now: () => new Date("2019-05-15T15:22:00Z") },
  }));
  const post = async (event: string, payload: unknown, delivery = randomUUID()) => {
    const res = (await handler(
      await signedWebhookRequest(event, payload, delivery),
      lambdaContext("breakwater-github-webhook", "test"),
    )) as { statusCode: number; body: string };
    return { status: res.statusCode, body: JSON.parse(res.body || "{}") };
  };
  /** Each login approves the head, then the pull request merges (one delivery id). */
  const approveAndMerge = async (logins: string[], delivery = randomUUID()) => {
    for (const login of logins) {
      const review = approval(login);
      review.review.id = Math.floor(Math.random() * 1e9);
      review.review.author_association = "NONE";
      expect((await post("pull_request_review", review)).status).toBe(200);
    }
    return post("pull_request", merge(), delivery);
  };
  return { api: github, post, approveAndMerge, published, triggers };
}

const runs = (events: BusEvent[]) =>
  events.filter((e) => e.detailType === "Approved Change Merged").length;

describe("approvals count only from reviewers with write access", () => {
  it("an approval by a user without write access (author_association NONE) starts nothing", async () => {
    const { approveAndMerge, published, triggers } = await setup();
    const res = await approveAndMerge(["mallory"]);
    expect(res.status).toBe(200);
    expect(res.body.result).toBe("rejected");
    expect(runs(published)).toBe(0);
    expect(published.map((e) => e.detailType)).toEqual(["Breakwater Change Rejected"]);
    const [record] = await triggers.list();
    expect(record).toMatchObject({ outcome: "rejected", pipeline: "orders-api" });
    expect(record?.reason).toMatch(/mallory.*no write access/);
  });

  it("a writer's approval counts; the API gets the documented headers", async () => {
    const { api, approveAndMerge, published } = await setup();
    grant(api, REPO, "octocat", "write");
    const res = await approveAndMerge(["octocat"]);
    expect(res.status).toBe(202);
    expect(res.body.runs).toEqual([
      expect.objectContaining({ pipeline: "orders-api", approvers: ["octocat"] }),
    ]);
    expect(runs(published)).toBe(1);
    const [req] = api.requests;
    expect(req?.path).toBe("/repos/Codertocat/Hello-World/collaborators/octocat/permission");
    expect(req?.headers).toMatchObject({
      authorization: `Bearer ${GITHUB_TOKEN}`,
      accept: "application/vnd.github+json",
      "x-github-api-version": "2022-11-28",
    });
  });

  it("maintain (role_name, with the legacy permission write) and admin count; triage does not", async () => {
    const { api, approveAndMerge } = await setup({ minApprovals: 2 });
    grant(api, REPO, "maya", "maintain");
    grant(api, REPO, "ada", "admin");
    grant(api, REPO, "tri", "triage");
    const res = await approveAndMerge(["maya", "ada", "tri"]);
    expect(res.status).toBe(202);
    expect(res.body.runs[0].approvers).toEqual(["ada", "maya"]);
  });

  it("with an allow-list, a writer outside it does not count; a listed user or active team member does", async () => {
    const users = await setup({ approvers: { users: ["Hubot"] } });
    grant(users.api, REPO, "octocat", "write");
    grant(users.api, REPO, "hubot", "write");
    const outside = await users.approveAndMerge(["octocat"]);
    expect(outside.status).toBe(200);
    expect(outside.body.rejections[0].reason).toMatch(/octocat.*not an approver/);
    expect((await users.approveAndMerge(["hubot"])).status).toBe(202);

    const teams = await setup({ approvers: { teams: ["acme/deployers"] } });
    grant(teams.api, REPO, "octocat", "write");
    grant(teams.api, REPO, "pat", "write");
    teams.api.teams.set("acme/deployers/pat", "pending");
    expect((await teams.approveAndMerge(["pat"])).status).toBe(200);
    teams.api.teams.set("acme/deployers/octocat", "active");
    expect((await teams.approveAndMerge(["octocat"])).status).toBe(202);
    expect(teams.api.requests.map((r) => r.path)).toContain(
      "/orgs/acme/teams/deployers/memberships/octocat",
    );
  });

  it("an allow-listed user still needs write access", async () => {
    const { approveAndMerge } = await setup({ approvers: { users: ["hubot"] } });
    const res = await approveAndMerge(["hubot"]);
    expect(res.status).toBe(200);
    expect(res.body.rejections[0].reason).toMatch(/hubot.*no write access/);
  });

  for (const mode of ["error", "hang", "huge", "unreachable"] as const) {
    it(`fails closed when the API ${mode === "error" ? "answers 500" : mode === "hang" ? "does not answer in time" : mode === "huge" ? "answers too much" : "cannot be reached"}; a redelivery decides again`, async () => {
      const api = await startGitHubApi();
      const s = await setup({}, api, mode === "hang" ? 1_500 : undefined);
      grant(api, REPO, "octocat", "write");
      if (mode === "unreachable") await api.close();
      else api.mode = mode;
      const delivery = randomUUID();
      const res = await s.approveAndMerge(["octocat"], delivery);
      expect(res.status).toBe(502);
      expect(res.body.result).toBe("approval-check-failed");
      expect(s.published).toEqual([]);
      const [record] = await s.triggers.list();
      expect(record).toMatchObject({
        outcome: "approval-check-failed",
        pipeline: "orders-api",
        deliveryId: delivery,
        status: 502,
      });
      expect(record?.reason).toMatch(/octocat/);
      if (mode === "unreachable") return;
      api.mode = "ok";
      const again = await s.post("pull_request", merge(), delivery);
      expect(again.status).toBe(202);
      expect(runs(s.published)).toBe(1);
    });
  }

  it("a wrong token fails closed too (401 is an error, not 'no access')", async () => {
    const api = await startGitHubApi("another-token");
    const s = await setup({}, api);
    const res = await s.approveAndMerge(["octocat"]);
    expect(res.status).toBe(502);
    expect(res.body.message).toMatch(/401/);
  });

  it("the config names a bad apiUrl or approvers entry", () => {
    const base = { repository: REPO, branch: "main", pipeline: "orders-api" };
    expect(() => parseTriggerConfig([{ ...base, apiUrl: "http://github.example.com" }])).toThrow(
      /\[0\]\.apiUrl/,
    );
    expect(() => parseTriggerConfig([{ ...base, approvers: { teams: ["deployers"] } }])).toThrow(
      /\[0\]\.approvers\.teams\[0\]/,
    );
    expect(() => parseTriggerConfig([{ ...base, approvers: { groups: ["x"] } }])).toThrow(
      /approvers/,
    );
    expect(parseTriggerConfig([{ ...base, apiUrl: "https://ghe.example.com/api/v3" }])[0]).toEqual(
      expect.objectContaining({ apiUrl: "https://ghe.example.com/api/v3" }),
    );
  });
});
