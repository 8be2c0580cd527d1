import type { Browser, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../src/cli/main.ts";
import { parsePipeline } from "../../src/domain/pipeline.ts";
import { type RunningServer, startServe } from "../../src/local/serve.ts";
import type { StatusReport } from "../../src/ops/status.ts";
import { artefactPath, launchBrowser } from "../support/browser.ts";
import { runCli } from "../support/cli.ts";
import { dynamoClient } from "../support/dynamo.ts";

// The page's globals, used inside page.evaluate callbacks (which run in the browser; the
// project's tsconfig has no DOM lib).
interface Box {
  width: number;
  height: number;
  right: number;
  top: number;
  bottom: number;
}
declare const document: {
  querySelector(s: string): { getAttribute(n: string): string | null } | null;
  querySelectorAll(s: string): ArrayLike<{ getBoundingClientRect(): Box }>;
  getElementById(id: string): { textContent: string | null } | null;
  documentElement: { scrollWidth: number };
};
declare const window: { marker?: number; pwned?: number };

const TOKEN = "dashboard-test-token-0123456789";
const FAULTY = "prod-1/eu-north-1/eun1-az2";

const web = parsePipeline({
  name: "web-api",
  stages: [
    { name: "alpha", regions: ["us-east-1"], bake: { minutes: 10 } },
    {
      name: "prod-1",
      regions: [{ region: "eu-north-1", azs: ["eun1-az1", "eun1-az2", "eun1-az3"] }],
      oneBox: true,
      bake: { minutes: 20 },
    },
    { name: "prod-2", regions: ["us-west-2", "eu-west-1"], bake: { minutes: 10 } },
  ],
});

/** 24 regions × 3 AZs in one wave: what the page must keep readable at 1366×768. */
const WORLD: [string, string][] = [
  ["us-east-1", "use1"],
  ["us-east-2", "use2"],
  ["us-west-2", "usw2"],
  ["eu-west-1", "euw1"],
  ["eu-west-2", "euw2"],
  ["eu-west-3", "euw3"],
  ["eu-central-1", "euc1"],
  ["eu-central-2", "euc2"],
  ["eu-north-1", "eun1"],
  ["eu-south-1", "eus1"],
  ["eu-south-2", "eus2"],
  ["ap-southeast-1", "apse1"],
  ["ap-southeast-2", "apse2"],
  ["ap-southeast-3", "apse3"],
  ["ap-northeast-2", "apne2"],
  ["ap-northeast-3", "apne3"],
  ["ap-south-1", "aps1"],
  ["ap-south-2", "aps2"],
  ["ap-east-1", "ape1"],
  ["sa-east-1", "sae1"],
  ["me-south-1", "mes1"],
  ["me-central-1", "mec1"],
  ["il-central-1", "ilc1"],
  ["af-south-1", "afs1"],
];
const world = parsePipeline({
  name: "world-api",
  stages: [
    {
      name: "prod-all",
      regions: WORLD.map(([region, id]) => ({
        region,
        azs: [1, 2, 3].map((n) => `${id}-az${n}`),
      })),
      regionsInParallel: 4,
      bake: { minutes: 10 },
    },
  ],
});

const cli = (args: string[]) => runCli(args);

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Tile = { scope: string; version: string; status: string; percent: string };

const tilesOf = (page: Page, pipeline: string): Promise<Tile[]> =>
  page.$$eval(`section[data-pipeline="${pipeline}"] .tile`, (nodes) =>
    nodes.map((n) => ({
      scope: n.getAttribute("data-scope") ?? "",
      version: n.getAttribute("data-version") ?? "",
      status: n.getAttribute("data-status") ?? "",
      percent: n.getAttribute("data-percent") ?? "",
    })),
  );

describe("the live wave map in a browser", () => {
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const status = async (): Promise<StatusReport> => {
    const r = await cli(["status", "--endpoint", server.url, "--json"]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    return JSON.parse(r.stdout) as StatusReport;
  };

  beforeAll(async () => {
    server = await startServe({
      pipelines: [web, world],
      initialVersion: "v1",
      port: 0,
      // Ten virtual minutes per real second: a bake lasts one to two seconds.
      speed: 600,
      dynamo: dynamoClient(),
      log: () => {},
      token: TOKEN,
      faults: [{ scopes: FAULTY, kind: "faults", version: "v2" }],
    });
    browser = await launchBrowser();
    page = await browser.newPage();
    await page.setViewport({ width: 1366, height: 768 });
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${(e as Error).message}`));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("serves one self-contained page with a CSP and no external assets", async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    const html = await res.text();
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
  });

  it("shows the rollout in progress as tiles that agree with status", async () => {
    const started = await cli([
      "override",
      "start",
      "--pipeline",
      "web-api",
      "--version",
      "v2",
      "--actor",
      "alice",
      "--reason",
      "dashboard test",
      "--endpoint",
      server.url,
      "--token",
      TOKEN,
    ]);
    expect(started.code, started.stderr).toBe(EXIT.ok);
    // In progress: some scope of web-api has left v1/stable.
    await until("the rollout to be in progress", async () => {
      const s = await status();
      const p = s.pipelines.find((x) => x.pipeline === "web-api");
      return p?.scopes.some((x) => x.status !== "stable" || x.version !== "v1") ? true : undefined;
    });
    await page.goto(`${server.url}/`, { waitUntil: "domcontentloaded" });
    await page.waitForSelector('section[data-pipeline="web-api"] .tile');
    // The state moves while we look: compare when the page, status, and the page again agree.
    const agreed = await until("the tiles to agree with status", async () => {
      const before = await tilesOf(page, "web-api");
      const report = await status();
      const after = await tilesOf(page, "web-api");
      const expected = (report.pipelines.find((p) => p.pipeline === "web-api")?.scopes ?? []).map(
        (s) => ({
          scope: s.scope,
          version: s.version,
          status: s.status,
          percent: String(s.percent),
        }),
      );
      const same = (a: Tile[]) => JSON.stringify(a) === JSON.stringify(expected);
      return same(before) && same(after) ? expected : undefined;
    });
    expect(agreed.map((t) => t.scope)).toEqual([
      "alpha/us-east-1",
      "prod-1/eu-north-1/eun1-az1",
      "prod-1/eu-north-1/eun1-az2",
      "prod-1/eu-north-1/eun1-az3",
      "prod-2/us-west-2",
      "prod-2/eu-west-1",
    ]);
    expect(server.dashboardClients()).toBe(1);
  });

  it("changes the faulty scope's tile live when it rolls back, without a reload", async () => {
    await page.evaluate(() => {
      window.marker = 42;
    });
    await page.waitForFunction(
      (scope) => {
        const t = document.querySelector(`.tile[data-scope="${scope}"]`);
        const s = t?.getAttribute("data-status");
        return s === "rolling-back" || s === "rolled-back";
      },
      { timeout: 60_000, polling: "mutation" },
      FAULTY,
    );
    // Pushed over the stream into the same document: the page was not reloaded.
    expect(await page.evaluate(() => window.marker)).toBe(42);
    await page.waitForFunction(
      (scope) =>
        document.querySelector(`.tile[data-scope="${scope}"]`)?.getAttribute("data-status") ===
        "rolled-back",
      { timeout: 60_000, polling: "mutation" },
      FAULTY,
    );
    const report = await status();
    const faulty = report.pipelines[0]?.scopes.find((s) => s.scope === FAULTY);
    expect(faulty).toMatchObject({ status: "rolled-back", version: "v1" });
    // The run halted; the runs panel says why.
    await page.waitForFunction(
      () => document.getElementById("runs")?.textContent?.includes("halted: rollback"),
      { timeout: 30_000 },
    );
    expect(server.dashboardClients()).toBe(1);
  });

  it("follows a version's path through the waves", async () => {
    await page.select("#version", "v2");
    const heading = await page.$eval("#path h3", (n) => n.textContent);
    expect(heading).toBe("web-api @ v2 (halted)");
    const rows = await page.$$eval("#path tbody tr", (trs) =>
      trs.map((tr) => Array.from(tr.children, (td) => (td as { textContent: string }).textContent)),
    );
    // alpha: on v2; prod-1: the one-box AZ and the rolled-back AZ were reached, one rolled back.
    expect(rows).toEqual([
      ["alpha", "1 of 1", "1", "0"],
      ["prod-1", "1 of 3", "2", "1"],
      ["prod-2", "0 of 2", "0", "0"],
    ]);
    const report = await status();
    const onV2 = report.pipelines
      .flatMap((p) => p.scopes)
      .filter((x) => x.version === "v2")
      .map((x) => x.scope);
    const selected = await page.$$eval(".tile.sel", (nodes) =>
      nodes.map((n) => n.getAttribute("data-scope")),
    );
    expect(selected).toEqual(onV2);
    expect(await page.$$eval(".tile.dim", (nodes) => nodes.length)).toBe(78 - onV2.length);
    await page.select("#version", "");
  });

  it("shows what users typed as text, never as markup", async () => {
    const reason = `<img src=x onerror="window.pwned=1">INC-9 "sev-2"`;
    const r = await cli([
      "override",
      "block",
      "--level",
      "pipeline",
      "--pipeline",
      "world-api",
      "--actor",
      "bob",
      "--reason",
      reason,
      "--endpoint",
      server.url,
      "--token",
      TOKEN,
    ]);
    expect(r.code, r.stderr).toBe(EXIT.ok);
    await page.waitForFunction(
      (text) => document.getElementById("blockers")?.textContent?.includes(text),
      { timeout: 30_000 },
      reason,
    );
    expect(await page.$$eval("img", (imgs) => imgs.length)).toBe(0);
    expect(await page.evaluate(() => window.pwned)).toBe(undefined);
  });

  it("keeps 24 regions × 3 AZs readable on a 1366×768 screen, and keeps a screenshot", async () => {
    const tiles = await tilesOf(page, "world-api");
    expect(tiles).toHaveLength(72);
    const layout = await page.evaluate(() => {
      const boxes = Array.from(
        document.querySelectorAll('section[data-pipeline="world-api"] .tile'),
      ).map((t) => t.getBoundingClientRect());
      return {
        scrollWidth: document.documentElement.scrollWidth,
        minWidth: Math.min(...boxes.map((b) => b.width)),
        minHeight: Math.min(...boxes.map((b) => b.height)),
        right: Math.max(...boxes.map((b) => b.right)),
        height: Math.max(...boxes.map((b) => b.bottom)) - Math.min(...boxes.map((b) => b.top)),
      };
    });
    expect(layout.scrollWidth).toBeLessThanOrEqual(1366); // no sideways scrolling
    expect(layout.right).toBeLessThanOrEqual(1366);
    expect(layout.minWidth).toBeGreaterThanOrEqual(30);
    expect(layout.minHeight).toBeGreaterThanOrEqual(24);
    // The whole wave fits in less than a screen's height.
    expect(layout.height).toBeLessThan(768);
    await page.screenshot({ path: artefactPath("dashboard.png"), fullPage: true });
    expect(problems).toEqual([]);
  });

  it("bounds the number of live streams", async () => {
    const opened: AbortController[] = [];
    try {
      let refused: Response | undefined;
      for (let i = 0; i < 20 && !refused; i++) {
        const c = new AbortController();
        opened.push(c);
        const res = await fetch(`${server.url}/dashboard/stream`, { signal: c.signal });
        if (res.status === 503) refused = res;
      }
      expect(refused?.status).toBe(503);
      expect(server.dashboardClients()).toBe(16);
    } finally {
      for (const c of opened) c.abort();
    }
  });
});
