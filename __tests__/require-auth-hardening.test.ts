/**
 * requireAuth under attack and under a careless or failing IdP: each case here broke once in an
 * adversarial review. Real JWKS/discovery server on 127.0.0.1, real key removal.
 */
import express from 'express';
import request from 'supertest';
import { CompactSign, SignJWT, generateKeyPair } from 'jose';
import { oauthErrorHandler, requireAuth, type RequireAuthOptions } from '../lib/index.js';
import { clearDiscoveryCache } from '../lib/idp/discovery.js';
import { startJwksServer, type JwksServer } from '../fixtures/jwks-server.js';

let idp: JwksServer;
beforeEach(async () => {
  idp = await startJwksServer();
  clearDiscoveryCache();
});
afterEach(() => idp.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function captureLog() {
  const lines: string[] = [];
  return { lines, logger: { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) } };
}

function setup(options: Partial<RequireAuthOptions> = {}) {
  const guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksTimeout: 500, logger: false, ...options });
  const app = express();
  app.get('/me', guard, (req, res) => res.json({ sub: req.auth!.payload.sub, frozen: Object.isFrozen(req.auth!.payload) }));
  app.use(oauthErrorHandler());
  const call = (token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`);
  return { guard, app, call };
}

describe('a removed signing key stops verifying, cache or not', () => {
  test('the key set is reloaded past jwksCacheMaxAge even when every request hits the cache', async () => {
    const { guard, call } = setup({ jwksCacheMaxAge: 300 });
    const token = await idp.sign();
    for (let i = 0; i < 3; i++) expect((await call(token)).status).toBe(200);
    expect(guard.cacheStats.hits).toBe(1);
    const replacement = await idp.addKey('ES256');
    idp.removeKey(idp.keys[0]!.kid); // compromised: the IdP withdraws it
    expect(idp.keys).toEqual([replacement]);
    await sleep(350);
    // The first hit past max age starts a reload in the background and is not blocked by it...
    await call(token);
    // ...and within one reload the token is verified again against the new set, and refused.
    await sleep(100);
    const res = await call(token);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toMatch(/No key of the issuer matches/);
    expect(idp.jwksRequests).toBeGreaterThanOrEqual(2);
  });

  test('cached results stop counting once the set is too old and cannot be reloaded (fail closed: 503)', async () => {
    const { call } = setup({ jwksCacheMaxAge: 200, jwksTimeout: 100 });
    const token = await idp.sign();
    for (let i = 0; i < 3; i++) expect((await call(token)).status).toBe(200);
    idp.mode = 'down';
    await sleep(350); // past max age + one reload timeout
    await call(token);
    await sleep(50);
    expect((await call(token)).status).toBe(503);
  });

});

describe('IdP metadata and key-set answers are not trusted blindly', () => {
  test('jwksStaleIfError: the last key set keeps verifying for a bounded time while the JWKS is down, then 503', async () => {
    const { lines, logger } = captureLog();
    const { call } = setup({ jwksCacheMaxAge: 200, jwksStaleIfError: 1_000, jwksCooldown: 100, jwksTimeout: 100, logger });
    expect((await call(await idp.sign())).status).toBe(200);
    idp.mode = 'down';
    await sleep(250);
    expect((await call(await idp.sign({ n: 1 }))).status).toBe(200); // a new token, verified with the stale set
    expect(lines.join('\n')).toMatch(/verifying with the last key set/);
    await sleep(1_000);
    expect((await call(await idp.sign({ n: 2 }))).status).toBe(503);
  });

  test('a discovery document briefly missing jwks_uri is retried after a back-off', async () => {
    const { lines, logger } = captureLog();
    const { call } = setup({ jwksUri: undefined, jwksCooldown: 200, logger });
    idp.discovery = ({ jwks_uri: _omitted, ...rest }) => rest;
    const token = await idp.sign();
    const first = await call(token);
    expect(first.status).toBe(503);
    expect(first.headers['retry-after']).toBe('5');
    expect(lines.join('\n')).toMatch(/has no jwks_uri/);
    idp.discovery = undefined;
    expect((await call(token)).status).toBe(503); // within the back-off: same answer, no new request
    const discoveries = idp.discoveryRequests;
    await sleep(250);
    expect((await call(token)).status).toBe(200);
    expect(idp.discoveryRequests).toBe(discoveries + 1);
  });

  test('a discovered jwks_uri that fails the URL policy is a misconfiguration (500), never an exception', async () => {
    const { lines, logger } = captureLog();
    const { call } = setup({ jwksUri: undefined, logger });
    idp.discovery = (doc) => ({ ...doc, jwks_uri: 'http://keys.example.com/jwks.json' });
    const res = await call(await idp.sign());
    expect(res.status).toBe(500);
    expect(res.body.error).toBe('server_error');
    expect(res.body.error_description).not.toMatch(/example\.com/);
    expect(lines.join('\n')).toMatch(/^error .*jwks_uri that must use https/);
  });

  test('an oversized JWKS is refused without reading it whole (503, logged)', async () => {
    const { lines, logger } = captureLog();
    const { call } = setup({ logger });
    idp.mode = 'huge';
    const res = await call(await idp.sign());
    expect(res.status).toBe(503);
    expect(lines.join('\n')).toMatch(/larger than 524288 bytes/);
  });

  test('the 503 rendered by Express itself (no oauthErrorHandler) names no internal URL', async () => {
    const guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, logger: false });
    const app = express();
    app.get('/me', guard, (_req, res) => res.end());
    idp.mode = 'down';
    const res = await request(app).get('/me').set('Authorization', `Bearer ${await idp.sign()}`);
    expect(res.status).toBe(503);
    expect(res.text).not.toContain('127.0.0.1');
    expect(res.text).not.toContain('well-known');
  });

  test('an outage is logged once, not once per request', async () => {
    const { lines, logger } = captureLog();
    const { call } = setup({ logger });
    idp.mode = 'down';
    const token = await idp.sign();
    for (let i = 0; i < 5; i++) expect((await call(token)).status).toBe(503);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^warn \[express-oauth-kit\] requireAuth\(\): .*answered 500/);
    expect(lines[0]).not.toContain(token);
  });
});

describe('key rotation', () => {
  test('a key rotated in right after a routine fetch is picked up at once, not after the cooldown', async () => {
    const { call } = setup({ jwksCooldown: 60_000 });
    expect((await call(await idp.sign())).status).toBe(200);
    expect(idp.jwksRequests).toBe(1);
    const rotated = await idp.addKey('ES256');
    expect((await call(await idp.sign({}, { kid: rotated.kid }))).status).toBe(200);
    expect(idp.jwksRequests).toBe(2);
    // The cooldown still spaces out refetches for unknown kids.
    const { privateKey } = await generateKeyPair('ES256');
    const bogus = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'nope' }).setIssuer(idp.issuer).setAudience(idp.audience).setExpirationTime('5m').sign(privateKey);
    for (let i = 0; i < 3; i++) expect((await call(bogus)).status).toBe(401);
    expect(idp.jwksRequests).toBe(2);
  });
});

describe('claims and results', () => {
  test('an exp of 1e999 (Infinity once parsed) is refused', async () => {
    const { call } = setup();
    const key = idp.keys[0]!;
    const payload = `{"iss":"${idp.issuer}","aud":"${idp.audience}","sub":"u","exp":1e999}`;
    const token = await new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: 'RS256', kid: key.kid }).sign(key.privateKey);
    const res = await call(token);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('The token has an invalid "exp" claim');
  });

  test('req.auth.payload is frozen on the first request too, so handlers behave the same every time', async () => {
    const { call } = setup();
    const token = await idp.sign();
    for (let i = 0; i < 3; i++) expect((await call(token)).body.frozen).toBe(true);
  });

  test.each([undefined, 42, {}, '', null])('verify(%p) rejects with invalid_token, not a TypeError', async (value) => {
    const { guard } = setup();
    await expect(guard.verify(value as unknown as string)).rejects.toMatchObject({ code: 'invalid_token', status: 401 });
  });

  test('no token: the JSON body names no error code, like the challenge (RFC 6750 §3.1)', async () => {
    const { app } = setup();
    const res = await request(app).get('/me');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api", DPoP realm="api", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"');
    expect(res.body.error).toBeUndefined();
    expect(res.body.error_description).toMatch(/Authorization: Bearer/);
  });
});

describe('verified-token cache admission', () => {
  test('more distinct tokens than the cache holds, each sent twice, do not push out tokens in real use', async () => {
    const { guard } = setup({ cache: { maxEntries: 20 } });
    const regulars = await Promise.all(Array.from({ length: 20 }, (_, n) => idp.sign({ regular: n })));
    for (let round = 0; round < 4; round++) for (const t of regulars) await guard.verify(t);
    expect(guard.cacheStats.entries).toBe(20);
    const flood = await Promise.all(Array.from({ length: 300 }, (_, n) => idp.sign({ flood: n })));
    const { verifications: before, hits } = guard.cacheStats;
    for (let i = 0; i < flood.length; i++) {
      await guard.verify(flood[i]!);
      await guard.verify(flood[i]!);
      await guard.verify(regulars[i % regulars.length]!);
    }
    // Every regular token was answered from the cache: none had to be verified again. (A flood
    // token's second sending may share its first verification, so each cost one or two.)
    expect(guard.cacheStats.hits - hits).toBe(flood.length);
    expect(guard.cacheStats.verifications - before).toBeGreaterThanOrEqual(flood.length);
    expect(guard.cacheStats.verifications - before).toBeLessThanOrEqual(flood.length * 2);
    expect(guard.cacheStats.entries).toBe(20);
  });
});

describe('verified-token cache admission under a stream of one-off tokens', () => {
  test('20,000 distinct tokens, each sent once, are all verified and none is admitted', async () => {
    // HS256 so that signing 20k tokens takes well under a second; the admission logic is the same.
    const secret = 'admission-test-secret-admission-test-secret';
    const guard = requireAuth({ issuer: 'https://idp.test', audience: 'https://api.test', secret, cache: { maxEntries: 100 } });
    const key = new TextEncoder().encode(secret);
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'at+jwt' })).toString('base64url');
    const exp = Math.floor(Date.now() / 1000) + 600;
    const { createHmac } = await import('node:crypto');
    for (let i = 0; i < 20_000; i++) {
      const payload = Buffer.from(JSON.stringify({ iss: 'https://idp.test', aud: 'https://api.test', sub: `u${i}`, exp })).toString('base64url');
      const signature = createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url');
      await guard.verify(`${header}.${payload}.${signature}`);
    }
    // Counting sightings must not mistake new tokens for seen ones once many have gone by (as a
    // count-min sketch of this size would, filling its counters): a one-off token never enters.
    expect(guard.cacheStats).toMatchObject({ entries: 0, hits: 0, verifications: 20_000 });
  });
});

describe('options are checked like the other factories', () => {
  test.each([
    ['jwksUrl', 'jwksUri'],
    ['jwks_uri', 'jwksUri'],
    ['clockSkew', 'clockTolerance'],
    ['audiance', 'audience'],
  ])('unknown option %s → ConfigError suggesting %s', (name, suggestion) => {
    expect(() => requireAuth({ issuer: idp.issuer, audience: 'a', [name]: 'x' } as unknown as RequireAuthOptions)).toThrow(
      expect.objectContaining({ code: 'config_options', message: expect.stringContaining(`did you mean ${suggestion}?`) }),
    );
  });

  test.each([301, 1e9, Infinity])('clockTolerance %p is refused: it would make exp meaningless', (value) => {
    expect(() => requireAuth({ issuer: idp.issuer, audience: 'a', jwksUri: idp.jwksUri, clockTolerance: value })).toThrow(/clockTolerance must be a non-negative number of at most 300/);
  });

  test('logger must have warn and error', () => {
    expect(() => requireAuth({ issuer: idp.issuer, audience: 'a', jwksUri: idp.jwksUri, logger: {} as never })).toThrow(/logger must have warn/);
  });
});
