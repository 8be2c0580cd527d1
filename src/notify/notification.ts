/**
 * Notifications: what a human should hear about, derived from Breakwater's own bus events.
 *
 * Pure mapping, no I/O. Channels (Slack, SNS, the local console) render a {@link Notification};
 * they never look at bus events themselves, so every channel says the same thing.
 */
import * as z from "zod";
import { DetailType, SOURCE } from "../app/events.ts";
import { InvalidInputError } from "../domain/errors.ts";
import { formatProblems } from "../domain/pipeline.ts";

export type NotificationType =
  | "run-started"
  | "stage-finished"
  | "blocked"
  | "unblocked"
  | "rolled-back"
  | "halted"
  | "override-used"
  | "approval-requested"
  | "run-finished";

export type Severity = "info" | "warning" | "critical";

export interface NotificationField {
  label: string;
  value: string;
}

export interface Notification {
  type: NotificationType;
  severity: Severity;
  /** The pipeline concerned; `*` for organisation-wide overrides. */
  pipeline: string;
  runId?: string;
  version?: string;
  stage?: string;
  scope?: string;
  /** One line, plain text (channels escape and truncate it). */
  title: string;
  /** A few plain-text sentences: what happened and what, if anything, a human must do. */
  text: string;
  fields: NotificationField[];
  /** When it happened (ISO time of the source event). */
  at: string;
}

const NOTIFICATION_TYPES = [
  "run-started",
  "stage-finished",
  "blocked",
  "unblocked",
  "rolled-back",
  "halted",
  "override-used",
  "approval-requested",
  "run-finished",
] as const satisfies readonly NotificationType[];

/** Schema of a serialized notification (the SNS message body, dead-letter records). */
export const notificationSchema = z
  .object({
    type: z.enum(NOTIFICATION_TYPES),
    severity: z.enum(["info", "warning", "critical"]),
    pipeline: z.string().min(1),
    runId: z.string().min(1).optional(),
    version: z.string().min(1).optional(),
    stage: z.string().min(1).optional(),
    scope: z.string().min(1).optional(),
    title: z.string().min(1),
    text: z.string(),
    fields: z.array(z.object({ label: z.string().min(1), value: z.string() }).strict()),
    at: z.iso.datetime({ offset: true }),
  })
  .strict();

/**
 * Detail type of the override function's audit event. The override function publishes it
 * (source `breakwater`) after every action, so that "override used" reaches people.
 */
export const OVERRIDE_EVENT_DETAIL_TYPE = DetailType.OverrideEvent;

// Consumer schemas are tolerant readers (no `.strict()`): a publisher adding a field must not
// make notifications fail. Unknown event names map to no notification rather than an error.
const scopeEventSchema = z.object({
  at: z.iso.datetime({ offset: true }),
  runId: z.string().min(1),
  pipeline: z.string().min(1),
  version: z.string().min(1),
  stage: z.string().min(1),
  scope: z.string().min(1),
  step: z.string().min(1),
  event: z.string().min(1),
  percent: z.number().optional(),
  outcome: z.string().optional(),
  reason: z.string().optional(),
  toVersion: z.string().optional(),
});

const runEventSchema = z.object({
  at: z.iso.datetime({ offset: true }),
  runId: z.string().min(1),
  pipeline: z.string().min(1),
  version: z.string().min(1),
  event: z.string().min(1),
  stage: z.string().optional(),
  reason: z.string().optional(),
});

/** The override function's audit event (see {@link OVERRIDE_EVENT_DETAIL_TYPE}). */
export const overrideEventSchema = z.object({
  at: z.iso.datetime({ offset: true }),
  action: z.string().min(1),
  actor: z.string().min(1),
  /** Who acted, as authenticated (the caller's IAM principal ARN; `local:…` on serve). */
  principal: z.string().min(1).optional(),
  reason: z.string().min(1),
  /** `organisation`, `pipeline` or `scope` for block/unblock. */
  level: z.string().optional(),
  /** Absent for organisation-wide actions. */
  pipeline: z.string().min(1).optional(),
  scope: z.string().optional(),
  runId: z.string().optional(),
  version: z.string().optional(),
  /** bypass: the blocker kinds the version may ignore. */
  kinds: z.array(z.string()).optional(),
  /** bypass / block: when it ends (ISO time). */
  expiresAt: z.string().optional(),
  /** What the action did, in a sentence (for example "run r-1 cancelled"). */
  effect: z.string().optional(),
});

export type OverrideEventDetail = z.infer<typeof overrideEventSchema>;

/** A bus event as Breakwater publishes it (`BusEvent`) or as EventBridge delivers it. */
export type IncomingEvent =
  | { source: string; detailType: string; detail: unknown }
  | { source: string; "detail-type": string; detail: unknown };

function parse<T>(schema: z.ZodType<T>, detail: unknown, what: string): T {
  const result = schema.safeParse(detail);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => ({
    path: ["detail", ...i.path.map(String)].join("."),
    message: i.message,
  }));
  throw new InvalidInputError(`invalid ${what}: ${formatProblems(problems, "; ")}`, problems);
}

/**
 * Maps one Breakwater bus event to the notification a human should read, or `undefined` when
 * the event is routine (deploy and bake steps, stage starts, duplicate triggers) or not
 * Breakwater's. Throws {@link InvalidInputError} when a Breakwater event's detail is malformed.
 *
 * Severity: rollbacks, halts and failed runs are `critical`; blocked is `warning`; the rest
 * `info`. Blocked/unblocked are notified once each because the gate publishes them only when
 * a scope's blocked state changes.
 *
 * @example
 * toNotification({
 *   source: "breakwater",
 *   detailType: "Breakwater Run Event",
 *   detail: { at: "2024-05-01T10:00:00.000Z", runId: "r-1", pipeline: "orders-api",
 *             version: "v2", event: "run-started" },
 * });
 * // => { type: "run-started", severity: "info", title: "orders-api: v2 started", ... }
 */
export function toNotification(event: IncomingEvent): Notification | undefined {
  if (event.source !== SOURCE) return undefined;
  const detailType = "detailType" in event ? event.detailType : event["detail-type"];
  switch (detailType) {
    case DetailType.ScopeEvent:
      return fromScopeEvent(parse(scopeEventSchema, event.detail, "scope event"));
    case DetailType.RunEvent:
      return fromRunEvent(parse(runEventSchema, event.detail, "run event"));
    case OVERRIDE_EVENT_DETAIL_TYPE:
      return fromOverrideEvent(parse(overrideEventSchema, event.detail, "override event"));
    default:
      return undefined;
  }
}

type ScopeEventDetail = z.infer<typeof scopeEventSchema>;
type RunEventDetail = z.infer<typeof runEventSchema>;

function fromScopeEvent(e: ScopeEventDetail): Notification | undefined {
  const base = {
    pipeline: e.pipeline,
    runId: e.runId,
    version: e.version,
    stage: e.stage,
    scope: e.scope,
    at: e.at,
  };
  switch (e.event) {
    case "rollback-started": {
      const cause = describeRollbackCause(e.reason);
      const to = e.toVersion ?? "the previous version";
      return {
        ...base,
        type: "rolled-back",
        severity: "critical",
        title: `${e.pipeline}: rolling back ${e.scope}`,
        text:
          `${e.version} is being rolled back to ${to} in ${e.scope} (${cause.trigger}). ` +
          "The run is halted: nothing else deploys until an engineer decides.",
        fields: [
          { label: "Scope", value: e.scope },
          { label: "From", value: e.version },
          { label: "To", value: to },
          { label: "Detected by", value: cause.trigger },
          { label: "Why", value: cause.items.length ? cause.items.join("\n") : "not recorded" },
        ],
      };
    }
    case "blocked":
      return {
        ...base,
        type: "blocked",
        severity: "warning",
        title: `${e.pipeline}: ${e.scope} blocked`,
        text: `The next step of ${e.version} in ${e.scope} waits: ${e.reason ?? "a blocker holds"}.`,
        fields: [
          { label: "Scope", value: e.scope },
          { label: "Version", value: e.version },
          { label: "Blocked by", value: e.reason ?? "not recorded" },
        ],
      };
    case "unblocked": {
      const was = e.reason?.replace(/^cleared: /, "");
      return {
        ...base,
        type: "unblocked",
        severity: "info",
        title: `${e.pipeline}: ${e.scope} unblocked`,
        text: `The blocker cleared; ${e.version} continues in ${e.scope}.`,
        fields: [
          { label: "Scope", value: e.scope },
          { label: "Version", value: e.version },
          ...(was ? [{ label: "Was blocked by", value: was }] : []),
        ],
      };
    }
    default:
      // deploy/bake started/finished, rollback-finished: routine, visible in the timeline.
      return undefined;
  }
}

function fromRunEvent(e: RunEventDetail): Notification | undefined {
  const base = { pipeline: e.pipeline, runId: e.runId, version: e.version, at: e.at };
  const stage = e.stage ? { stage: e.stage } : {};
  switch (e.event) {
    case "run-started":
      return {
        ...base,
        type: "run-started",
        severity: "info",
        title: `${e.pipeline}: ${e.version} started`,
        text: `Breakwater is taking ${e.version} through the ${e.pipeline} pipeline.`,
        fields: [{ label: "Version", value: e.version }],
      };
    case "stage-finished":
      return {
        ...base,
        ...stage,
        type: "stage-finished",
        severity: "info",
        title: `${e.pipeline}: ${e.version} finished ${e.stage ?? "a stage"}`,
        text: `${e.version} finished stage ${e.stage ?? "(unnamed)"}, bake included.`,
        fields: [
          { label: "Stage", value: e.stage ?? "not recorded" },
          { label: "Version", value: e.version },
        ],
      };
    case "run-halted":
      return {
        ...base,
        ...stage,
        type: "halted",
        severity: "critical",
        title: `${e.pipeline}: ${e.version} halted, decision needed`,
        text:
          `The run of ${e.version} is halted${e.reason ? `: ${e.reason}` : ""}. ` +
          "No deploy step starts until an engineer decides: roll back everything, retry, " +
          "or roll forward with a new version.",
        fields: [
          ...(e.stage ? [{ label: "Stage", value: e.stage }] : []),
          { label: "Version", value: e.version },
          { label: "Why", value: e.reason ?? "not recorded" },
        ],
      };
    case "approval-requested":
      // A human must act: the run waits (and halts at the deadline) until someone decides.
      return {
        ...base,
        ...stage,
        type: "approval-requested",
        severity: "warning",
        title: `${e.pipeline}: ${e.version} awaits approval for ${e.stage ?? "a stage"}`,
        text:
          `${e.version} is ready to enter ${e.stage ?? "the next stage"} and waits for an operator: ` +
          `breakwater approve (or reject) --pipeline ${e.pipeline} --version ${e.version}` +
          `${e.reason ? `; ${e.reason}` : ""}.`,
        fields: [
          ...(e.stage ? [{ label: "Stage", value: e.stage }] : []),
          { label: "Version", value: e.version },
          ...(e.reason ? [{ label: "Decide", value: e.reason }] : []),
        ],
      };
    case "run-succeeded":
      return {
        ...base,
        type: "run-finished",
        severity: "info",
        title: `${e.pipeline}: ${e.version} deployed everywhere`,
        text: `The run of ${e.version} succeeded: every stage finished, bakes included.`,
        fields: [
          { label: "Outcome", value: "succeeded" },
          { label: "Version", value: e.version },
        ],
      };
    case "run-failed":
      // The control plane itself failed: like a halt, someone has to look.
      return {
        ...base,
        ...stage,
        type: "run-finished",
        severity: "critical",
        title: `${e.pipeline}: ${e.version} run failed`,
        text: `The run of ${e.version} failed in the control plane${e.reason ? `: ${e.reason}` : ""}.`,
        fields: [
          { label: "Outcome", value: "failed" },
          { label: "Version", value: e.version },
          ...(e.reason ? [{ label: "Why", value: e.reason }] : []),
        ],
      };
    case "run-rolled-back":
    case "run-superseded":
    case "run-cancelled": {
      const outcome = e.event.slice("run-".length);
      return {
        ...base,
        type: "run-finished",
        severity: e.event === "run-superseded" ? "info" : "warning",
        title: `${e.pipeline}: ${e.version} ${outcome}`,
        text: `The run of ${e.version} ended ${outcome}${e.reason ? `: ${e.reason}` : ""}.`,
        fields: [
          { label: "Outcome", value: outcome },
          { label: "Version", value: e.version },
          ...(e.reason ? [{ label: "Why", value: e.reason }] : []),
        ],
      };
    }
    default:
      // stage-started, run-duplicate, run-resumed (the decision's override event says it): routine.
      return undefined;
  }
}

function fromOverrideEvent(e: OverrideEventDetail): Notification {
  const target = e.scope ?? e.pipeline ?? (e.level === "organisation" ? "organisation" : "");
  const fields: NotificationField[] = [
    { label: "Action", value: e.action },
    { label: "Actor", value: e.actor },
    ...(e.principal ? [{ label: "Principal", value: e.principal }] : []),
    { label: "Reason", value: e.reason },
  ];
  if (target) fields.push({ label: "Target", value: target });
  if (e.version) fields.push({ label: "Version", value: e.version });
  if (e.kinds?.length) fields.push({ label: "Ignores", value: e.kinds.join(", ") });
  if (e.expiresAt) fields.push({ label: "Until", value: e.expiresAt });
  return {
    type: "override-used",
    severity: "info",
    pipeline: e.pipeline ?? "*",
    ...(e.runId ? { runId: e.runId } : {}),
    ...(e.version ? { version: e.version } : {}),
    ...(e.scope ? { scope: e.scope } : {}),
    title: `${e.pipeline ?? "all pipelines"}: override ${e.action} by ${e.actor}`,
    text: `${e.actor}${e.principal ? ` (${e.principal})` : ""} used ${e.action}${target ? ` on ${target}` : ""}: ${e.reason}.${
      e.effect ? ` ${e.effect}.` : ""
    }`,
    fields,
    at: e.at,
  };
}

export interface RollbackCause {
  /**
   * Who noticed: `alarms`, `detector`, `canaries` (or several: `alarms and detector`),
   * `deploy failed`, `tests failed`, `step error`.
   */
  trigger: string;
  /** The individual reasons (alarm names with their reasons, detector findings). */
  items: string[];
}

/**
 * Reads the rollback reason the rollback task records (`<kind>: <reason>; <reason>…`, where
 * kind is `unhealthy`, `alarm`, `deploy-failed`, `tests-failed` or `step-error`, and detector findings start
 * with `detector `, canary findings with `canary `) into who noticed and why.
 *
 * @example
 * describeRollbackCause("unhealthy: orders-5xx: Threshold Crossed; detector error-rate: 4% vs 0.1%");
 * // => { trigger: "alarms and detector", items: ["orders-5xx: Threshold Crossed", "detector error-rate: 4% vs 0.1%"] }
 */
export function describeRollbackCause(reason: string | undefined): RollbackCause {
  if (!reason) return { trigger: "unknown", items: [] };
  const match = /^(unhealthy|alarm|deploy-failed|tests-failed|step-error)(?::\s*(.*))?$/s.exec(
    reason,
  );
  const kind = match?.[1];
  const rest = match ? (match[2] ?? "") : reason;
  const items = rest
    .split("; ")
    .map((s) => s.trim())
    .filter(Boolean);
  if (kind === "deploy-failed") return { trigger: "deploy failed", items };
  if (kind === "tests-failed") return { trigger: "tests failed", items };
  if (kind === "step-error") return { trigger: "step error", items };
  const isDetector = (i: string) => i.startsWith("detector ");
  const isCanary = (i: string) => i.startsWith("canary ");
  const sources = [
    items.some((i) => !isDetector(i) && !isCanary(i)) ? "alarms" : "",
    items.some(isDetector) ? "detector" : "",
    items.some(isCanary) ? "canaries" : "",
  ].filter(Boolean);
  const trigger =
    sources.length > 1
      ? `${sources.slice(0, -1).join(", ")} and ${sources.at(-1)}`
      : (sources[0] ?? kind);
  return { trigger: trigger ?? "unknown", items };
}

/**
 * One line of plain text for consoles and logs (the local mode prints notifications).
 *
 * @example
 * renderPlainText(n); // "[critical] orders-api: rolling back prod-1/eu-north-1 — v2 is being …"
 */
export function renderPlainText(n: Notification): string {
  return `[${n.severity}] ${n.title} — ${n.text}`;
}
