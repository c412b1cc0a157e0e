/**
 * Which issuers a guard accepts, and for how long (issue #19): the single-issuer form refuses an
 * unlisted `iss` before any request, a resolver's answers expire (`issuerCacheTtlMs`), the
 * unknown-kid refetch cooldown holds per issuer however many tenants churn through the resolver
 * cache, and with `jwksStaleIfError` a key the stale set lacks is an outage (503), never a 401.
 * Real JWKS servers on 127.0.0.1; time moves by the library clock, never by sleeping.
 */
import express from 'express';
import request from 'supertest';
import { ConfigError, oauthErrorHandler, requireAuth, type IssuerOptions, type RequireAuthOptions } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { useTestClock } from '../support/clock.js';

const clock = useTestClock();
let idp: JwksServer;
beforeEach(async () => {
  clearDiscoveryCache();
  idp = await startJwksServer();
});
afterEach(() => idp.close());

function guard(options: RequireAuthOptions) {
  const auth = requireAuth({ logger: false, ...options });
  const app = express();
  app.get('/me', auth, (req, res) => res.json({ sub: req.auth!.payload.sub, issuer: req.auth!.issuer }));
  app.use(oauthErrorHandler());
  return { auth, call: (token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`) };
}

describe('single issuer: an unlisted iss is refused before any request (#19 point 18)', () => {
  test('discovery form: "issued by another issuer", no discovery or JWKS request', async () => {
    const { call } = guard({ issuer: idp.issuer, audience: idp.audience });
    for (const iss of ['https://evil.example', `${idp.issuer}/`]) {
      const res = await call(await idp.sign({ iss }));
      expect(res.status).toBe(401);
      expect(res.body.error_description).toBe('The token was issued by another issuer');
    }
    expect(idp.discoveryRequests).toBe(0);
    expect(idp.jwksRequests).toBe(0);
    // The configured issuer still works.
    expect((await call(await idp.sign())).status).toBe(200);
  });

  test('a token signed with a key the issuer never had, claiming another iss: same answer, no request', async () => {
    const stranger = await startJwksServer();
    try {
      const { call } = guard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri });
      const res = await call(await stranger.sign());
      expect(res.status).toBe(401);
      expect(res.body.error_description).toBe('The token was issued by another issuer');
      expect(idp.jwksRequests).toBe(0);
    } finally {
      await stranger.close();
    }
  });
});

describe('resolver cache (#19 point 15)', () => {
  test('issuerCacheTtlMs is checked like other durations', () => {
    expect(() => requireAuth({ issuers: () => undefined, issuerCacheTtlMs: -1 })).toThrow(ConfigError);
    expect(() => requireAuth({ issuers: () => undefined, issuerCacheTtlMs: 'soon' as never })).toThrow(ConfigError);
  });

  test('a tenant removed from the resolver is refused once its answer expires, cached token included (default 10 minutes)', async () => {
    const tenants = new Map<string, IssuerOptions>([[idp.issuer, { issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri }]]);
    let asked = 0;
    const { auth, call } = guard({
      issuers: (iss) => {
        asked += 1;
        return tenants.get(iss);
      },
    });
    const token = await idp.sign({}, { expiresIn: 3_600 });
    for (let i = 0; i < 3; i++) expect((await call(token)).status).toBe(200);
    expect(auth.cacheStats.hits).toBeGreaterThanOrEqual(1);
    expect(asked).toBe(1);
    tenants.clear();
    clock.advance(9 * 60_000);
    expect((await call(token)).status).toBe(200); // within the TTL: still the cached answer
    expect((await call(await idp.sign({ n: 1 }, { expiresIn: 3_600 }))).status).toBe(200);
    expect(asked).toBe(1);
    clock.advance(60_000);
    const res = await call(token);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('The token was issued by another issuer');
    expect(asked).toBe(2);
  });

  test('a tenant still accepted after the TTL keeps working (the resolver is asked again)', async () => {
    let asked = 0;
    const { call } = guard({
      issuerCacheTtlMs: 1_000,
      issuers: (iss) => {
        asked += 1;
        return iss === idp.issuer ? { issuer: iss, audience: idp.audience, jwksUri: idp.jwksUri } : undefined;
      },
    });
    const token = await idp.sign();
    expect((await call(token)).status).toBe(200);
    clock.advance(1_000);
    expect((await call(token)).status).toBe(200);
    expect(asked).toBe(2);
  });

  test('made-up kids cost one JWKS fetch per issuer per cooldown, even when more tenants than the cache holds churn through it', async () => {
    // 1,001 tenants share the fixture's keys (one JWKS URL), each with its own issuer.
    const TENANTS = 1_001;
    const tenantIss = (i: number) => `https://t${i}.tenants.example`;
    const { auth } = guard({
      issuers: (iss) => (iss.endsWith('.tenants.example') ? { issuer: iss, audience: idp.audience, jwksUri: idp.jwksUri } : undefined),
    });
    // A real token of tenant 0 with its kid replaced (the fixture always writes the signing key's kid).
    const withKid = async (kid: string) => {
      const good = await idp.sign({ iss: tenantIss(0) });
      const [h, p, s] = good.split('.');
      const header = { ...JSON.parse(Buffer.from(h!, 'base64url').toString()), kid };
      return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${p}.${s}`;
    };
    await expect(auth.verify(await withKid('made-up-0'))).rejects.toMatchObject({ status: 401 });
    const afterFirst = idp.jwksRequests;
    expect(afterFirst).toBe(1);
    // Every other tenant once: tenant 0's verifier is pushed out of the resolver cache.
    for (let i = 1; i < TENANTS; i++) await auth.verify(await idp.sign({ iss: tenantIss(i) }));
    const afterChurn = idp.jwksRequests;
    for (let n = 1; n <= 5; n++) {
      const err = await auth.verify(await withKid(`made-up-${n}`)).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 401, message: 'No key of the issuer matches the token (kid/alg)' });
    }
    expect(idp.jwksRequests).toBe(afterChurn);
    // After the cooldown, one refetch again.
    clock.advance(30_000);
    await expect(auth.verify(await withKid('made-up-6'))).rejects.toMatchObject({ status: 401 });
    await expect(auth.verify(await withKid('made-up-7'))).rejects.toMatchObject({ status: 401 });
    expect(idp.jwksRequests).toBe(afterChurn + 1);
    // Tenant 0's real tokens still verify.
    await expect(auth.verify(await idp.sign({ iss: tenantIss(0) }))).resolves.toMatchObject({ issuer: tenantIss(0) });
  }, 60_000);
});

describe('jwksStaleIfError: a key the stale set lacks is an outage, not a 401 (#19 point 7)', () => {
  test('JWKS down past max age, a token signed with a key rotated in meanwhile: 503 with Retry-After, each time', async () => {
    const { call } = guard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksCacheMaxAge: 60_000, jwksStaleIfError: 600_000 });
    const oldKid = idp.keys[0]!.kid;
    expect((await call(await idp.sign())).status).toBe(200);
    const rotated = await idp.addKey('ES256');
    idp.mode = 'down';
    clock.advance(61_000);
    for (let n = 0; n < 2; n++) {
      const res = await call(await idp.sign({ n }, { kid: rotated.kid }));
      expect(res.status).toBe(503);
      expect(res.body.error).toBe('temporarily_unavailable');
      expect(res.headers['retry-after']).toBe('5');
    }
    // The old key still verifies from the stale set meanwhile.
    expect((await call(await idp.sign({ n: 9 }, { kid: oldKid }))).status).toBe(200);
    // The JWKS back: the rotated key is found (once the retry back-off has passed).
    idp.mode = 'up';
    clock.advance(5_000);
    expect((await call(await idp.sign({ n: 10 }, { kid: rotated.kid }))).status).toBe(200);
  });
});
