/**
 * OpenTelemetry for introspection, through the SDK's in-memory exporters: calls by result, cache
 * hits by tier, each call a CLIENT span; attribute values from small fixed sets, never a token.
 */
import express from 'express';
import { counter, installTestTelemetry } from '../support/otel.js';
import request from 'supertest';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { oauthErrorHandler, requireAuth } from '../../lib/index.js';

const { reader, spans, uninstall } = installTestTelemetry();
let idp: MockIdp;

beforeAll(async () => {
  idp = await startMockIdp();
});
afterAll(async () => {
  await idp.close();
  uninstall();
});

test('introspection calls by result, cache hits by tier, CLIENT spans; no token anywhere', async () => {
  const app = express();
  app.get('/p', requireAuth({ issuer: idp.issuer, audience: 'https://api.example.test', logger: false, introspection: { clientId: 'svc-report', clientSecret: 'svc-secret' } }), (_req, res) => res.end());
  app.use(oauthErrorHandler());
  const grant = await fetch(idp.ciamTokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'partner-app', client_secret: 'partner-secret', scope: 'orders:read' }),
  });
  const { access_token: token } = (await grant.json()) as { access_token: string };
  for (let i = 0; i < 3; i++) expect((await request(app).get('/p').set('Authorization', `Bearer ${token}`)).status).toBe(200);
  const madeUp = 'made-up-opaque-token';
  for (let i = 0; i < 2; i++) expect((await request(app).get('/p').set('Authorization', `Bearer ${madeUp}`)).status).toBe(401);

  const { resourceMetrics } = await reader.collect();
  expect(counter(resourceMetrics, 'oauthkit.guard.introspection.calls')).toEqual({ '{"result":"active"}': 1, '{"result":"inactive"}': 1 });
  expect(counter(resourceMetrics, 'oauthkit.guard.introspection.cache_hits')).toEqual({ '{"tier":"memory"}': 2 });
  const calls = spans.getFinishedSpans().filter((s) => s.attributes['oauthkit.idp.operation'] === 'introspection');
  expect(calls).toHaveLength(2);
  expect(calls[0]!.kind).toBe(2); // CLIENT
  expect(calls[0]!.attributes).toMatchObject({ 'http.request.method': 'POST', 'url.full': `${idp.issuer}/oauth2/introspect`, 'http.response.status_code': 200 });
  const everything = JSON.stringify([resourceMetrics, spans.getFinishedSpans().map((s) => s.attributes)]);
  expect(everything).not.toContain(token);
  expect(everything).not.toContain(madeUp);
  expect(everything).not.toContain('svc-secret');
});
