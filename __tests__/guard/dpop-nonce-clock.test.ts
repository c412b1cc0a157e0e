/**
 * DPoP server nonces are derived from the library's one clock (lib/clock.ts), like every other
 * time the guard reads: with the clock moved forward, the nonce handed out is the one for the
 * moved time, and a proof carrying it passes.
 */
import express from 'express';
import request from 'supertest';
import { oauthErrorHandler, requireAuth } from '../../lib/index.js';
import { createTestIssuer } from 'express-oauth-kit/testing';
import { useTestClock } from '../support/clock.js';

const clock = useTestClock();
const ROTATE = 60;
const AHEAD_MS = 10 * ROTATE * 1000;

test('the nonce is for the library clock\'s time, and a proof with it passes', async () => {
  clock.advance(AHEAD_MS);
  const now = () => Date.now() + AHEAD_MS;
  // Tokens and proofs are signed for the moved clock: the guard checks exp and iat against it.
  const idp = await createTestIssuer({ now });
  try {
    const app = express();
    app.get('/orders', requireAuth({ issuer: idp.issuer, audience: idp.audience, logger: false, dpop: { nonce: { secret: 'n'.repeat(32), rotateEverySeconds: ROTATE } } }), (req, res) => res.json({ dpop: req.auth!.dpop }));
    app.use(oauthErrorHandler());
    const token = await idp.sign({}, { dpop: true });
    const proof = (nonce?: string) => idp.dpopProof({ htm: 'GET', htu: 'http://api.example.test/orders', accessToken: token, nonce });

    const first = await request(app).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof());
    expect(first.status).toBe(401);
    expect(first.body.error).toBe('use_dpop_nonce');
    const nonce = first.headers['dpop-nonce'] as string;
    const epoch = parseInt(nonce.split('.')[0]!, 36);
    // Ten rotations ahead of real time: Date.now() would give an epoch ten smaller.
    expect([Math.floor(now() / 1000 / ROTATE), Math.floor(now() / 1000 / ROTATE) - 1]).toContain(epoch);

    const second = await request(app).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof(nonce));
    expect(second.status).toBe(200);
    expect(second.body).toEqual({ dpop: { jkt: idp.dpopJkt } });
  } finally {
    await idp.close();
  }
});
