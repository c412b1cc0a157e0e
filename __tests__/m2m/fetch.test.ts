/** createM2MClient(): fetch() with Bearer tokens and the 401 retry, middleware(), client authentication modes. */
import express from 'express';
import request from 'supertest';
import { createM2MClient, oauthErrorHandler } from '../../lib/index.js';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { listen } from '../../fixtures/listen.js';
import { startDownstream, type Downstream } from '../support/m2m.js';

// Failures are asserted through hooks and results; the default console logger would only add noise here.
const svc = { clientId: 'svc-report', clientSecret: 'svc-secret', logger: false as const };
const WEIRD_SECRET = 'p:a+s/s%w&o rd=ü密';
let idp: MockIdp;
let api: Downstream;

beforeAll(async () => {
  idp = await startMockIdp();
  api = await startDownstream();
});
afterAll(async () => {
  await api.close();
  await idp.close();
});
beforeEach(() => {
  idp.resetStats();
  api.seen.length = 0;
  api.bodies.length = 0;
  api.reject.clear();
});

describe('fetch()', () => {
  test('sends the token as Bearer, replacing any Authorization the caller set, keeping other headers', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    const { accessToken } = await client.getToken();
    const res = await client.fetch(`${api.url}/items`, { headers: { authorization: 'Bearer user-token', 'x-trace': 't1' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, auth: `Bearer ${accessToken}` });
    const res2 = await client.fetch(new Request(`${api.url}/items`, { headers: { Authorization: 'Basic abc' } }));
    expect(res2.status).toBe(200);
    expect(api.seen).toEqual([`Bearer ${accessToken}`, `Bearer ${accessToken}`]);
    expect(idp.stats.tokenRequests).toBe(1);
  });

  test('per-call token options pick another cached token', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    await client.fetch(`${api.url}/a`, undefined, { scope: 'inventory:read' });
    const read = await client.getToken({ scope: 'inventory:read' });
    expect(api.seen[0]).toBe(`Bearer ${read.accessToken}`);
    expect(idp.stats.tokenRequests).toBe(1);
  });

  test('a 401 invalid_token drops the token and retries once with a fresh one, replaying the body', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    const first = await client.getToken();
    api.reject.add(first.accessToken);
    const res = await client.fetch(`${api.url}/orders`, { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(200);
    const second = await client.getToken();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(api.seen).toEqual([`Bearer ${first.accessToken}`, `Bearer ${second.accessToken}`]);
    expect(api.bodies).toEqual(['hello', 'hello']);
    expect(idp.stats.tokenRequests).toBe(2);
  });

  test('100 concurrent calls rejected with the same token cause one new token, not 100', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    const first = await client.getToken();
    api.reject.add(first.accessToken);
    const all = await Promise.all(Array.from({ length: 100 }, () => client.fetch(`${api.url}/x`)));
    expect(all.every((r) => r.status === 200)).toBe(true);
    expect(idp.stats.tokenRequests).toBe(2);
    expect(api.seen.filter((h) => h !== `Bearer ${first.accessToken}`).every((h) => h === api.seen.at(-1))).toBe(true);
  });

  test('only one retry: a downstream that keeps refusing gets its 401 back', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    const app = express();
    let calls = 0;
    app.get('/never', (_req, res) => {
      calls += 1;
      res.status(401).set('WWW-Authenticate', 'Bearer error="invalid_token"').end();
    });
    app.get('/other-error', (_req, res) => {
      calls += 1;
      res.status(401).set('WWW-Authenticate', 'Bearer error="invalid_request"').end();
    });
    const server = await listen(app);
    const base = server.url;
    try {
      expect((await client.fetch(`${base}/never`)).status).toBe(401);
      expect(calls).toBe(2);
      calls = 0;
      // a 401 naming another error is not cured by a new token
      expect((await client.fetch(`${base}/other-error`)).status).toBe(401);
      expect(calls).toBe(1);
    } finally {
      await server.close();
    }
  });

  test('a stream body is not replayed: the 401 comes back, but the token is still dropped', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    const first = await client.getToken();
    api.reject.add(first.accessToken);
    const body = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('chunk'));
        c.close();
      },
    });
    const res = await client.fetch(`${api.url}/upload`, { method: 'POST', body, duplex: 'half', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(401);
    expect(api.seen).toHaveLength(1);
    expect(api.bodies).toEqual(['chunk']);
    const next = await client.getToken();
    expect(next.accessToken).not.toBe(first.accessToken);
    expect(idp.stats.tokenRequests).toBe(2);
  });

  test('retryOn401: false hands the 401 back untouched', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, retryOn401: false });
    const first = await client.getToken();
    api.reject.add(first.accessToken);
    expect((await client.fetch(`${api.url}/x`)).status).toBe(401);
    expect(api.seen).toHaveLength(1);
    expect(await client.getToken()).toBe(first);
  });

  test('fetch rejects with the token error when no token can be had', async () => {
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'svc-report', clientSecret: 'nope', retry: false, logger });
    await expect(client.fetch(`${api.url}/x`)).rejects.toMatchObject({ code: 'idp_error', idpError: 'invalid_client' });
    expect(lines.join('\n')).toMatch(/no token \(idp_error\): .*answered 401 invalid_client/);
    expect(api.seen).toHaveLength(0);
  });
});

describe('client authentication', () => {
  test.each(['client_secret_basic', 'client_secret_post'] as const)('a secret with special characters works with %s', async (clientAuth) => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'weird-client', clientSecret: WEIRD_SECRET, clientAuth, scope: 'inventory:read' });
    const t = await client.getToken();
    expect(t.scope).toBe('inventory:read');
    const last = idp.stats.lastRequest!;
    if (clientAuth === 'client_secret_basic') {
      expect(last.headers.authorization).toMatch(/^Basic /);
      expect(last.body.client_secret).toBeUndefined();
    } else {
      expect(last.headers.authorization).toBeUndefined();
      expect(last.body.client_secret).toBe(WEIRD_SECRET);
    }
  });

  test('EIAM style: parameters in the query string (profile eiam)', async () => {
    const client = createM2MClient({ issuer: idp.issuer, profile: 'eiam', clientId: 'weird-client', clientSecret: WEIRD_SECRET, scope: 'orders:read' });
    const t = await client.getToken();
    expect(t.scope).toBe('orders:read');
    const last = idp.stats.lastRequest!;
    expect(last.path).toBe('/auth/oauth2/token');
    expect(last.query).toMatchObject({ grant_type: 'client_credentials', scope: 'orders:read' });
    expect(last.headers.authorization).toMatch(/^Basic /);
  });

  test('CIAM profile (the seed): form body with client_secret_post', async () => {
    const client = createM2MClient({ issuer: idp.issuer, profile: 'ciam', ...svc, scope: 'inventory:read' });
    await client.getToken();
    const last = idp.stats.lastRequest!;
    expect(last.path).toBe('/oauth2/token');
    expect(last.body).toEqual({ grant_type: 'client_credentials', scope: 'inventory:read', client_id: 'svc-report', client_secret: 'svc-secret' });
  });

  test('token endpoint found through discovery from the issuer', async () => {
    const client = createM2MClient({ issuer: idp.issuer, ...svc });
    expect((await client.getToken()).accessToken).toBeTruthy();
    expect(idp.stats.lastRequest!.path).toBe('/oauth2/token');
  });

  test('extraParams are sent with every token request', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, extraParams: { tenant: 't-1' } });
    await client.getToken();
    expect(idp.stats.lastRequest!.body).toMatchObject({ tenant: 't-1', grant_type: 'client_credentials' });
  });
});

describe('middleware()', () => {
  test('req.m2m.fetch and req.m2m.getToken are available to route handlers', async () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    const app = express();
    app.use(client.middleware());
    app.use('/reads', client.middleware({ scope: 'inventory:read' }));
    app.get('/report', async (req, res) => {
      const r = await req.m2m!.fetch(`${api.url}/stock`);
      res.status(r.status).json(await r.json());
    });
    app.get('/reads/scope', async (req, res) => {
      const t = await req.m2m!.getToken();
      const w = await req.m2m!.getToken({ scope: 'inventory:write' });
      res.json({ scope: t.scope, other: w.scope });
    });
    app.use(oauthErrorHandler());
    const res = await request(app).get('/report');
    expect(res.status).toBe(200);
    expect(res.body.auth).toMatch(/^Bearer ey/);
    const res2 = await request(app).get('/reads/scope');
    expect(res2.body).toEqual({ scope: 'inventory:read', other: 'inventory:write' });
  });

  test('a token failure reaches the error handler as a 502 OAuth error without secrets', async () => {
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'svc-report', clientSecret: 'bad-secret', retry: false, logger });
    const app = express();
    app.use(client.middleware());
    app.get('/x', async (req, res) => {
      const r = await req.m2m!.fetch(`${api.url}/x`);
      res.sendStatus(r.status);
    });
    app.use(oauthErrorHandler());
    const res = await request(app).get('/x');
    expect(res.status).toBe(502);
    expect(res.body.error).toBe('server_error');
    // The detail (IdP URL, client id) stays in the log; the client sees a generic sentence.
    expect(res.body.error_description).toBe('The server could not authenticate to the identity provider');
    expect(JSON.stringify(res.body)).not.toContain('bad-secret');
    expect(lines.join('\n')).toMatch(/client "svc-report": no token \(idp_error\): .*answered 401 invalid_client/);
    expect(lines.join('\n')).not.toContain('bad-secret');
  });

  test('bad middleware options fail at mount time', () => {
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc });
    expect(() => client.middleware({ resource: 'not a uri' })).toThrow(/absolute URI/);
  });
});
