/** Key rotation, JWKS outages and the verified-token cache, against a real JWKS server. */
import express from 'express';
import request from 'supertest';
import { oauthErrorHandler, requireAuth, type OAuthError, type GuardCommonOptions, type IssuerSettings } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { useTestClock } from '../support/clock.js';

/** Options a test puts over a working single-issuer base (the either/or key options are unions: see option-types.test.ts). */
type OptionOverrides = Partial<GuardCommonOptions & IssuerSettings> & { jwksUri?: string };

let idp: JwksServer;
beforeEach(async () => {
  idp = await startJwksServer();
  clearDiscoveryCache();
});
afterEach(() => idp.close());

function setup(options: OptionOverrides = {}) {
  // The operator lines the outages below provoke are captured (and checked), not printed.
  const lines: string[] = [];
  const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`), debug: (m: string) => lines.push(`debug ${m}`) };
  const guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksTimeout: 500, logger, ...options });
  const app = express();
  app.get('/me', guard, (req, res) => res.json({ sub: req.auth!.payload.sub }));
  app.use(oauthErrorHandler());
  const call = (token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`);
  return { guard, app, call, lines };
}

test('a new kid after rotation triggers one JWKS refetch, and the new key verifies', async () => {
  // The cooldown (default 30 s) spaces refetches; 50 ms keeps the test short.
  const { call } = setup({ jwksCooldown: 50 });
  expect((await call(await idp.sign())).status).toBe(200);
  expect(idp.jwksRequests).toBe(1);
  const fresh = await idp.addKey('ES256');
  await new Promise((r) => setTimeout(r, 60));
  expect((await call(await idp.sign({}, { kid: fresh.kid }))).status).toBe(200);
  expect(idp.jwksRequests).toBe(2);
});

test('a flood of unknown kids causes at most one refetch per cooldown', async () => {
  const { call } = setup({ jwksCooldown: 60_000 });
  expect((await call(await idp.sign())).status).toBe(200);
  const { privateKey } = await (await import('jose')).generateKeyPair('RS256');
  const { SignJWT } = await import('jose');
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) {
    const bogus = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: `bogus-${i}` }).setIssuer(idp.issuer).setAudience(idp.audience).setExpirationTime('5m').sign(privateKey);
    statuses.push((await call(bogus)).status);
  }
  expect(new Set(statuses)).toEqual(new Set([401]));
  expect(idp.jwksRequests).toBeLessThanOrEqual(2);
});

test('a removed key stops verifying, even for a token that was cached', async () => {
  const { call } = setup({ jwksCooldown: 0 });
  const oldKey = idp.keys[0]!;
  const oldToken = await idp.sign({}, { kid: oldKey.kid });
  expect((await call(oldToken)).status).toBe(200);
  expect((await call(oldToken)).status).toBe(200); // served from the cache
  const newKey = await idp.addKey('RS256');
  idp.removeKey(oldKey.kid);
  // A token with the new kid makes the guard reload the key set...
  expect((await call(await idp.sign({}, { kid: newKey.kid }))).status).toBe(200);
  // ...and the cached verification of the old token belongs to the old set: verified again, rejected.
  const res = await call(oldToken);
  expect(res.status).toBe(401);
  expect(res.body.error_description).toMatch(/No key of the issuer matches/);
});

test('JWKS down → 503 temporarily_unavailable with Retry-After, never 401; back up → 200', async () => {
  const { call, lines } = setup();
  idp.mode = 'down';
  const token = await idp.sign();
  const down = await call(token);
  expect(down.status).toBe(503);
  expect(down.headers['retry-after']).toBe('5');
  expect(down.body.error).toBe('temporarily_unavailable');
  expect(down.headers['www-authenticate']).toBeUndefined();
  expect(lines).toEqual([expect.stringMatching(/^warn .*Token keys could not be obtained: .* answered 500/)]);
  expect(lines[0]).toContain(idp.jwksUri);
  idp.mode = 'up';
  expect((await call(token)).status).toBe(200);
});

test('JWKS hanging → 503 after jwksTimeout; the operator log says so, the client gets a generic line', async () => {
  const lines: string[] = [];
  const logger = { warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const { call } = setup({ jwksTimeout: 300, logger });
  idp.mode = 'hang';
  const started = Date.now();
  const res = await call(await idp.sign());
  expect(res.status).toBe(503);
  expect(res.body.error_description).toBe('The keys needed to check the token are unavailable right now; try again shortly');
  expect(JSON.stringify(res.body)).not.toContain('127.0.0.1');
  expect(lines.join('\n')).toMatch(/did not answer within 300 ms/);
  expect(lines.join('\n')).toContain(idp.jwksUri);
  expect(Date.now() - started).toBeLessThan(3_000);
});

test('discovery down → 503; discovery is retried after the failure', async () => {
  const { call, lines } = setup({ jwksUri: undefined });
  idp.mode = 'down';
  const token = await idp.sign();
  expect((await call(token)).status).toBe(503);
  expect(lines).toEqual([expect.stringMatching(/^warn .*Token keys could not be obtained: .*\/\.well-known\/oauth-authorization-server answered 500/)]);
  idp.mode = 'up';
  clearDiscoveryCache(); // skip the retry back-off, which is tested by time elsewhere
  expect((await call(token)).status).toBe(200);
  expect(idp.discoveryRequests).toBeGreaterThanOrEqual(2);
});

test('discovery naming another issuer is refused (RFC 8414 §3.3) as a misconfiguration, not an outage', async () => {
  const lines: string[] = [];
  const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
  const { call } = setup({ jwksUri: undefined, issuer: `${idp.issuer}/`, logger });
  const res = await call(await idp.sign({ iss: `${idp.issuer}/` }));
  expect(res.status).toBe(500);
  expect(res.headers['retry-after']).toBeUndefined();
  expect(res.body.error).toBe('server_error');
  expect(res.body.error_description).not.toContain('127.0.0.1');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error .*names issuer .*retrying will not help/);
});

describe('verified-token cache', () => {
  const clock = useTestClock();
  test('a repeated token is stored after its second verification; failures are never stored', async () => {
    const { guard, call, lines } = setup();
    const token = await idp.sign();
    for (let i = 0; i < 5; i++) expect((await call(token)).status).toBe(200);
    expect(guard.cacheStats.entries).toBe(1);
    const bad = await idp.sign({ aud: 'nope' });
    for (let i = 0; i < 3; i++) expect((await call(bad)).status).toBe(401);
    expect(guard.cacheStats.entries).toBe(1);
    // Why it was refused, once (repeats of a line are not written again).
    expect(lines).toEqual([expect.stringMatching(/^debug .*refused a token with aud "nope"/)]);
  });

  test('a cached entry never outlives the token exp', async () => {
    const { guard, call } = setup({ clockTolerance: 0 });
    // exp is in whole seconds: 2 s, so a token signed late in a second is not expired on arrival.
    const token = await idp.sign({}, { expiresIn: 2 });
    // Seen twice: now it is in the cache.
    expect((await call(token)).status).toBe(200);
    expect((await call(token)).status).toBe(200);
    expect(guard.cacheStats.entries).toBe(1);
    clock.advance(2_100);
    const res = await call(token);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('The access token expired');
  });

  test('a result shared by a burst is checked again: it never outlives exp either', async () => {
    const { guard } = setup({ clockTolerance: 0 });
    await guard.verify(await idp.sign()); // keys loaded: verification is synchronous from here on
    const token = await idp.sign({}, { expiresIn: 2 });
    await guard.verify(token);
    clock.advance(2_100);
    // Same turn, so the first result is still held for the burst; it is not handed out expired.
    await expect(guard.verify(token)).rejects.toMatchObject({ code: 'invalid_token', message: 'The access token expired' });
    expect(guard.cacheStats.verifications).toBe(3);
  });

  test('bounded by entries', async () => {
    const { guard, call } = setup({ cache: { maxEntries: 3 } });
    for (let i = 0; i < 6; i++) {
      const token = await idp.sign({ n: i });
      expect((await call(token)).status).toBe(200);
      expect((await call(token)).status).toBe(200);
    }
    expect(guard.cacheStats.entries).toBe(3);
  });

  test('a token seen only once is not stored: one-off tokens do not churn the cache', async () => {
    const { guard, call } = setup();
    for (let i = 0; i < 5; i++) expect((await call(await idp.sign({ n: i }))).status).toBe(200);
    expect(guard.cacheStats.entries).toBe(0);
  });

  test('a cache hit answers synchronously, without signature work or a promise', async () => {
    const { guard } = setup();
    const token = await idp.sign();
    const req = { headers: { authorization: `Bearer ${token}` } } as unknown as express.Request;
    const call = () => {
      let called = false;
      const done = new Promise<void>((resolve) =>
        guard(req, {} as express.Response, () => {
          called = true;
          resolve();
        }),
      );
      return { sync: called, done };
    };
    // Misses verify asynchronously; the token is admitted on its second verification.
    for (let i = 0; i < 2; i++) {
      const miss = call();
      expect(miss.sync).toBe(false);
      await miss.done;
    }
    expect(call().sync).toBe(true);
    expect(req.auth?.token).toBe(token);
  });

  test('concurrent requests with the same new token share one verification', async () => {
    const { guard, call } = setup();
    const token = await idp.sign();
    const statuses = await Promise.all(Array.from({ length: 20 }, () => call(token).then((r) => r.status)));
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(guard.cacheStats.verifications).toBe(1);
    // Keys at hand, verification is synchronous: a burst parsed in the same turn shares the
    // result, and a bad token shared by a burst fails every request, also with one verification.
    const another = await idp.sign({ n: 2 });
    const verified = await Promise.all(Array.from({ length: 10 }, () => guard.verify(another)));
    expect(new Set(verified.map((v) => v.payload))).toEqual(new Set([verified[0]!.payload]));
    expect(guard.cacheStats.verifications).toBe(2);
    const bad = await idp.sign({ aud: 'someone-else' });
    const failed = await Promise.allSettled(Array.from({ length: 10 }, () => guard.verify(bad)));
    expect(new Set(failed.map((r) => r.status === 'rejected' && (r.reason as OAuthError).code))).toEqual(new Set(['invalid_token']));
    expect(guard.cacheStats.verifications).toBe(3);
    // Over HTTP, every request of the burst gets the same answer.
    const overHttp = await Promise.all(Array.from({ length: 10 }, () => call(bad).then((r) => r.status)));
    expect(new Set(overHttp)).toEqual(new Set([401]));
  });

  test('cacheStats counts hits and verifications', async () => {
    const { guard, call } = setup();
    const token = await idp.sign();
    for (let i = 0; i < 5; i++) await call(token);
    // Verified twice (admission on the second sighting), then three hits.
    expect(guard.cacheStats).toMatchObject({ entries: 1, hits: 3, verifications: 2 });
  });

  test('cache: false verifies every time', async () => {
    const { guard, call } = setup({ cache: false });
    const token = await idp.sign();
    expect((await call(token)).status).toBe(200);
    expect((await call(token)).status).toBe(200);
    expect(guard.cacheStats.entries).toBe(0);
  });

  test('req.auth payload is frozen so one request cannot alter what the next one sees', async () => {
    const guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri });
    const app = express();
    app.get('/mutate', guard, (req, res) => {
      try {
        (req.auth!.payload as Record<string, unknown>).sub = 'admin';
      } catch {
        /* strict-mode TypeError on a frozen object */
      }
      res.json({ sub: req.auth!.payload.sub });
    });
    const token = await idp.sign({ sub: 'user-1' });
    await request(app).get('/mutate').set('Authorization', `Bearer ${token}`);
    const res = await request(app).get('/mutate').set('Authorization', `Bearer ${token}`);
    expect(res.body.sub).toBe('user-1');
  });
});

test('guard.verify() works outside Express', async () => {
  const { guard } = setup();
  const v = await guard.verify(await idp.sign({ sub: 'ws-user' }));
  expect(v.payload.sub).toBe('ws-user');
  await expect(guard.verify('x.y.z')).rejects.toMatchObject({ code: 'invalid_token', status: 401 });
});
