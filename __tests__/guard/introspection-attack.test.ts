/**
 * Attacks on RFC 7662 introspection (a hostile client, a hostile or broken IdP), each against a
 * real server on 127.0.0.1: node oidc-provider where its behaviour is the point, else a small
 * hostile endpoint. Each test is a finding that was fixed.
 */
import express from 'express';
import request from 'supertest';
import { oauthErrorHandler, requireAuth, type RequireAuthOptions } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';

const API = { client_id: 'api-attack', client_secret: 'api-attack-secret-0123456789abcdef', grant_types: ['client_credentials'] };

let op: RunningOidcProvider;
beforeAll(async () => {
  clearDiscoveryCache();
  op = await startOidcProvider({ accessTokenFormat: 'opaque', clients: [API] });
});
afterAll(() => op.close());

function appWith(lines: Array<[string, string]>, options: Partial<RequireAuthOptions> = {}): express.Express {
  const app = express();
  const logger = { warn: (l: string) => lines.push(['warn', l]), error: (l: string) => lines.push(['error', l]), debug: (l: string) => lines.push(['debug', l]) };
  app.get('/r', requireAuth({ issuer: op.issuer, audience: op.resource, logger, introspection: { clientId: API.client_id, clientSecret: API.client_secret }, ...options } as RequireAuthOptions), (_req, res) => res.end('ok'));
  app.use(oauthErrorHandler());
  return app;
}

test('a client token the endpoint answers 400 for (oidc-provider: a JWS-like header, not a compact JWS) is a 401, never a 500 and never an error-level line', async () => {
  const lines: Array<[string, string]> = [];
  const app = appWith(lines);
  // Not a compact JWS (an empty part), so introspected; oidc-provider reads its first part as a
  // JOSE header and answers 400 unsupported_token_type. Any client can send it.
  const token = `${Buffer.from('{"alg":"none"}').toString('base64url')}..attacker-chosen`;
  const res = await request(app).get('/r').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(401);
  expect(res.body.error).toBe('invalid_token');
  expect(op.requests('/token/introspection')).toBe(1);
  // Cached like any refusal: a flood of the same token is one call.
  expect((await request(app).get('/r').set('Authorization', `Bearer ${token}`)).status).toBe(401);
  expect(op.requests('/token/introspection')).toBe(1);
  expect(lines.filter(([level]) => level === 'error')).toEqual([]);
  expect(lines.map(([, l]) => l).join('\n')).not.toContain('attacker-chosen');
});
