/**
 * RFC 7662 introspection in requireAuth against node oidc-provider issuing opaque access tokens:
 * the answer checked and cached, revocation seen after cacheTtl, single flight, outages as 503,
 * DPoP-bound opaque tokens, private_key_jwt to the endpoint, and answers shared through Redis.
 */
import express from 'express';
import request from 'supertest';
import * as oauth from 'oauth4webapi';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { MemoryTokenStore, oauthErrorHandler, requireAuth, requireScopes, type AuthResult, type RequireAuthOptions } from '../../lib/index.js';
import { redisTokenStore } from '../../lib/redis/index.js';
import { basicAuthorization } from '../../lib/idp/client-auth.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { listen } from '../../fixtures/listen.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';
import { closeClients, describeWithRedis, redisClient, startRedis, type RedisServer } from '../../fixtures/redis-server.js';
import { useTestClock } from '../support/clock.js';

const API = { client_id: 'api-introspector', client_secret: 'api-introspector-secret-0123456789', grant_types: ['client_credentials'] };
const M2M = { client_id: 'oidc-m2m', client_secret: 'oidc-m2m-secret', grant_types: ['client_credentials'] };

let op: RunningOidcProvider;
let pkjwtKey: CryptoKey;
const clock = useTestClock();

beforeAll(async () => {
  clearDiscoveryCache();
  const pair = await generateKeyPair('ES256', { extractable: true });
  pkjwtKey = pair.privateKey;
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'api-pk-1', alg: 'ES256', use: 'sig' };
  op = await startOidcProvider({
    accessTokenFormat: 'opaque',
    clients: [M2M, API, { client_id: 'api-pkjwt', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] }, grant_types: ['client_credentials'] }],
  });
});
afterAll(() => op.close());

async function opaqueToken(scope = 'api:read'): Promise<string> {
  const res = await fetch(op.tokenEndpoint, {
    method: 'POST',
    headers: { authorization: basicAuthorization(M2M.client_id, M2M.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: op.resource }),
  });
  const body = (await res.json()) as { access_token: string };
  expect(res.status).toBe(200);
  // Opaque: not a JWS, so the guard cannot check it on its own.
  expect(body.access_token.split('.')).toHaveLength(1);
  return body.access_token;
}

async function revoke(token: string): Promise<void> {
  const res = await fetch(op.revocationEndpoint, {
    method: 'POST',
    headers: { authorization: basicAuthorization(M2M.client_id, M2M.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
  });
  expect(res.status).toBe(200);
}

const introspections = (): number => op.requests('/token/introspection');

function appWith(options: Partial<RequireAuthOptions> = {}, introspection: Record<string, unknown> = {}): express.Express {
  const app = express();
  const auth = requireAuth({
    issuer: op.issuer,
    audience: op.resource,
    logger: false,
    introspection: { clientId: API.client_id, clientSecret: API.client_secret, ...introspection },
    ...options,
  } as RequireAuthOptions);
  const view = (a: AuthResult) => ({ sub: a.payload.sub ?? null, clientId: a.clientId, scopes: a.scopes, verifiedBy: a.verifiedBy, dpop: a.dpop ?? null, issuer: a.issuer });
  app.get('/read', auth, requireScopes('api:read'), (req, res) => res.json(view(req.auth!)));
  app.get('/write', auth, requireScopes('api:write'), (_req, res) => res.json({ ok: true }));
  app.get('/frozen', auth, (req, res) => res.json({ frozen: Object.isFrozen(req.auth!.payload) }));
  app.use(oauthErrorHandler());
  return app;
}

test('an active opaque token from oidc-provider is accepted, mapped to req.auth, and requireScopes works unchanged', async () => {
  const app = appWith();
  const token = await opaqueToken('api:read');
  const res = await request(app).get('/read').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ sub: null, clientId: 'oidc-m2m', scopes: ['api:read'], verifiedBy: 'introspection', dpop: null, issuer: op.issuer });
  const write = await request(app).get('/write').set('Authorization', `Bearer ${token}`);
  expect(write.status).toBe(403);
  expect(write.body.error).toBe('insufficient_scope');
  expect((await request(app).get('/frozen').set('Authorization', `Bearer ${token}`)).body).toEqual({ frozen: true });
});

test('a revoked token is still accepted from the cache, then refused once cacheTtlSeconds has passed', async () => {
  const app = appWith({}, { cacheTtlSeconds: 30 });
  const token = await opaqueToken();
  expect((await request(app).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(200);
  await revoke(token);
  const before = introspections();
  // Within the cache period: the earlier answer stands, no call.
  clock.advance(29_000);
  expect((await request(app).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(200);
  expect(introspections()).toBe(before);
  clock.advance(2_000);
  const res = await request(app).get('/read').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(401);
  expect(res.body).toMatchObject({ error: 'invalid_token' });
  expect(res.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
  expect(introspections()).toBe(before + 1);
  // The inactive answer is cached briefly: a client retrying costs nothing more.
  expect((await request(app).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(401);
  expect(introspections()).toBe(before + 1);
});

test('500 concurrent requests with one new token make one introspection call', async () => {
  const app = appWith();
  const api = await listen(app);
  try {
    const token = await opaqueToken();
    const before = introspections();
    const statuses = await Promise.all(Array.from({ length: 500 }, () => fetch(`${api.url}/read`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(introspections() - before).toBe(1);
  } finally {
    await api.close();
  }
});

test('a token for another audience is refused (401), and so is an answer without aud unless allowed', async () => {
  const token = await opaqueToken();
  const other = appWith({ audience: 'https://someone-else.example' });
  const res = await request(other).get('/read').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(401);
  expect(res.body.error_description).toMatch(/not meant for this API/);
});

test('the introspection endpoint down: 503 with Retry-After, never 401 and never allowed; not cached', async () => {
  const closed = await listen();
  const url = `${closed.url}/introspect`;
  await closed.close();
  const app = appWith({}, { endpoint: url });
  const token = await opaqueToken();
  for (let i = 0; i < 2; i++) {
    const res = await request(app).get('/read').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: 'The token cannot be checked with its issuer right now; try again shortly' });
    // The token never reaches an answer.
    expect(JSON.stringify(res.body) + JSON.stringify(res.headers)).not.toContain(token);
  }
});

test('staleIfErrorSeconds keeps an active answer for a bounded time while the endpoint is down', async () => {
  // A gate in front of the real endpoint, so it can go down after the first answer.
  let down = false;
  const gate = await listen(async (req, res) => {
    if (down) return void res.writeHead(502).end('bad gateway');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const r = await fetch(op.introspectionEndpoint, { method: 'POST', headers: { authorization: req.headers.authorization!, 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.concat(chunks) });
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text());
  });
  try {
    const app = appWith({}, { endpoint: `${gate.url}/introspect`, cacheTtlSeconds: 10, staleIfErrorSeconds: 20 });
    const token = await opaqueToken();
    expect((await request(app).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    down = true;
    clock.advance(15_000);
    expect((await request(app).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    clock.advance(20_000);
    expect((await request(app).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(503);
  } finally {
    await gate.close();
  }
});

test('a DPoP-bound opaque token (cnf.jkt in the answer) needs its proof; as Bearer it is refused', async () => {
  const issuer = new URL(op.issuer);
  const opts = { [oauth.allowInsecureRequests]: true };
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, opts));
  const client = { client_id: M2M.client_id };
  const keyPair = await oauth.generateKeyPair('ES256');
  const DPoP = oauth.DPoP({}, keyPair);
  const grant = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(M2M.client_secret), { scope: 'api:read', resource: op.resource }, { DPoP, ...opts });
  const tokens = await oauth.processClientCredentialsResponse(as, client, grant);
  expect(tokens.token_type.toLowerCase()).toBe('dpop');
  expect(tokens.access_token.split('.')).toHaveLength(1);

  const api = await listen(appWith());
  try {
    const res = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${api.url}/read`), undefined, undefined, { DPoP, ...opts });
    expect(res.status).toBe(200);
    const jkt = await calculateJwkThumbprint((await exportJWK(keyPair.publicKey)) as JWK);
    expect(((await res.json()) as { dpop: unknown }).dpop).toEqual({ jkt });

    const bearer = await fetch(`${api.url}/read`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(bearer.status).toBe(401);
    expect(bearer.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token".*DPoP/);
    const noProof = await fetch(`${api.url}/read`, { headers: { authorization: `DPoP ${tokens.access_token}` } });
    expect(noProof.status).toBe(401);
  } finally {
    await api.close();
  }
});

test('private_key_jwt authentication to the introspection endpoint', async () => {
  const app = appWith({}, { clientId: 'api-pkjwt', clientSecret: undefined, privateKey: pkjwtKey, kid: 'api-pk-1' });
  const token = await opaqueToken();
  const res = await request(app).get('/read').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(200);
  expect(res.body.verifiedBy).toBe('introspection');
});

test('wrong client credentials at the introspection endpoint: 500 misconfigured (an operator must act), never 401', async () => {
  const lines: string[] = [];
  const app = appWith({ logger: { warn: (l: string) => lines.push(l), error: (l: string) => lines.push(l) } }, { clientSecret: 'not-the-secret-at-all' });
  const token = await opaqueToken();
  const res = await request(app).get('/read').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(500);
  expect(res.body.error).toBe('server_error');
  expect(lines.join('\n')).toMatch(/refused this API's request \(401 invalid_client\)/);
  expect(lines.join('\n')).not.toContain(token);
  expect(lines.join('\n')).not.toContain('not-the-secret-at-all');
});

test('JWTs are still verified locally with tokens: "opaque" (no introspection call)', async () => {
  const jwtOp = await startOidcProvider({ clients: [M2M, API] });
  try {
    const app = express();
    app.get('/x', requireAuth({ issuer: jwtOp.issuer, audience: jwtOp.resource, logger: false, introspection: { clientId: API.client_id, clientSecret: API.client_secret } }), (req, res) =>
      res.json({ verifiedBy: req.auth!.verifiedBy, clientId: req.auth!.clientId }),
    );
    app.use(oauthErrorHandler());
    const t = await fetch(jwtOp.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: basicAuthorization(M2M.client_id, M2M.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api:read', resource: jwtOp.resource }),
    });
    const { access_token } = (await t.json()) as { access_token: string };
    const res = await request(app).get('/x').set('Authorization', `Bearer ${access_token}`);
    expect(res.body).toEqual({ verifiedBy: 'jwt', clientId: 'oidc-m2m' });
    expect(jwtOp.requests('/token/introspection')).toBe(0);
  } finally {
    await jwtOp.close();
  }
});

test('RFC 9701: oidc-provider signs its introspection answers; they are verified with its keys', async () => {
  const signedOp = await startOidcProvider({ accessTokenFormat: 'opaque', jwtIntrospection: true, clients: [M2M, { ...API, introspection_signed_response_alg: 'RS256' }] });
  try {
    let signedAnswers = 0;
    const counting = async (url: string | URL, init: RequestInit) => {
      const res = await fetch(url, init);
      if ((res.headers.get('content-type') ?? '').startsWith('application/token-introspection+jwt')) signedAnswers += 1;
      return res;
    };
    const app = express();
    app.get('/x', requireAuth({ issuer: signedOp.issuer, audience: signedOp.resource, logger: false, fetch: counting, introspection: { clientId: API.client_id, clientSecret: API.client_secret, signedAnswers: true } }), (req, res) =>
      res.json({ client: req.auth!.clientId, verifiedBy: req.auth!.verifiedBy }),
    );
    app.use(oauthErrorHandler());
    const t = await fetch(signedOp.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: basicAuthorization(M2M.client_id, M2M.client_secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api:read', resource: signedOp.resource }),
    });
    const { access_token } = (await t.json()) as { access_token: string };
    const res = await request(app).get('/x').set('Authorization', `Bearer ${access_token}`);
    expect(res.body).toEqual({ client: 'oidc-m2m', verifiedBy: 'introspection' });
    expect(signedAnswers).toBe(1);
  } finally {
    await signedOp.close();
  }
});

describe('a shared store', () => {
  test('two guards sharing a MemoryTokenStore make one call; other credentials cannot read the entries; garbage is a miss', async () => {
    const store = new MemoryTokenStore();
    const a = appWith({}, { store });
    const b = appWith({}, { store });
    const token = await opaqueToken();
    const before = introspections();
    expect((await request(a).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect((await request(b).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(introspections() - before).toBe(1);
    // Another deployment (another client at the IdP) with the same store: its own call.
    const c = appWith({}, { store, clientId: 'api-pkjwt', clientSecret: undefined, privateKey: pkjwtKey, kid: 'api-pk-1' });
    expect((await request(c).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(introspections() - before).toBe(2);
  });

  test('a store that holds garbage or fails is a miss, never an error', async () => {
    const garbage = { get: () => 'v1.garbage.garbage.garbage', set: () => undefined };
    const failing = { get: () => Promise.reject(new Error('boom')), set: () => Promise.reject(new Error('boom')) };
    const hanging = { get: () => new Promise<string>(() => undefined), set: () => new Promise<void>(() => undefined) };
    for (const store of [garbage, failing, hanging]) {
      const app = appWith({}, { store, storeTimeoutMs: 200 });
      const token = await opaqueToken();
      expect((await request(app).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    }
  });
});

describeWithRedis('two instances sharing a real redis-server', () => {
  let redis: RedisServer;
  const clients: ReturnType<typeof redisClient>[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await closeClients(clients);
    await redis.stop();
  });

  test('one introspection call for both; the stored value is sealed', async () => {
    const instance = () => {
      const client = redisClient(redis.url);
      clients.push(client);
      return appWith({}, { store: redisTokenStore({ client }) });
    };
    const a = instance();
    const b = instance();
    const token = await opaqueToken();
    const before = introspections();
    expect((await request(a).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect((await request(b).get('/read').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect(introspections() - before).toBe(1);
    const reader = redisClient(redis.url);
    clients.push(reader);
    if (reader.status !== 'ready') await new Promise((resolve) => reader.once('ready', resolve));
    const keys = await reader.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k).not.toContain(token);
      const v = (await reader.get(k)) ?? '';
      expect(v).toMatch(/^v1\./);
      expect(v).not.toContain('oidc-m2m');
    }
  });
});
