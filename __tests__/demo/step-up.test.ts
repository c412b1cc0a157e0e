import request from 'supertest';
import { startDemo, type DemoHandle } from '../../demo-app/demo.js';
import { ACR } from '../../fixtures/mock-idp/index.js';
import { useTestClock } from '../support/clock.js';

/**
 * The demo's step-up walk (RFC 9470) over real HTTP, as the login page drives it: a password-level
 * token is refused on /api/payment-methods with the challenge, the page asks the IdP for the MFA
 * level (acr_values) through the proxy, the SMS step follows, and the new token passes. Time moves
 * through the library clock, never by sleeping.
 */

const RANDOM_PORTS = { DEMO_API_PORT: '0', DEMO_INVENTORY_PORT: '0', DEMO_IDP_PORT: '0' };
const COOKIE = '__Secure-oauth_refresh';
const CHALLENGE = `error="insufficient_user_authentication"`;

let demo: DemoHandle;
const clock = useTestClock();

beforeAll(async () => {
  demo = await startDemo({ env: RANDOM_PORTS, log: () => undefined });
});
afterAll(async () => {
  await demo?.close();
});

function proxy(path: string, params: Record<string, string>, cookie?: string) {
  const req = request(demo.apiUrl).post(path).set('Origin', demo.apiUrl).set('X-CSRF-Token', 'test').type('form');
  if (cookie !== undefined) req.set('Cookie', `${COOKIE}=${cookie}`);
  return req.send(params);
}

function refreshCookie(res: request.Response): string {
  const raw = res.headers['set-cookie'] as unknown as string[] | string | undefined;
  const line = (Array.isArray(raw) ? raw : [raw ?? '']).find((c) => c.startsWith(`${COOKIE}=`))!;
  return decodeURIComponent(line.slice(COOKIE.length + 1).split(';', 1)[0]!);
}

const bearer = (path: string, token: string) => request(demo.apiUrl).get(path).set('Authorization', `Bearer ${token}`);

/** The page's step-up: password again with the challenge's acr_values → mfa_required → SMS → mfa_oob. */
async function stepUp(username: string, acrValues?: string) {
  const first = await proxy('/auth/token', { grant_type: 'password', username, password: `${username}-password`, ...(acrValues ? { acr_values: acrValues } : {}) });
  expect([first.status, first.body.error]).toEqual([400, 'mfa_required']);
  const challenge = await proxy('/auth/mfa/challenge', { mfa_token: first.body.mfa_token, challenge_type: 'oob', oob_channel: 'sms' });
  expect(challenge.status).toBe(200);
  const done = await proxy('/auth/token', {
    grant_type: 'mfa_oob', mfa_token: first.body.mfa_token, code: challenge.body.oob_code, binding_code: demo.idp!.lastSmsCode(username)!,
  });
  expect(done.status).toBe(200);
  return { accessToken: done.body.access_token as string, refresh: refreshCookie(done) };
}

test('alice: password-level token → 401 with acr_values and max_age; after the SMS step → 200; refresh keeps the level and auth_time; past max_age → 401 again', async () => {
  const login = await proxy('/auth/token', { grant_type: 'password', username: 'alice', password: 'alice-password' });
  expect(login.status).toBe(200);
  const pwd = login.body.access_token as string;
  expect((await bearer('/api/me', pwd)).body).toMatchObject({ sub: 'alice', acr: ACR.password, amr: ['pwd'], auth_time: expect.any(Number) });

  const refused = await bearer('/api/payment-methods', pwd);
  expect(refused.status).toBe(401);
  expect(refused.headers['www-authenticate']).toMatch(
    new RegExp(`^Bearer realm="[^"]+", ${CHALLENGE}, error_description="[^"]+", acr_values="${ACR.mfa}", max_age="600"$`),
  );
  expect(refused.body).toMatchObject({ error: 'insufficient_user_authentication', acr_values: ACR.mfa, max_age: 600 });

  const stepped = await stepUp('alice', refused.body.acr_values as string);
  const ok = await bearer('/api/payment-methods', stepped.accessToken);
  expect(ok.status).toBe(200);
  expect(ok.body).toMatchObject({ user: 'alice', acr: ACR.mfa, paymentMethods: [{ brand: 'visa', last4: '4242' }] });
  const authTime = ok.body.auth_time as number;

  // A refresh is not a new sign-in: the level and auth_time of the SMS sign-in carry over.
  const refreshed = await proxy('/auth/token', { grant_type: 'refresh_token' }, stepped.refresh);
  expect(refreshed.status).toBe(200);
  const again = await bearer('/api/payment-methods', refreshed.body.access_token as string);
  expect([again.status, again.body.acr, again.body.auth_time]).toEqual([200, ACR.mfa, authTime]);

  clock.advance(601_000 + 5_000); // past max_age and the default 5 s clock tolerance
  const stale = await bearer('/api/payment-methods', refreshed.body.access_token as string);
  expect(stale.status).toBe(401);
  expect(stale.body).toMatchObject({ error: 'insufficient_user_authentication', error_description: 'A more recent authentication is required', max_age: 600 });
  expect(stale.headers['www-authenticate']).toContain('max_age="600"');
  // Refreshing does not help (same auth_time); signing in again with the SMS step does.
  const refreshedLate = await proxy('/auth/token', { grant_type: 'refresh_token' }, refreshCookie(refreshed));
  expect((await bearer('/api/payment-methods', refreshedLate.body.access_token as string)).status).toBe(401);
  clock.advance(-606_000); // the mock IdP stamps auth_time with real time: back to it for the new sign-in
  const fresh = await stepUp('alice', ACR.mfa);
  expect((await bearer('/api/payment-methods', fresh.accessToken)).status).toBe(200);
});

test('bob signs in with MFA every time: his token passes at once', async () => {
  const { accessToken } = await stepUp('bob');
  expect((await bearer('/api/payment-methods', accessToken)).body).toMatchObject({ user: 'bob', acr: ACR.mfa });
});

test('carol has no second factor: asking for the MFA level still yields the password level, refused again', async () => {
  const res = await proxy('/auth/token', { grant_type: 'password', username: 'carol', password: 'carol-password', acr_values: ACR.mfa });
  expect(res.status).toBe(200);
  const refused = await bearer('/api/payment-methods', res.body.access_token as string);
  expect([refused.status, refused.body.error]).toEqual([401, 'insufficient_user_authentication']);
});

test('a customer-tenant token (no MFA there) is refused with the challenge, not a 500', async () => {
  const res = await request(demo.apiUrl)
    .post('/auth/customer/token')
    .set('Origin', demo.apiUrl)
    .set('X-CSRF-Token', 'test')
    .type('form')
    .send({ grant_type: 'password', username: 'dave', password: 'dave-password' });
  expect(res.status).toBe(200);
  const refused = await bearer('/api/payment-methods', res.body.access_token as string);
  expect(refused.status).toBe(401);
  expect(refused.headers['www-authenticate']).toContain(`acr_values="${ACR.mfa}"`);
});
