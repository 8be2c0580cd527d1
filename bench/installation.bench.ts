/**
 * Benchmark: one installation's scale (issue 15 item 3). 200 pipelines on one DynamoDB Local
 * table, 50 of them with a run in flight (requested through the checked trigger path, so each
 * writes its run request, its trigger record and its run), the virtual clock stopped mid-bake.
 *
 *   npm run bench:installation
 *
 * Printed, measured in one run:
 * - the writes by partition key while the 50 runs start and deploy: how many partitions they
 *   touch, and the hottest partition's share of all writes (DynamoDB serves about 1,000 write
 *   units a second per partition, so one partition every run writes to is the installation's
 *   ceiling);
 * - `status` of one pipeline against `status` of all: the calls, and the items read (`Count`
 *   of every answer), so that one pipeline's status is seen to read only that pipeline's items.
 */
import "../src/local/polyfills.ts";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { parsePipeline } from "../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../src/local/control-plane.ts";
import { startDynamoDbLocal } from "../src/local/dynamodb-local.ts";
import { SimulatedFleet } from "../src/local/fleet.ts";
import { countStoreCalls } from "../src/local/store-calls.ts";
import { collectStatus } from "../src/ops/status.ts";

const PIPELINES = 200;
const IN_FLIGHT = 50;
const TABLE = "breakwater-installation-bench";
const start = new Date("2026-01-05T09:00:00Z");

const pipelines = Array.from({ length: PIPELINES }, (_, i) =>
  parsePipeline({
    name: `svc-${String(i).padStart(3, "0")}`,
    target: { type: "none" },
    anomalyDetection: false,
    stages: [
      { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
      {
        name: "prod-1",
        regions: [{ region: "eu-west-1", azs: ["euw1-az1", "euw1-az2", "euw1-az3"] }],
        bake: { minutes: 60 },
      },
    ],
  }),
);

type Key = { pk?: unknown };
type WriteInput = {
  Item?: Key;
  Key?: Key;
  TransactItems?: Record<string, { Item?: Key; Key?: Key } | undefined>[];
  RequestItems?: Record<string, { PutRequest?: { Item?: Key }; DeleteRequest?: { Key?: Key } }[]>;
};

/** Counts the items written per partition key (base table) through `client` until `stop()`. */
function countWritesByPartition(client: DynamoDBClient) {
  const byPk = new Map<string, number>();
  const name = "bench-writes-by-partition";
  const add = (k: Key | undefined) => {
    if (typeof k?.pk === "string") byPk.set(k.pk, (byPk.get(k.pk) ?? 0) + 1);
  };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName ?? "");
      if (/Put|Update|Delete|TransactWrite|BatchWrite/.test(op)) {
        const input = args.input as WriteInput;
        add(input.Item ?? input.Key);
        for (const t of input.TransactItems ?? []) {
          for (const [kind, w] of Object.entries(t))
            if (kind !== "ConditionCheck") add(w?.Item ?? w?.Key);
        }
        for (const reqs of Object.values(input.RequestItems ?? {})) {
          for (const r of reqs) add(r.PutRequest?.Item ?? r.DeleteRequest?.Key);
        }
      }
      return next(args);
    },
    { step: "initialize", name, override: true },
  );
  return { byPk, stop: () => client.middlewareStack.remove(name) };
}

/** Items read (each answer's `Count`, or one per item got) through `client` until `stop()`. */
function countItemsRead(client: DynamoDBClient) {
  const counter = { items: 0 };
  const name = "bench-items-read";
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const o = out.output as {
        Count?: number;
        Item?: unknown;
        Responses?: unknown[] | Record<string, unknown[]>;
      };
      if (typeof o.Count === "number") counter.items += o.Count;
      else if (o.Item) counter.items += 1;
      else if (Array.isArray(o.Responses)) counter.items += o.Responses.length;
      else if (o.Responses) for (const v of Object.values(o.Responses)) counter.items += v.length;
      return out;
    },
    { step: "initialize", name, override: true },
  );
  return { counter, stop: () => client.middlewareStack.remove(name) };
}

const local = await startDynamoDbLocal();
try {
  const client = local.client();
  const wall0 = performance.now();
  const plane = await createLocalControlPlane({
    dynamo: client,
    tableName: TABLE,
    start,
    fleet: (clock) => SimulatedFleet.serving(pipelines, "v1", clock),
  });
  for (const p of pipelines) await plane.register(p, "v1");
  const registered = performance.now() - wall0;
  const writes = countWritesByPartition(client);
  for (const [i, p] of pipelines.slice(0, IN_FLIGHT).entries()) {
    // In AWS each run starts from a webhook delivery, which the trigger log records.
    await plane.triggers.record({
      at: start.toISOString(),
      trigger: "github",
      outcome: "run-requested",
      status: 202,
      reason: "approved change merged",
      deliveryId: `bench-delivery-${i}`,
      event: "pull_request",
      pipeline: p.name,
    });
    plane.requestRun(p.name, "v2", "bench");
  }
  // 30 simulated minutes: past alpha's 10-minute bake, inside prod-1's 60-minute one.
  await plane.run(new Date(start.getTime() + 30 * 60_000));
  writes.stop();
  const now = plane.clock.now();
  const all = await collectStatus(plane.store, { now });
  const inFlight = all.pipelines.flatMap((p) => p.runs).filter((r) => r.inFlight).length;

  const total = [...writes.byPk.values()].reduce((a, b) => a + b, 0);
  const hottest = [...writes.byPk].sort((a, b) => b[1] - a[1]);
  console.log("Breakwater installation benchmark: 200 pipelines, 50 runs in flight, one table");
  console.log(
    `  registered ${PIPELINES} pipelines in ${(registered / 1000).toFixed(1)} s; ${inFlight} runs in flight at ${now.toISOString()}`,
  );
  console.log(
    `  writes while the runs started and deployed: ${total} items over ${writes.byPk.size} partitions; ` +
      `hottest: ${hottest
        .slice(0, 3)
        .map(([pk, n]) => `${pk} ${n} (${((100 * n) / total).toFixed(1)}%)`)
        .join(", ")}`,
  );

  for (const [label, options] of [
    ["status of one pipeline", { now, pipeline: "svc-007" }],
    ["status of all 200", { now }],
  ] as const) {
    const calls = countStoreCalls(client, TABLE);
    const read = countItemsRead(client);
    const t0 = performance.now();
    await collectStatus(plane.store, options);
    const ms = performance.now() - t0;
    calls.stop();
    read.stop();
    console.log(
      `  ${label}: ${calls.counts().total} calls, ${read.counter.items} items read, ${ms.toFixed(0)} ms`,
    );
  }
} finally {
  await local.stop();
}
