/** Interop: tokens issued by node oidc-provider (a certified OpenID provider) through requireAuth. */
import express from 'express';
import request from 'supertest';
import { oauthErrorHandler, requireAuth, requireScopes } from '../../lib/index.js';
import { basicAuthorization } from '../../lib/idp/client-auth.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';

let op: RunningOidcProvider;
let app: express.Express;

async function clientCredentialsToken(scope: string): Promise<string> {
  const res = await fetch(op.tokenEndpoint, {
    method: 'POST',
    headers: { authorization: basicAuthorization('oidc-m2m', 'oidc-m2m-secret'), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: op.resource }),
  });
  const body = (await res.json()) as { access_token: string };
  expect(res.status).toBe(200);
  return body.access_token;
}

beforeAll(async () => {
  clearDiscoveryCache();
  op = await startOidcProvider();
  // No jwksUri: found through the provider's discovery document; typ pinned to RFC 9068.
  const auth = requireAuth({ issuer: op.issuer, audience: op.resource, typ: 'at+jwt' });
  app = express();
  app.get('/read', auth, requireScopes('api:read'), (req, res) => res.json({ client: req.auth!.payload.client_id }));
  app.get('/write', auth, requireScopes('api:write'), (_req, res) => res.json({ ok: true }));
  app.use(oauthErrorHandler());
});
afterAll(() => op.close());

test('an oidc-provider JWT access token (RFC 9068, discovered JWKS) is accepted', async () => {
  const token = await clientCredentialsToken('api:read');
  const res = await request(app).get('/read').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ client: 'oidc-m2m' });
});

test('scope enforcement on an oidc-provider token', async () => {
  const token = await clientCredentialsToken('api:read');
  const res = await request(app).get('/write').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(403);
  expect(res.body.error).toBe('insufficient_scope');
});

test('a token for another audience is refused', async () => {
  const token = await clientCredentialsToken('api:read');
  const other = express();
  // The operator learns why (at debug), in the app's logger rather than on the console.
  const lines: string[] = [];
  const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`), debug: (m: string) => lines.push(`debug ${m}`) };
  other.get('/x', requireAuth({ issuer: op.issuer, audience: 'https://someone-else.example', logger }), (_req, res) => res.end());
  other.use(oauthErrorHandler());
  const res = await request(other).get('/x').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(401);
  expect(res.body.error_description).toMatch(/not meant for this API/);
  expect(lines).toEqual([expect.stringMatching(/^debug .*expects \["https:\/\/someone-else\.example"\]/)]);
});
