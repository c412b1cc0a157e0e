import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { describeWithTool } from '../../fixtures/system-tool.js';

/**
 * Real-browser tests use Debian's Chromium through playwright-core (Playwright's own browser
 * download does not work on these machines). `.ci/run` installs it; locally:
 *   apt-get update && apt-get install -y chromium
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox', // runs as root in CI containers, where the sandbox cannot start
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/**
 * `describe` when Chromium is there. Without it the suite never passes silently: with CI set it
 * fails with the install command; elsewhere it is skipped and one line says so (fixtures/system-tool.ts).
 */
export function describeWithChromium(name: string, fn: () => void): void {
  describeWithTool(
    existsSync(CHROMIUM_PATH),
    { tool: 'Chromium', lookedAt: `${CHROMIUM_PATH}; CHROMIUM_PATH points elsewhere`, install: 'apt-get install chromium' },
    name,
    fn,
  );
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/**
 * Waits until `selector`'s text contains `text`. On timeout the error shows what the element (and
 * the page's status line) said instead, which is what one needs to debug a failed run.
 */
export async function waitForText(page: Page, selector: string, text: string, timeout = 10_000): Promise<void> {
  try {
    await page.waitForFunction(
      ([sel, t]) => document.querySelector(sel!)?.textContent?.includes(t!) ?? false,
      [selector, text],
      { timeout },
    );
  } catch {
    const actual = await page.locator(selector).textContent().catch(() => null);
    const status = await page.locator('#status').textContent().catch(() => null);
    throw new Error(`waited for ${selector} to contain "${text}"; it says "${actual}" (status line: "${status}")`);
  }
}
