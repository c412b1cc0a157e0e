/**
 * What requireAuth answers for edge tokens and inputs: an exp that parses to Infinity, the payload
 * frozen from the first request, verify() given a non-string, and the no-token body (RFC 6750 §3.1).
 */
import express from 'express';
import request from 'supertest';
import { CompactSign } from 'jose';
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
