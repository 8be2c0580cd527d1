/**
 * Cells (issue 13, item 1) end to end on the local control plane: DynamoDB Local, the real stage
 * and rollback ASL in the local interpreter, the real handlers, a simulated fleet and a virtual
 * clock. A fault (or a `{cell}` alarm) in one cell rolls back that cell alone; the cells before
 * it keep the new version, the cells after it and the other AZ are never touched; cells go
 * `cellsInParallel` at a time (safety rule 1).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { EXIT, main, parseFault } from "../../src/cli/main.ts";
import type { TimelineEvent } from "../../src/domain/model.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { createLocalControlPlane } from "../../src/local/control-plane.ts";
import { SimulatedFleet } from "../../src/local/fleet.ts";
import { type SimulationResult, simulate } from "../../src/local/simulate.ts";
import { dynamoClient } from "../support/dynamo.ts";

const start = new Date("2026-01-12T09:00:00Z");
const pick = (r: SimulationResult, event: TimelineEvent["event"]) =>
  r.timeline.filter((e) => e.event === event);

const zonalCells = parsePipeline({
  name: "orders-api",
  alarms: ["orders-{region}-{az}-{cell}-errors"],
  stages: [
    { name: "beta", regions: ["us-east-1"], bake: { minutes: 10 } },
    {
      name: "prod-2",
      oneBox: true,
      regions: [
        {
          region: "us-east-1",
          azs: [
            { az: "use1-az1", cells: ["c1", "c2", "c3"] },
            { az: "use1-az2", cells: ["c1", "c2"] },
          ],
        },
      ],
      bake: { minutes: 30 },
    },
  ],
});

const az1 = (cell: string) => `prod-2/us-east-1/use1-az1/${cell}`;
const az2 = (cell: string) => `prod-2/us-east-1/use1-az2/${cell}`;

describe("cells on DynamoDB Local with the real ASL", () => {
  it("a fault in one cell rolls back that cell alone; the others are untouched", async () => {
    const r = await simulate({
      pipeline: zonalCells,
      fromVersion: "v1",
      version: "v2",
      start,
      dynamo: dynamoClient(),
      faults: [parseFault("v2:prod-2/us-east-1/use1-az1/c2", ["v2"])],
    });
    expect(r.outcome).toBe("rolled-back");
    expect(r.rolledBack).toEqual([az1("c2")]);
    // c1 took the one-box and its full step and baked healthy: it keeps v2.
    expect(r.scopes[az1("c1")]).toMatchObject({ version: "v2", status: "stable" });
    expect(r.scopes[az1("c1")]?.percent ?? 100).toBe(100);
    expect(r.scopes[az1("c2")]).toMatchObject({ version: "v1", status: "rolled-back" });
    for (const scope of [az1("c3"), az2("c1"), az2("c2")]) {
      expect(r.scopes[scope], scope).toMatchObject({ version: "v1", status: "stable" });
      expect(
        r.timeline.filter((e) => e.scope === scope),
        scope,
      ).toEqual([]);
    }
    // The order: one-box in the first cell, then cell by cell; nothing starts after the rollback.
    const starts = pick(r, "deploy-started")
      .filter((e) => e.stage === "prod-2")
      .map((e) => `${e.scope} ${e.step}`);
    expect(starts).toEqual([`${az1("c1")} one-box`, `${az1("c1")} full`, `${az1("c2")} full`]);
    const rollback = pick(r, "rollback-started");
    expect(rollback.map((e) => e.scope)).toEqual([az1("c2")]);
  });

  it("a {cell} alarm rolls back its cell at once, not the cell beside it", async () => {
    // prod-2's one-box (c1) starts after beta (~10 min); c1's full step bakes 30 minutes, and
    // c2's starts about an hour and a quarter in. Its alarm fires while c2 bakes.
    const r = await simulate({
      pipeline: zonalCells,
      fromVersion: "v1",
      version: "v2",
      start,
      dynamo: dynamoClient(),
      alarms: [
        {
          name: "orders-us-east-1-use1-az1-c2-errors",
          from: new Date("2026-01-12T10:35:00Z"),
          region: "us-east-1",
        },
      ],
    });
    const c2Start = pick(r, "deploy-started").find((e) => e.scope === az1("c2"));
    expect(c2Start, JSON.stringify(r.timeline, null, 1)).toBeDefined();
    expect(Date.parse(c2Start?.at ?? "")).toBeLessThan(Date.parse("2026-01-12T10:35:00Z"));
    expect(r.rolledBack).toEqual([az1("c2")]);
    expect(r.scopes[az1("c1")]).toMatchObject({ version: "v2", status: "stable" });
    expect(r.scopes[az1("c3")]).toMatchObject({ version: "v1", status: "stable" });
  });

  it("cellsInParallel: two cells of a region at once, never three; a glob fault rolls back only its cell", async () => {
    const pipeline = parsePipeline({
      name: "orders-api",
      stages: [
        {
          name: "prod-1",
          regions: [{ region: "eu-west-1", cells: ["c1", "c2", "c3", "c4"] }],
          cellsInParallel: 2,
          bake: { minutes: 20 },
        },
      ],
    });
    const r = await simulate({
      pipeline,
      fromVersion: "v1",
      version: "v2",
      start,
      dynamo: dynamoClient(),
      faults: [parseFault("prod-1/eu-west-1/c4:latency")],
    });
    const starts = pick(r, "deploy-started");
    const at = (scope: string) => starts.find((e) => e.scope === scope)?.at;
    // c1 and c2 together, then c3 and c4 together once both baked.
    expect(at("prod-1/eu-west-1/c1")).toBe(at("prod-1/eu-west-1/c2"));
    expect(at("prod-1/eu-west-1/c3")).toBe(at("prod-1/eu-west-1/c4"));
    const ends = pick(r, "bake-finished").filter((e) =>
      ["prod-1/eu-west-1/c1", "prod-1/eu-west-1/c2"].includes(e.scope),
    );
    expect(ends).toHaveLength(2);
    for (const e of ends)
      expect(Date.parse(e.at)).toBeLessThanOrEqual(Date.parse(at("prod-1/eu-west-1/c3") ?? ""));
    expect(r.rolledBack).toEqual(["prod-1/eu-west-1/c4"]);
    expect(r.scopes["prod-1/eu-west-1/c3"]).toMatchObject({ version: "v2", status: "stable" });
    for (const c of ["c1", "c2"]) {
      expect(r.scopes[`prod-1/eu-west-1/${c}`]).toMatchObject({ version: "v2", status: "stable" });
    }
  });
});

describe("scope locks with cells", () => {
  it("two pipelines of one service: another cell is free, the same cell waits", async () => {
    const app = parsePipeline({
      name: "orders-app",
      service: "orders",
      stages: [
        {
          name: "prod",
          regions: [{ region: "us-east-1", cells: ["c1", "c2"] }],
          bake: { minutes: 60 },
        },
      ],
    });
    // One pipeline deploys c2 only, the other the same cell c1 the app starts with.
    const other = (name: string, cell: string) =>
      parsePipeline({
        name,
        service: "orders",
        stages: [
          {
            name: "prod",
            regions: [{ region: "us-east-1", cells: [cell] }],
            bake: { minutes: 20 },
          },
        ],
      });
    const c2 = other("orders-config", "c2");
    const c1 = other("orders-flags", "c1");
    const p = await createLocalControlPlane({
      dynamo: dynamoClient(),
      tableName: `it-cells-${randomUUID()}`,
      start,
      fleet: (clock) =>
        new SimulatedFleet({ pipeline: app, morePipelines: [c2, c1], initialVersion: "v1", clock }),
    });
    for (const pipeline of [app, c2, c1]) await p.register(pipeline, "v1");
    p.requestRun("orders-app", "v2");
    p.at(new Date(start.getTime() + 10 * 60_000), async () => p.requestRun("orders-config", "v2"));
    p.at(new Date(start.getTime() + 10 * 60_000), async () => p.requestRun("orders-flags", "v2"));
    await p.run();
    const ms = (iso?: string) => Date.parse(iso ?? "");
    const appT = await p.store.timeline("orders-app@v2");
    const appC1 = appT.filter((e) => e.scope === "prod/us-east-1/c1");
    const appC1End = ms(appC1.find((e) => e.event === "bake-finished")?.at);
    const cfgT = await p.store.timeline("orders-config@v2");
    const flagsT = await p.store.timeline("orders-flags@v2");
    // c2 is another cell: deployed at once, while the app bakes c1.
    expect(ms(cfgT.find((e) => e.event === "deploy-started")?.at)).toBeLessThan(appC1End);
    expect(cfgT.filter((e) => e.event === "blocked")).toEqual([]);
    // c1 is the app's cell: it waits for the app's c1 bake, with the reason recorded.
    expect(ms(flagsT.find((e) => e.event === "deploy-started")?.at)).toBeGreaterThanOrEqual(
      appC1End,
    );
    const blocked = flagsT.filter((e) => e.event === "blocked");
    expect(blocked[0]?.reason).toContain(
      "scope lock: pipeline orders-app of service orders is changing prod/us-east-1/c1",
    );
    for (const name of ["orders-app@v2", "orders-config@v2", "orders-flags@v2"]) {
      expect((await p.store.getRun(name))?.status, name).toBe("succeeded");
    }
  });
});

describe("breakwater simulate with cells", () => {
  it("--fault v2:<cell scope> rolls back that cell (exit 3); a glob naming no cell is refused (exit 2)", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "breakwater-cells-")), "cells.json");
    writeFileSync(file, JSON.stringify(zonalCells));
    const cli = async (args: string[]) => {
      const out = new PassThrough();
      const err = new PassThrough();
      let stdout = "";
      let stderr = "";
      out.on("data", (d) => {
        stdout += d;
      });
      err.on("data", (d) => {
        stderr += d;
      });
      const code = await main(["node", "breakwater", ...args], { out, err }, (options) =>
        simulate({ ...options, dynamo: dynamoClient() }),
      );
      return { code, stdout, stderr };
    };
    const ok = await cli([
      "simulate",
      "--pipeline",
      file,
      "--start",
      start.toISOString(),
      "--fault",
      "v2:prod-2/us-east-1/use1-az1/c2",
      "--json",
    ]);
    expect(ok.code, ok.stderr).toBe(EXIT.rolledBack);
    const result = JSON.parse(ok.stdout) as SimulationResult;
    expect(result.rolledBack).toEqual([az1("c2")]);
    expect(result.scopes[az2("c1")]).toMatchObject({ version: "v1", status: "stable" });
    const bad = await cli([
      "simulate",
      "--pipeline",
      file,
      "--fault",
      "prod-2/us-east-1/use1-az1/c9",
    ]);
    expect(bad.code).toBe(EXIT.badInput);
    expect(bad.stderr).toContain("prod-2/us-east-1/use1-az1/c9");
    expect(bad.stderr).toContain("matches no scope");
  });
});
