import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import request from 'supertest';
import { DEFAULT_CLIENTS, startMockIdp, type MockIdp } from '../fixtures/mock-idp/index.js';

const WEIRD_SECRET = 'p:a+s/s%w&o rd=ü密';

/** RFC 6749 §2.3.1 / Appendix B: form-urlencode each part before joining and base64-encoding. */
const formEncode = (v: string): string => new URLSearchParams([['', v]]).toString().slice(1);
const basic = (id: string, secret: string): string =>
  'Basic ' + Buffer.from(`${formEncode(id)}:${formEncode(secret)}`, 'utf8').toString('base64');
const rawBasic = (id: string, secret: string): string =>
  'Basic ' + Buffer.from(`${id}:${secret}`, 'utf8').toString('base64');
const WEB = basic('web-app', 'web-secret');

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, string>;
}

async function call(url: string, init: { params?: Record<string, string>; query?: Record<string, string>; auth?: string; headers?: Record<string, string> }): Promise<Answer> {
  const q = init.query ? '?' + new URLSearchParams(init.query).toString() : '';
  const headers: Record<string, string> = { ...init.headers };
  if (init.auth) headers.authorization = init.auth;
  const res = await fetch(url + q, {
    method: 'POST',
    headers,
    body: init.params ? new URLSearchParams(init.params) : undefined,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : {} };
}

let idp: MockIdp;
const logs: string[] = [];

/** `auth: null` sends no Authorization header (client_secret_post). */
const eiam = (query: Record<string, string>, auth: string | null = WEB) => call(idp.eiamTokenEndpoint, { query, auth: auth ?? undefined });
const ciam = (params: Record<string, string>, auth: string | null = WEB) => call(idp.ciamTokenEndpoint, { params, auth: auth ?? undefined });

async function bobMfaStart(target: MockIdp = idp): Promise<string> {
  const r = await call(target.eiamTokenEndpoint, { query: { grant_type: 'password', username: 'bob', password: 'bob-password' }, auth: WEB });
  expect(r.status).toBe(400);
  return r.json.mfa_token!;
}

async function challenge(mfaToken: string, target: MockIdp = idp): Promise<string> {
  const r = await call(target.mfaChallengeEndpoint, { query: { mfa_token: mfaToken, challenge_type: 'oob', oob_channel: 'sms' }, auth: WEB });
  expect(r.status).toBe(200);
  return r.json.oob_code!;
}

async function bobTokens(): Promise<Record<string, string>> {
  const mfaToken = await bobMfaStart();
  const oob = await challenge(mfaToken);
  const r = await eiam({ grant_type: 'mfa_oob', code: oob, mfa_token: mfaToken, binding_code: idp.lastSmsCode('bob')! });
  expect(r.status).toBe(200);
  return r.json;
}

beforeAll(async () => {
  idp = await startMockIdp({ logger: (l) => logs.push(l) });
});
afterAll(() => idp.close());
afterEach(() => {
  idp.faults = { mode: 'none' };
});

describe('discovery and keys', () => {
  test('both discovery documents describe the endpoints', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const res = await request(idp.url).get(path).expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toMatchObject({
        issuer: idp.issuer,
        token_endpoint: idp.ciamTokenEndpoint,
        eiam_token_endpoint: idp.eiamTokenEndpoint,
        jwks_uri: idp.jwksUri,
        revocation_endpoint: idp.revocationEndpoint,
        mfa_challenge_endpoint: idp.mfaChallengeEndpoint,
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      });
      expect(res.body.grant_types_supported).toEqual(expect.arrayContaining(['password', 'mfa_oob', 'refresh_token', 'client_credentials']));
    }
  });

  test('JWKS publishes public RSA keys only', async () => {
    const res = await request(idp.url).get('/.well-known/jwks.json').expect(200);
    expect(res.body.keys).toHaveLength(1);
    expect(res.body.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String) });
    expect(res.body.keys[0].d).toBeUndefined();
  });

  test('rotateKeys keeps the previous key published once, removeOld drops it', async () => {
    const local = await startMockIdp();
    try {
      const old = await local.signToken({ sub: 'x' });
      const jwks = createRemoteJWKSet(new URL(local.jwksUri), { cacheMaxAge: 0, cooldownDuration: 0 });
      await local.rotateKeys();
      expect((await (await fetch(local.jwksUri)).json()).keys).toHaveLength(2);
      await expect(jwtVerify(old, jwks)).resolves.toBeTruthy();
      expect(await local.isAccessTokenActive(old)).toBe(true);
      await local.rotateKeys();
      expect((await (await fetch(local.jwksUri)).json()).keys).toHaveLength(2);
      expect(await local.isAccessTokenActive(old)).toBe(false);
      const fresh = await local.signToken({ sub: 'y' });
      await local.rotateKeys({ removeOld: true });
      expect((await (await fetch(local.jwksUri)).json()).keys).toHaveLength(1);
      expect(await local.isAccessTokenActive(fresh)).toBe(false);
    } finally {
      await local.close();
    }
  });

  test('signToken: defaults, kid override, expiry', async () => {
    const t = await idp.signToken({ sub: 'tester', scope: 'a b' });
    const { payload, protectedHeader } = await jwtVerify(t, createRemoteJWKSet(new URL(idp.jwksUri)), {
      issuer: idp.issuer, audience: 'https://api.example.test', typ: 'at+jwt',
    });
    expect(payload).toMatchObject({ sub: 'tester', scope: 'a b' });
    expect(protectedHeader.alg).toBe('RS256');
    expect(decodeProtectedHeader(await idp.signToken({}, { kid: 'nope', typ: 'JWT' }))).toMatchObject({ kid: 'nope', typ: 'JWT' });
    expect(await idp.isAccessTokenActive(await idp.signToken({ sub: 'x' }, { expiresIn: -60 }))).toBe(false);
  });
});

describe('password grant (EIAM, query string)', () => {
  test('alice gets JWTs verifiable against the JWKS; refresh_token is empty as the seed says', async () => {
    const r = await eiam({ grant_type: 'password', username: 'alice', password: 'alice-password' });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'openid profile orders:read', refresh_token: '' });
    const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
    const at = await jwtVerify(r.json.access_token!, jwks, { issuer: idp.issuer, audience: 'https://api.example.test', typ: 'at+jwt' });
    expect(at.payload).toMatchObject({ sub: 'alice', client_id: 'web-app', scope: 'openid profile orders:read' });
    expect(at.payload.jti).toEqual(expect.any(String));
    expect(at.protectedHeader.kid).toEqual(expect.any(String));
    const id = await jwtVerify(r.json.id_token!, jwks, { issuer: idp.issuer, audience: 'web-app' });
    expect(id.payload.sub).toBe('alice');
  });

  test('client_secret_post in the query, and the CIAM form body, both work', async () => {
    const q = await eiam({ grant_type: 'password', username: 'alice', password: 'alice-password', client_id: 'web-app', client_secret: 'web-secret' }, null);
    expect(q.status).toBe(200);
    const f = await ciam({ grant_type: 'password', username: 'carol', password: 'carol-password', client_id: 'web-app', client_secret: 'web-secret' }, null);
    expect(f.status).toBe(200);
    expect(f.json.scope).toBe('openid profile');
  });

  test('CIAM ignores query parameters', async () => {
    const r = await call(idp.ciamTokenEndpoint, { query: { grant_type: 'password', username: 'alice', password: 'alice-password' }, auth: WEB });
    expect(r).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
    expect(r.json.error_description).toContain('grant_type');
  });

  test('requested scope is narrowed to what the user may have', async () => {
    const r = await eiam({ grant_type: 'password', username: 'carol', password: 'carol-password', scope: 'openid orders:read' });
    expect(r.json.scope).toBe('openid');
    const none = await eiam({ grant_type: 'password', username: 'carol', password: 'carol-password', scope: 'orders:read' });
    expect(none).toMatchObject({ status: 400, json: { error: 'invalid_scope' } });
  });

  test('wrong password, unknown user and missing parameters', async () => {
    expect(await eiam({ grant_type: 'password', username: 'alice', password: 'nope' })).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    expect(await eiam({ grant_type: 'password', username: 'mallory', password: 'x' })).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    const r = await eiam({ grant_type: 'password', username: 'alice' });
    expect(r).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
    expect(r.json.error_description).toContain('password');
    expect(await eiam({ username: 'alice' })).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
  });

  test('passwordGrantRefreshToken option issues a real refresh token', async () => {
    const local = await startMockIdp({ passwordGrantRefreshToken: true });
    try {
      const r = await call(local.eiamTokenEndpoint, { query: { grant_type: 'password', username: 'alice', password: 'alice-password' }, auth: WEB });
      expect(r.json.refresh_token).toMatch(/^[\w-]{20,}$/);
    } finally {
      await local.close();
    }
  });
});

describe('MFA (mfa_required → challenge → SMS → mfa_oob)', () => {
  test('bob completes the flow and gets a refresh token', async () => {
    const mfaToken = await bobMfaStart();
    const oob = await challenge(mfaToken);
    const code = idp.lastSmsCode('bob');
    expect(code).toMatch(/^\d{6}$/);
    expect(logs).toContain(`SMS to bob: ${code}`);
    const r = await eiam({ grant_type: 'mfa_oob', code: oob, mfa_token: mfaToken, binding_code: code! });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ token_type: 'Bearer', refresh_token: expect.any(String), id_token: expect.any(String) });
    expect(r.json.refresh_token).not.toBe('');
    // single use
    expect(await eiam({ grant_type: 'mfa_oob', code: oob, mfa_token: mfaToken, binding_code: code! })).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
  });

  test('mfa_required answer matches the seed', async () => {
    const r = await eiam({ grant_type: 'password', username: 'bob', password: 'bob-password' });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: 'mfa_required', error_description: 'mfa required', mfa_token: expect.any(String) });
  });

  test('JSON challenge body works; unknown mfa_token and bad challenge types fail', async () => {
    const mfaToken = await bobMfaStart();
    const empty = await call(idp.mfaChallengeEndpoint, { auth: WEB });
    expect(empty).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
    const res = await fetch(idp.mfaChallengeEndpoint, {
      method: 'POST', headers: { authorization: WEB, 'content-type': 'application/json' },
      body: JSON.stringify({ mfa_token: mfaToken, challenge_type: 'oob' }),
    });
    expect(res.status).toBe(200);
    expect(await call(idp.mfaChallengeEndpoint, { params: { mfa_token: 'nope', challenge_type: 'oob' }, auth: WEB })).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    expect(await call(idp.mfaChallengeEndpoint, { params: { mfa_token: mfaToken, challenge_type: 'otp' }, auth: WEB })).toMatchObject({ status: 400, json: { error: 'unsupported_challenge_type' } });
  });

  test('wrong binding codes: invalid_grant, and the fifth burns the mfa_token', async () => {
    const mfaToken = await bobMfaStart();
    const oob = await challenge(mfaToken);
    const good = idp.lastSmsCode('bob')!;
    const bad = good === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      expect(await eiam({ grant_type: 'mfa_oob', code: oob, mfa_token: mfaToken, binding_code: bad })).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    }
    expect(await eiam({ grant_type: 'mfa_oob', code: oob, mfa_token: mfaToken, binding_code: good })).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
  });

  test('expired mfa_token → invalid_grant', async () => {
    const local = await startMockIdp({ mfaTokenTtl: -1 });
    try {
      const mfaToken = await bobMfaStart(local);
      const r = await call(local.mfaChallengeEndpoint, { query: { mfa_token: mfaToken, challenge_type: 'oob' }, auth: WEB });
      expect(r).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    } finally {
      await local.close();
    }
  });
});

describe('refresh_token rotation', () => {
  test('new pair issued; old refresh and old access tokens die', async () => {
    const first = await bobTokens();
    const r = await ciam({ grant_type: 'refresh_token', refresh_token: first.refresh_token! });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ token_type: 'Bearer', scope: expect.any(String), id_token: expect.any(String) });
    expect(r.json.refresh_token).not.toBe(first.refresh_token);
    expect(await idp.isAccessTokenActive(first.access_token!)).toBe(false);
    expect(await idp.isAccessTokenActive(r.json.access_token!)).toBe(true);
    const intro = await call(idp.introspectionEndpoint, { params: { token: first.access_token! }, auth: WEB });
    expect(intro.json).toEqual({ active: false });
    // reuse of the rotated token: rejected, and the whole family is revoked
    expect(await ciam({ grant_type: 'refresh_token', refresh_token: first.refresh_token! })).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    expect(await ciam({ grant_type: 'refresh_token', refresh_token: r.json.refresh_token! })).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    expect(await idp.isAccessTokenActive(r.json.access_token!)).toBe(false);
  });

  test('unknown token, other client, scope narrowing', async () => {
    expect(await eiam({ grant_type: 'refresh_token', refresh_token: 'nope' })).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    const t = await bobTokens();
    expect(await ciam({ grant_type: 'refresh_token', refresh_token: t.refresh_token! }, basic('weird-client', WEIRD_SECRET))).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    expect(await eiam({ grant_type: 'refresh_token', refresh_token: t.refresh_token!, scope: 'admin' })).toMatchObject({ status: 400, json: { error: 'invalid_scope' } });
    const narrowed = await eiam({ grant_type: 'refresh_token', refresh_token: t.refresh_token!, scope: 'openid' });
    expect(narrowed).toMatchObject({ status: 200, json: { scope: 'openid' } });
  });

  test('revocation (RFC 7009) kills the family; unknown tokens still get 200', async () => {
    const t = await bobTokens();
    expect((await call(idp.revocationEndpoint, { params: { token: t.refresh_token!, token_type_hint: 'refresh_token' }, auth: WEB })).status).toBe(200);
    expect(await idp.isAccessTokenActive(t.access_token!)).toBe(false);
    expect(await ciam({ grant_type: 'refresh_token', refresh_token: t.refresh_token! })).toMatchObject({ status: 400, json: { error: 'invalid_grant' } });
    expect((await call(idp.revocationEndpoint, { params: { token: 'unknown' }, auth: WEB })).status).toBe(200);
    const a = await eiam({ grant_type: 'password', username: 'alice', password: 'alice-password' });
    await call(idp.revocationEndpoint, { params: { token: a.json.access_token! }, auth: WEB });
    expect(await idp.isAccessTokenActive(a.json.access_token!)).toBe(false);
  });
});

describe('client authentication', () => {
  const cc = { grant_type: 'client_credentials', scope: 'inventory:read' };

  test('weird secret: Basic with §2.3.1 form-encoding works, with encodeURIComponent too', async () => {
    expect((await ciam(cc, basic('weird-client', WEIRD_SECRET))).status).toBe(200);
    const uriEncoded = 'Basic ' + Buffer.from(`weird-client:${encodeURIComponent(WEIRD_SECRET)}`).toString('base64');
    expect((await ciam(cc, uriEncoded)).status).toBe(200);
  });

  test('weird secret: raw (unencoded) Basic fails with 401 + WWW-Authenticate', async () => {
    // '%w&' is not a valid percent escape and '+' would decode to a space: §2.3.1 decoding cannot recover it.
    const r = await ciam(cc, rawBasic('weird-client', WEIRD_SECRET));
    expect(r).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    expect(r.headers.get('www-authenticate')).toBe('Basic realm="mock-idp"');
  });

  test('weird secret: client_secret_post in a form body works', async () => {
    expect((await ciam({ ...cc, client_id: 'weird-client', client_secret: WEIRD_SECRET }, null)).status).toBe(200);
  });

  test('bad secrets → 401; WWW-Authenticate only for Basic', async () => {
    const b = await ciam(cc, basic('svc-report', 'wrong'));
    expect(b).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    expect(b.headers.get('www-authenticate')).toContain('Basic');
    const p = await ciam({ ...cc, client_id: 'svc-report', client_secret: 'wrong' }, null);
    expect(p).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    expect(p.headers.get('www-authenticate')).toBeNull();
    expect(await ciam(cc, basic('nobody', 'x'))).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
    expect(await ciam(cc, null)).toMatchObject({ status: 401, json: { error: 'invalid_client' } });
  });

  test('Basic plus client_secret parameter → invalid_request', async () => {
    const r = await ciam({ ...cc, client_secret: 'svc-secret' }, basic('svc-report', 'svc-secret'));
    expect(r).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
  });
});

describe('client_credentials (CIAM)', () => {
  const svc = basic('svc-report', 'svc-secret');

  test('default scope, subset, audience', async () => {
    const all = await ciam({ grant_type: 'client_credentials' }, svc);
    expect(all.status).toBe(200);
    expect(all.json).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 3600, scope: 'inventory:read inventory:write' });
    expect(all.json.refresh_token).toBeUndefined();
    const one = await ciam({ grant_type: 'client_credentials', scope: 'inventory:read' }, svc);
    const { payload } = await jwtVerify(one.json.access_token!, createRemoteJWKSet(new URL(idp.jwksUri)), {
      issuer: idp.issuer, audience: 'https://inventory.example.test', typ: 'at+jwt',
    });
    expect(payload).toMatchObject({ sub: 'svc-report', client_id: 'svc-report', scope: 'inventory:read' });
    const res = await ciam({ grant_type: 'client_credentials', resource: 'https://other.example.test/' }, svc);
    expect((await jwtVerify(res.json.access_token!, createRemoteJWKSet(new URL(idp.jwksUri)))).payload.aud).toBe('https://other.example.test/');
  });

  test('invalid_scope, unauthorized_client, unsupported_grant_type', async () => {
    expect(await ciam({ grant_type: 'client_credentials', scope: 'inventory:delete' }, svc)).toMatchObject({ status: 400, json: { error: 'invalid_scope' } });
    expect(await ciam({ grant_type: 'client_credentials' }, WEB)).toMatchObject({ status: 400, json: { error: 'unauthorized_client' } });
    expect(await ciam({ grant_type: 'password', username: 'alice', password: 'alice-password' }, svc)).toMatchObject({ status: 400, json: { error: 'unauthorized_client' } });
    expect(await ciam({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code' }, svc)).toMatchObject({ status: 400, json: { error: 'unsupported_grant_type' } });
  });
});

describe('fault switches', () => {
  const svcCall = () => ciam({ grant_type: 'client_credentials' }, basic('svc-report', 'svc-secret'));

  test('slow delays the answer', async () => {
    idp.faults = { mode: 'slow', delayMs: 300, count: 1 };
    const t0 = Date.now();
    expect((await svcCall()).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  test('error500, html, status429, status503', async () => {
    idp.faults = { mode: 'error500' };
    expect(await svcCall()).toMatchObject({ status: 500, json: { error: 'server_error' } });
    idp.faults = { mode: 'html' };
    const html = await fetch(idp.ciamTokenEndpoint, { method: 'POST' });
    expect(html.status).toBe(502);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    for (const [mode, status] of [['status429', 429], ['status503', 503]] as const) {
      idp.faults = { mode, retryAfter: 7 };
      const r = await svcCall();
      expect(r.status).toBe(status);
      expect(r.headers.get('retry-after')).toBe('7');
    }
  });

  test('reset destroys the connection', async () => {
    idp.faults = { mode: 'reset', count: 1 };
    await expect(fetch(idp.eiamTokenEndpoint, { method: 'POST' })).rejects.toThrow();
    expect(idp.faults.mode).toBe('none');
  });

  test('huge answers ~5 MB of valid JSON', async () => {
    idp.faults = { mode: 'huge', count: 1 };
    const res = await fetch(idp.ciamTokenEndpoint, { method: 'POST' });
    expect(res.status).toBe(200);
    expect((await res.text()).length).toBeGreaterThan(5 * 1024 * 1024);
  });

  test('count limits the fault, then it switches itself off', async () => {
    idp.faults = { mode: 'error500', count: 2 };
    expect((await svcCall()).status).toBe(500);
    expect((await svcCall()).status).toBe(500);
    expect((await svcCall()).status).toBe(200);
    expect(idp.faults).toMatchObject({ mode: 'none' });
  });

  test('POST /__faults sets faults; JWKS and discovery are never faulted', async () => {
    await request(idp.url).post('/__faults').send({ mode: 'status503', retryAfter: 2 }).expect(200);
    expect(idp.faults).toEqual({ mode: 'status503', retryAfter: 2 });
    await request(idp.url).get('/.well-known/jwks.json').expect(200);
    await request(idp.url).get('/.well-known/openid-configuration').expect(200);
    expect((await svcCall()).status).toBe(503);
    await request(idp.url).post('/__faults').send({ mode: 'explode' }).expect(400);
    await request(idp.url).post('/__faults').send({ mode: 'none' }).expect(200);
    expect((await svcCall()).status).toBe(200);
  });
});

describe('stats, request recording, robustness', () => {
  test('connections, tokenRequests, requestsByPath, lastRequest', async () => {
    const local = await startMockIdp();
    try {
      for (let i = 0; i < 10; i++) {
        const r = await call(local.ciamTokenEndpoint, { params: { grant_type: 'client_credentials' }, auth: basic('svc-report', 'svc-secret') });
        expect(r.status).toBe(200);
      }
      await call(local.eiamTokenEndpoint, { query: { grant_type: 'client_credentials' }, auth: basic('svc-report', 'svc-secret'), headers: { cookie: 'sid=browser' } });
      expect(local.stats.tokenRequests).toBe(11);
      // undici keeps connections alive (it opens a second one early, hence not exactly 1)
      expect(local.stats.connections).toBeGreaterThanOrEqual(1);
      expect(local.stats.connections).toBeLessThanOrEqual(2);
      expect(local.stats.requestsByPath).toMatchObject({ '/oauth2/token': 10, '/auth/oauth2/token': 1 });
      expect(local.stats.lastRequest).toMatchObject({
        method: 'POST', path: '/auth/oauth2/token', query: { grant_type: 'client_credentials' }, body: {},
        headers: expect.objectContaining({ cookie: 'sid=browser', authorization: expect.stringMatching(/^Basic /) }),
      });
      local.resetStats();
      expect(local.stats).toEqual({ tokenRequests: 0, requestsByPath: {}, connections: 0 });
    } finally {
      await local.close();
    }
  });

  test('malformed requests get OAuth 4xx answers, never a crash', async () => {
    const big = await fetch(idp.ciamTokenEndpoint, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=' + 'x'.repeat(100 * 1024),
    });
    expect(big.status).toBe(413);
    const badJson = await fetch(idp.mfaChallengeEndpoint, { method: 'POST', headers: { 'content-type': 'application/json', authorization: WEB }, body: '{nope' });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ error: 'invalid_request' });
    const xml = await fetch(idp.ciamTokenEndpoint, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<x/>' });
    expect(xml.status).toBe(400);
    const latin1 = await fetch(idp.ciamTokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from([0x61, 0x3d, 0xff]) });
    expect(latin1.status).toBe(400);
    const dup = await call(idp.eiamTokenEndpoint, { query: { grant_type: 'client_credentials' }, params: { grant_type: 'client_credentials' }, auth: basic('svc-report', 'svc-secret') });
    expect(dup).toMatchObject({ status: 400, json: { error: 'invalid_request' } });
    expect((await fetch(idp.ciamTokenEndpoint)).status).toBe(405);
    expect((await fetch(`${idp.url}/nowhere`)).status).toBe(404);
    expect((await ciam({ grant_type: 'client_credentials' }, 'Bearer abc')).status).toBe(400);
    expect((await ciam({ grant_type: 'client_credentials' }, 'Basic !!!')).status).toBe(401);
    // still alive
    expect((await fetch(idp.jwksUri)).status).toBe(200);
  });

  test('logs never contain secrets, passwords or tokens', async () => {
    const t = await bobTokens();
    const all = logs.join('\n');
    for (const c of DEFAULT_CLIENTS) expect(all).not.toContain(c.clientSecret);
    for (const s of ['alice-password', 'bob-password', t.access_token!, t.refresh_token!]) expect(all).not.toContain(s);
  });
});
