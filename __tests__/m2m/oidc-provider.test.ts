/**
 * Interop with node oidc-provider (client_credentials, JWT access tokens via RFC 8707 resource
 * indicators), and the end-to-end chain: front API → req.m2m.fetch → downstream API guarded by requireAuth.
 */
import { createServer } from 'node:http';
import express from 'express';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { createM2MClient, oauthErrorHandler, requireAuth, requireScopes } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';
import { listen, type Listening } from '../support/m2m.js';

// oidc-provider accepts printable ASCII secrets only; this one has every character form-encoding changes.
const ODD_SECRET = 'p:a+s/s%w&o rd=x"y\\z~';
let op: RunningOidcProvider;

beforeAll(async () => {
  clearDiscoveryCache();
  op = await startOidcProvider({
    accessTokenTtl: 120,
    clients: [
      { client_id: 'oidc-m2m', client_secret: 'oidc-m2m-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
      {
        client_id: 'odd-basic',
        client_secret: ODD_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: 'odd-post',
        client_secret: ODD_SECRET,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
  });
});
afterAll(() => op.close());

const m2m = { clientId: 'oidc-m2m', clientSecret: 'oidc-m2m-secret' };

test('a JWT access token for the resource, cached per scope', async () => {
  const connectionsBefore = op.connections();
  const client = createM2MClient({ issuer: op.issuer, ...m2m, resource: op.resource, scope: 'api:read' });
  const a = await client.getToken();
  const claims = decodeJwt(a.accessToken);
  expect(claims.aud).toBe(op.resource);
  expect(claims.scope).toBe('api:read');
  expect(claims.client_id).toBe('oidc-m2m');
  expect(a.scope).toBe('api:read');
  expect(a.expiresAt - Date.now()).toBeGreaterThan(115_000);
  expect(await client.getToken()).toBe(a);
  const both = await client.getToken({ scope: 'api:write api:read' });
  expect(both.accessToken).not.toBe(a.accessToken);
  expect(decodeJwt(both.accessToken).scope).toBe('api:read api:write');
  // keep-alive: discovery + two token requests over few connections
  expect(op.connections() - connectionsBefore).toBeLessThanOrEqual(2);
});

test('1,000 concurrent callers: one token request to oidc-provider', async () => {
  let grants = 0;
  const onGrant = () => {
    grants += 1;
  };
  op.provider.on('grant.success', onGrant);
  try {
    const client = createM2MClient({ tokenEndpoint: op.tokenEndpoint, ...m2m, resource: op.resource, scope: 'api:write' });
    const all = await Promise.all(Array.from({ length: 1000 }, () => client.getToken()));
    expect(new Set(all.map((t) => t.accessToken)).size).toBe(1);
    expect(grants).toBe(1);
  } finally {
    op.provider.off('grant.success', onGrant);
  }
});

test.each([
  ['odd-basic', 'client_secret_basic'],
  ['odd-post', 'client_secret_post'],
] as const)('a secret with special characters (%s, %s)', async (clientId, clientAuth) => {
  const client = createM2MClient({ tokenEndpoint: op.tokenEndpoint, clientId, clientSecret: ODD_SECRET, clientAuth, resource: op.resource, scope: 'api:read' });
  expect(decodeJwt((await client.getToken()).accessToken).client_id).toBe(clientId);
});

test('oidc-provider: a wrong secret is invalid_client, named and not retried', async () => {
  let calls = 0;
  const count = () => {
    calls += 1;
  };
  op.provider.on('grant.error', count);
  try {
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
    const bad = createM2MClient({ tokenEndpoint: op.tokenEndpoint, clientId: 'oidc-m2m', clientSecret: 'wrong', resource: op.resource, logger });
    const err = await bad.getToken().catch((e) => e);
    expect(err).toMatchObject({ code: 'idp_error', idpStatus: 401, idpError: 'invalid_client' });
    expect(err.message).toMatch(/answered 401 invalid_client/);
    expect(lines.join('\n')).toMatch(/client "oidc-m2m": no token \(idp_error\): .*answered 401 invalid_client/);
    expect(calls).toBe(1);
  } finally {
    op.provider.off('grant.error', count);
  }
});

/** Starts an Express app on 127.0.0.1 (supertest would also do, but the M2M call must cross a real socket). */
async function serve(app: express.Express): Promise<Listening> {
  return listen(createServer(app));
}

describe('end-to-end chain', () => {
  test('oidc-provider: the downstream (requireAuth) accepts the token sent by req.m2m.fetch', async () => {
    const downstream = express();
    const guard = requireAuth({ issuer: op.issuer, audience: op.resource, jwksUri: op.jwksUri, typ: 'at+jwt' });
    downstream.get('/inventory', guard, requireScopes('api:read'), (req, res) => {
      res.json({ caller: req.auth!.payload.client_id, scopes: req.auth!.scopes });
    });
    downstream.post('/inventory', guard, requireScopes('api:write'), (_req, res) => res.json({ written: true }));
    downstream.use(oauthErrorHandler());
    const down = await serve(downstream);

    const client = createM2MClient({ issuer: op.issuer, ...m2m, resource: op.resource, scope: 'api:read' });
    const front = express();
    front.use(client.middleware());
    front.get('/report', async (req, res) => {
      const r = await req.m2m!.fetch(`${down.url}/inventory`);
      res.status(r.status).json(await r.json());
    });
    front.post('/report', async (req, res) => {
      const r = await req.m2m!.fetch(`${down.url}/inventory`, { method: 'POST' });
      res.status(r.status).json(await r.json());
    });
    front.use(oauthErrorHandler());
    try {
      const ok = await request(front).get('/report');
      expect(ok.status).toBe(200);
      expect(ok.body).toEqual({ caller: 'oidc-m2m', scopes: ['api:read'] });
      // the downstream's 403 insufficient_scope is passed back (a new token would not help, so no retry)
      const denied = await request(front).post('/report');
      expect(denied.status).toBe(403);
      expect(denied.body.error).toBe('insufficient_scope');
    } finally {
      await down.close();
    }
  });

  test('mock IdP: downstream with requireAuth, token rotated by the IdP key rotation → one retry recovers', async () => {
    const idp: MockIdp = await startMockIdp();
    const downstream = express();
    downstream.get(
      '/stock',
      // No verified-token cache and no JWKS caching, so a key rotation shows at once.
      requireAuth({
        issuer: idp.issuer,
        audience: 'https://inventory.example.test',
        jwksUri: idp.jwksUri,
        cache: false,
        jwksCooldown: 0,
        jwksCacheMaxAge: 1,
      }),
      requireScopes('inventory:read'),
      (req, res) => res.json({ caller: req.auth!.payload.sub }),
    );
    downstream.use(oauthErrorHandler());
    const down = await serve(downstream);
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'svc-report', clientSecret: 'svc-secret' });
    try {
      const r1 = await client.fetch(`${down.url}/stock`);
      expect(r1.status).toBe(200);
      expect(await r1.json()).toEqual({ caller: 'svc-report' });
      // Keys rotated and the old one removed: the cached token no longer verifies → 401 → fresh token.
      await idp.rotateKeys({ removeOld: true });
      const r2 = await client.fetch(`${down.url}/stock`);
      expect(r2.status).toBe(200);
      expect(idp.stats.tokenRequests).toBe(2);
    } finally {
      await down.close();
      await idp.close();
    }
  });
});
