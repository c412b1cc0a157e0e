/**
 * The guard's maps are keyed by a number worked out from ~50 characters of the token
 * (lib/guard/token-key.ts), not by the token string. Two tokens can share that number, and an
 * attacker who holds one valid token can make a second one that does: change a payload character
 * the hash does not read, keep the signature. These tests are that attacker: a shared key must
 * only ever cost a miss, never hand one token another token's answer.
 */
import { hash } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { oauthErrorHandler, requireAuth } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { tokenKey } from '../../lib/guard/token-key.js';
import { payloadRange, sameKeyVariant } from '../support/same-key.js';
import { accessTokenHash } from '../../lib/guard/dpop/proof.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

let idp: JwksServer;
beforeEach(async () => {
  idp = await startJwksServer();
  clearDiscoveryCache();
});
afterEach(() => idp.close());

/** `token` with one payload character changed so that the result has the same key: a forgery the hash cannot tell apart. */
const sameKeyForgery = (token: string): string => sameKeyVariant(token, payloadRange(token));

function guarded() {
  const guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksTimeout: 2_000, logger: false });
  const app = express();
  app.get('/me', guard, (req, res) => res.json({ sub: req.auth!.payload.sub }));
  app.use(oauthErrorHandler());
  const call = (token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`);
  return { guard, call };
}

describe('a token that shares a cached token’s key', () => {
  test('is verified (and refused), not answered from the cache; the cached token still is', async () => {
    const { guard, call } = guarded();
    const token = await idp.sign({ sub: 'alice' });
    const forged = sameKeyForgery(token);
    expect(forged).not.toBe(token);
    expect(tokenKey(forged)).toBe(tokenKey(token));

    // Twice: a token is admitted to the cache on its second verification.
    for (let i = 0; i < 2; i++) expect((await call(token)).body).toEqual({ sub: 'alice' });
    expect(guard.cacheStats.entries).toBe(1);

    const refused = await call(forged);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    expect(JSON.stringify(refused.body)).not.toContain('alice');

    const { hits } = guard.cacheStats;
    expect((await call(token)).body).toEqual({ sub: 'alice' });
    expect(guard.cacheStats.hits).toBe(hits + 1);
  });

  test('does not join a verification of the other token still fetching keys (single flight)', async () => {
    const { guard } = guarded();
    const token = await idp.sign({ sub: 'alice' });
    const forged = sameKeyForgery(token);
    // The key set is not loaded yet: the first verification waits on the JWKS fetch, and the
    // forgery arrives while it does.
    const [real, fake] = await Promise.allSettled([guard.verify(token), guard.verify(forged)]);
    expect(real).toMatchObject({ status: 'fulfilled', value: { payload: { sub: 'alice' } } });
    expect(fake).toMatchObject({ status: 'rejected', reason: { code: 'invalid_token' } });
  });

  test('does not take the result of the other token verified a moment ago (the lingering result)', async () => {
    const { guard } = guarded();
    await guard.verify(await idp.sign({ sub: 'warm-up' }));
    const token = await idp.sign({ sub: 'alice' });
    const forged = sameKeyForgery(token);
    // Both start in the same turn: the first finishes synchronously and lingers for the burst.
    const real = guard.verify(token);
    const fake = guard.verify(forged);
    await expect(real).resolves.toMatchObject({ payload: { sub: 'alice' } });
    await expect(fake).rejects.toMatchObject({ code: 'invalid_token' });
  });

  test('a DPoP proof’s ath is the hash of the token presented, not of a same-key token seen before', () => {
    const token = `eyJhbGciOiJSUzI1NiJ9.${'a'.repeat(200)}.${'s'.repeat(342)}`;
    const forged = sameKeyForgery(token);
    expect(accessTokenHash(token)).toBe(hash('sha256', token, 'base64url'));
    expect(accessTokenHash(forged)).toBe(hash('sha256', forged, 'base64url'));
    expect(accessTokenHash(token)).toBe(hash('sha256', token, 'base64url'));
  });
});
