import request from 'supertest';
import { startDemo, type DemoHandle } from '../../demo-app/demo.js';

/**
 * End to end across the three real servers startDemo() runs on 127.0.0.1 (mock IdP, inventory, API),
 * driving the API exactly as the login page does: cookie mode, Origin + CSRF header.
 */

const RANDOM_PORTS = { DEMO_API_PORT: '0', DEMO_INVENTORY_PORT: '0', DEMO_IDP_PORT: '0' };
const COOKIE = '__Secure-oauth_refresh';

let demo: DemoHandle;
const logs: string[] = [];
/** Every token the suite saw; the last test checks none of them reached a log line. */
const seenSecrets = new Set<string>(['alice-password', 'bob-password', 'carol-password', 'web-secret', 'svc-secret']);

beforeAll(async () => {
  demo = await startDemo({ env: RANDOM_PORTS, log: (line) => logs.push(line) });
});
afterAll(async () => {
  await demo?.close();
});

/** A POST to one of the proxy routes, as the page sends it. */
function proxy(path: string, params: Record<string, string>, cookie?: string) {
  const req = request(demo.apiUrl).post(path).set('Origin', demo.apiUrl).set('X-CSRF-Token', 'test').type('form');
  if (cookie !== undefined) req.set('Cookie', `${COOKIE}=${cookie}`);
  return req.send(params);
}

function setCookies(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown as string[] | string | undefined;
  return raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
}

/** The refresh token the proxy put in the cookie ('' when it cleared it, undefined when it did not touch it). */
function refreshCookie(res: request.Response): string | undefined {
  const line = setCookies(res).find((c) => c.startsWith(`${COOKIE}=`));
  if (line === undefined) return undefined;
  return decodeURIComponent(line.slice(COOKIE.length + 1).split(';', 1)[0]!);
}

function keep<T extends { access_token?: string }>(body: T): T {
  if (body.access_token) seenSecrets.add(body.access_token);
  return body;
}

async function passwordLogin(username: string) {
  const res = await proxy('/auth/token', { grant_type: 'password', username, password: `${username}-password` });
  expect(res.status).toBe(200);
  return keep(res.body).access_token as string;
}

/** bob: password → mfa_required → challenge → SMS code → tokens, with the refresh token in the cookie. */
async function bobLogin(): Promise<{ accessToken: string; refresh: string }> {
  const first = await proxy('/auth/token', { grant_type: 'password', username: 'bob', password: 'bob-password' });
  expect(first.status).toBe(400);
  expect(first.body.error).toBe('mfa_required');
  const mfaToken = first.body.mfa_token as string;
  const challenge = await proxy('/auth/mfa/challenge', { mfa_token: mfaToken, challenge_type: 'oob', oob_channel: 'sms' });
  expect(challenge.status).toBe(200);
  const code = demo.idp!.lastSmsCode('bob')!;
  expect(code).toMatch(/^\d+$/);
  const done = await proxy('/auth/token', { grant_type: 'mfa_oob', mfa_token: mfaToken, code: challenge.body.oob_code, binding_code: code });
  expect(done.status).toBe(200);
  const refresh = refreshCookie(done)!;
  seenSecrets.add(refresh);
  return { accessToken: keep(done.body).access_token, refresh };
}

const bearer = (path: string, token: string) => request(demo.apiUrl).get(path).set('Authorization', `Bearer ${token}`);

test('serves the login page with a strict CSP', async () => {
  const res = await request(demo.apiUrl).get('/');
  expect(res.status).toBe(200);
  expect(res.text).toContain('<script src="app.js" defer></script>');
  expect(res.headers['content-security-policy']).toContain("default-src 'self'");
  expect((await request(demo.apiUrl).get('/app.js')).status).toBe(200);
});

test('password → token → /api/me, verified by requireAuth', async () => {
  const res = await proxy('/auth/token', { grant_type: 'password', username: 'alice', password: 'alice-password' });
  expect(res.status).toBe(200);
  expect(res.headers['cache-control']).toContain('no-store');
  // EIAM's password grant sends refresh_token: "" — the proxy drops the field and sets no cookie.
  expect(res.body).not.toHaveProperty('refresh_token');
  expect(refreshCookie(res)).toBeUndefined();
  const token = keep(res.body).access_token as string;

  const me = await bearer('/api/me', token);
  expect(me.status).toBe(200);
  expect(me.body).toMatchObject({ sub: 'alice', client_id: 'web-app', iss: demo.issuer, aud: 'https://api.example.test' });
  expect(me.body.scopes).toContain('orders:read');

  const none = await request(demo.apiUrl).get('/api/me');
  expect(none.status).toBe(401);
  expect(none.headers['www-authenticate']).toMatch(/^Bearer realm=/);
  const forged = await bearer('/api/me', token.slice(0, -4) + 'AAAA');
  expect(forged.status).toBe(401);
  expect(forged.headers['www-authenticate']).toContain('error="invalid_token"');
});

test('the proxy refuses a request without the CSRF header or from another origin', async () => {
  const params = { grant_type: 'password', username: 'alice', password: 'alice-password' };
  const noHeader = await request(demo.apiUrl).post('/auth/token').set('Origin', demo.apiUrl).type('form').send(params);
  expect(noHeader.status).toBe(403);
  const otherOrigin = await request(demo.apiUrl).post('/auth/token').set('Origin', 'https://evil.example').set('X-CSRF-Token', 'x').type('form').send(params);
  expect(otherOrigin.status).toBe(403);
  const wrong = await proxy('/auth/token', { ...params, password: 'nope' });
  expect(wrong.status).toBe(400);
  expect(wrong.body.error).toBe('invalid_grant');
});

test('bob: MFA through the proxy; the refresh token only ever travels in an HttpOnly cookie', async () => {
  const first = await proxy('/auth/token', { grant_type: 'password', username: 'bob', password: 'bob-password' });
  const mfaToken = first.body.mfa_token as string;
  const challenge = await proxy('/auth/mfa/challenge', { mfa_token: mfaToken, challenge_type: 'oob', oob_channel: 'sms' });
  const wrongCode = demo.idp!.lastSmsCode('bob') === '000000' ? '111111' : '000000';
  const bad = await proxy('/auth/token', { grant_type: 'mfa_oob', mfa_token: mfaToken, code: challenge.body.oob_code, binding_code: wrongCode });
  expect(bad.status).toBe(400);
  expect(bad.body.error).toBe('invalid_grant');
  expect(logs.some((l) => /\[idp\] SMS to bob: \d+/.test(l))).toBe(true);

  const first2 = await proxy('/auth/token', { grant_type: 'password', username: 'bob', password: 'bob-password' });
  const ch2 = await proxy('/auth/mfa/challenge', { mfa_token: first2.body.mfa_token, challenge_type: 'oob', oob_channel: 'sms' });
  const ok = await proxy('/auth/token', {
    grant_type: 'mfa_oob', mfa_token: first2.body.mfa_token, code: ch2.body.oob_code, binding_code: demo.idp!.lastSmsCode('bob')!,
  });
  expect(ok.status).toBe(200);
  expect(ok.body).not.toHaveProperty('refresh_token');
  const cookie = setCookies(ok).find((c) => c.startsWith(`${COOKIE}=`))!;
  expect(cookie).toMatch(/; Path=\/auth; HttpOnly; Secure; SameSite=Strict/);
  seenSecrets.add(refreshCookie(ok)!);

  const me = await bearer('/api/me', keep(ok.body).access_token);
  expect(me.status).toBe(200);
  expect(me.body.sub).toBe('bob');
  expect(me.body.amr).toEqual(expect.arrayContaining(['sms', 'mfa']));
});

test('refresh rotates the cookie; presenting the old refresh token again is rejected', async () => {
  const { accessToken, refresh: rt1 } = await bobLogin();
  const r1 = await proxy('/auth/token', { grant_type: 'refresh_token' }, rt1);
  expect(r1.status).toBe(200);
  const rt2 = refreshCookie(r1)!;
  seenSecrets.add(rt2);
  expect(rt2).toBeTruthy();
  expect(rt2).not.toBe(rt1);
  expect(keep(r1.body).access_token).not.toBe(accessToken);
  expect((await bearer('/api/me', r1.body.access_token)).status).toBe(200);

  const reuse = await proxy('/auth/token', { grant_type: 'refresh_token' }, rt1);
  expect(reuse.status).toBe(400);
  expect(reuse.body.error).toBe('invalid_grant');
  expect(refreshCookie(reuse)).toBe(''); // the dead cookie is cleared
  // Reuse looks like theft: the IdP revokes the whole family, so the newer token dies too.
  const after = await proxy('/auth/token', { grant_type: 'refresh_token' }, rt2);
  expect(after.body.error).toBe('invalid_grant');
  // A refresh token in the body is refused in cookie mode: page script must never handle it.
  const inBody = await proxy('/auth/token', { grant_type: 'refresh_token', refresh_token: rt2 });
  expect(inBody.status).toBe(400);
  expect(inBody.body.error).toBe('invalid_request');
});

test('log out revokes the access token and the cookie refresh token, and clears the cookie', async () => {
  const { accessToken, refresh } = await bobLogin();
  const revokeAccess = await proxy('/auth/revoke', { token: accessToken, token_type_hint: 'access_token' }, refresh);
  expect(revokeAccess.status).toBe(200);
  expect(await demo.idp!.isAccessTokenActive(accessToken)).toBe(false);

  const revokeCookie = await proxy('/auth/revoke', {}, refresh);
  expect(revokeCookie.status).toBe(200);
  expect(refreshCookie(revokeCookie)).toBe('');
  const refreshAfter = await proxy('/auth/token', { grant_type: 'refresh_token' }, refresh);
  expect(refreshAfter.status).toBe(400);
  expect(refreshAfter.body.error).toBe('invalid_grant');
  const noCookie = await proxy('/auth/token', { grant_type: 'refresh_token' });
  expect(noCookie.body.error).toBe('invalid_request');
});

test('/api/report calls the inventory with one cached M2M token; the inventory refuses user tokens', async () => {
  const token = await passwordLogin('alice');
  const fetchedBefore = logs.filter((l) => l.includes('m2m token for svc-report')).length;
  for (let i = 0; i < 3; i++) {
    const res = await bearer('/api/report', token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: 'alice', calledAs: 'svc-report' });
    expect(res.body.inventory).toEqual(expect.arrayContaining([expect.objectContaining({ sku: 'widget' })]));
  }
  expect(logs.filter((l) => l.includes('m2m token for svc-report')).length - fetchedBefore).toBe(1);
  expect(logs.filter((l) => l.startsWith('[inventory] GET /inventory 200')).length).toBeGreaterThanOrEqual(3);
});

test('/api/report also calls the inventory on behalf of the user: inventory sees sub = the user, act = the API (RFC 8693)', async () => {
  const token = await passwordLogin('alice');
  const res = await bearer('/api/report', token);
  expect(res.status).toBe(200);
  expect(res.body.onBehalfOf).toEqual({ status: 200, servedTo: 'alice', act: { sub: 'svc-report' } });

  const m2m = await fetch(`${demo.inventoryUrl}/inventory`, { headers: { authorization: `Bearer ${token}` } });
  expect(m2m.status).toBe(401); // a user's API token has the wrong audience
  expect((await fetch(`${demo.inventoryUrl}/inventory`)).status).toBe(401);
  expect((await request(demo.apiUrl).get('/api/report')).status).toBe(401);
});

test('/api/partner/orders: an opaque token (partner-app) is checked by introspection, a JWT on the same route locally', async () => {
  seenSecrets.add('partner-secret');
  const grant = await fetch(demo.idp!.ciamTokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'partner-app', client_secret: 'partner-secret', scope: 'orders:read' }),
  });
  expect(grant.status).toBe(200);
  const opaque = keep((await grant.json()) as { access_token: string }).access_token;
  expect(opaque.split('.')).toHaveLength(1);
  const before = demo.idp!.stats.requestsByPath['/oauth2/introspect'] ?? 0;
  for (let i = 0; i < 3; i++) {
    const res = await bearer('/api/partner/orders', opaque);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ client: 'partner-app', verifiedBy: 'introspection' });
  }
  // Cached: one introspection call for the three requests.
  expect((demo.idp!.stats.requestsByPath['/oauth2/introspect'] ?? 0) - before).toBe(1);
  const jwt = await passwordLogin('alice');
  const viaJwt = await bearer('/api/partner/orders', jwt);
  expect(viaJwt.status).toBe(200);
  expect(viaJwt.body).toMatchObject({ client: 'web-app', verifiedBy: 'jwt' });
  expect((demo.idp!.stats.requestsByPath['/oauth2/introspect'] ?? 0) - before).toBe(1);
});

test('carol lacks orders:read: /api/orders answers 403 insufficient_scope', async () => {
  const carol = await passwordLogin('carol');
  const res = await bearer('/api/orders', carol);
  expect(res.status).toBe(403);
  expect(res.body.error).toBe('insufficient_scope');
  expect(res.headers['www-authenticate']).toContain('scope="orders:read"');
  const alice = await bearer('/api/orders', await passwordLogin('alice'));
  expect(alice.status).toBe(200);
  expect(alice.body.orders.length).toBeGreaterThan(0);
});

test('logs one line per request and never a token, password or secret', () => {
  expect(logs).toEqual(expect.arrayContaining([expect.stringMatching(/^\[api\] GET \/api\/me 200 \d+\.\dms$/)]));
  expect(logs).toEqual(expect.arrayContaining([expect.stringMatching(/^\[api\] POST \/auth\/token 400 \d+\.\dms$/)]));
  // The package's own operator lines go to the demo's log too, not to the console: here, why the
  // inventory refused a user's token (its audience is the API's).
  expect(logs).toEqual(expect.arrayContaining([expect.stringMatching(/^\[inventory\] guard debug: .*refused a token with aud "https:\/\/api\.example\.test"/)]));
  const leaks = logs.filter((line) => [...seenSecrets].some((s) => line.includes(s)));
  expect(leaks).toEqual([]);
});
