import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

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

const isCi = (): boolean => !!process.env.CI && !['0', 'false'].includes(process.env.CI.toLowerCase());

/**
 * `describe` when Chromium is there. Without it the suite must never pass silently: in CI it fails
 * with the install command; locally it is skipped with a warning that is hard to miss.
 */
export function describeWithChromium(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM_PATH)) {
    describe(name, fn);
    return;
  }
  const message =
    `Chromium is not installed at ${CHROMIUM_PATH}, so the browser tests cannot run. ` +
    'Install it with "apt-get update && apt-get install -y chromium", or set CHROMIUM_PATH.';
  if (isCi()) {
    describe(name, () => {
      test('Chromium is installed (required when CI is set)', () => {
        throw new Error(message);
      });
    });
    return;
  }
  console.warn(`\n${'!'.repeat(100)}\n!!! SKIPPING "${name}": ${message}\n${'!'.repeat(100)}\n`);
  describe.skip(name, fn);
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
