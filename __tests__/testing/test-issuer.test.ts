/**
 * express-oauth-kit/testing from jest, imported by its package name as a user's tests do: a
 * production requireAuth() (no test option anywhere) accepts what the test issuer signs, refuses
 * each invalid-token helper for the reason it names, and the M2M client and token proxy run
 * against its token endpoint.
 */
import express from 'express';
import request from 'supertest';
import { Agent, request as httpRequest } from 'node:http';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createTestIssuer, type TestIssuer } from 'express-oauth-kit/testing';
import { ConfigError, createM2MClient, oauthErrorHandler, requireAuth, revocationProxy, tokenProxy, type RequireAuthOptions } from 'express-oauth-kit';
import { listen, type Listening } from '../../fixtures/listen.js';

let idp: TestIssuer;
beforeAll(async () => {
  idp = await createTestIssuer({
    clients: [
      { clientId: 'svc', clientSecret: 's3cr+t:&', scope: 'orders:read' },
      { clientId: 'web', clientSecret: 'web-secret', authMethod: 'client_secret_post' },
    ],
    users: [{ username: 'alice', password: 'wonderland', claims: { email: 'alice@example.test' } }],
  });
});
afterAll(() => idp.close());

/** An app whose guard is configured as in production: issuer and audience, keys discovered (its refusal log lines silenced). */
function appFor(issuer: TestIssuer, extra: Partial<RequireAuthOptions> = {}) {
  const app = express();
  app.set('trust proxy', false);
  app.get('/me', requireAuth({ issuer: issuer.issuer, audience: issuer.audience, logger: false, ...extra } as RequireAuthOptions), (req, res) => {
    res.json({ payload: req.auth!.payload, jkt: req.auth!.dpop?.jkt ?? null });
  });
  app.use(oauthErrorHandler());
  return app;
}

describe('tokens a production requireAuth() accepts', () => {
  test('sign() fills iss, aud, iat, exp (1 h), jti, typ at+jwt; discovery finds the keys', async () => {
    const token = await idp.sign({ sub: 'alice', scope: 'orders:read' });
    const res = await request(appFor(idp, { typ: 'at+jwt' })).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    const p = res.body.payload;
    expect(p).toMatchObject({ iss: idp.issuer, aud: 'https://api.example.test', sub: 'alice', scope: 'orders:read' });
    expect(p.exp - p.iat).toBe(3600);
    expect(typeof p.jti).toBe('string');
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: idp.kid });
  });

  test('claims win over the defaults, and a claim given as undefined is left out', async () => {
    const token = await idp.sign({ aud: 'other-api', jti: 'fixed', exp: undefined });
    expect(decodeJwt(token)).toMatchObject({ aud: 'other-api', jti: 'fixed' });
    expect('exp' in decodeJwt(token)).toBe(false);
    const res = await request(appFor(idp)).get('/me').set('Authorization', `Bearer ${await idp.sign({ exp: undefined })}`);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('The token has no "exp" claim, which this API requires');
  });

  test('the key set can be pinned (jwks) or named (jwksUri) instead of discovered', async () => {
    const token = await idp.sign();
    for (const keys of [{ jwks: idp.jwks }, { jwksUri: idp.jwksUri }]) {
      expect((await request(appFor(idp, keys)).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    }
  });

  test.each(['RS256', 'PS256', 'ES384', 'EdDSA'] as const)('alg %s', async (alg) => {
    const other = await createTestIssuer({ alg, audience: ['api-a', 'api-b'] });
    try {
      const token = await other.sign();
      expect(decodeProtectedHeader(token).alg).toBe(alg);
      expect((await request(appFor(other)).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    } finally {
      await other.close();
    }
  });

  test('both discovery documents (OpenID, RFC 8414) name the issuer, key set and endpoints', async () => {
    for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
      const doc = await (await fetch(idp.issuer + path)).json();
      expect(doc).toMatchObject({ issuer: idp.issuer, jwks_uri: idp.jwksUri, token_endpoint: idp.tokenEndpoint, revocation_endpoint: idp.revocationEndpoint });
    }
  });
});

describe('invalid tokens, each refused for its own reason', () => {
  test.each([
    ['expired', 'The access token expired'],
    ['notYetValid', 'The token is not valid yet (nbf)'],
    ['wrongAudience', 'The token is not meant for this API (aud)'],
    ['wrongKey', 'The token signature is invalid'],
  ] as const)('%s() → 401 invalid_token "%s"', async (helper, description) => {
    const token = await idp[helper]({ sub: 'mallory' });
    const res = await request(appFor(idp)).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: description });
  });

  test('wrongKey() uses the published kid, so the guard finds a key and the signature fails (no refetch needed)', async () => {
    const token = await idp.wrongKey();
    expect(decodeProtectedHeader(token).kid).toBe(idp.kid);
  });

  test('a faked Date.now (fake timers) moves neither the default issuer clock nor the guard\'s: a token still passes', async () => {
    const realNow = Date.now;
    Date.now = () => 0;
    let own: TestIssuer | undefined;
    try {
      own = await createTestIssuer();
      const token = await own.sign();
      expect(decodeJwt(token).iat).toBeGreaterThan(1_700_000_000);
      expect((await request(appFor(own)).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    } finally {
      Date.now = realNow;
      await own?.close();
    }
  });

  test('the issuer clock (now) moves iat/exp with a test-controlled clock', async () => {
    const shifted = await createTestIssuer({ now: () => Date.now() - 2 * 3600_000 });
    try {
      const res = await request(appFor(shifted)).get('/me').set('Authorization', `Bearer ${await shifted.sign()}`);
      expect(res.body.error_description).toBe('The access token expired');
    } finally {
      await shifted.close();
    }
  });
});

describe('DPoP', () => {
  let server: Listening;
  beforeAll(async () => {
    server = await listen(appFor(idp, { dpop: { mode: 'allowed', nonce: { secret: 'n'.repeat(32) } } }));
  });
  afterAll(() => server.close());

  async function call(token: string, proof?: string, scheme = 'DPoP') {
    const headers: Record<string, string> = { authorization: `${scheme} ${token}` };
    if (proof) headers.dpop = proof;
    const res = await fetch(`${server.url}/me`, { headers });
    return { status: res.status, nonce: res.headers.get('dpop-nonce'), body: await res.json() };
  }

  test('a bound token with proofs from dpopProof() is accepted (after the server nonce), as a Bearer token refused', async () => {
    const token = await idp.sign({ sub: 'alice' }, { dpop: true });
    expect(decodeJwt(token).cnf).toEqual({ jkt: idp.dpopJkt });
    const htu = `${server.url}/me?ignored=1`;
    const first = await call(token, await idp.dpopProof({ htm: 'GET', htu, accessToken: token }));
    expect(first).toMatchObject({ status: 401, body: { error: 'use_dpop_nonce' } });
    const ok = await call(token, await idp.dpopProof({ htm: 'GET', htu, accessToken: token, nonce: first.nonce! }));
    expect(ok).toMatchObject({ status: 200, body: { jkt: idp.dpopJkt } });
    expect((await call(token, undefined, 'Bearer')).status).toBe(401);
  });

  test('a proof for another method, another URL or without ath is refused', async () => {
    const token = await idp.sign({}, { dpop: true });
    const nonce = (await call(token, await idp.dpopProof({ htm: 'GET', htu: `${server.url}/me`, accessToken: token }))).nonce!;
    for (const proof of [
      { htm: 'POST', htu: `${server.url}/me`, accessToken: token, nonce },
      { htm: 'GET', htu: `${server.url}/other`, accessToken: token, nonce },
      { htm: 'GET', htu: `${server.url}/me`, nonce },
    ]) {
      expect(await call(token, await idp.dpopProof(proof))).toMatchObject({ status: 401, body: { error: 'invalid_dpop_proof' } });
    }
  });
});

describe('rotate()', () => {
  test('the new key replaces the old in the key set; a token with the new kid makes the guard refetch, after which the old key is refused', async () => {
    const own = await createTestIssuer();
    try {
      const app = appFor(own);
      const before = await own.sign({ sub: 'before' });
      expect((await request(app).get('/me').set('Authorization', `Bearer ${before}`)).status).toBe(200);
      const oldKid = own.kid;
      await own.rotate();
      expect(own.kid).not.toBe(oldKid);
      expect(own.jwks.keys.map((k) => k.kid)).toEqual([own.kid]);
      const after = await own.sign({ sub: 'after' });
      expect((await request(app).get('/me').set('Authorization', `Bearer ${after}`)).status).toBe(200);
      // The refetch brought a set without the old key: the old token, cached as verified, is checked again and refused.
      const res = await request(app).get('/me').set('Authorization', `Bearer ${before}`);
      expect(res.status).toBe(401);
      expect(res.body.error_description).toBe('No key of the issuer matches the token (kid/alg)');
    } finally {
      await own.close();
    }
  });
});

describe('rotate() twice against one guard', () => {
  test('the second new kid is refused within jwksCooldownMs (30 s by default), found at once with jwksCooldownMs: 0', async () => {
    const own = await createTestIssuer();
    try {
      for (const [cooldown, second] of [[undefined, 401], [0, 200]] as const) {
        const app = appFor(own, cooldown === undefined ? {} : { jwksCooldownMs: cooldown });
        expect((await request(app).get('/me').set('Authorization', `Bearer ${await own.sign()}`)).status).toBe(200);
        await own.rotate();
        expect((await request(app).get('/me').set('Authorization', `Bearer ${await own.sign()}`)).status).toBe(200);
        await own.rotate();
        expect((await request(app).get('/me').set('Authorization', `Bearer ${await own.sign()}`)).status).toBe(second);
      }
    } finally {
      await own.close();
    }
  });
});

test('DPoP through supertest: a fixed Host header makes htu known before the request', async () => {
  const token = await idp.sign({ sub: 'erin' }, { dpop: true });
  const res = await request(appFor(idp))
    .get('/me')
    .set('Host', 'api.test')
    .set('Authorization', `DPoP ${token}`)
    .set('DPoP', await idp.dpopProof({ htm: 'GET', htu: 'http://api.test/me', accessToken: token }));
  expect(res.status).toBe(200);
  expect(res.body.jkt).toBe(idp.dpopJkt);
});

describe('token endpoint: createM2MClient()', () => {
  test('client_credentials with client_secret_basic (form-encoded secret); the token passes requireAuth', async () => {
    const m2m = createM2MClient({ issuer: idp.issuer, clientId: 'svc', clientSecret: 's3cr+t:&', logger: false });
    const token = (await m2m.getToken()).accessToken;
    expect(decodeJwt(token)).toMatchObject({ iss: idp.issuer, sub: 'svc', client_id: 'svc', scope: 'orders:read', aud: 'https://api.example.test' });
    expect((await request(appFor(idp)).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    const seen = idp.tokenRequests.at(-1)!;
    expect(seen).toMatchObject({ grantType: 'client_credentials', clientId: 'svc', clientAuth: 'client_secret_basic', dpop: false });
    expect(JSON.stringify(idp.tokenRequests)).not.toContain('s3cr+t');
  });

  test('audience and scope of the request go into the token; client_secret_post where the client requires it', async () => {
    const m2m = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'web', clientSecret: 'web-secret', clientAuth: 'client_secret_post', audience: 'billing', scope: ['a', 'b'], logger: false });
    expect(decodeJwt((await m2m.getToken()).accessToken)).toMatchObject({ aud: 'billing', scope: 'a b' });
    expect(idp.tokenRequests.at(-1)!.clientAuth).toBe('client_secret_post');
    const basic = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'web', clientSecret: 'web-secret', retry: false, logger: false });
    await expect(basic.getToken()).rejects.toMatchObject({ code: 'idp_error', idpStatus: 401, idpError: 'invalid_client' });
  });

  test('a wrong secret is invalid_client', async () => {
    const m2m = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'svc', clientSecret: 'wrong', retry: false, logger: false });
    await expect(m2m.getToken()).rejects.toMatchObject({ code: 'idp_error', idpStatus: 401, idpError: 'invalid_client' });
  });

  test('failNextTokenRequest(): the next request fails as told, the one after succeeds', async () => {
    idp.failNextTokenRequest({ error: 'unauthorized_client', errorDescription: 'disabled for the test' });
    const m2m = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'svc', clientSecret: 's3cr+t:&', retry: false, idpBackoffMs: 0, logger: false });
    await expect(m2m.getToken()).rejects.toMatchObject({ code: 'idp_error', idpStatus: 400, idpError: 'unauthorized_client', idpErrorDescription: 'disabled for the test' });
    await expect(m2m.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
  });

  test('a 503 twice is retried by the client (times: 2)', async () => {
    idp.failNextTokenRequest({ error: 'temporarily_unavailable', times: 2 });
    const n = idp.tokenRequests.length;
    const m2m = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'svc', clientSecret: 's3cr+t:&', retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 }, logger: false });
    await expect(m2m.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(idp.tokenRequests.length - n).toBe(3);
  });

  test('dpop: true → a DPoP-bound token (cnf.jkt of the client key) that m2m.fetch presents to requireAuth', async () => {
    const server = await listen(appFor(idp));
    try {
      const m2m = createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'svc', clientSecret: 's3cr+t:&', dpop: true, logger: false });
      const res = await m2m.fetch(`${server.url}/me`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { jkt: string; payload: { cnf: { jkt: string } } };
      expect(body.jkt).toBe(body.payload.cnf.jkt);
      expect(idp.tokenRequests.at(-1)!.dpop).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('token endpoint: tokenProxy() and revocationProxy()', () => {
  function proxyApp() {
    const a = express();
    const options = { tokenEndpoint: idp.tokenEndpoint, revocationEndpoint: idp.revocationEndpoint, clientId: 'svc', clientSecret: 's3cr+t:&', logger: false as const };
    a.post('/auth/token', tokenProxy(options));
    a.post('/auth/revoke', revocationProxy(options));
    return a;
  }

  test('password, then refresh_token (rotated: the used one is refused), then revocation', async () => {
    const a = proxyApp();
    const login = await request(a).post('/auth/token').type('form').send({ grant_type: 'password', username: 'alice', password: 'wonderland', scope: 'profile' });
    expect(login.status).toBe(200);
    expect(decodeJwt(login.body.access_token)).toMatchObject({ sub: 'alice', email: 'alice@example.test', scope: 'profile' });
    expect(JSON.stringify(idp.tokenRequests.at(-1))).not.toContain('wonderland');
    const refreshed = await request(a).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: login.body.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(login.body.refresh_token);
    const reused = await request(a).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: login.body.refresh_token });
    expect(reused.status).toBe(400);
    expect(reused.body.error).toBe('invalid_grant');
    expect((await request(a).post('/auth/revoke').type('form').send({ token: refreshed.body.refresh_token })).status).toBe(200);
    const revoked = await request(a).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token });
    expect(revoked.body.error).toBe('invalid_grant');
  });

  test('a wrong password and an injected invalid_grant reach the front end as 400 invalid_grant', async () => {
    const a = proxyApp();
    const wrong = await request(a).post('/auth/token').type('form').send({ grant_type: 'password', username: 'alice', password: 'nope' });
    expect([wrong.status, wrong.body.error]).toEqual([400, 'invalid_grant']);
    idp.failNextTokenRequest({ error: 'invalid_grant', errorDescription: 'MFA required' });
    const injected = await request(a).post('/auth/token').type('form').send({ grant_type: 'password', username: 'alice', password: 'wonderland' });
    expect([injected.status, injected.body.error]).toEqual([400, 'invalid_grant']);
  });
});

describe('the mock endpoints are bounded and speak RFC 6749 errors', () => {
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(idp.tokenEndpoint, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('svc:s3cr%2Bt%3A%26').toString('base64')}`, ...headers } });

  test('a body over 64 KiB → 413, a JSON body → 400, GET → 405, unknown grant → unsupported_grant_type', async () => {
    expect((await post('x='.padEnd(70_000, 'a'))).status).toBe(413);
    const json = await post('{}', { 'content-type': 'application/json' });
    expect([json.status, (await json.json()).error]).toEqual([400, 'invalid_request']);
    expect((await fetch(idp.tokenEndpoint)).status).toBe(405);
    const grant = await post('grant_type=urn:example:magic');
    expect([grant.status, (await grant.json()).error]).toEqual([400, 'unsupported_grant_type']);
  });

  test('a DPoP proof that does not verify, or names another URL, → 400 invalid_dpop_proof, no token', async () => {
    const wrongUrl = await idp.dpopProof({ htm: 'POST', htu: `${idp.issuer}/elsewhere` });
    for (const proof of ['not-a-jwt', wrongUrl]) {
      const res = await post('grant_type=client_credentials', { dpop: proof });
      expect([res.status, (await res.json()).error]).toEqual([400, 'invalid_dpop_proof']);
    }
    const good = await post('grant_type=client_credentials', { dpop: await idp.dpopProof({ htm: 'POST', htu: idp.tokenEndpoint }) });
    const body = await good.json();
    expect([good.status, body.token_type, decodeJwt(body.access_token).cnf]).toEqual([200, 'DPoP', { jkt: idp.dpopJkt }]);
  });

  test('no client authentication → 401 invalid_client with a Basic challenge; two methods at once → 400', async () => {
    const none = await fetch(idp.tokenEndpoint, { method: 'POST', body: 'grant_type=client_credentials', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect([none.status, none.headers.get('www-authenticate'), (await none.json()).error]).toEqual([401, 'Basic realm="test-issuer"', 'invalid_client']);
    const both = await post('grant_type=client_credentials&client_id=svc&client_secret=x');
    expect([both.status, (await both.json()).error]).toEqual([400, 'invalid_request']);
  });
});

test('close() ends keep-alive connections, so the runner exits; calling it twice is harmless', async () => {
  const own = await createTestIssuer();
  const agent = new Agent({ keepAlive: true });
  const status = await new Promise<number>((resolve, reject) => {
    httpRequest(own.jwksUri, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    })
      .on('error', reject)
      .end();
  });
  expect(status).toBe(200);
  expect(Object.values(agent.freeSockets).flat()).toHaveLength(1);
  // Without closeAllConnections() this would wait for the idle socket's keep-alive timeout.
  await own.close();
  await own.close();
  await expect(fetch(own.jwksUri)).rejects.toThrow();
  agent.destroy();
});

test.each([
  [{ client: [] }, 'config_options', 'createTestIssuer(): unknown option "client"; did you mean clients?'],
  [{ alg: 'HS256' }, 'config_algorithms', 'createTestIssuer(): alg must be one of RS256, PS256, ES256, ES384, EdDSA'],
  [{ clients: [{ clientId: 'svc' }] }, 'config_options', 'createTestIssuer(): each of clients needs clientId and clientSecret as strings'],
  [{ expiresInSeconds: '3600' }, 'config_number', 'createTestIssuer(): expiresInSeconds must be a positive number (got the string "3600")'],
  [{ audience: [] }, 'config_options', 'createTestIssuer(): audience must be a string or a non-empty array of strings'],
])('a mistaken option %j is a ConfigError (%s) pointing at docs/testing.md, before any server starts', async (options, code, message) => {
  const err = await createTestIssuer(options as never).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  expect(err).toMatchObject({ code, docs: 'express-oauth-kit/docs/testing.md#reference' });
  expect((err as Error).message).toContain(message);
});
