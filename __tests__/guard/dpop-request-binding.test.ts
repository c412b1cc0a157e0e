/**
 * requireAuth's DPoP binding of a proof to the request, against a hostile client: the URL the proof
 * names (htu) against the route served, duplicate headers and token locations, odd proof keys and
 * jti scope. Real loopback servers; raw sockets where supertest would tidy the request up.
 */
import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import http, { type Server } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { oauthErrorHandler, requireAuth, type RequireAuthHandler, type GuardCommonOptions, type IssuerSettings } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { dpopHolder, type DpopHolder } from '../support/dpop-holder.js';

/** Options a test puts over a working single-issuer base (the either/or key options are unions: see option-types.test.ts). */
type OptionOverrides = Partial<GuardCommonOptions & IssuerSettings> & { jwksUri?: string };

const b64sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');

let idp: JwksServer;
let holder: DpopHolder;
beforeAll(async () => {
  idp = await startJwksServer();
  holder = await dpopHolder();
});
afterAll(() => idp.close());

const bound = () => idp.sign({ cnf: { jkt: holder.jkt } });

function proof(token: string, htu: string, o: { htm?: string; jti?: string; header?: Record<string, unknown>; key?: CryptoKey | Uint8Array; alg?: string } = {}) {
  return new SignJWT({ htm: o.htm ?? 'GET', htu, ath: b64sha256(token), jti: o.jti ?? randomUUID() })
    .setProtectedHeader({ alg: o.alg ?? 'ES256', typ: 'dpop+jwt', jwk: holder.jwk, ...o.header } as never)
    .setIssuedAt()
    .sign(o.key ?? holder.privateKey);
}

/** An API with a catch-all route under /x, as real routers have (/users/:id/orders and the like). */
async function listen(extra: OptionOverrides = {}) {
  const auth = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, tokenLocations: ['query'], tokenCookie: 'at', ...extra });
  const a = express();
  a.use(auth);
  a.get('/orders', (req, res) => res.json({ route: 'orders', dpop: req.auth!.dpop ?? null }));
  a.get('/x/:a/:b', (req, res) => res.json({ route: 'x', dpop: req.auth!.dpop ?? null }));
  a.use(oauthErrorHandler());
  const server: Server = a.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { auth, app: a, server, port: (server.address() as AddressInfo).port };
}

/** Sends exactly these bytes (no client-side URL normalisation) and returns status and body. */
function raw(port: number, text: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let data = '';
    socket.on('data', (d) => (data += d.toString('utf8')));
    socket.on('end', () => {
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1]);
      resolve({ status, body: data.slice(data.indexOf('\r\n\r\n') + 4) });
    });
    socket.on('error', reject);
  });
}

describe('DPoP htu: the URL the proof names is the URL the router serves', () => {
  let api: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => (api = await listen()));
  afterAll(() => api.server.close());

  const get = async (path: string, htu: string, host = 'api.example.test') => {
    const token = await bound();
    return raw(api.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nAuthorization: DPoP ${token}\r\nDPoP: ${await proof(token, htu)}\r\nConnection: close\r\n\r\n`);
  };

  test('control: a proof for /orders passes on /orders', async () => {
    const res = await get('/orders', 'http://api.example.test/orders');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).route).toBe('orders');
  });

  test.each(['/x/../orders', '/x/%2e%2e/orders', '/x/.%2E/orders'])('a proof for /orders is refused on %s (dot segments the router does not resolve)', async (path) => {
    const res = await get(path, 'http://api.example.test/orders');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringMatching(/another URL/) });
  });

  test('a Host header ending in "/orders#" does not turn every path into /orders', async () => {
    const res = await get('/x/admin/delete', 'http://api.example.test/orders', 'api.example.test/orders#');
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error).toBe('invalid_dpop_proof');
  });

  test('HTTP/1.0 without Host: the path is not read as the host', async () => {
    const token = await bound();
    // Without the check, "http:" + "//" + "" + "/orders" parses as host "orders", path "/".
    const res = await raw(api.port, `GET /orders HTTP/1.0\r\nAuthorization: DPoP ${token}\r\nDPoP: ${await proof(token, 'http://orders/')}\r\n\r\n`);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body).error).toBe('invalid_dpop_proof');
  });

  test('X-Forwarded-Host/Proto are ignored without trust proxy: a proof for the forwarded URL fails', async () => {
    const token = await bound();
    const res = await request(api.app)
      .get('/orders')
      .set('Host', 'api.example.test')
      .set('X-Forwarded-Host', 'evil.example')
      .set('X-Forwarded-Proto', 'https')
      .set('Authorization', `DPoP ${token}`)
      .set('DPoP', await proof(token, 'https://evil.example/orders'));
    expect(res.status).toBe(401);
    expect(res.body.error_description).toMatch(/another URL/);
  });
});

describe('DPoP headers and token locations', () => {
  let api: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => (api = await listen()));
  afterAll(() => api.server.close());

  test('two Authorization headers are refused (Node would silently keep the first)', async () => {
    const unbound = await idp.sign();
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const r = http.request({ port: api.port, host: '127.0.0.1', path: '/orders' }, (m) => {
        let body = '';
        m.on('data', (d) => (body += d));
        m.on('end', () => resolve({ status: m.statusCode!, body }));
      });
      r.setHeader('Authorization', [`Bearer ${unbound}`, 'Basic dXNlcjpwYXNz']);
      r.on('error', reject);
      r.end();
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/more than one Authorization/) });
  });

  test('a bound token from a cookie or the query string is a Bearer presentation: refused, even with a valid DPoP header', async () => {
    const token = await bound();
    const p = await proof(token, 'http://api.example.test/orders');
    const viaCookie = await request(api.app).get('/orders').set('Host', 'api.example.test').set('Cookie', `at=${token}`).set('DPoP', p);
    expect(viaCookie.status).toBe(401);
    expect(viaCookie.body.error_description).toMatch(/bound to a key/);
    const viaQuery = await request(api.app).get(`/orders?access_token=${token}`).set('Host', 'api.example.test').set('DPoP', p);
    expect(viaQuery.status).toBe(401);
    expect(viaQuery.body.error_description).toMatch(/bound to a key/);
    // DPoP header scheme plus the same token in the query: two methods, refused before any check.
    const both = await request(api.app).get(`/orders?access_token=${token}`).set('Host', 'api.example.test').set('Authorization', `dpop ${token}`).set('DPoP', p);
    expect(both.status).toBe(400);
    expect(both.body.error).toBe('invalid_request');
  });

  test('verify() (WebSocket upgrades, queues) has no proof: a DPoP-bound token is refused, an unbound one passes', async () => {
    await expect(api.auth.verify(await bound())).rejects.toMatchObject({ code: 'invalid_token', message: expect.stringMatching(/bound to a key/) });
    // Cached first through a DPoP request, then verify(): still refused.
    const token = await bound();
    for (let i = 0; i < 3; i++) {
      const ok = await request(api.app).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof(token, 'http://api.example.test/orders'));
      expect(ok.status).toBe(200);
    }
    expect(api.auth.cacheStats.hits).toBeGreaterThan(0);
    await expect(api.auth.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
    const unbound = await idp.sign({ sub: 'u1' });
    await expect(api.auth.verify(unbound)).resolves.toMatchObject({ payload: { sub: 'u1' } });
  });

  test('verify() in required mode refuses every token, as a Bearer request would be', async () => {
    const required = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, dpop: { mode: 'required' } }) as RequireAuthHandler;
    await expect(required.verify(await idp.sign())).rejects.toMatchObject({ code: 'invalid_token' });
  });
});

describe('DPoP proof keys and jti scope (attacks that hold)', () => {
  let api: Awaited<ReturnType<typeof listen>>;
  beforeAll(async () => (api = await listen()));
  afterAll(() => api.server.close());
  const send = (token: string, p: string) => request(api.app).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', p);
  const htu = 'http://api.example.test/orders';

  test.each([
    ['an oct jwk', { jwk: { kty: 'oct', k: 'AAAA' } }, /EC, OKP or RSA public key/],
    ['an EC point off the curve', { jwk: { kty: 'EC', crv: 'P-256', x: Buffer.alloc(32, 1).toString('base64url'), y: Buffer.alloc(32, 2).toString('base64url') } }, /not a valid public key/],
    ['an EC jwk with alg RS256 in the header', { alg: 'RS256' }, /./],
  ] as const)('%s → 401 invalid_dpop_proof, never a 500', async (_name, trick, description) => {
    const token = await bound();
    const header = 'jwk' in trick ? { jwk: trick.jwk } : {};
    let p: string;
    if ('alg' in trick) {
      // Signed with an RSA key but presenting the holder's EC jwk: the key type must match the alg.
      const rsa = await generateKeyPair('RS256');
      p = await proof(token, htu, { alg: 'RS256', key: rsa.privateKey });
    } else {
      p = await proof(token, htu, { header });
    }
    const res = await send(token, p);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_dpop_proof');
    expect(res.body.error_description).toMatch(description);
  });

  test('a jwk whose own "alg" disagrees with the header is informative only: the key is the holder\'s, the proof passes', async () => {
    const token = await bound();
    expect((await send(token, await proof(token, htu, { header: { jwk: { ...holder.jwk, alg: 'RS256' } } }))).status).toBe(200);
  });

  test('an RSA proof key with a huge public exponent is refused quickly', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' }) as JWK;
    const token = await idp.sign({ cnf: { jkt: await calculateJwkThumbprint({ ...jwk, e: Buffer.alloc(200, 0xff).toString('base64url') }) } });
    const p = await new SignJWT({ htm: 'GET', htu, ath: b64sha256(token), jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', typ: 'dpop+jwt', jwk: { ...jwk, e: Buffer.alloc(200, 0xff).toString('base64url') } } as never)
      .setIssuedAt()
      .sign(privateKey);
    const started = Date.now();
    const res = await send(token, p);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_dpop_proof');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test('jti is scoped to the proof key: another key cannot burn the holder\'s jti in advance', async () => {
    const other = await generateKeyPair('ES256', { extractable: true });
    const otherJwk = (await exportJWK(other.publicKey)) as JWK;
    const otherToken = await idp.sign({ cnf: { jkt: await calculateJwkThumbprint(otherJwk) } });
    const jti = randomUUID();
    const first = await send(otherToken, await proof(otherToken, htu, { jti, header: { jwk: otherJwk }, key: other.privateKey }));
    expect(first.status).toBe(200);
    const token = await bound();
    expect((await send(token, await proof(token, htu, { jti }))).status).toBe(200);
    // And the same jti with the same key again is a replay, even on another token of that key.
    const token2 = await bound();
    const again = await send(token2, await proof(token2, htu, { jti }));
    expect(again.status).toBe(401);
    expect(again.body.error_description).toMatch(/already used/);
  });
});
