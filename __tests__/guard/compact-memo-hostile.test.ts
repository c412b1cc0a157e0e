/**
 * lib/jwt/compact.ts isCompactJws() remembers the last two strings that matched, so that a DPoP
 * request's token and proof are not scanned again by every layer. A memo must never let a string
 * through that the regex would refuse: these are the near misses of remembered strings (one
 * character more, less or different, a second dot, whitespace, a lone surrogate), asked
 * right after both remembered strings matched, and the guard answering them over HTTP.
 */
import express from 'express';
import request from 'supertest';
import { isCompactJws } from '../../lib/jwt/compact.js';
import { oauthErrorHandler, requireAuth } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function nearMisses(s: string): string[] {
  return [
    `${s}.`,
    `.${s}`,
    `${s}.x`,
    `${s}=`,
    `${s} `,
    ` ${s}`,
    `${s}\n`,
    `${s}\u0000`,
    s.replace('.', '..'),
    s.replace('.', '+'),
    s.slice(0, s.indexOf('.') + 1) + s.slice(s.indexOf('.', s.indexOf('.') + 1)),
    s.slice(0, -1) + '/',
    s.slice(0, -1) + '\uD800',
    s.slice(0, 5) + 'é' + s.slice(6),
    s.split('.').slice(0, 2).join('.'),
    `${s.split('.')[0]}..${s.split('.')[2]}`,
  ];
}

describe('isCompactJws() with its memo', () => {
  const token = `eyJhbGciOiJFUzI1NiJ9.${'eyJzdWIiOiJhIn0'.repeat(20)}.${'c2lnbmF0dXJl'.repeat(8)}`;
  const proof = 'eyJ0eXAiOiJkcG9wK2p3dCJ9.eyJodG0iOiJHRVQifQ.cHJvb2Y';

  test('after both were remembered, every near miss of either is refused, as the regex refuses it', () => {
    for (let round = 0; round < 3; round++) {
      expect(isCompactJws(token)).toBe(true);
      expect(isCompactJws(proof)).toBe(true);
      for (const miss of [...nearMisses(token), ...nearMisses(proof)]) {
        expect({ miss, memo: isCompactJws(miss) }).toEqual({ miss, memo: JWS.test(miss) });
        expect(isCompactJws(miss)).toBe(false);
        // Still remembered, or scanned again: either way the right answer.
        expect(isCompactJws(token)).toBe(true);
        expect(isCompactJws(proof)).toBe(true);
      }
    }
  });

  test('a third string pushes the oldest out, and the answers stay the regex’s', () => {
    const third = 'a.b.c';
    for (const s of [token, proof, third, token, third, proof, '', '..', 'a.b', 'a.b.c.d', third]) {
      expect({ s, memo: isCompactJws(s) }).toEqual({ s, memo: JWS.test(s) });
    }
  });
});

describe('the guard, after remembering a token, answers its near misses as the malformed tokens they are', () => {
  let idp: JwksServer;
  beforeAll(async () => {
    idp = await startJwksServer();
    clearDiscoveryCache();
  });
  afterAll(() => idp.close());

  test('near misses of the remembered good token: 400 invalid_request or 401 invalid_token, never its answer', async () => {
    const app = express();
    app.get('/me', requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksTimeoutMs: 2_000, logger: false }), (req, res) => void res.json({ sub: req.auth!.payload.sub }));
    app.use(oauthErrorHandler());
    const good = await idp.sign({ sub: 'alice' });
    // Header-safe near misses only (supertest refuses control characters in a header value).
    const misses = [`${good}.`, `${good}.x`, good.replace('.', '..'), `${good}=`, good.slice(0, -1) + '/', good.split('.').slice(0, 2).join('.')];
    for (const miss of misses) {
      expect((await request(app).get('/me').set('Authorization', `Bearer ${good}`)).body).toEqual({ sub: 'alice' });
      const res = await request(app).get('/me').set('Authorization', `Bearer ${miss}`);
      expect([400, 401]).toContain(res.status);
      expect(res.body.sub).toBeUndefined();
      expect(JSON.stringify(res.body)).not.toContain('alice');
    }
  });
});
