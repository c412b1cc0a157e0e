/**
 * Opaque tokens from the testing kit: opaque() tokens, the issuer's RFC 7662 endpoint, against a
 * production requireAuth({ introspection }) whose endpoint is discovered. Time passes for the
 * guard's introspection cache through the library clock, never by sleeping.
 */
import express from 'express';
import request from 'supertest';
import { createTestIssuer, type TestIssuer } from 'express-oauth-kit/testing';
import { oauthErrorHandler, requireAuth, type RequireAuthOptions } from 'express-oauth-kit';
import { useTestClock } from '../support/clock.js';

const API = { clientId: 'orders-api', clientSecret: 'api-s3cr+t' };
let idp: TestIssuer;
beforeAll(async () => {
  idp = await createTestIssuer({
    clients: [API, { clientId: 'web', clientSecret: 'web-secret', authMethod: 'client_secret_post' }, { clientId: 'svc', clientSecret: 'svc-secret' }],
  });
});
afterAll(() => idp.close());

/** A guard as in production: issuer, audience, introspection with a kit client; endpoint discovered. */
function appFor(introspection: Record<string, unknown> = {}, extra: Partial<RequireAuthOptions> = {}) {
  const app = express();
  app.get('/orders', requireAuth({ issuer: idp.issuer, audience: idp.audience, logger: false, introspection: { ...API, ...introspection }, ...extra } as RequireAuthOptions), (req, res) => {
    res.json({ payload: req.auth!.payload, verifiedBy: req.auth!.verifiedBy, scopes: req.auth!.scopes, clientId: req.auth!.clientId, jkt: req.auth!.dpop?.jkt ?? null });
  });
  app.use(oauthErrorHandler());
  return app;
}

const get = (app: express.Express, token: string) => request(app).get('/orders').set('Authorization', `Bearer ${token}`);

async function revoke(token: string, client: { clientId: string; clientSecret: string }): Promise<number> {
  const res = await fetch(idp.revocationEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${client.clientId}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}` },
    body: new URLSearchParams({ token }).toString(),
  });
  return res.status;
}

describe('opaque() and the introspection endpoint', () => {
  test('discovery names the endpoint; an active opaque token → 200, verifiedBy introspection, the defaults filled in', async () => {
    const doc = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
    expect(doc.introspection_endpoint).toBe(idp.introspectionEndpoint);
    const token = await idp.opaque({ sub: 'alice', scope: 'orders:read' });
    expect(token).not.toContain('.');
    const n = idp.introspectionRequests.length;
    const res = await get(appFor(), token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ verifiedBy: 'introspection', scopes: ['orders:read'], clientId: 'test-client' });
    const p = res.body.payload;
    expect(p).toMatchObject({ active: true, iss: idp.issuer, aud: idp.audience, sub: 'alice', client_id: 'test-client', token_type: 'Bearer' });
    expect(p.exp - p.iat).toBe(3600);
    expect(typeof p.jti).toBe('string');
    expect(idp.introspectionRequests.slice(n)).toEqual([{ clientId: 'orders-api', clientAuth: 'client_secret_basic', tokenTypeHint: 'access_token', active: true }]);
    // Neither the token nor the API's secret is in the records.
    expect(JSON.stringify(idp.introspectionRequests)).not.toContain(token);
    expect(JSON.stringify(idp.introspectionRequests)).not.toContain('api-s3cr');
  });

  test('claims win over the defaults; undefined leaves a claim out; a JWT on the same route is still verified locally', async () => {
    const app = appFor({ clientAuth: 'client_secret_post' });
    const res = await get(app, await idp.opaque({ client_id: 'svc', scope: 'a b', jti: 'fixed', token_type: undefined }));
    expect(res.status).toBe(200);
    expect(res.body.payload).toMatchObject({ client_id: 'svc', scope: 'a b', jti: 'fixed' });
    expect('token_type' in res.body.payload).toBe(false);
    expect(idp.introspectionRequests.at(-1)!.clientAuth).toBe('client_secret_post');
    const n = idp.introspectionRequests.length;
    const jwt = await get(app, await idp.sign({ sub: 'bob' }));
    expect(jwt.body.verifiedBy).toBe('jwt');
    expect(idp.introspectionRequests.length).toBe(n);
  });

  test('unknown and expired opaque tokens are inactive → 401 invalid_token', async () => {
    const app = appFor();
    const now = Math.floor(Date.now() / 1000);
    for (const token of ['made-up-opaque-token', await idp.opaque({ iat: now - 7200, exp: now - 3600 })]) {
      const res = await get(app, token);
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
      expect(idp.introspectionRequests.at(-1)!.active).toBe(false);
    }
  });

  test('the API with a wrong client secret → the guard\'s 500 misconfiguration (the endpoint said 401 invalid_client)', async () => {
    const res = await get(appFor({ clientSecret: 'wrong' }), await idp.opaque());
    expect(res.status).toBe(500);
    expect(res.body.error).toBe('server_error');
    expect(idp.introspectionRequests.at(-1)).toMatchObject({ clientId: 'orders-api', active: undefined });
  });

  test('failNextIntrospection(): 503 with Retry-After for `times` calls, then active again', async () => {
    const app = appFor();
    idp.failNextIntrospection({ error: 'temporarily_unavailable', retryAfterSeconds: 7, times: 2 });
    const token = await idp.opaque();
    for (let i = 0; i < 2; i++) {
      const res = await get(app, token);
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('temporarily_unavailable');
      expect(res.headers['retry-after']).toBe('7');
    }
    // Outages are not cached by the guard: the third call asks again and is answered.
    expect((await get(app, token)).status).toBe(200);
  });
});

describe('revocation of opaque tokens', () => {
  const clock = useTestClock();

  test('revoked by its client → still accepted from the guard\'s cache, refused once cacheTtlSeconds has passed; another client cannot revoke it', async () => {
    const app = appFor({ cacheTtlSeconds: 30 });
    const token = await idp.opaque({ client_id: 'svc' });
    expect((await get(app, token)).status).toBe(200);
    // RFC 7009: 200 to anyone authenticated, but only the client the token was issued to revokes it.
    expect(await revoke(token, { clientId: 'orders-api', clientSecret: API.clientSecret })).toBe(200);
    clock.advance(31_000);
    expect((await get(app, token)).status).toBe(200);
    expect(await revoke(token, { clientId: 'svc', clientSecret: 'svc-secret' })).toBe(200);
    const n = idp.introspectionRequests.length;
    expect((await get(app, token)).status).toBe(200);
    expect(idp.introspectionRequests.length).toBe(n);
    clock.advance(31_000);
    const res = await get(app, token);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
    expect(idp.introspectionRequests.at(-1)!.active).toBe(false);
  });
});

describe('DPoP-bound opaque tokens', () => {
  test('opaque({}, { dpop: true }) carries cnf.jkt: accepted with its proof, refused as Bearer or without a proof', async () => {
    const app = appFor();
    const token = await idp.opaque({ sub: 'alice' }, { dpop: true });
    const proof = await idp.dpopProof({ htm: 'GET', htu: 'http://api.test/orders', accessToken: token });
    const ok = await request(app).get('/orders').set('Host', 'api.test').set('Authorization', `DPoP ${token}`).set('DPoP', proof);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ jkt: idp.dpopJkt, payload: { cnf: { jkt: idp.dpopJkt }, token_type: 'DPoP' } });
    expect((await request(app).get('/orders').set('Host', 'api.test').set('Authorization', `DPoP ${token}`)).status).toBe(401);
    expect((await get(app, token)).status).toBe(401);
  });
});

describe('the introspection endpoint is bounded and speaks RFC 6749 errors', () => {
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(idp.introspectionEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });
  const basic = { authorization: `Basic ${Buffer.from('svc:svc-secret').toString('base64')}` };

  test('no client authentication → 401 invalid_client; no token → 400; GET → 405; over 64 KiB → 413; a JWT → inactive', async () => {
    const token = await idp.opaque();
    const anonymous = await post(new URLSearchParams({ token }).toString());
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await anonymous.json()).error).toBe('invalid_client');
    expect((await post('', basic)).status).toBe(400);
    expect((await fetch(idp.introspectionEndpoint)).status).toBe(405);
    expect((await post(`token=${'a'.repeat(70_000)}`, basic)).status).toBe(413);
    // Only opaque() tokens are known; its own JWTs are checked by their signature.
    expect(await (await post(new URLSearchParams({ token: await idp.sign() }).toString(), basic)).json()).toEqual({ active: false });
    expect(await (await post(new URLSearchParams({ token }).toString(), basic)).json()).toMatchObject({ active: true, client_id: 'test-client' });
  });
});
