import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { claimCheck, claimEquals, claimIncludes, oauthErrorHandler, requireAnyScope, requireAuth, requireScopes } from '../lib/index.js';
import { startJwksServer, type JwksServer } from '../fixtures/jwks-server.js';

let idp: JwksServer;
let app: express.Express;

beforeAll(async () => {
  idp = await startJwksServer();
  const auth = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri });
  app = express();
  const ok: RequestHandler = (_req, res) => {
    res.json({ ok: true });
  };
  app.get('/orders', auth, requireScopes('orders:read'), ok);
  app.get('/orders/admin', auth, requireScopes('orders:read', 'orders:write'), ok);
  app.get('/any', auth, requireAnyScope('a', 'b'), ok);
  app.get('/tenant', auth, claimEquals('tenant', 'acme'), ok);
  app.get('/roles', auth, claimIncludes('roles', 'editor'), ok);
  app.get('/check', auth, claimCheck((p) => (p.age as number) >= 18 || 'Adults only'), ok);
  app.get('/no-auth', requireScopes('x'), ok);
  app.use(oauthErrorHandler());
});
afterAll(() => idp.close());

const get = async (path: string, claims: Record<string, unknown>) =>
  request(app).get(path).set('Authorization', `Bearer ${await idp.sign(claims)}`);

test('requireScopes: all listed scopes are needed (scope string)', async () => {
  expect((await get('/orders', { scope: 'openid orders:read' })).status).toBe(200);
  const res = await get('/orders/admin', { scope: 'orders:read' });
  expect(res.status).toBe(403);
  expect(res.body).toEqual({ error: 'insufficient_scope', error_description: 'The token lacks the scope orders:write', scope: 'orders:read orders:write' });
  expect(res.headers['www-authenticate']).toBe(
    'Bearer error="insufficient_scope", error_description="The token lacks the scope orders:write", scope="orders:read orders:write"',
  );
});

test('requireScopes reads scp arrays and CIAM scope arrays', async () => {
  expect((await get('/orders', { scope: undefined, scp: ['orders:read'] })).status).toBe(200);
  expect((await get('/orders', { scope: ['orders:read'] })).status).toBe(200);
  expect((await get('/orders', { scope: 'orders:readx' })).status).toBe(403);
});

test('requireAnyScope', async () => {
  expect((await get('/any', { scope: 'b' })).status).toBe(200);
  expect((await get('/any', { scope: 'c' })).status).toBe(403);
});

test('claimEquals / claimIncludes / claimCheck', async () => {
  expect((await get('/tenant', { tenant: 'acme' })).status).toBe(200);
  expect((await get('/tenant', { tenant: 'evil' })).status).toBe(403);
  expect((await get('/roles', { roles: ['viewer', 'editor'] })).status).toBe(200);
  expect((await get('/roles', { roles: 'viewer editor' })).status).toBe(200);
  expect((await get('/roles', { roles: ['viewer'] })).status).toBe(403);
  expect((await get('/check', { age: 30 })).status).toBe(200);
  const res = await get('/check', { age: 12 });
  expect(res.status).toBe(403);
  expect(res.body.error_description).toBe('Adults only');
});

test('used without requireAuth → 500 that names the mistake, not a crash or a pass', async () => {
  const res = await request(app).get('/no-auth');
  expect(res.status).toBe(500);
  expect(res.body.error).toBe('server_error');
  expect(res.body.error_description).toMatch(/mount requireAuth\(\) before it/);
});

test('misuse at construction', () => {
  expect(() => requireScopes()).toThrow(/one or more scope names/);
  expect(() => requireScopes('a b')).toThrow(/without spaces/);
  expect(() => claimIncludes('roles')).toThrow(/at least one value/);
});
