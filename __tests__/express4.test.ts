/** The middleware on Express 4 (installed as the `express4` alias): guard, proxy, M2M, error handler. */
import request from 'supertest';
import express4 from 'express4';
import { createM2MClient, oauthErrorHandler, requireAuth, requireScopes, tokenProxy } from '../lib/index.js';
import { listen } from '../fixtures/listen.js';
import { startMockIdp, type MockIdp } from '../fixtures/mock-idp/index.js';

let idp: MockIdp;
beforeAll(async () => {
  idp = await startMockIdp();
});
afterAll(() => idp.close());

test('express4 really is Express 4', async () => {
  const { createRequire } = await import('node:module');
  const version = createRequire(import.meta.url)('express4/package.json').version as string;
  expect(version).toMatch(/^4\./);
});

test('tokenProxy → requireAuth → requireScopes → req.m2m.fetch on Express 4', async () => {
  const downstream = express4();
  downstream.get('/stock', requireAuth({ issuer: idp.issuer, audience: 'https://inventory.example.test' }), (req, res) => {
    res.json({ client: req.auth!.payload.client_id });
  });
  downstream.use(oauthErrorHandler());
  const down = await listen(downstream);
  const downUrl = down.url;

  const m2m = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'svc-report', clientSecret: 'svc-secret', scope: 'inventory:read' });
  const app = express4();
  app.post('/auth/token', tokenProxy({ tokenEndpoint: idp.eiamTokenEndpoint, paramsIn: 'query', clientId: 'web-app', clientSecret: 'web-secret' }));
  const auth = requireAuth({ issuer: idp.issuer, audience: 'https://api.example.test' });
  app.get('/orders', auth, requireScopes('orders:read'), (req, res) => {
    res.json({ sub: req.auth!.payload.sub });
  });
  app.get('/report', auth, m2m.middleware(), (req, res, next) => {
    req.m2m!.fetch(`${downUrl}/stock`).then(async (r) => res.status(r.status).json(await r.json()), next);
  });
  app.use(oauthErrorHandler());

  try {
    const login = await request(app).post('/auth/token').type('form').send({ grant_type: 'password', username: 'alice', password: 'alice-password' });
    expect(login.status).toBe(200);
    expect(login.headers['cache-control']).toBe('no-store');
    const token = login.body.access_token as string;
    expect((await request(app).get('/orders').set('Authorization', `Bearer ${token}`)).body).toEqual({ sub: 'alice' });
    const report = await request(app).get('/report').set('Authorization', `Bearer ${token}`);
    expect(report.status).toBe(200);
    expect(report.body).toEqual({ client: 'svc-report' });
    const anonymous = await request(app).get('/orders');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="api", DPoP realm="api", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"');
    const carol = await request(app).post('/auth/token').type('form').send({ grant_type: 'password', username: 'carol', password: 'carol-password' });
    const forbidden = await request(app).get('/orders').set('Authorization', `Bearer ${carol.body.access_token}`);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toBe('insufficient_scope');
  } finally {
    await down.close();
  }
});
