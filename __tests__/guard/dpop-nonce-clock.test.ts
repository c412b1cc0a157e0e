/**
 * DPoP server nonces are derived from the library's one clock (lib/clock.ts), like every other
 * time the guard reads: with the clock moved forward, the nonce handed out is the one for the
 * moved time, and a proof carrying it passes.
 */
import { createHash, randomUUID } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { SignJWT } from 'jose';
import { oauthErrorHandler, requireAuth } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { dpopHolder, type DpopHolder } from '../support/dpop-holder.js';
import { useTestClock } from '../support/clock.js';

let idp: JwksServer;
let holder: DpopHolder;
beforeAll(async () => {
  idp = await startJwksServer({ algs: ['ES256'] });
  holder = await dpopHolder();
});
afterAll(() => idp.close());

const clock = useTestClock();
const ROTATE = 60;
const AHEAD_MS = 10 * ROTATE * 1000;

test('the nonce is for the library clock\'s time, and a proof with it passes', async () => {
  clock.advance(AHEAD_MS);
  const now = () => Date.now() + AHEAD_MS;
  const app = express();
  app.get('/orders', requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, dpop: { nonce: { secret: 'n'.repeat(32), rotateEverySeconds: ROTATE } } }), (req, res) => res.json({ dpop: req.auth!.dpop }));
  app.use(oauthErrorHandler());
  // Signed for the moved clock: the guard checks exp and iat against it.
  const token = await idp.sign({ cnf: { jkt: holder.jkt }, exp: Math.floor(now() / 1000) + 300, iat: Math.floor(now() / 1000) });
  const proof = (nonce?: string) =>
    new SignJWT({ jti: randomUUID(), htm: 'GET', htu: 'http://api.example.test/orders', ath: createHash('sha256').update(token).digest('base64url'), ...(nonce ? { nonce } : {}) })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk })
      .setIssuedAt(Math.floor(now() / 1000))
      .sign(holder.privateKey);

  const first = await request(app).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof());
  expect(first.status).toBe(401);
  expect(first.body.error).toBe('use_dpop_nonce');
  const nonce = first.headers['dpop-nonce'] as string;
  const epoch = parseInt(nonce.split('.')[0]!, 36);
  // Ten rotations ahead of real time: Date.now() would give an epoch ten smaller.
  expect([Math.floor(now() / 1000 / ROTATE), Math.floor(now() / 1000 / ROTATE) - 1]).toContain(epoch);

  const second = await request(app).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof(nonce));
  expect(second.status).toBe(200);
  expect(second.body).toEqual({ dpop: { jkt: holder.jkt } });
});
