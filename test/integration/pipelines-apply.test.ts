/**
 * `pipelines apply` at the override function, as deployed (with the capability check the
 * deployed handler has), on DynamoDB Local with the real handlers: a definition is validated,
 * refused when the deployed roles and forwarders do not cover it (or when what they cover is
 * unknown: fail closed), written as the next revision with its audit entry, seeded with its
 * initial version, and runs keep the definition they started with.
 */
import { randomUUID } from "node:crypto";
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { pipelineNeeds } from "../../functions/lib/pipeline-needs.ts";
import { createOverrideHandler, type OverrideHttpResponse } from "../../functions/override.ts";
import { capabilitiesItem } from "../../src/adapters/aws/dynamo/config.ts";
import { documentClient } from "../../src/adapters/aws/dynamo/table.ts";
import { type PipelineInput, parsePipeline } from "../../src/domain/pipeline.ts";
import type { Capabilities } from "../../src/domain/pipeline-registry.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { lambdaContext } from "../../src/local/step-functions.ts";
import { deployTargetGrants } from "../../stacks/targets-iam.ts";
import { dynamoClient } from "../support/dynamo.ts";
import { ALICE, urlRequest } from "../support/override-url.ts";

const START = new Date("2026-01-12T09:00:00Z");
type StageInput = PipelineInput["stages"][number];
const ACCOUNT = "123456789012";

const payments = (bake = 30): PipelineInput => ({
  name: "payments",
  target: { type: "lambda-alias", functionName: "payments-{region}", alias: "live" },
  stages: [
    { name: "alpha", regions: ["eu-west-1"], bake: { minutes: bake } },
    // One region per production wave: a wider first wave is a lint error, which apply refuses.
    { name: "prod-1", regions: ["eu-west-1"], bake: { minutes: 60 } },
    { name: "prod-2", regions: ["us-east-1"], bake: { minutes: 60 } },
  ],
});

async function setUp() {
  const tableName = `apply-${randomUUID()}`;
  const home = parsePipeline({
    name: "billing",
    stages: [{ name: "alpha", regions: ["eu-west-1"], bake: { minutes: 30 } }],
  });
  const p = await createLocalControlPlane({
    dynamo: dynamoClient(),
    tableName,
    start: START,
    fleet: (clock) => new SimulatedFleet({ pipeline: home, initialVersion: "v1", clock }),
  });
  await p.register(home, "v1");
  // As deployed: the capability check of the deployed handler.
  const handler = createOverrideHandler(() => p.deps, { apply: { needs: pipelineNeeds } });
  const invoke = async (body: unknown) => {
    const res = (await handler(
      urlRequest(body, ALICE),
      lambdaContext("breakwater-override", "test"),
    )) as OverrideHttpResponse;
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
  const writeCapabilities = (c: Capabilities) =>
    documentClient(dynamoClient()).send(
      new PutCommand({ TableName: tableName, Item: capabilitiesItem(c) }),
    );
  return { p, invoke, writeCapabilities };
}

const apply = (definition: PipelineInput, more: Record<string, unknown> = {}) => ({
  action: "apply-pipeline",
  actor: "ana",
  reason: "payments joins the platform",
  definition,
  ...more,
});

/** What a stack deployed with `pipelines` holds (the same code as the stack's). */
const heldFor = (pipelines: PipelineInput[]): Capabilities => ({
  partition: "aws",
  account: ACCOUNT,
  region: "eu-west-1",
  grants: deployTargetGrants(
    pipelines.map((x) => parsePipeline(x)),
    {
      partition: "aws",
      account: ACCOUNT,
    },
  ).map(({ actions, resources }) => ({ actions, resources })),
  alarmLocations: [],
});

describe("pipelines apply at the deployed override function", () => {
  it("fails closed while the control plane has not recorded what its roles hold", async () => {
    const { invoke, p } = await setUp();
    const res = await invoke(apply(payments(), { initialVersion: "v1" }));
    expect(res.status).toBe(400);
    expect(res.body.problems).toEqual([
      expect.objectContaining({
        path: "definition",
        message: expect.stringContaining("deploy it once more"),
      }),
    ]);
    expect(await p.store.getPipeline("payments")).toBeUndefined();
    expect(await p.store.listAudit()).toEqual([]);
  });

  it("refuses a pipeline whose targets the deployed roles cannot reach, naming each missing grant", async () => {
    const { invoke, p, writeCapabilities } = await setUp();
    // Deployed for a pipeline in eu-west-1 only: us-east-1's function is not granted.
    await writeCapabilities(heldFor([{ ...payments(), stages: [payments().stages[0] as never] }]));
    const res = await invoke(apply(payments(), { initialVersion: "v1" }));
    expect(res.status).toBe(400);
    const [problem] = res.body.problems;
    expect(problem.path).toBe("definition.target");
    expect(problem.message).toContain(
      `on arn:aws:lambda:us-east-1:${ACCOUNT}:function:payments-us-east-1`,
    );
    expect(problem.message).not.toContain("eu-west-1:");
    expect(await p.store.getPipeline("payments")).toBeUndefined();
  });

  it("refuses a pipeline whose stages' tests the deploy role may not run (issue 13), naming each", async () => {
    const { invoke, p, writeCapabilities } = await setUp();
    await writeCapabilities(heldFor([payments()]));
    const [alpha, ...rest] = payments().stages;
    const tested: PipelineInput = {
      ...payments(),
      stages: [{ ...(alpha as StageInput), tests: [{ lambda: "payments-it-{region}" }] }, ...rest],
    };
    const res = await invoke(apply(tested, { initialVersion: "v1" }));
    expect(res.status).toBe(400);
    expect(res.body.problems[0].message).toContain(
      `lambda:InvokeFunction on arn:aws:lambda:eu-west-1:${ACCOUNT}:function:payments-it-eu-west-1`,
    );
    expect(await p.store.getPipeline("payments")).toBeUndefined();
  });

  it("registers a covered pipeline as revision 1, audited with the caller, and seeds its scopes", async () => {
    const { invoke, p, writeCapabilities } = await setUp();
    await writeCapabilities(heldFor([payments()]));
    const missingInitial = await invoke(apply(payments()));
    expect(missingInitial.status).toBe(400);
    expect(missingInitial.body.problems[0]).toMatchObject({
      path: "initialVersion",
      message: expect.stringContaining("3 scopes of payments hold no version yet"),
    });

    const res = await invoke(apply(payments(), { initialVersion: "v41" }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ changed: true, effect: "registered payments revision 1" });
    const record = await p.store.getPipelineRecord("payments");
    expect(record).toMatchObject({ source: "apply", revision: 1, appliedBy: ALICE, actor: "ana" });
    expect(record?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const scopes = await p.store.listScopes("payments");
    expect(scopes.map((s) => [s.scope, s.version])).toEqual([
      ["alpha/eu-west-1", "v41"],
      ["prod-1/eu-west-1", "v41"],
      ["prod-2/us-east-1", "v41"],
    ]);
    const history = await p.store.history("payments");
    expect(history.every((h) => h.actor === ALICE)).toBe(true);
    const [entry] = await p.store.listAudit();
    expect(entry).toMatchObject({
      action: "apply-pipeline",
      principal: ALICE,
      target: "pipeline payments",
      effect: "registered payments revision 1",
    });

    // The same definition again: nothing changes, and it says so.
    const again = await invoke(apply(payments()));
    expect(again.body).toMatchObject({
      changed: false,
      effect: "unchanged (revision 1 is this definition)",
    });

    // A change reviewed against revision 0 is stale; against 1 it is revision 2.
    const stale = await invoke(apply(payments(45), { expectRevision: 0 }));
    expect(stale.status).toBe(400);
    expect(stale.body.problems[0]).toMatchObject({
      path: "expectRevision",
      message: expect.stringContaining(`the applied revision is 1 (applied by ${ALICE}`),
    });
    const second = await invoke(apply(payments(45), { expectRevision: 1 }));
    expect(second.body).toMatchObject({
      changed: true,
      effect: "applied payments revision 2 (was 1; 1 change)",
    });
    expect((await p.store.listPipelineRevisions("payments")).map((r) => r.revision)).toEqual([
      1, 2,
    ]);
    expect((await p.store.getPipeline("payments"))?.stages[0]?.bake.minutes).toBe(45);
  });

  it("names every problem of a bad definition under definition., and refuses a folder's pipeline", async () => {
    const { invoke, p, writeCapabilities } = await setUp();
    await writeCapabilities(heldFor([payments()]));
    const bad = await invoke(
      apply({
        ...payments(),
        stages: [{ name: "alpha", regions: ["eu-west-1"], bake: { minutes: -5 } }],
      }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.problems.map((x: { path: string }) => x.path)).toContain(
      "definition.stages[0].bake.minutes",
    );
    // The lint's errors refuse it on the control plane's side too, whatever the client checked.
    const wide = await invoke(
      apply(
        {
          ...payments(),
          stages: [{ name: "prod-1", regions: ["eu-west-1", "us-east-1"], bake: { minutes: 60 } }],
        },
        { initialVersion: "v1" },
      ),
    );
    expect(wide.status).toBe(400);
    expect(JSON.stringify(wide.body.problems)).toContain("(lint first-wave-too-wide)");
    const folder = await invoke(
      apply({
        name: "billing",
        stages: [{ name: "alpha", regions: ["eu-west-1"], bake: { minutes: 5 } }],
      }),
    );
    expect(folder.status).toBe(400);
    expect(folder.body.problems[0]).toMatchObject({
      path: "definition.name",
      message: expect.stringContaining("registered from the control plane's pipelines/ folder"),
    });
    expect((await p.store.getPipeline("billing"))?.stages[0]?.bake.minutes).toBe(30);
    expect(await p.store.listAudit()).toEqual([]);
  });

  it("a run keeps the definition it started with; the next run gets the applied revision", async () => {
    const { invoke, p, writeCapabilities } = await setUp();
    await writeCapabilities(heldFor([payments()]));
    expect((await invoke(apply(payments(30), { initialVersion: "v1" }))).status).toBe(200);
    const started = await invoke({
      action: "start",
      actor: "ana",
      reason: "first release",
      pipeline: "payments",
      version: "v2",
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    await p.run(new Date(START.getTime() + 10 * 60_000));
    expect((await p.store.getRun("payments@v2"))?.definition.stages[0]?.bake.minutes).toBe(30);
    expect((await invoke(apply(payments(90)))).body.changed).toBe(true);
    await invoke({
      action: "start",
      actor: "ana",
      reason: "second",
      pipeline: "payments",
      version: "v3",
    });
    await p.run(new Date(START.getTime() + 20 * 60_000));
    expect((await p.store.getRun("payments@v2"))?.definition.stages[0]?.bake.minutes).toBe(30);
    expect((await p.store.getRun("payments@v3"))?.definition.stages[0]?.bake.minutes).toBe(90);
  });
});
