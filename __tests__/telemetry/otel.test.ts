/**
 * OpenTelemetry through the SDK's in-memory exporters: the guard's metrics and the IdP client
 * spans, with no token, secret or query string in any attribute.
 */
import express from 'express';
import { counter, installTestTelemetry } from '../support/otel.js';
import request from 'supertest';
import { startMockIdp } from '../../fixtures/mock-idp/index.js';
import { createM2MClient, oauthErrorHandler, requireAuth, tokenProxy } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

const { reader, spans, uninstall } = installTestTelemetry();
let idp: JwksServer;

beforeAll(async () => {
  idp = await startJwksServer();
});
afterAll(async () => {
  await idp.close();
  uninstall();
});

test('requireAuth counts verifications, cache hits, rejections by code and JWKS reloads; the JWKS fetch is a CLIENT span', async () => {
  const app = express();
  app.get('/me', requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: `${idp.jwksUri}?tenant=secret-ish`, logger: false }), (_req, res) => res.end());
  app.use(oauthErrorHandler());
  const token = await idp.sign();
  for (let i = 0; i < 4; i++) expect((await request(app).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
  const bad = await idp.sign({ aud: 'elsewhere' });
  expect((await request(app).get('/me').set('Authorization', `Bearer ${bad}`)).status).toBe(401);
  expect((await request(app).get('/me')).status).toBe(401);

  const { resourceMetrics } = await reader.collect();
  expect(counter(resourceMetrics, 'oauthkit.guard.verifications')).toEqual({ '{"result":"valid"}': 2, '{"result":"invalid_token"}': 1 });
  expect(counter(resourceMetrics, 'oauthkit.guard.cache_hits')).toEqual({ '{}': 2 });
  expect(counter(resourceMetrics, 'oauthkit.guard.rejections')).toEqual({ '{"error.code":"invalid_token"}': 1, '{"error.code":"missing_token"}': 1 });
  expect(counter(resourceMetrics, 'oauthkit.guard.jwks_reloads')).toEqual({ '{"outcome":"ok"}': 1 });

  const jwksSpans = spans.getFinishedSpans().filter((s) => s.attributes['oauthkit.idp.operation'] === 'jwks');
  expect(jwksSpans).toHaveLength(1);
  expect(jwksSpans[0]!.name).toBe('GET');
  expect(jwksSpans[0]!.attributes).toMatchObject({
    'http.request.method': 'GET',
    'url.full': idp.jwksUri,
    'server.address': '127.0.0.1',
    'http.response.status_code': 200,
  });
  const everything = JSON.stringify([resourceMetrics, spans.getFinishedSpans().map((s) => s.attributes)]);
  expect(everything).not.toContain(token.split('.')[2]);
  expect(everything).not.toContain('secret-ish');
});

test('the token proxy counts grants by type and outcome (known values only) and spans its IdP calls', async () => {
  const mock = await startMockIdp();
  try {
    const app = express();
    app.post('/auth/token', tokenProxy({ profile: 'ciam', tokenEndpoint: mock.ciamTokenEndpoint, clientId: 'web-app', clientSecret: 'web-secret', logger: false }));
    const ok = await request(app).post('/auth/token').type('form').send({ grant_type: 'password', username: 'alice', password: 'alice-password' });
    expect(ok.status).toBe(200);
    const wrong = await request(app).post('/auth/token').type('form').send({ grant_type: 'password', username: 'alice', password: 'nope' });
    expect(wrong.status).toBe(400);
    await request(app).post('/auth/token').type('form').send({ grant_type: 'x'.repeat(40) });

    const { resourceMetrics } = await reader.collect();
    const grants = counter(resourceMetrics, 'oauthkit.proxy.grants');
    const byKey = Object.fromEntries(Object.entries(grants).map(([k, v]) => {
      const a = JSON.parse(k) as Record<string, string>;
      return [`${a['oauthkit.grant_type']}/${a['oauthkit.outcome']}`, v];
    }));
    expect(byKey).toMatchObject({ 'password/success': 1, 'password/invalid_grant': 1, 'other/unsupported_grant_type': 1 });
    const tokenSpans = spans.getFinishedSpans().filter((s) => s.attributes['oauthkit.idp.operation'] === 'token');
    expect(tokenSpans.length).toBeGreaterThanOrEqual(2);
    const everything = JSON.stringify([resourceMetrics, spans.getFinishedSpans().map((s) => s.attributes)]);
    for (const secret of ['web-secret', 'alice-password', 'alice']) expect(everything).not.toContain(secret);
  } finally {
    await mock.close();
  }
});

test('the M2M client counts token requests, cache hits and waits', async () => {
  const mock = await startMockIdp();
  try {
    const client = createM2MClient({ profile: 'ciam', tokenEndpoint: mock.ciamTokenEndpoint, clientId: 'svc-report', clientSecret: 'svc-secret', scope: 'inventory:read' });
    const first = await client.getToken();
    await client.getToken();
    await client.getToken();
    const { resourceMetrics } = await reader.collect();
    expect(counter(resourceMetrics, 'oauthkit.m2m.token_requests')).toEqual({ '{"outcome":"ok"}': 1 });
    expect(counter(resourceMetrics, 'oauthkit.m2m.cache_hits')).toEqual({ '{"source":"memory"}': 2 });
    const everything = JSON.stringify([resourceMetrics, spans.getFinishedSpans().map((s) => s.attributes)]);
    expect(everything).not.toContain(first.accessToken);
    expect(everything).not.toContain('svc-secret');
  } finally {
    await mock.close();
  }
});
