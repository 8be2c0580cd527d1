/**
 * Notifications: the event → notification table, the Block Kit builder, the webhook sender's
 * edge cases (with a fake fetch), the local channel, and the AWS adapters (SNS, SQS dead
 * letter, SSM webhook URL) with aws-sdk-client-mock.
 */
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { GetParameterCommand, ParameterNotFound, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  clearSlackWebhookUrlCache,
  loadSecureParameter,
  loadSlackWebhookUrl,
  SNS_SUBJECT_MAX,
  SnsNotifier,
  SqsDeadLetterSink,
  snsSubject,
} from "../../src/adapters/aws/sns-notifier.ts";
import { DetailType } from "../../src/app/events.ts";
import {
  ConsoleNotifier,
  dispatchEvent,
  NotifyError,
  notifyAll,
} from "../../src/notify/dispatch.ts";
import {
  describeRollbackCause,
  type Notification,
  notificationSchema,
  OVERRIDE_EVENT_DETAIL_TYPE,
  renderPlainText,
  toNotification,
} from "../../src/notify/notification.ts";
import {
  DeadLetterError,
  type DeadLetterSink,
  DeliveryError,
  type Notifier,
} from "../../src/notify/ports.ts";
import {
  buildSlackMessage,
  escapeSlack,
  fitEscaped,
  parseRetryAfter,
  SLACK_LIMITS,
  type SlackMessage,
  SlackWebhookNotifier,
} from "../../src/notify/slack.ts";

const credentials = { accessKeyId: "test", secretAccessKey: "test" };
const AT = "2024-05-06T03:12:45.000Z";
const RUN = { runId: "orders-api#v2", pipeline: "orders-api", version: "v2" };
const SCOPE = "prod-2/us-east-1/use1-az2";

const scopeEvent = (event: string, extra: Record<string, unknown> = {}) => ({
  source: "breakwater",
  detailType: DetailType.ScopeEvent,
  detail: { at: AT, ...RUN, stage: "prod-2", scope: SCOPE, step: "full", event, ...extra },
});
const runEvent = (event: string, extra: Record<string, unknown> = {}) => ({
  source: "breakwater",
  detailType: DetailType.RunEvent,
  detail: { at: AT, ...RUN, event, ...extra },
});

function notification(over: Partial<Notification> = {}): Notification {
  return {
    type: "rolled-back",
    severity: "critical",
    pipeline: "orders-api",
    runId: "orders-api#v2",
    version: "v2",
    scope: SCOPE,
    title: "orders-api: rolling back prod-2/us-east-1/use1-az2",
    text: "v2 is being rolled back to v1.",
    fields: [{ label: "Scope", value: SCOPE }],
    at: AT,
    ...over,
  };
}

describe("toNotification: which bus events people hear about", () => {
  it.each([
    ["run-started", runEvent("run-started"), "run-started", "info", "orders-api: v2 started"],
    [
      "stage-finished",
      runEvent("stage-finished", { stage: "prod-1" }),
      "stage-finished",
      "info",
      "orders-api: v2 finished prod-1",
    ],
    [
      "blocked",
      scopeEvent("blocked", { reason: "outside the allowed time window" }),
      "blocked",
      "warning",
      `orders-api: ${SCOPE} blocked`,
    ],
    [
      "unblocked",
      scopeEvent("unblocked", { reason: "cleared: outside the allowed time window" }),
      "unblocked",
      "info",
      `orders-api: ${SCOPE} unblocked`,
    ],
    [
      "rollback-started",
      scopeEvent("rollback-started", { toVersion: "v1", reason: "alarm: x in ALARM" }),
      "rolled-back",
      "critical",
      `orders-api: rolling back ${SCOPE}`,
    ],
    [
      "run-halted",
      runEvent("run-halted", { stage: "prod-2", reason: `${SCOPE}: x in ALARM` }),
      "halted",
      "critical",
      "orders-api: v2 halted, decision needed",
    ],
    [
      "approval-requested",
      runEvent("approval-requested", {
        stage: "prod-1",
        reason: "approve or reject before 2026-12-02T10:00:00.000Z",
      }),
      "approval-requested",
      "warning",
      "orders-api: v2 awaits approval for prod-1",
    ],
    [
      "run-succeeded",
      runEvent("run-succeeded"),
      "run-finished",
      "info",
      "orders-api: v2 deployed everywhere",
    ],
    [
      "run-failed",
      runEvent("run-failed", { reason: "state machine error" }),
      "run-finished",
      "critical",
      "orders-api: v2 run failed",
    ],
    [
      "run-rolled-back",
      runEvent("run-rolled-back", { reason: "rollback-all of v2 and newer by alice: INC-42" }),
      "run-finished",
      "warning",
      "orders-api: v2 rolled-back",
    ],
    [
      "run-superseded",
      runEvent("run-superseded", { reason: "v3, newer, entered prod-1 first" }),
      "run-finished",
      "info",
      "orders-api: v2 superseded",
    ],
    [
      "run-cancelled",
      runEvent("run-cancelled", { reason: "by alice: abandoned" }),
      "run-finished",
      "warning",
      "orders-api: v2 cancelled",
    ],
    [
      "override",
      {
        source: "breakwater",
        detailType: OVERRIDE_EVENT_DETAIL_TYPE,
        detail: {
          at: AT,
          action: "bypass",
          actor: "alice",
          reason: "INC-42 fix",
          pipeline: "orders-api",
          version: "v3",
          kinds: ["alarm", "time-window"],
          expiresAt: "2024-05-06T05:00:00.000Z",
        },
      },
      "override-used",
      "info",
      "orders-api: override bypass by alice",
    ],
  ])("%s → %s", (_name, event, type, severity, title) => {
    const n = toNotification(event);
    expect(n).toMatchObject({ type, severity, title, pipeline: "orders-api", at: AT });
    // Every notification is valid for SNS consumers and dead-letter readers.
    expect(notificationSchema.parse(n)).toEqual(n);
  });

  it.each([
    ["deploy-started", scopeEvent("deploy-started", { percent: 10 })],
    ["deploy-finished", scopeEvent("deploy-finished", { outcome: "succeeded" })],
    ["bake-started", scopeEvent("bake-started")],
    ["bake-finished", scopeEvent("bake-finished", { outcome: "Healthy" })],
    ["rollback-finished", scopeEvent("rollback-finished", { toVersion: "v1" })],
    ["stage-started", runEvent("stage-started", { stage: "prod-1" })],
    ["run-duplicate", runEvent("run-duplicate", { reason: "exists" })],
    ["a future event name", runEvent("run-paused")],
    ["another source", { ...runEvent("run-started"), source: "aws.states" }],
    [
      "another detail type",
      { source: "breakwater", detailType: DetailType.ApprovedChangeMerged, detail: {} },
    ],
  ])("%s → no notification", (_name, event) => {
    expect(toNotification(event)).toBeUndefined();
  });

  it("reads EventBridge envelopes (detail-type) as well as BusEvents", () => {
    const { detailType, ...rest } = runEvent("run-started");
    expect(toNotification({ ...rest, "detail-type": detailType })).toEqual(
      toNotification(runEvent("run-started")),
    );
  });

  it("a rollback names the scope, who noticed, why, and both versions", () => {
    const n = toNotification(
      scopeEvent("rollback-started", {
        toVersion: "v1",
        reason:
          "unhealthy: orders-5xx: Threshold Crossed; detector latency-p99: 900 ms vs baseline 120 ms",
      }),
    );
    expect(n).toEqual({
      type: "rolled-back",
      severity: "critical",
      ...RUN,
      stage: "prod-2",
      scope: SCOPE,
      at: AT,
      title: `orders-api: rolling back ${SCOPE}`,
      text: `v2 is being rolled back to v1 in ${SCOPE} (alarms and detector). The run is halted: nothing else deploys until an engineer decides.`,
      fields: [
        { label: "Scope", value: SCOPE },
        { label: "From", value: "v2" },
        { label: "To", value: "v1" },
        { label: "Detected by", value: "alarms and detector" },
        {
          label: "Why",
          value: "orders-5xx: Threshold Crossed\ndetector latency-p99: 900 ms vs baseline 120 ms",
        },
      ],
    });
  });

  it("blocked and unblocked carry the blocker (unblocked without the 'cleared:' prefix)", () => {
    const reason = "manual block on organisation by bob: INC-7";
    expect(toNotification(scopeEvent("blocked", { reason }))?.fields).toEqual([
      { label: "Scope", value: SCOPE },
      { label: "Version", value: "v2" },
      { label: "Blocked by", value: reason },
    ]);
    expect(
      toNotification(scopeEvent("unblocked", { reason: `cleared: ${reason}` }))?.fields,
    ).toEqual([
      { label: "Scope", value: SCOPE },
      { label: "Version", value: "v2" },
      { label: "Was blocked by", value: reason },
    ]);
  });

  it("a halt says a decision is needed and why", () => {
    const n = toNotification(runEvent("run-halted", { stage: "prod-2", reason: "r" }));
    expect(n?.text).toBe(
      "The run of v2 is halted: r. No deploy step starts until an engineer decides: roll back everything, retry, or roll forward with a new version.",
    );
    expect(n?.stage).toBe("prod-2");
  });

  it("an approval asked for says which command decides it, and by when", () => {
    const n = toNotification(
      runEvent("approval-requested", {
        stage: "prod-1",
        reason: "approve or reject before 2026-12-02T10:00:00.000Z",
      }),
    );
    expect(n?.text).toBe(
      "v2 is ready to enter prod-1 and waits for an operator: breakwater approve (or reject) --pipeline orders-api --version v2; approve or reject before 2026-12-02T10:00:00.000Z.",
    );
  });

  it("an organisation-wide override is notified under pipeline '*'", () => {
    const n = toNotification({
      source: "breakwater",
      "detail-type": OVERRIDE_EVENT_DETAIL_TYPE,
      detail: { at: AT, action: "block", actor: "bob", reason: "INC-7", level: "organisation" },
    });
    expect(n).toMatchObject({
      type: "override-used",
      pipeline: "*",
      title: "all pipelines: override block by bob",
      text: "bob used block on organisation: INC-7.",
    });
  });

  it("a malformed Breakwater event is an InvalidInputError naming every problem", () => {
    const bad = runEvent("run-started", { at: "yesterday", pipeline: "" });
    expect(() => toNotification(bad)).toThrowError(
      expect.objectContaining({
        name: "InvalidInputError",
        problems: [
          { path: "detail.at", message: expect.any(String) },
          { path: "detail.pipeline", message: expect.any(String) },
        ],
      }),
    );
  });
});

describe("describeRollbackCause", () => {
  it.each([
    [
      "alarm: orders-5xx in ALARM: Threshold Crossed",
      "alarms",
      ["orders-5xx in ALARM: Threshold Crossed"],
    ],
    ["unhealthy: detector error-rate: 4%", "detector", ["detector error-rate: 4%"]],
    ["unhealthy: a: x; b in ALARM", "alarms", ["a: x", "b in ALARM"]],
    ["deploy-failed: hosts unhealthy", "deploy failed", ["hosts unhealthy"]],
    ["step-error: States.Timeout", "step error", ["States.Timeout"]],
    [
      "tests-failed: test lambda it failed: 2 of 9",
      "tests failed",
      ["test lambda it failed: 2 of 9"],
    ],
    [
      "unhealthy: canary home: 90% success (below 99%)",
      "canaries",
      ["canary home: 90% success (below 99%)"],
    ],
    [
      "unhealthy: a: x; detector error-rate: 4%; canary c: 0% success (below 99%)",
      "alarms, detector and canaries",
      ["a: x", "detector error-rate: 4%", "canary c: 0% success (below 99%)"],
    ],
    ["unhealthy", "unhealthy", []],
    [undefined, "unknown", []],
  ])("%j → %s", (reason, trigger, items) => {
    expect(describeRollbackCause(reason)).toEqual({ trigger, items });
  });
});

describe("Block Kit builder", () => {
  it("escapes &, < and > (and nothing else)", () => {
    expect(escapeSlack("p99 > 2s & <!channel> *bold* 'q'")).toBe(
      "p99 &gt; 2s &amp; &lt;!channel&gt; *bold* 'q'",
    );
  });

  it("escapes everything taken from the notification, so it cannot mention or link", () => {
    const message = buildSlackMessage(
      notification({
        title: "a <@U123> & b",
        text: "see <https://evil.example|here> & <!here>",
        fields: [{ label: "Why", value: "x > y" }],
        runId: "r<1>",
      }),
    );
    const json = JSON.stringify(message);
    // The only raw `<` left is the context line's own date token.
    expect(json).not.toMatch(/<[@#h]|<!(here|channel)/);
    expect(message.blocks[0]).toEqual({
      type: "header",
      text: { type: "plain_text", text: ":rewind: a &lt;@U123&gt; &amp; b", emoji: true },
    });
    expect(message.blocks[1]).toEqual({
      type: "section",
      text: {
        type: "mrkdwn",
        text: "see &lt;https://evil.example|here&gt; &amp; &lt;!here&gt;",
      },
    });
    expect(message.blocks[2]).toEqual({
      type: "section",
      fields: [{ type: "mrkdwn", text: "*Why*\nx &gt; y" }],
    });
    expect(message.blocks[3]).toEqual({
      type: "context",
      elements: [
        {
          type: "mrkdwn",
          text: "<!date^1714965165^{date_short_pretty} {time}|2024-05-06T03:12:45.000Z> · run `r&lt;1&gt;`",
        },
      ],
    });
    expect(message.text).toBe("[critical] a &lt;@U123&gt; &amp; b");
  });

  it("keeps at most 10 fields; the tenth names the rest", () => {
    const fields = Array.from({ length: 13 }, (_, i) => ({ label: `F${i}`, value: `v${i}` }));
    const message = buildSlackMessage(notification({ fields }));
    const section = message.blocks[2];
    if (!section || !("fields" in section)) throw new Error("no fields section");
    expect(section.fields).toHaveLength(SLACK_LIMITS.fields);
    expect(section.fields[8]?.text).toBe("*F8*\nv8");
    expect(section.fields[9]?.text).toBe("*+4 more*\nF9: v9\nF10: v10\nF11: v11\nF12: v12");
  });

  it("exactly 10 fields are all kept; no fields section when there are none", () => {
    const ten = Array.from({ length: 10 }, (_, i) => ({ label: `F${i}`, value: `v${i}` }));
    const section = buildSlackMessage(notification({ fields: ten })).blocks[2];
    expect(section && "fields" in section && section.fields.map((f) => f.text)).toEqual(
      ten.map((f) => `*${f.label}*\n${f.value}`),
    );
    expect(buildSlackMessage(notification({ fields: [] })).blocks.map((b) => b.type)).toEqual([
      "header",
      "section",
      "context",
    ]);
  });

  it("cuts long text to phone-sized limits, after escaping, with an ellipsis", () => {
    const message = buildSlackMessage(
      notification({
        title: "T".repeat(400),
        text: "<".repeat(1000),
        fields: [{ label: "Why", value: "w & ".repeat(200) }],
      }),
    );
    const [header, section, fields] = message.blocks;
    if (header?.type !== "header" || !section || !("text" in section)) throw new Error("shape");
    expect(header.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.header);
    expect(header.text.text.endsWith("…")).toBe(true);
    expect(section.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.text);
    // Never half an entity: only whole &lt; before the ellipsis.
    expect(section.text.text).toMatch(/^(&lt;)+…$/);
    if (!fields || !("fields" in fields)) throw new Error("no fields");
    const value = fields.fields[0]?.text.split("\n")[1] ?? "";
    expect(value.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldValue);
    expect(value).toMatch(/^(w &amp; )*(w( &amp;)?)?…$/);
    expect(message.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallback);
    // Well inside Slack's own limits (section text 3000, a field 2000).
    expect(JSON.stringify(message).length).toBeLessThan(4000);
  });

  it("fitEscaped keeps short text whole and never splits an emoji", () => {
    expect(fitEscaped("a & b", 20)).toBe("a &amp; b");
    expect(fitEscaped("a < b < c", 8)).toBe("a &lt;…");
    expect(fitEscaped("🚀🚀🚀🚀", 5)).toBe("🚀🚀…");
  });

  it("picks the emoji from the type, and a cross for a failed run", () => {
    const header = (n: Notification) => {
      const b = buildSlackMessage(n).blocks[0];
      return b?.type === "header" ? b.text.text : "";
    };
    expect(header(notification({ type: "blocked", severity: "warning", title: "t" }))).toBe(
      ":no_entry: t",
    );
    expect(header(notification({ type: "run-finished", severity: "info", title: "t" }))).toBe(
      ":checkered_flag: t",
    );
    expect(header(notification({ type: "run-finished", severity: "critical", title: "t" }))).toBe(
      ":x: t",
    );
    expect(buildSlackMessage(notification({ severity: "info", title: "t" })).text).toBe("t");
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2024-05-06T03:00:00Z");
  it.each([
    ["1", 1000],
    [" 30 ", 30_000],
    ["0", 0],
    ["Mon, 06 May 2024 03:00:05 GMT", 5000],
    ["Mon, 06 May 2024 02:00:00 GMT", 0],
    ["soon", undefined],
    [null, undefined],
  ])("%j → %j ms", (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
});

type FakeFetch = (url: string, init: RequestInit) => Promise<Response>;

function webhook(
  responses: (Response | Error)[],
  over: Partial<ConstructorParameters<typeof SlackWebhookNotifier>[0]> = {},
) {
  const calls: { url: string; init: RequestInit }[] = [];
  const sleeps: number[] = [];
  const kept: { message: SlackMessage; error: DeliveryError }[] = [];
  const fake: FakeFetch = async (url, init) => {
    calls.push({ url, init });
    const next = responses.shift() ?? new Response("ok");
    if (next instanceof Error) throw next;
    return next;
  };
  const slack = new SlackWebhookNotifier({
    url: "https://hooks.slack.test/services/X",
    deadLetter: { put: async (message, error) => void kept.push({ message, error }) },
    sleep: async (ms) => void sleeps.push(ms),
    random: () => 0,
    fetch: fake as typeof fetch,
    ...over,
  });
  return { slack, calls, sleeps, kept };
}

describe("SlackWebhookNotifier edge cases", () => {
  it("a 429 asking to wait longer than maxRetryAfterMs is dead-lettered at once", async () => {
    const { slack, calls, sleeps, kept } = webhook(
      [new Response("rate_limited", { status: 429, headers: { "retry-after": "120" } })],
      { maxRetryAfterMs: 60_000 },
    );
    const result = await slack.notify(notification());
    expect(result).toMatchObject({ delivered: false, attempts: 1, deadLettered: true });
    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(kept[0]?.error.message).toBe(
      "Slack webhook answered 429: rate_limited; Retry-After 120 s exceeds the 60000 ms this sender waits",
    );
    expect(kept[0]?.error.status).toBe(429);
  });

  it("a 429 without Retry-After backs off like a 5xx", async () => {
    const { slack, sleeps } = webhook([new Response("", { status: 429 }), new Response("ok")], {
      baseDelayMs: 1000,
    });
    expect(await slack.notify(notification())).toEqual({ delivered: true, attempts: 2 });
    expect(sleeps).toEqual([500]);
  });

  it("a 429 with an HTTP-date Retry-After waits until that date", async () => {
    const now = Date.parse("2024-05-06T03:00:00Z");
    const { slack, sleeps } = webhook(
      [
        new Response("", {
          status: 429,
          headers: { "retry-after": "Mon, 06 May 2024 03:00:03 GMT" },
        }),
        new Response("ok"),
      ],
      { now: () => now },
    );
    await slack.notify(notification());
    expect(sleeps).toEqual([3000]);
  });

  it("backoff steps are capped by maxDelayMs", async () => {
    const { slack, sleeps } = webhook(
      Array.from({ length: 6 }, () => new Response("", { status: 500 })),
      { maxAttempts: 6, baseDelayMs: 1000, maxDelayMs: 4000, random: () => 1 },
    );
    await slack.notify(notification());
    expect(sleeps).toEqual([1000, 2000, 4000, 4000, 4000]);
  });

  it("when the dead letter fails too, throws DeadLetterError (never drops silently)", async () => {
    const refused = () => new Response("invalid_blocks", { status: 400 });
    const { slack } = webhook([refused(), refused()], {
      deadLetter: {
        put: async () => {
          throw new Error("SQS unavailable");
        },
      },
    });
    await expect(slack.notify(notification())).rejects.toThrowError(
      expect.objectContaining({
        name: "DeadLetterError",
        message:
          "Slack message not delivered (Slack webhook answered 400: invalid_blocks) and not dead-lettered: SQS unavailable",
      }),
    );
    await expect(slack.notify(notification())).rejects.toBeInstanceOf(DeadLetterError);
  });

  it("a URL that cannot be loaded dead-letters the message with 0 attempts", async () => {
    const { slack, calls, kept } = webhook([], {
      url: async () => {
        throw new Error("ParameterNotFound");
      },
    });
    const result = await slack.notify(notification());
    expect(result).toMatchObject({ delivered: false, attempts: 0, deadLettered: true });
    expect(calls).toEqual([]);
    expect(kept[0]?.error.kind).toBe("config");
    expect(kept[0]?.message).toEqual(buildSlackMessage(notification()));
  });

  it("loads the URL through the loader and posts JSON with a per-attempt timeout signal", async () => {
    const { slack, calls } = webhook([new Response("ok")], {
      url: async () => "https://hooks.slack.test/services/loaded",
    });
    await slack.notify(notification());
    expect(calls[0]?.url).toBe("https://hooks.slack.test/services/loaded");
    expect(calls[0]?.init.method).toBe("POST");
    expect(calls[0]?.init.signal).toBeInstanceOf(AbortSignal);
    expect(JSON.parse(String(calls[0]?.init.body))).toEqual(buildSlackMessage(notification()));
  });

  it("rejects invalid options, naming each", () => {
    expect(
      () =>
        new SlackWebhookNotifier({
          url: "https://x",
          deadLetter: { put: async () => {} },
          maxAttempts: 0,
          timeoutMs: 1.5,
        }),
    ).toThrowError(
      expect.objectContaining({
        name: "InvalidInputError",
        problems: [
          { path: "maxAttempts", message: "must be an integer >= 1" },
          { path: "timeoutMs", message: "must be an integer >= 1" },
        ],
      }),
    );
  });
});

describe("dispatch and the local channel", () => {
  it("ConsoleNotifier prints one plain line", async () => {
    const lines: string[] = [];
    const n = notification();
    expect(await new ConsoleNotifier((l) => lines.push(l)).notify(n)).toEqual({
      delivered: true,
      attempts: 1,
    });
    expect(lines).toEqual([renderPlainText(n)]);
    expect(lines[0]).toBe(
      "[critical] orders-api: rolling back prod-2/us-east-1/use1-az2 — v2 is being rolled back to v1.",
    );
  });

  it("notifyAll tells every channel even when one throws, then throws NotifyError", async () => {
    const told: string[] = [];
    const good: Notifier = {
      notify: async (n) => {
        told.push(n.type);
        return { delivered: true, attempts: 1 };
      },
    };
    const bad: Notifier = {
      notify: async () => {
        throw new Error("SNS down");
      },
    };
    await expect(notifyAll([bad, good], notification())).rejects.toThrowError(NotifyError);
    expect(told).toEqual(["rolled-back"]);
    expect(await notifyAll([good, good], notification())).toHaveLength(2);
  });

  it("dispatchEvent skips routine events and notifies the rest", async () => {
    const lines: string[] = [];
    const console = new ConsoleNotifier((l) => lines.push(l));
    expect(await dispatchEvent([console], scopeEvent("bake-started"))).toEqual({ skipped: true });
    const out = await dispatchEvent([console], runEvent("run-started"));
    expect(out).toMatchObject({
      notification: { type: "run-started" },
      results: [{ delivered: true }],
    });
    expect(lines).toEqual([
      "[info] orders-api: v2 started — Breakwater is taking v2 through the orders-api pipeline.",
    ]);
  });
});

describe("SnsNotifier", () => {
  const sns = mockClient(SNSClient);
  beforeEach(() => sns.reset());

  it("publishes the notification as JSON with filterable attributes", async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    const n = notification();
    const notifier = new SnsNotifier(
      new SNSClient({ region: "us-east-1", credentials }),
      "arn:aws:sns:us-east-1:123456789012:breakwater-notifications",
    );

    expect(await notifier.notify(n)).toEqual({ delivered: true, attempts: 1, messageId: "m-1" });

    expect(sns.commandCalls(PublishCommand).map((c) => c.args[0].input)).toEqual([
      {
        TopicArn: "arn:aws:sns:us-east-1:123456789012:breakwater-notifications",
        Subject: "[CRITICAL] orders-api: rolling back prod-2/us-east-1/use1-az2",
        Message: JSON.stringify(n),
        MessageAttributes: {
          pipeline: { DataType: "String", StringValue: "orders-api" },
          severity: { DataType: "String", StringValue: "critical" },
          eventType: { DataType: "String", StringValue: "rolled-back" },
        },
      },
    ]);
    const input = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(notificationSchema.parse(JSON.parse(input?.Message ?? ""))).toEqual(n);
  });

  it("lets SNS errors propagate (the invocation is retried)", async () => {
    sns.on(PublishCommand).rejects(new Error("Throttling"));
    const notifier = new SnsNotifier(new SNSClient({ region: "us-east-1", credentials }), "arn");
    await expect(notifier.notify(notification())).rejects.toThrow("Throttling");
  });

  it("subjects are printable ASCII without line breaks, under 100 characters", () => {
    const subject = snsSubject(
      notification({ title: `Déploiement\nbloqué ✋ ${"x".repeat(200)}`, severity: "warning" }),
    );
    expect(subject.length).toBe(SNS_SUBJECT_MAX);
    expect(subject).toMatch(/^\[WARNING\] Deploiement bloque \? x+\.\.\.$/);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
  });
});

describe("SqsDeadLetterSink", () => {
  const sqs = mockClient(SQSClient);
  beforeEach(() => sqs.reset());

  it("sends the failed Slack message and the error to the queue", async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: "q-1" });
    const sink = new SqsDeadLetterSink(
      new SQSClient({ region: "us-east-1", credentials }),
      "https://sqs.us-east-1.amazonaws.com/123456789012/breakwater-slack-dlq",
      { now: () => new Date(AT) },
    );
    const message = buildSlackMessage(notification());
    const error = new DeliveryError("Slack webhook answered 400: invalid_blocks", {
      kind: "http",
      attempts: 1,
      status: 400,
      body: "invalid_blocks",
    });

    await sink.put(message, error);

    expect(sqs.commandCalls(SendMessageCommand).map((c) => c.args[0].input)).toEqual([
      {
        QueueUrl: "https://sqs.us-east-1.amazonaws.com/123456789012/breakwater-slack-dlq",
        MessageBody: JSON.stringify({
          channel: "slack-webhook",
          failedAt: AT,
          error: {
            name: "DeliveryError",
            message: "Slack webhook answered 400: invalid_blocks",
            kind: "http",
            attempts: 1,
            status: 400,
            body: "invalid_blocks",
          },
          message,
        }),
        MessageAttributes: {
          channel: { DataType: "String", StringValue: "slack-webhook" },
          errorKind: { DataType: "String", StringValue: "http" },
          status: { DataType: "Number", StringValue: "400" },
        },
      },
    ]);
  });

  it("omits the status attribute for timeouts, and propagates SQS failures", async () => {
    sqs.on(SendMessageCommand).resolvesOnce({}).rejects(new Error("AccessDenied"));
    const sink = new SqsDeadLetterSink(new SQSClient({ region: "us-east-1", credentials }), "q");
    const error = new DeliveryError("no answer", { kind: "timeout", attempts: 5 });
    await sink.put(buildSlackMessage(notification()), error);
    expect(sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageAttributes).toEqual({
      channel: { DataType: "String", StringValue: "slack-webhook" },
      errorKind: { DataType: "String", StringValue: "timeout" },
    });
    await expect(sink.put(buildSlackMessage(notification()), error)).rejects.toThrow(
      "AccessDenied",
    );
  });

  it("plugs into the Slack notifier: a refused message lands on the queue", async () => {
    sqs.on(SendMessageCommand).resolves({});
    const { slack } = webhook([new Response("invalid_blocks", { status: 400 })], {
      deadLetter: new SqsDeadLetterSink(new SQSClient({ region: "us-east-1", credentials }), "q"),
    });
    expect(await slack.notify(notification())).toMatchObject({ deadLettered: true });
    const body = JSON.parse(
      sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageBody ?? "",
    );
    expect(body.error.body).toBe("invalid_blocks");
    expect(body.message).toEqual(buildSlackMessage(notification()));
  });
});

describe("loadSlackWebhookUrl", () => {
  const ssm = mockClient(SSMClient);
  const client = () => new SSMClient({ region: "us-east-1", credentials });
  const NAME = "/breakwater/prod/slack-webhook-url";
  const URL_VALUE = "https://hooks.slack.com/services/T0/B0/secret";
  beforeEach(() => {
    ssm.reset();
    clearSlackWebhookUrlCache();
  });
  afterEach(() => clearSlackWebhookUrlCache());

  it("loadSecureParameter reads any secret (the GitHub webhook's is not a URL)", async () => {
    const secretName = "/breakwater/prod/github-webhook-secret";
    ssm.on(GetParameterCommand, { Name: secretName }).resolves({
      Parameter: { Name: secretName, Value: "It's a Secret to Everybody" },
    });
    expect(await loadSecureParameter(client(), secretName)).toBe("It's a Secret to Everybody");
    // The Slack loader still insists on a URL for the same value.
    await expect(loadSlackWebhookUrl(client(), secretName)).rejects.toThrowError(
      "does not hold a URL",
    );
    ssm
      .on(GetParameterCommand, { Name: "/missing" })
      .rejects(new ParameterNotFound({ message: "nope", $metadata: {} }));
    await expect(
      loadSecureParameter(client(), "/missing", { what: "GitHub webhook secret" }),
    ).rejects.toThrowError("SSM parameter /missing (GitHub webhook secret) does not exist");
  });

  it("reads the decrypted parameter once and caches it", async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Name: NAME, Value: URL_VALUE } });
    const c = client();
    const [a, b] = await Promise.all([loadSlackWebhookUrl(c, NAME), loadSlackWebhookUrl(c, NAME)]);
    expect(await loadSlackWebhookUrl(c, NAME)).toBe(URL_VALUE);
    expect([a, b]).toEqual([URL_VALUE, URL_VALUE]);
    expect(ssm.commandCalls(GetParameterCommand).map((call) => call.args[0].input)).toEqual([
      { Name: NAME, WithDecryption: true },
    ]);
  });

  it("reads it again after maxAgeMs (a rotated URL is picked up)", async () => {
    ssm
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Value: URL_VALUE } })
      .resolves({ Parameter: { Value: `${URL_VALUE}2` } });
    let now = 0;
    const options = { maxAgeMs: 1000, now: () => now };
    expect(await loadSlackWebhookUrl(client(), NAME, options)).toBe(URL_VALUE);
    now = 999;
    expect(await loadSlackWebhookUrl(client(), NAME, options)).toBe(URL_VALUE);
    now = 1000;
    expect(await loadSlackWebhookUrl(client(), NAME, options)).toBe(`${URL_VALUE}2`);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it("does not cache failures, and names the parameter but never the URL", async () => {
    ssm
      .on(GetParameterCommand)
      .rejectsOnce(new ParameterNotFound({ message: "not found", $metadata: {} }))
      .resolvesOnce({ Parameter: { Value: "" } })
      .resolvesOnce({ Parameter: { Value: "ftp://hooks.slack.com/x" } })
      .resolvesOnce({ Parameter: { Value: "not a url" } })
      .resolves({ Parameter: { Value: URL_VALUE } });
    const c = client();
    await expect(loadSlackWebhookUrl(c, NAME)).rejects.toThrowError(
      expect.objectContaining({
        name: "MissingConfigError",
        message: `SSM parameter ${NAME} (Slack webhook URL) does not exist`,
      }),
    );
    await expect(loadSlackWebhookUrl(c, NAME)).rejects.toThrowError(
      expect.objectContaining({ name: "MissingConfigError" }),
    );
    await expect(loadSlackWebhookUrl(c, NAME)).rejects.toThrowError(
      expect.objectContaining({
        name: "InvalidInputError",
        message: `SSM parameter ${NAME} does not hold an http(s) URL`,
      }),
    );
    const error = await loadSlackWebhookUrl(c, NAME).catch((e: Error) => e);
    expect(error).toMatchObject({ name: "InvalidInputError" });
    expect(String((error as Error).message)).not.toContain("not a url");
    expect(await loadSlackWebhookUrl(c, NAME)).toBe(URL_VALUE);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(5);
  });

  it("feeds the Slack notifier", async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: URL_VALUE } });
    const c = client();
    const deadLetter: DeadLetterSink<SlackMessage> = { put: async () => {} };
    const { slack, calls } = webhook([new Response("ok"), new Response("ok")], {
      url: () => loadSlackWebhookUrl(c, NAME),
      deadLetter,
    });
    await slack.notify(notification());
    await slack.notify(notification());
    expect(calls.map((call) => call.url)).toEqual([URL_VALUE, URL_VALUE]);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
  });
});
