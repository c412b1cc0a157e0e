/**
 * Refresh-token cookie mode: the refresh token lives in an HttpOnly Secure SameSite=Strict cookie,
 * never in JSON; using it needs an allowed Origin and the CSRF header; invalid_grant clears it.
 */
import express from 'express';
import request from 'supertest';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { revocationProxy, tokenProxy, type RefreshCookieOptions, type TokenProxyOptions, type TokenProxyBaseOptions } from '../../lib/index.js';
import { ServerPool } from '../../fixtures/listen.js';

const ORIGIN = 'https://app.example.test';
const BROWSER = { Origin: ORIGIN, 'X-CSRF-Token': '1' };
const ALICE = { grant_type: 'password', username: 'alice', password: 'alice-password' };

let idp: MockIdp;
const pool = new ServerPool();
beforeAll(async () => {
  // A generic RFC 6749 server that issues refresh tokens on the password grant.
  idp = await startMockIdp({ passwordGrantRefreshToken: true });
});
afterAll(async () => {
  await pool.closeAll();
  await idp.close();
});

async function app(cookie: RefreshCookieOptions = { allowedOrigins: [ORIGIN] }, extra: Partial<TokenProxyBaseOptions> & { clientSecret?: string } = {}): Promise<string> {
  const options: TokenProxyOptions = {
    tokenEndpoint: idp.ciamTokenEndpoint,
    revocationEndpoint: idp.revocationEndpoint,
    clientId: 'web-app',
    clientSecret: 'web-secret',
    logger: false,
    cookie,
    ...extra,
  };
  const a = express();
  a.post('/auth/token', tokenProxy(options));
  a.post('/auth/logout', revocationProxy(options));
  return pool.serve(a);
}

/** The single Set-Cookie line of an answer, split into value and attributes. */
function cookieOf(res: request.Response): { name: string; value: string; attrs: string[] } {
  const lines = res.headers['set-cookie'] as unknown as string[] | undefined;
  expect(lines).toHaveLength(1);
  const [pair, ...attrs] = lines![0]!.split('; ');
  const eq = pair!.indexOf('=');
  return { name: pair!.slice(0, eq), value: decodeURIComponent(pair!.slice(eq + 1)), attrs };
}

let url: string;
beforeAll(async () => {
  url = await app();
});

async function login(base = url): Promise<{ res: request.Response; refresh: string; cookie: string }> {
  const res = await request(base).post('/auth/token').set(BROWSER).type('form').send(ALICE).expect(200);
  const c = cookieOf(res);
  return { res, refresh: c.value, cookie: `${c.name}=${encodeURIComponent(c.value)}` };
}

test('login sets the __Host- cookie and removes refresh_token from the JSON', async () => {
  const { res, refresh } = await login();
  const c = cookieOf(res);
  expect(c.name).toBe('__Host-oauth_refresh');
  expect(c.attrs).toEqual(['Path=/', 'HttpOnly', 'Secure', 'SameSite=Strict']);
  expect(refresh.length).toBeGreaterThan(20);
  expect(res.body.refresh_token).toBeUndefined();
  expect(res.body).toMatchObject({ access_token: expect.any(String), token_type: 'Bearer' });
  expect(JSON.stringify(res.body)).not.toContain(refresh);
  expect(res.headers['cache-control']).toBe('no-store');
});

test('refresh reads the cookie (CSRF header + Origin), rotates it, and keeps the token out of the JSON', async () => {
  const { refresh, cookie } = await login();
  const res = await request(url).post('/auth/token').set(BROWSER).set('Cookie', `other=1; ${cookie}`).type('form').send({ grant_type: 'refresh_token' }).expect(200);
  expect(idp.stats.lastRequest!.body).toMatchObject({ grant_type: 'refresh_token', refresh_token: refresh });
  expect(idp.stats.lastRequest!.headers.cookie).toBeUndefined();
  const next = cookieOf(res);
  expect(next.value).not.toBe(refresh);
  expect(res.body.refresh_token).toBeUndefined();
  expect(res.body.access_token).toEqual(expect.any(String));
});

describe('requests without the CSRF proof are refused before the IdP is called', () => {
  test.each([
    ['no Origin', { 'X-CSRF-Token': '1' }, /Origin header is required/],
    ['a foreign Origin', { Origin: 'https://evil.example', 'X-CSRF-Token': '1' }, /https:\/\/evil\.example is not allowed/],
    ['an Origin with a different port', { Origin: 'https://app.example.test:8443', 'X-CSRF-Token': '1' }, /not allowed/],
    ['no CSRF header', { Origin: ORIGIN }, /x-csrf-token header is required/],
    ['an empty CSRF header', { Origin: ORIGIN, 'X-CSRF-Token': ' ' }, /x-csrf-token header is required/],
  ])('%s → 403 access_denied', async (_n, headers, description) => {
    const { cookie } = await login();
    const before = idp.stats.tokenRequests;
    const res = await request(url).post('/auth/token').set(headers).set('Cookie', cookie).type('form').send({ grant_type: 'refresh_token' }).expect(403);
    expect(res.body).toEqual({ error: 'access_denied', error_description: expect.stringMatching(description) });
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(idp.stats.tokenRequests).toBe(before);
  });

  test('the login itself needs them too (login CSRF)', async () => {
    await request(url).post('/auth/token').type('form').send(ALICE).expect(403);
  });
});

test('refresh without the cookie → 400 invalid_request naming it', async () => {
  const res = await request(url).post('/auth/token').set(BROWSER).type('form').send({ grant_type: 'refresh_token' }).expect(400);
  expect(res.body).toEqual({ error: 'invalid_request', error_description: 'Missing required parameter: refresh_token (no __Host-oauth_refresh cookie; sign in again)' });
});

test('a refresh_token in the body is refused in cookie mode', async () => {
  const { refresh } = await login();
  const res = await request(url).post('/auth/token').set(BROWSER).type('form').send({ grant_type: 'refresh_token', refresh_token: refresh }).expect(400);
  expect(res.body.error).toBe('invalid_request');
});

test('the cookie sent twice (a planted copy) → 400 invalid_request', async () => {
  const { cookie } = await login();
  const res = await request(url).post('/auth/token').set(BROWSER).set('Cookie', `${cookie}; __Host-oauth_refresh=planted`).type('form').send({ grant_type: 'refresh_token' }).expect(400);
  expect(res.body.error_description).toMatch(/more than once/);
});

test('invalid_grant (a rotated-away token) clears the cookie', async () => {
  const { cookie } = await login();
  await request(url).post('/auth/token').set(BROWSER).set('Cookie', cookie).type('form').send({ grant_type: 'refresh_token' }).expect(200);
  const res = await request(url).post('/auth/token').set(BROWSER).set('Cookie', cookie).type('form').send({ grant_type: 'refresh_token' }).expect(400);
  expect(res.body.error).toBe('invalid_grant');
  const c = cookieOf(res);
  expect(c).toEqual({
    name: '__Host-oauth_refresh',
    value: '',
    attrs: ['Path=/', 'HttpOnly', 'Secure', 'SameSite=Strict', 'Max-Age=0', 'Expires=Thu, 01 Jan 1970 00:00:00 GMT'],
  });
});

test('a wrong password (invalid_grant on the password grant) leaves the cookie alone', async () => {
  const res = await request(url).post('/auth/token').set(BROWSER).type('form').send({ ...ALICE, password: 'nope' }).expect(400);
  expect(res.headers['set-cookie']).toBeUndefined();
});

test('logout: revocationProxy revokes the cookie\'s refresh token and clears the cookie', async () => {
  const { refresh, cookie } = await login();
  const res = await request(url).post('/auth/logout').set(BROWSER).set('Cookie', cookie).expect(200);
  expect(cookieOf(res).attrs).toContain('Max-Age=0');
  expect(idp.stats.lastRequest).toMatchObject({ path: '/oauth2/revoke', body: { token: refresh, token_type_hint: 'refresh_token' } });
  const after = await request(url).post('/auth/token').set(BROWSER).set('Cookie', cookie).type('form').send({ grant_type: 'refresh_token' }).expect(400);
  expect(after.body.error).toBe('invalid_grant');
  // Without a cookie, logging out again is a harmless 200.
  const again = await request(url).post('/auth/logout').set(BROWSER).expect(200);
  expect(again.body).toEqual({});
  // And without the CSRF proof it is refused.
  await request(url).post('/auth/logout').set('Cookie', cookie).expect(403);
});

test('a scoped path uses the __Secure- prefix; maxAge sets Max-Age', async () => {
  const scoped = await app({ allowedOrigins: [ORIGIN], path: '/auth', maxAgeSeconds: 86400, csrfHeader: 'X-Requested-With' });
  const res = await request(scoped).post('/auth/token').set({ Origin: ORIGIN, 'X-Requested-With': 'fetch' }).type('form').send(ALICE).expect(200);
  const c = cookieOf(res);
  expect(c.name).toBe('__Secure-oauth_refresh');
  expect(c.attrs).toEqual(['Path=/auth', 'HttpOnly', 'Secure', 'SameSite=Strict', 'Max-Age=86400']);
});

test('EIAM password grant: the empty refresh_token is dropped from the JSON and no cookie is set', async () => {
  const eiamIdp = await startMockIdp();
  try {
    const eiam = await app({ allowedOrigins: [ORIGIN] }, { profile: 'eiam', tokenEndpoint: eiamIdp.eiamTokenEndpoint, revocationEndpoint: eiamIdp.revocationEndpoint });
    const res = await request(eiam).post('/auth/token').set(BROWSER).type('form').send(ALICE).expect(200);
    expect(res.body.refresh_token).toBeUndefined();
    expect(res.headers['set-cookie']).toBeUndefined();
  } finally {
    await eiamIdp.close();
  }
});
