/**
 * requireAuth's key source when the IdP fails or changes: a removed key stops verifying (cache or
 * not), discovery and JWKS answers that are missing, down, oversized or against the URL policy, and
 * keys rotated in. Real JWKS/discovery server on 127.0.0.1, real key removal.
 */
import express from 'express';
import request from 'supertest';
import { SignJWT, generateKeyPair } from 'jose';
import { oauthErrorHandler, requireAuth, type GuardCommonOptions, type IssuerSettings } from '../../lib/index.js';
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

// Ages and back-off windows are read from the library's clock, moved forward here; what the key
// source does in the background over HTTP is waited for by polling, never by a fixed sleep.
const clock = useTestClock();

/** Calls until `status` comes back; fails after a deadline generous enough for a loaded machine. */
async function eventually<R extends { status: number }>(call: () => PromiseLike<R>, status: number, ms = 10_000): Promise<R> {
  const end = Date.now() + ms;
  let last = await call();
  while (last.status !== status && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    last = await call();
  }
  return last;
}

function captureLog() {
  const lines: string[] = [];
  return { lines, logger: { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) } };
}

function setup(options: OptionOverrides = {}) {
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
    clock.advance(350);
    // The first hit past max age starts a reload in the background and is not blocked by it...
    await call(token);
    // ...and once that reload is in, the token is verified again against the new set, and refused.
    const res = await eventually(() => call(token), 401);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toMatch(/No key of the issuer matches/);
    expect(idp.jwksRequests).toBeGreaterThanOrEqual(2);
  });

  test('cached results stop counting once the set is too old and cannot be reloaded (fail closed: 503)', async () => {
    const { call } = setup({ jwksCacheMaxAge: 200, jwksTimeout: 100 });
    const token = await idp.sign();
    for (let i = 0; i < 3; i++) expect((await call(token)).status).toBe(200);
    idp.mode = 'down';
    clock.advance(350); // past max age
    await call(token);
    // Once the reload has failed (it is bounded by jwksTimeout), the cached result no longer counts.
    expect((await eventually(() => call(token), 503)).status).toBe(503);
  });

});

describe('IdP metadata and key-set answers are not trusted blindly', () => {
  test('jwksStaleIfError: the last key set keeps verifying for a bounded time while the JWKS is down, then 503', async () => {
    const { lines, logger } = captureLog();
    const { call } = setup({ jwksCacheMaxAge: 200, jwksStaleIfError: 1_000, jwksCooldown: 100, jwksTimeout: 100, logger });
    expect((await call(await idp.sign())).status).toBe(200);
    idp.mode = 'down';
    clock.advance(250);
    expect((await call(await idp.sign({ n: 1 }))).status).toBe(200); // a new token, verified with the stale set
    expect(lines.join('\n')).toMatch(/verifying with the last key set/);
    clock.advance(1_000);
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
    clock.advance(250);
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
