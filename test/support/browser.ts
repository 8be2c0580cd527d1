/**
 * A real headless Chromium for the tests that check web pages: the binary the
 * `@sparticuz/chromium` npm package ships, driven by `puppeteer-core` (both install through
 * `npm install`; nothing is downloaded at test time). One browser per test file.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import chromium from "@sparticuz/chromium";
import puppeteer, { type Browser } from "puppeteer-core";

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: await chromium.executablePath(),
    args: chromium.args,
    headless: true,
  });
}

/** Where the tests keep screenshots (ignored by git): test-results/<name>. */
export function artefactPath(name: string): string {
  const dir = join(process.cwd(), "test-results");
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
