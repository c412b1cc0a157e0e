/**
 * The verified-token cache's admission policy (lib/guard/verified-cache.ts) through requireAuth: tokens
 * in real use are not pushed out by a stream of one-off tokens.
 */
import { hash } from 'node:crypto';
import { Sightings } from '../../lib/guard/sightings.js';
import express from 'express';
import request from 'supertest';
import { oauthErrorHandler, requireAuth, type GuardCommonOptions, type IssuerSettings } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

/** Options a test puts over a working single-issuer base (the either/or key options are unions: see option-types.test.ts). */
type OptionOverrides = Partial<GuardCommonOptions & IssuerSettings> & { jwksUri?: string };

let idp: JwksServer;
beforeEach(async () => {
  idp = await startJwksServer();
  clearDiscoveryCache();
});
afterEach(() => idp.close());

function setup(options: OptionOverrides = {}) {
  const guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksTimeout: 500, logger: false, ...options });
  const app = express();
  app.get('/me', guard, (req, res) => res.json({ sub: req.auth!.payload.sub, frozen: Object.isFrozen(req.auth!.payload) }));
  app.use(oauthErrorHandler());
  const call = (token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`);
  return { guard, app, call };
}

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

describe('the sightings table behind admission', () => {
  // Each new token must be counted once: a match with an unrelated token would count a one-off
  // token as seen twice and admit it. With the slot and the fingerprint taken from one hash, the
  // slot's bits were shared by every token stored there: about 7 false matches per million (the old table counted 3 of these 300,000 tokens twice).
  test('300,000 distinct tokens: none is taken for one seen before; a real repeat is', () => {
    const seen = new Sightings(20_000);
    let falseRepeats = 0;
    for (let i = 0; i < 300_000; i++) if (seen.add(`eyJhbGciOiJSUzI1NiJ9.e30.${hash('sha256', String(i), 'base64url')}`) >= 2) falseRepeats += 1;
    expect(falseRepeats).toBe(0);
    const token = `eyJhbGciOiJSUzI1NiJ9.e30.${hash('sha256', 'again', 'base64url')}`;
    expect(seen.add(token)).toBe(1);
    expect(seen.add(token)).toBe(2);
  });
});
