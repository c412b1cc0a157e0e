/**
 * Hostile `cnf` claims (RFC 7800) from a trusted IdP: the claim is JSON the guard reads on every
 * request (DPoP's `cnf.jkt`, RFC 8705's `cnf["x5t#S256"]`), so every shape of it must end in an
 * OAuth answer — never a 500 — and a binding that is there but malformed must never count as no
 * binding (which would let the token through as a plain Bearer token).
 */
import express from 'express';
import { createGuard, oauthErrorHandler, requireAuth, type RequireAuthHandler } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { dpopHolder, dpopProof, type DpopHolder } from '../support/dpop-holder.js';

let idp: JwksServer;
let holder: DpopHolder;
let server: Listening;
let url: string;
let auth: RequireAuthHandler;

beforeAll(async () => {
  idp = await startJwksServer();
  holder = await dpopHolder();
  auth = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false });
  const app = express();
  app.get('/orders', auth, (req, res) => res.json({ dpop: req.auth!.dpop ?? null, mtls: req.auth!.mtls ?? null }));
  app.use(oauthErrorHandler());
  server = await listen(app);
  url = server.url;
});
afterAll(async () => {
  await server.close();
  await idp.close();
});

const proof = (token: string): Promise<string> => dpopProof(holder, { htm: 'GET', htu: `${url}/orders`, accessToken: token });

async function call(token: string, dpop = false): Promise<{ status: number; www: string | null; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { authorization: `${dpop ? 'DPoP' : 'Bearer'} ${token}` };
  if (dpop) headers.dpop = await proof(token);
  const r = await fetch(`${url}/orders`, { headers });
  return { status: r.status, www: r.headers.get('www-authenticate'), body: (await r.json()) as Record<string, unknown> };
}

describe('cnf shapes', () => {
  test('cnf: null is no binding, as Bearer, twice (the second from the verified-token cache) — never a 500', async () => {
    const token = await idp.sign({ cnf: null } as never);
    for (let i = 0; i < 2; i++) {
      const r = await call(token);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ dpop: null, mtls: null });
    }
  });

  test('cnf: null presented with DPoP → 401 invalid_token in the DPoP scheme (not bound), not a 500', async () => {
    const r = await call(await idp.sign({ cnf: null } as never), true);
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('invalid_token');
    expect(r.www).toMatch(/^DPoP .*error="invalid_token"/);
  });

  test('verify() of a token with cnf: null resolves (it rejects with OAuthErrors only)', async () => {
    const guard = createGuard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false });
    const v = await guard.verify(await idp.sign({ cnf: null } as never));
    expect(v.payload.cnf).toBeNull();
  });

  test.each([
    ['a number', 123],
    ['an object', { kty: 'EC' }],
    ['an empty string', ''],
    ['null', null],
    ['an array', [holder?.jkt]],
  ])('cnf.jkt that is %s is a malformed binding: 401 as Bearer (not accepted unbound), 401 with DPoP', async (_name, jkt) => {
    const token = await idp.sign({ cnf: { jkt } } as never);
    const bearer = await call(token);
    expect(bearer.status).toBe(401);
    expect(bearer.body).toEqual({ error: 'invalid_token', error_description: "The token's cnf.jkt is not a key thumbprint" });
    expect(bearer.www).toMatch(/^Bearer .*error="invalid_token"/);
    const dpop = await call(token, true);
    expect(dpop.status).toBe(401);
    expect(dpop.body.error).toBe('invalid_token');
    expect(dpop.www).toMatch(/^DPoP .*error="invalid_token"/);
  });

  test.each([
    ['a number', 5],
    ['a string', 'x'],
    ['an array', []],
    ['true', true],
  ])('cnf that is %s (not an object) is no binding: 200 as Bearer', async (_name, cnf) => {
    expect((await call(await idp.sign({ cnf } as never))).status).toBe(200);
  });

  test('a well-formed binding still works both ways: refused as Bearer, accepted with its proof', async () => {
    const token = await idp.sign({ cnf: { jkt: holder.jkt } });
    expect((await call(token)).status).toBe(401);
    const r = await call(token, true);
    expect(r.status).toBe(200);
    expect(r.body.dpop).toEqual({ jkt: holder.jkt });
  });
});
