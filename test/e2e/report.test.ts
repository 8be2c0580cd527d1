/**
 * `simulate --report`: the real CLI writes one HTML file; a real Chromium opens it offline
 * from disk. The bars it draws are the run's timeline (each deploy, bake and rollback once,
 * on its scope's row), the faulty scope's row shows its rollback, and the page asks for
 * nothing beyond itself.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../src/cli/main.ts";
import type { SimulationResult } from "../../src/local/simulate.ts";
import { artefactPath, launchBrowser } from "../support/browser.ts";
import { runCli } from "../support/cli.ts";

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

const cli = (args: string[]) => runCli(args);

describe("simulate --report", () => {
  it("writes a self-contained timeline a browser opens offline, one bar per interval", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bw-report-"));
    const file = join(dir, "rollout.html");
    const { code, stdout } = await cli([
      "simulate",
      "--pipeline",
      "examples/orders-api.json",
      "--version",
      "v2",
      "--fault",
      "prod-2/us-east-1/use1-az2",
      "--start",
      "2026-01-05T09:00:00Z",
      "--json",
      "--report",
      file,
    ]);
    expect(code).toBe(EXIT.rolledBack);
    const result = JSON.parse(stdout) as SimulationResult;
    const page = await browser.newPage();
    const requested: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    await page.setViewport({ width: 1440, height: 900 });
    await page.goto(pathToFileURL(file).href);
    await page.screenshot({ path: artefactPath("rollout-report.png"), fullPage: true });
    expect(requested).toEqual([pathToFileURL(file).href]);

    const count = (event: string) => result.timeline.filter((e) => e.event === event).length;
    const bars = await page.$$eval("rect.bar", (els) =>
      els.map((e) => ({
        scope: e.getAttribute("data-scope"),
        kind: e.getAttribute("data-kind"),
        width: Number(e.getAttribute("width")),
      })),
    );
    expect(bars.filter((b) => b.kind === "deploy")).toHaveLength(count("deploy-started"));
    expect(bars.filter((b) => b.kind === "bake")).toHaveLength(count("bake-started"));
    expect(bars.filter((b) => b.kind === "rollback")).toHaveLength(count("rollback-started"));
    expect(bars.every((b) => b.width > 0)).toBe(true);
    expect(bars.filter((b) => b.kind === "rollback").map((b) => b.scope)).toEqual([
      "prod-2/us-east-1/use1-az2",
    ]);
    // Every scope of the pipeline has a row, with its final version and status.
    const labels = await page.$$eval("text.label", (els) => els.map((e) => e.textContent));
    for (const [scope, s] of Object.entries(result.scopes)) {
      expect(labels).toContain(`${scope} ${s.version} ${s.status}`);
    }
    expect(await page.$eval("#outcome", (e) => e.textContent)).toBe("rolled-back");
    expect(await page.$$eval("line.mark.halt", (els) => els.length)).toBe(1);
    await page.close();
    expect(readFileSync(file, "utf8")).toMatch(/^<!doctype html>/);
  });

  it("refuses a report path that is not an .html file in an existing folder, before running", async () => {
    const wrong = await cli([
      "simulate",
      "--pipeline",
      "examples/orders-api.json",
      "--report",
      "/no/such/folder/r.html",
    ]);
    expect(wrong.code).toBe(EXIT.badInput);
    expect(wrong.stderr).toContain('--report "/no/such/folder/r.html": the folder');
    const notHtml = await cli([
      "simulate",
      "--pipeline",
      "examples/orders-api.json",
      "--report",
      "r.txt",
    ]);
    expect(notHtml.code).toBe(EXIT.badInput);
    expect(notHtml.stderr).toContain("must name an .html file");
  });
});
