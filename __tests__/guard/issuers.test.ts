/**
 * Several issuers in one API: two in-process oidc-provider instances (a certified OpenID
 * provider) and the package's own JWKS test server, each with its own keys and audience.
 */
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import express from 'express';
import request from 'supertest';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { basicAuthorization } from '../../lib/idp/client-auth.js';
import { claimCheck, oauthErrorHandler, requireAuth, requireIssuer, type IssuerOptions, type RequireAuthOptions } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';

let staff: RunningOidcProvider;
let customers: RunningOidcProvider;
let local: JwksServer;

async function clientCredentialsToken(op: RunningOidcProvider): Promise<string> {
  const res = await fetch(op.tokenEndpoint, {
    method: 'POST',
    headers: { authorization: basicAuthorization('oidc-m2m', 'oidc-m2m-secret'), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api:read', resource: op.resource }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  staff = await startOidcProvider({ resource: 'https://api.staff.example.test' });
  customers = await startOidcProvider({ resource: 'https://api.customers.example.test' });
});
afterAll(async () => {
  await staff.close();
  await customers.close();
});
beforeEach(async () => {
  clearDiscoveryCache();
  local = await startJwksServer({ audience: 'https://api.local.example.test' });
});
afterEach(() => local.close());

function issuers(): IssuerOptions[] {
  return [
    { issuer: staff.issuer, audience: staff.resource, typ: 'at+jwt' },
    { issuer: customers.issuer, audience: customers.resource },
    { issuer: local.issuer, audience: local.audience, jwksUri: local.jwksUri },
  ];
}

function app(options: RequireAuthOptions) {
  const auth = requireAuth({ logger: false, ...options });
  const a = express();
  a.get('/me', auth, (req, res) => res.json({ issuer: req.auth!.issuer, sub: req.auth!.payload.sub ?? req.auth!.payload.client_id }));
  a.get('/staff-only', auth, requireIssuer(staff.issuer), (_req, res) => res.json({ ok: true }));
  a.use(oauthErrorHandler());
  return { auth, app: a, call: (token: string, path = '/me') => request(a).get(path).set('Authorization', `Bearer ${token}`) };
}

/** A token shaped like a JWT with the given iss and a junk signature: costs nothing to make. */
function fakeToken(iss: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k' })}.${part({ iss, aud: 'x', exp: 9999999999 })}.${'A'.repeat(43)}`;
}

test('tokens of each listed issuer are accepted; req.auth.issuer tells them apart', async () => {
  const { call } = app({ issuers: issuers() });
  const a = await call(await clientCredentialsToken(staff));
  expect(a.status).toBe(200);
  expect(a.body).toEqual({ issuer: staff.issuer, sub: 'oidc-m2m' });
  expect((await call(await clientCredentialsToken(customers))).body.issuer).toBe(customers.issuer);
  expect((await call(await local.sign())).body).toEqual({ issuer: local.issuer, sub: 'user-1' });
});

test('requireIssuer() restricts a route to some issuers', async () => {
  const { call } = app({ issuers: issuers() });
  expect((await call(await clientCredentialsToken(staff), '/staff-only')).status).toBe(200);
  const res = await call(await clientCredentialsToken(customers), '/staff-only');
  expect(res.status).toBe(401);
  expect(res.body.error).toBe('invalid_token');
});

test("an unlisted iss is refused at once: no discovery, no JWKS request", async () => {
  const { call } = app({ issuers: [{ issuer: local.issuer, audience: local.audience }] });
  const res = await call(fakeToken('https://evil.example.com'));
  expect(res.status).toBe(401);
  expect(res.body.error_description).toBe('The token was issued by another issuer');
  expect(local.jwksRequests + local.discoveryRequests).toBe(0);
});

test("a token signed with one issuer's key but claiming another's iss is refused", async () => {
  const { call } = app({ issuers: issuers() });
  const forged = await local.sign({ iss: customers.issuer, aud: customers.resource });
  const res = await call(forged);
  expect(res.status).toBe(401);
  expect(res.body.error_description).toMatch(/No key of the issuer matches|signature/);
});

test("one issuer's JWKS outage answers 503 only for that issuer's tokens", async () => {
  const { call } = app({ issuers: issuers() });
  const token = await local.sign();
  local.mode = 'down';
  expect((await call(token)).status).toBe(503);
  expect((await call(await clientCredentialsToken(staff))).status).toBe(200);
  local.mode = 'up';
  expect((await call(token)).status).toBe(200);
});

test('the resolver form finds a tenant created at run time; unknown ones are refused and not remembered', async () => {
  const tenants = new Map<string, IssuerOptions>();
  let asked = 0;
  const { call } = app({
    issuers: async (iss) => {
      asked += 1;
      return tenants.get(iss);
    },
  });
  const token = await local.sign();
  expect((await call(token)).status).toBe(401);
  tenants.set(local.issuer, { issuer: local.issuer, audience: local.audience, jwksUri: local.jwksUri });
  expect((await call(token)).status).toBe(200);
  expect((await call(token)).status).toBe(200);
  expect(asked).toBe(2); // the accepted tenant's settings are cached
});

test('a resolver that throws is an outage (503), and one that answers nonsense a misconfiguration (500)', async () => {
  const broken = app({ issuers: async () => Promise.reject(new Error('tenant db down')) });
  const down = await broken.call(await local.sign());
  expect(down.status).toBe(503);
  expect(JSON.stringify(down.body)).not.toContain('tenant db');
  const wrong = app({ issuers: async () => ({ issuer: 'https://other.example', audience: 'x' }) });
  expect((await wrong.call(await local.sign())).status).toBe(500);
});

test('100,000 tokens with random iss values leave memory flat and cause no outbound request', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { auth } = app({ issuers: issuers() });
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 100_000; i++) {
    await auth.verify(fakeToken(`https://t${i}.example.com`)).catch(() => undefined);
  }
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  expect(grown).toBeLessThan(5 * 1024 * 1024);
  expect(auth.cacheStats.entries).toBe(0);
  expect(local.jwksRequests + local.discoveryRequests).toBe(0);
});

test('issuers and a top-level issuer together are a configuration error', () => {
  // @ts-expect-error the compiler refuses both (option-types.test.ts); the start-up check is for JavaScript callers
  expect(() => requireAuth({ issuer: local.issuer, audience: 'x', issuers: issuers() })).toThrow(/either issuers or the single-issuer options/);
  expect(() => requireAuth({ issuers: [] })).toThrow(/non-empty array/);
  expect(() => requireAuth({ issuers: [{ issuer: local.issuer, audience: 'x' }, { issuer: local.issuer, audience: 'y' }] })).toThrow(/listed twice/);
});

describe('token sources', () => {
  test('a cookie, when configured; a cookie and a header together are refused (RFC 6750 §2)', async () => {
    const { app: a } = app({ issuer: local.issuer, audience: local.audience, jwksUri: local.jwksUri, tokenCookie: 'at' });
    const token = await local.sign();
    expect((await request(a).get('/me').set('Cookie', `theme=dark; at=${token}`)).status).toBe(200);
    const both = await request(a).get('/me').set('Cookie', `at=${token}`).set('Authorization', `Bearer ${token}`);
    expect(both.status).toBe(400);
    expect(both.body.error).toBe('invalid_request');
    expect((await request(a).get('/me').set('Cookie', `at=${token}; at=${token}`)).status).toBe(400);
  });

  test('getToken(req), e.g. a WebSocket sub-protocol header', async () => {
    const { app: a } = app({
      issuer: local.issuer,
      audience: local.audience,
      jwksUri: local.jwksUri,
      getToken: (req) => (req.headers['x-access-token'] as string | undefined) ?? undefined,
    });
    expect((await request(a).get('/me').set('X-Access-Token', await local.sign())).status).toBe(200);
    expect((await request(a).get('/me').set('X-Access-Token', 'not a token')).status).toBe(400);
  });
});

describe('async claim checks', () => {
  function guarded(check: Parameters<typeof claimCheck>[0], options?: Parameters<typeof claimCheck>[1]) {
    const a = express();
    a.get('/x', requireAuth({ issuer: local.issuer, audience: local.audience, jwksUri: local.jwksUri, logger: false }), claimCheck(check, options), (_req, res) => res.json({ ok: true }));
    a.use(oauthErrorHandler());
    return (token: string) => request(a).get('/x').set('Authorization', `Bearer ${token}`);
  }

  test('a promise of true passes, of false refuses with the configured status, a rejection is 503', async () => {
    const token = await local.sign();
    expect((await guarded(async () => true)(token)).status).toBe(200);
    const revoked = await guarded(async () => 'The token was revoked', { status: 401 })(token);
    expect(revoked.status).toBe(401);
    expect(revoked.body).toMatchObject({ error: 'invalid_token', error_description: 'The token was revoked' });
    expect((await guarded(async () => false)(token)).status).toBe(403);
    const failing = await guarded(async () => Promise.reject(new Error('revocation db down')))(token);
    expect(failing.status).toBe(503);
    expect(JSON.stringify(failing.body)).not.toContain('revocation db');
  });

  test('the answer is asked on every request unless the check allows caching it', async () => {
    let calls = 0;
    const check = async () => {
      calls += 1;
      return true;
    };
    const token = await local.sign();
    const every = guarded(check);
    for (let i = 0; i < 3; i++) await every(token);
    expect(calls).toBe(3);
    calls = 0;
    // A check that reads nothing of the request says so; the default key also holds the Host,
    // which differs on each of supertest's one-request servers.
    const cached = guarded(check, { cacheFor: 60, cacheKey: () => '' });
    for (let i = 0; i < 3; i++) await cached(token);
    expect(calls).toBe(1);
  });
});
