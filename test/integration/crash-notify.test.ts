/**
 * The notify function killed right after a channel delivered (Slack answered 200 through a real
 * local HTTP server; SNS accepted the publish), once or twice in a row, and invoked again with
 * the same event as Lambda's asynchronous retries do (2 retries). Neither channel can recognise a
 * repeated message — a Slack incoming webhook takes no idempotency key, and SNS deduplicates
 * only on FIFO topics, which cannot deliver to email or HTTPS subscribers — so delivery is at
 * least once: nothing is lost, and every crash after a delivery repeats the notification once on
 * every channel (README, "Notifications"). These tests pin exactly that.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createNotifyHandler } from "../../functions/notify.ts";
import { SnsNotifier } from "../../src/adapters/aws/sns-notifier.ts";
import { DetailType, SOURCE } from "../../src/app/events.ts";
import { lambdaContext } from "../../src/local/step-functions.ts";
import { NotifyError } from "../../src/notify/dispatch.ts";
import type { Notifier } from "../../src/notify/ports.ts";
import { SlackWebhookNotifier } from "../../src/notify/slack.ts";
import { LambdaCrash } from "../support/crash.ts";

const TOPIC = "arn:aws:sns:eu-west-1:123456789012:breakwater-notifications";
const sns = mockClient(SNSClient);
let server: Server;
let url: string;
let slackPosts: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      slackPosts.push(body);
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/XXX`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  slackPosts = [];
  sns.reset();
  let n = 0;
  sns.on(PublishCommand).callsFake(async () => ({ MessageId: `msg-${++n}` }));
});

/** A run halted: a notification people must read. */
const event = {
  version: "0",
  id: "evt-halted-1",
  source: SOURCE,
  "detail-type": DetailType.RunEvent,
  account: "123456789012",
  time: "2026-01-12T09:30:00Z",
  region: "eu-west-1",
  resources: [],
  detail: {
    at: "2026-01-12T09:30:00.000Z",
    runId: "billing@v2",
    pipeline: "billing",
    version: "v2",
    event: "run-halted",
    stage: "prod-1",
    reason: "prod-1/eu-west-1: billing-errors in ALARM",
  },
};

/**
 * The channels, each of which kills the invocation right after its delivery while `crashes`
 * remain (the function is gone: its other channel's result no longer matters, and nothing
 * after it runs).
 */
function channels(plan: { crashes: number; after: "slack" | "sns" }) {
  const slack = new SlackWebhookNotifier({
    url,
    deadLetter: {
      put: async () => {
        throw new Error("nothing should be dead-lettered");
      },
    },
    sleep: async () => undefined,
  });
  const topic = new SnsNotifier(new SNSClient({ region: "eu-west-1" }), TOPIC);
  let dead = false;
  const guard = (name: "slack" | "sns", n: Notifier): Notifier => ({
    async notify(notification) {
      if (dead) throw new LambdaCrash("the function is no longer running");
      const result = await n.notify(notification);
      if (name === plan.after && plan.crashes > 0) {
        plan.crashes--;
        dead = true;
        throw new LambdaCrash(`notify died after ${name} delivered`);
      }
      return result;
    },
  });
  return {
    notifiers: () => [guard("slack", slack), guard("sns", topic)],
    revive: () => {
      dead = false;
    },
  };
}

/** Invokes as Lambda's asynchronous invocation does: the first attempt and up to 2 retries. */
async function deliver(plan: { crashes: number; after: "slack" | "sns" }) {
  const { notifiers, revive } = channels(plan);
  const handler = createNotifyHandler(notifiers);
  let attempts = 0;
  for (; attempts < 3; ) {
    attempts++;
    revive();
    try {
      return {
        attempts,
        result: await handler(event, lambdaContext("breakwater-notify", `r${attempts}`)),
      };
    } catch (err) {
      // The crash surfaces through the dispatcher's NotifyError (it waits for every channel).
      const crashed =
        err instanceof LambdaCrash ||
        (err instanceof NotifyError && err.errors.some((e) => e instanceof LambdaCrash));
      if (!crashed) throw err;
    }
  }
  return { attempts, result: undefined };
}

describe("notify survives a crash after a delivery, at least once", () => {
  it("without a crash: one Slack message and one SNS publish", async () => {
    const { attempts, result } = await deliver({ crashes: 0, after: "slack" });
    expect(attempts).toBe(1);
    expect(result).toEqual({ type: "halted", delivered: [true, true] });
    expect(slackPosts).toHaveLength(1);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it.each([
    { after: "slack", crashes: 1 },
    { after: "slack", crashes: 2 },
    { after: "sns", crashes: 1 },
    { after: "sns", crashes: 2 },
  ] as const)(
    "dies after $after delivered, $crashes time(s): each channel gets it 1 + $crashes times at most, never 0",
    async ({ after, crashes }) => {
      const { attempts, result } = await deliver({ crashes, after });
      expect(attempts).toBe(1 + crashes);
      expect(result).toEqual({ type: "halted", delivered: [true, true] });
      const posts = slackPosts.length;
      const publishes = sns.commandCalls(PublishCommand).length;
      // The crashed channel delivered on every attempt; the other one whenever it finished
      // before the process died (both channels run at once).
      const crashed = after === "slack" ? posts : publishes;
      const other = after === "slack" ? publishes : posts;
      expect(crashed).toBe(1 + crashes);
      expect(other).toBeGreaterThanOrEqual(1);
      expect(other).toBeLessThanOrEqual(1 + crashes);
      // Every repeat is the same message (a reader sees a duplicate, not a different story).
      expect(new Set(slackPosts).size).toBe(1);
      const messages = sns.commandCalls(PublishCommand).map((c) => c.args[0].input.Message);
      expect(new Set(messages).size).toBe(1);
    },
  );

  it("three crashes in a row exhaust Lambda's 2 retries (the stack then sends the event to the function's dead-letter queue)", async () => {
    const { attempts, result } = await deliver({ crashes: 3, after: "sns" });
    expect(attempts).toBe(3);
    expect(result).toBeUndefined();
    expect(sns.commandCalls(PublishCommand)).toHaveLength(3);
  });
});
