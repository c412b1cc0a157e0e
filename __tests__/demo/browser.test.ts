import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startDemo, type DemoHandle } from '../../demo-app/demo.js';
import { describeWithChromium, launchChromium, waitForText } from '../support/browser.js';

/** The login page in a real Chromium against the three real demo servers. */

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const COOKIE = '__Secure-oauth_refresh';

describeWithChromium('demo login page in Chromium', () => {
  let demo: DemoHandle;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    demo = await startDemo({ env: { DEMO_API_PORT: '0', DEMO_INVENTORY_PORT: '0', DEMO_IDP_PORT: '0' }, log: () => {} });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => {
      // 4xx answers are part of the flows (mfa_required, 403); script errors and CSP violations are not.
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource: the server responded with a status of 4')) {
        pageErrors.push(msg.text());
      }
    });
    page.on('response', (res) => {
      if (res.status() === 404) pageErrors.push(`404 ${res.url()}`);
    });
    await page.goto(demo.apiUrl + '/');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  const refreshCookie = async () => (await context.cookies(demo.apiUrl + '/auth/token')).find((c) => c.name === COOKIE);

  async function signIn(user: 'alice' | 'bob' | 'carol' | 'dave'): Promise<void> {
    await page.click(`[data-user=${user}]`);
    await page.click('#btn-login');
  }

  async function call(button: string, title: string): Promise<string> {
    await page.click(button);
    await waitForText(page, '#result-title', title);
    return (await page.textContent('#output')) ?? '';
  }

  test('alice: password sign-in, /api/me, /api/report, refresh without a refresh token, log out', async () => {
    expect(await page.title()).toBe('express-oauth-kit demo');
    await signIn('alice');
    await waitForText(page, '#who', 'alice');
    expect(await page.locator('#claims').textContent()).toContain('orders:read');

    expect(await call('#btn-me', 'GET /api/me → 200')).toContain('"sub": "alice"');
    expect(await call('#btn-report', 'GET /api/report → 200')).toContain('"calledAs": "svc-report"');
    // EIAM's password grant issues no refresh token, so there is no cookie and refresh says so.
    expect(await refreshCookie()).toBeUndefined();
    await page.click('#btn-refresh');
    await waitForText(page, '#status', 'Refresh failed: 400 invalid_request');

    await page.click('#btn-logout');
    await waitForText(page, '#status', 'Signed out');
    expect(await page.isVisible('#login')).toBe(true);
  }, 120_000);

  test('carol: /api/orders is refused for lack of orders:read', async () => {
    await signIn('carol');
    await waitForText(page, '#who', 'carol');
    expect(await call('#btn-orders', 'GET /api/orders → 403')).toContain('insufficient_scope');
    await page.click('#btn-logout');
    await waitForText(page, '#status', 'Signed out');
  }, 120_000);

  test('dave (customer tenant): shared routes answer, the staff-only route refuses him; then alice (staff) may call it', async () => {
    await signIn('dave');
    await waitForText(page, '#who', 'dave');
    expect(await page.textContent('#tenant-label')).toBe('(customer tenant)');
    expect(await call('#btn-me', 'GET /api/me → 200')).toContain(`"iss": "${demo.idp!.customers.issuer}"`);
    expect(await call('#btn-orders', 'GET /api/orders → 200')).toContain('D-3001');
    expect(await call('#btn-staff', 'GET /api/staff/orders → 401')).toContain('invalid_token');
    await page.click('#btn-refresh');
    await waitForText(page, '#status', 'Refreshed');
    await page.click('#btn-logout');
    await waitForText(page, '#status', 'Signed out: tokens revoked');

    await signIn('alice');
    await waitForText(page, '#who', 'alice');
    expect(await page.textContent('#tenant-label')).toBe('(staff tenant)');
    expect(await call('#btn-staff', 'GET /api/staff/orders → 200')).toContain('"staff": "alice"');
    await page.click('#btn-logout');
    await waitForText(page, '#status', 'Signed out');
  }, 120_000);

  test('alice: /api/payment-methods answers the step-up challenge; password again + SMS code → the page retries → 200', async () => {
    await signIn('alice');
    await waitForText(page, '#who', 'alice');
    expect(await page.locator('#claims').textContent()).toContain('urn:demo:acr:pwd');
    const refused = await call('#btn-payments', 'GET /api/payment-methods → 401');
    expect(refused).toMatch(/^WWW-Authenticate: Bearer realm="[^"]+", error="insufficient_user_authentication", error_description="[^"]+", acr_values="urn:demo:acr:mfa", max_age="600"\n/);
    expect(await page.isVisible('#stepup')).toBe(true);
    expect(await page.textContent('#stepup-why')).toContain('the level urn:demo:acr:mfa and a sign-in at most 600 s old');
    await page.screenshot({ path: ARTIFACTS + 'demo-step-up.png', fullPage: true });

    await page.fill('#stepup-password', 'alice-password');
    await page.click('#btn-stepup');
    await waitForText(page, '#status', 'SMS code sent.');
    await page.fill('#sms-code', demo.idp!.lastSmsCode('alice')!);
    await page.click('#btn-verify');
    await waitForText(page, '#result-title', 'GET /api/payment-methods → 200');
    expect(await page.textContent('#output')).toContain('"last4": "4242"');
    expect(await page.locator('#claims').textContent()).toContain('urn:demo:acr:mfa');
    expect(await page.isVisible('#session')).toBe(true);
    await page.click('#btn-logout');
    await waitForText(page, '#status', 'Signed out');
  }, 120_000);

  test('carol: no second factor enrolled, so signing in again cannot reach the level; the page says so', async () => {
    await signIn('carol');
    await waitForText(page, '#who', 'carol');
    await call('#btn-payments', 'GET /api/payment-methods → 401');
    await page.fill('#stepup-password', 'carol-password');
    await page.click('#btn-stepup');
    await waitForText(page, '#status', 'this user has no second factor');
    expect(await page.isVisible('#session')).toBe(true);
    await page.click('#btn-logout');
    await waitForText(page, '#status', 'Signed out');
  }, 120_000);

  test('bob: SMS MFA, refresh rotates the HttpOnly cookie, log out clears it', async () => {
    await signIn('bob');
    await waitForText(page, '#status', 'SMS code sent.');
    expect(await page.isVisible('#mfa')).toBe(true);
    await page.screenshot({ path: ARTIFACTS + 'demo-mfa.png', fullPage: true });
    await page.fill('#sms-code', demo.idp!.lastSmsCode('bob')!);
    await page.click('#btn-verify');
    await waitForText(page, '#who', 'bob');

    const first = await refreshCookie();
    expect(first).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Strict', path: '/auth' });
    expect(await page.evaluate(() => document.cookie)).not.toContain(COOKIE);
    expect(await call('#btn-me', 'GET /api/me → 200')).toContain('"mfa"');

    await page.click('#btn-refresh');
    await waitForText(page, '#status', 'Refreshed');
    const second = await refreshCookie();
    expect(second?.value).toBeTruthy();
    expect(second!.value).not.toBe(first!.value);

    expect(await call('#btn-report', 'GET /api/report → 200')).toContain('"widget"');
    await page.screenshot({ path: ARTIFACTS + 'demo-login.png', fullPage: true });

    await page.click('#btn-logout');
    await waitForText(page, '#status', 'Signed out: tokens revoked');
    expect(await refreshCookie()).toBeUndefined();
    expect(await page.isVisible('#session')).toBe(false);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
