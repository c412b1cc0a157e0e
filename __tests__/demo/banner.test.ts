/**
 * What `npm run demo` prints must match the demo: each user's MFA note names that user (the mock
 * IdP logs "SMS to <username>"), every route a newcomer can try is listed, and the terminal
 * example for the proxy, sent as printed, signs in.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { banner } from '../../demo-app/banner.js';
import { startDemo, type DemoHandle } from '../../demo-app/demo.js';
import { DEFAULT_USERS } from '../../fixtures/mock-idp/index.js';

const RANDOM_PORTS = { DEMO_API_PORT: '0', DEMO_INVENTORY_PORT: '0', DEMO_IDP_PORT: '0' };
let demo: DemoHandle;
let lines: string[];

beforeAll(async () => {
  demo = await startDemo({ env: RANDOM_PORTS, log: () => {} });
  lines = banner(demo);
});
afterAll(() => demo.close());

test("each demo user's MFA note is about that user", () => {
  for (const u of DEFAULT_USERS) {
    const line = lines.find((l) => l.trimStart().startsWith(`${u.username} `));
    expect(line).toBeDefined();
    for (const other of DEFAULT_USERS) {
      if (other.username !== u.username) expect(line).not.toContain(`SMS to ${other.username}`);
    }
    if (u.mfa) expect(line).toContain(`SMS to ${u.username}`);
    else expect(line).toContain('no MFA');
  }
});

test('the step-up and introspection routes are listed, and answer 401 without a token (they exist)', async () => {
  for (const path of ['/api/payment-methods', '/api/partner/orders']) {
    expect(lines.join('\n')).toContain(`GET ${path}`);
    expect((await fetch(demo.apiUrl + path)).status).toBe(401);
  }
});

test('the printed curl example, sent as printed, signs in', async () => {
  const at = lines.findIndex((l) => l.trimStart().startsWith('curl '));
  const command = `${lines[at]!.replace(/\\$/, '')} ${lines[at + 1]!}`;
  const url = /curl -s (\S+)/.exec(command)![1]!;
  const headers = Object.fromEntries([...command.matchAll(/-H '([^:]+): ([^']*)'/g)].map((m) => [m[1]!, m[2]!]));
  const body = /-d '([^']*)'/.exec(command)![1]!;
  const res = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body });
  expect(res.status).toBe(200);
  expect(typeof ((await res.json()) as { access_token?: unknown }).access_token).toBe('string');
});
