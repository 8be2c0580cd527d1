/**
 * GitHub's real webhook payloads (`@octokit/webhooks-examples`), as the trigger tests use them:
 * a fresh copy per call, to be mutated per scenario and signed with the test secret.
 */
import { createRequire } from "node:module";
import { sign } from "@octokit/webhooks-methods";

// GitHub payloads are large and loosely typed; the tests reach into a few fields.
// biome-ignore lint/suspicious/noExplicitAny: fixture payloads from @octokit/webhooks-examples
export type Payload = Record<string, any>;

const definitions = createRequire(import.meta.url)("@octokit/webhooks-examples") as {
  name: string;
  examples: Payload[];
}[];

/** The example of event `name` (with `action`, when given); throws when there is none. */
export function example<T = Payload>(name: string, action?: string): T {
  const found = definitions
    .find((d) => d.name === name)
    ?.examples.find((e) => action === undefined || e.action === action);
  if (!found) throw new Error(`no ${name}.${action} example in @octokit/webhooks-examples`);
  return structuredClone(found) as T;
}

/** The secret the examples' tests sign with. */
export const WEBHOOK_SECRET = "It's a Secret to Everybody";

/** The "pull_request_review.submitted" example, approved by `login`, on a PR into `main`. */
export function approvedReview(login = "alice"): Payload {
  const p = example("pull_request_review", "submitted");
  p.review.user.login = login;
  p.review.state = "approved";
  p.review.commit_id = p.pull_request.head.sha;
  p.pull_request.base.ref = "main";
  return p;
}

/** The "pull_request.closed" example, merged into `main` (the example is closed unmerged). */
export function mergedPullRequest(): Payload {
  const p = example("pull_request", "closed");
  Object.assign(p.pull_request, { merged: true, merged_at: "2019-05-15T15:21:00Z" });
  p.pull_request.base.ref = "main";
  return p;
}

/**
 * A function URL request (payload format 2.0) carrying `payload` as GitHub delivers event
 * `event`: JSON body, delivery id, and `X-Hub-Signature-256` with the test secret.
 */
export async function signedWebhookRequest(event: string, payload: unknown, delivery: string) {
  const body = JSON.stringify(payload);
  return {
    requestContext: { http: { method: "POST" } },
    body,
    headers: {
      "content-type": "application/json",
      "x-github-event": event,
      "x-github-delivery": delivery,
      "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
    },
  };
}
