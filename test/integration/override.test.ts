/**
 * The override function on the local control plane (DynamoDB Local, real handlers, the real
 * ASL): stop the line, let the fix through, and everything audited; bad input changes nothing.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createOverrideHandler,
  type OverrideHandlerOptions,
  type OverrideHttpResponse,
} from "../../functions/override.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { lambdaContext } from "../../src/local/step-functions.ts";
import { dynamoClient } from "../support/dynamo.ts";
import { ALICE, urlRequest } from "../support/override-url.ts";

const START = new Date("2026-01-12T09:00:00Z");
const small = (name: string): PipelineInput => ({
  name,
  stages: [
    { name: "alpha", regions: ["eu-west-1"], bake: { minutes: 30 } },
    { name: "prod-1", regions: ["eu-west-1"], bake: { minutes: 60 } },
  ],
});

async function plane(options: OverrideHandlerOptions = {}) {
  const a = parsePipeline(small("billing"));
  const b = parsePipeline(small("ledger"));
  const p = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName: `override-${randomUUID()}`,
    start: START,
    fleet: (clock) =>
      new SimulatedFleet({ pipeline: a, morePipelines: [b], initialVersion: "v1", clock }),
    installation: { blockerRecheckMinutes: 5 },
  });
  await p.register(a, "v1");
  await p.register(b, "v1");
  const handler = createOverrideHandler(() => p.deps, options);
  const call = (event: unknown) =>
    handler(event, lambdaContext("breakwater-override", "test")) as Promise<OverrideHttpResponse>;
  /** Calls the function URL as `arn`; a refusal becomes an error of the type the body names. */
  const invoke = async (body: unknown, arn = ALICE) => {
    const res = await call(urlRequest(body, arn));
    const parsed = JSON.parse(res.body);
    if (res.statusCode !== 200) {
      throw Object.assign(new Error(parsed.error), { name: parsed.type, status: res.statusCode });
    }
    return parsed as { changed: boolean; effect: string };
  };
  return { p, invoke, call };
}

const later = (minutes: number) => new Date(START.getTime() + minutes * 60_000);

describe("override function", () => {
  it("an org block holds every pipeline; a bypass lets the fix version through while it stands", async () => {
    const { p, invoke } = await plane();
    p.requestRun("billing", "v2");
    p.requestRun("ledger", "v2");
    p.at(later(10), () =>
      invoke({ action: "block", level: "org", actor: "alice", reason: "sev-1: payments degraded" }),
    );
    p.at(later(120), () =>
      invoke({
        action: "bypass",
        pipeline: "billing",
        version: "v2",
        kinds: ["manual"],
        actor: "bob",
        reason: "v2 is the fix for the sev-1",
        expiresAt: later(6 * 60).toISOString(),
      }),
    );
    await p.run(later(10 * 60));

    const billing = await p.store.getRun("billing@v2");
    const ledger = await p.store.getRun("ledger@v2");
    expect(billing?.status).toBe("succeeded");
    expect(ledger?.status).toBe("running"); // still held by the block
    const ledgerProd = await p.store.getScope("ledger", "prod-1/eu-west-1");
    expect(ledgerProd).toMatchObject({ version: "v1", status: "stable" });
    expect(ledgerProd?.blocked?.reason).toBe(
      "manual block on organisation by alice: sev-1: payments degraded",
    );

    // History shows the block (actor and reason) and the bypassed deploy (actor and reason).
    const history = await p.store.history("billing", "prod-1/eu-west-1");
    expect(
      history.some((h) =>
        h.cause.includes("blocked: manual block on organisation by alice: sev-1"),
      ),
    ).toBe(true);
    const deploy = history.find((h) => h.status === "deploying");
    expect(deploy?.cause).toContain("bypass by bob (v2 is the fix for the sev-1)");
    expect(deploy?.at).toBe(later(120).toISOString());

    const audit = await p.store.listAudit();
    expect(audit.map((a) => [a.actor, a.action, a.reason])).toEqual([
      ["alice", "block", "sev-1: payments degraded"],
      ["bob", "bypass", "v2 is the fix for the sev-1"],
    ]);
    const notified = p.bus.log.filter((e) => e["detail-type"] === "Breakwater Override Event");
    expect(notified.map((e) => e.detail.action)).toEqual(["block", "bypass"]);
  });

  it("is idempotent: a repeated action changes nothing, says so, and is audited", async () => {
    const { p, invoke } = await plane();
    const block = {
      action: "block",
      level: "pipeline",
      pipeline: "billing",
      actor: "alice",
      reason: "freeze",
    };
    expect((await invoke(block)).changed).toBe(true);
    const again = await invoke(block);
    expect(again).toMatchObject({ changed: false, effect: "unchanged (already blocked)" });
    expect(await p.store.listBlocks()).toHaveLength(1);
    const unblock = {
      action: "unblock",
      level: "pipeline",
      pipeline: "billing",
      actor: "alice",
      reason: "thawed",
    };
    expect((await invoke(unblock)).changed).toBe(true);
    expect(await invoke(unblock)).toMatchObject({
      changed: false,
      effect: "unchanged (no such block)",
    });
    expect(await p.store.listBlocks()).toHaveLength(0);
    expect((await p.store.listAudit()).map((a) => a.effect)).toEqual([
      "blocked pipeline billing",
      "unchanged (already blocked)",
      "unblocked pipeline billing",
      "unchanged (no such block)",
    ]);
  });

  it.each([
    [
      { action: "block", level: "pipeline", pipeline: "nope", actor: "alice", reason: "freeze" },
      'pipeline: no pipeline named "nope"',
    ],
    [
      {
        action: "block",
        level: "scope",
        pipeline: "billing",
        scopes: "prod-9/*",
        actor: "a",
        reason: "x y z",
      },
      "scopes: matches no scope",
    ],
    [
      {
        action: "bypass",
        pipeline: "billing",
        version: "v9",
        kinds: ["manual"],
        actor: "a",
        reason: "fix it",
        expiresAt: "2026-01-12T10:00:00Z",
      },
      'version: pipeline "billing" has no run of version "v9"',
    ],
    [
      { action: "retry", pipeline: "billing", version: "v9", actor: "a", reason: "try again" },
      'version: pipeline "billing" has no run of version "v9"',
    ],
    [{ action: "block", level: "org", actor: "alice" }, "reason: is required"],
    [
      {
        action: "block",
        level: "org",
        actor: "alice",
        reason: "ok!",
        until: "2020-01-01T00:00:00Z",
      },
      "until: must be in the future",
    ],
  ])("rejects %j with a clear error, changing nothing", async (event, message) => {
    const { p, invoke } = await plane();
    await expect(invoke(event)).rejects.toThrow(message);
    expect(await p.store.listBlocks()).toEqual([]);
    expect(await p.store.listBypasses("billing")).toEqual([]);
    expect(await p.store.listAudit()).toEqual([]);
  });

  it("fuzzed input: either a clean rejection that changes nothing, or a valid action", async () => {
    const { p, invoke } = await plane();
    const arb = fc.record(
      {
        action: fc.constantFrom("block", "unblock", "bypass", "cancel", "nuke", 7),
        level: fc.constantFrom("org", "pipeline", "scope", "galaxy"),
        pipeline: fc.constantFrom("billing", "ledger", "nope", "", "Billing"),
        scopes: fc.constantFrom("prod-1/*", "*", "prod-9/*", "../etc"),
        version: fc.constantFrom("v2", "v9", ""),
        kinds: fc.array(fc.constantFrom("manual", "alarm", "time-window", "weather"), {
          maxLength: 3,
        }),
        actor: fc.constantFrom("alice", "", "bob smith", "ops-bot"),
        reason: fc.constantFrom("sev-1", "", "x", "fix"),
        until: fc.constantFrom("2026-01-12T12:00:00Z", "2019-01-01T00:00:00Z", "soon"),
        expiresAt: fc.constantFrom("2026-01-12T12:00:00Z", "2026-03-01T00:00:00Z", "never"),
        extra: fc.constantFrom(undefined, "surprise"),
      },
      { requiredKeys: ["action"] },
    );
    await fc.assert(
      fc.asyncProperty(arb, async (event) => {
        const before = {
          blocks: await p.store.listBlocks(),
          bypass: await p.store.listBypasses("billing"),
          audit: (await p.store.listAudit()).length,
        };
        try {
          await invoke(event);
          expect((await p.store.listAudit()).length).toBe(before.audit + 1);
        } catch (err) {
          expect((err as Error).name).toBe("OverrideRejectedError");
          expect(await p.store.listBlocks()).toEqual(before.blocks);
          expect(await p.store.listBypasses("billing")).toEqual(before.bypass);
          expect((await p.store.listAudit()).length).toBe(before.audit);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("records the caller's principal ARN beside the typed name, in the audit and the notification", async () => {
    const { p, invoke } = await plane();
    await invoke(
      { action: "block", level: "org", actor: "bob", reason: "sev-1" },
      "arn:aws:sts::123456789012:assumed-role/Operators/mallory",
    );
    const [entry] = await p.store.listAudit();
    expect(entry).toMatchObject({
      actor: "bob",
      principal: "arn:aws:sts::123456789012:assumed-role/Operators/mallory",
      changed: true,
    });
    const [block] = await p.store.listBlocks();
    expect(block?.principal).toBe("arn:aws:sts::123456789012:assumed-role/Operators/mallory");
    const notified = p.bus.log.find((e) => e["detail-type"] === "Breakwater Override Event");
    expect(notified?.detail.principal).toBe(
      "arn:aws:sts::123456789012:assumed-role/Operators/mallory",
    );
  });

  it("refuses a direct invoke (no caller identity), writing nothing", async () => {
    const { p, call } = await plane();
    const direct = { action: "block", level: "org", actor: "alice", reason: "sev-1" };
    await expect(call(direct)).rejects.toThrow(/IAM-authenticated function URL requests/);
    await expect(call(direct)).rejects.toMatchObject({ name: "UnauthenticatedOverrideError" });
    // A function URL request without IAM auth (auth type NONE) names no caller either.
    const anonymous = urlRequest(direct, ALICE) as { requestContext: Record<string, unknown> };
    delete anonymous.requestContext.authorizer;
    await expect(call(anonymous)).rejects.toMatchObject({ name: "UnauthenticatedOverrideError" });
    expect(await p.store.listBlocks()).toEqual([]);
    expect(await p.store.listAudit()).toEqual([]);
  });

  it("a principal claimed in the body is refused: only IAM names the caller", async () => {
    const { p, invoke } = await plane();
    await expect(
      invoke({ action: "block", level: "org", actor: "a", reason: "sev-1", principal: ALICE }),
    ).rejects.toThrow(/principal/);
    expect(await p.store.listAudit()).toEqual([]);
  });

  it("the allow-list matches principal ARN patterns: others get 403 and change nothing", async () => {
    const { p, invoke } = await plane({
      allowedPrincipals: [
        "arn:aws:sts::123456789012:assumed-role/Operators/*",
        "arn:aws:iam::123456789012:user/breakglass",
      ],
    });
    const block = { action: "block", level: "org", actor: "alice", reason: "sev-1" };
    await expect(
      invoke(block, "arn:aws:sts::123456789012:assumed-role/Developers/alice"),
    ).rejects.toMatchObject({ status: 403, name: "OverrideRejectedError" });
    await expect(
      invoke(block, "arn:aws:iam::123456789012:user/breakglass-2"),
    ).rejects.toMatchObject({ status: 403 });
    expect(await p.store.listAudit()).toEqual([]);
    expect((await invoke(block)).changed).toBe(true);
    const unblock = { ...block, action: "unblock", reason: "resolved" };
    expect((await invoke(unblock, "arn:aws:iam::123456789012:user/breakglass")).changed).toBe(true);
    expect((await p.store.listAudit()).map((a) => a.principal)).toEqual([
      ALICE,
      "arn:aws:iam::123456789012:user/breakglass",
    ]);
  });
});
