/**
 * requireAuth keeps its own copy of what the operator hands it: audience arrays, tenant records and
 * dpop.algorithms mutated after start-up change nothing, and duplicate "iss" members resolve as the
 * claims check reads them. Real loopback JWKS servers.
 */
import { createHash, randomUUID } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { SignJWT, type CryptoKey } from 'jose';
import { oauthErrorHandler, requireAuth, type IssuerOptions } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { dpopHolder, type DpopHolder } from '../support/dpop-holder.js';

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

describe('several issuers: what the operator keeps a reference to', () => {
  let other: JwksServer;
  beforeAll(async () => (other = await startJwksServer({ audience: 'https://other.example.test' })));
  afterAll(() => other.close());

  function app(options: Parameters<typeof requireAuth>[0]) {
    const a = express();
    a.get('/me', requireAuth({ logger: false, ...options }), (req, res) => res.json({ issuer: req.auth!.issuer }));
    a.use(oauthErrorHandler());
    return (token: string) => request(a).get('/me').set('Authorization', `Bearer ${token}`);
  }

  test('an audience array mutated after requireAuth() does not widen what is accepted', async () => {
    const audience = [idp.audience];
    const call = app({ issuer: idp.issuer, audience, jwksUri: idp.jwksUri });
    expect((await call(await idp.sign())).status).toBe(200);
    audience.push('https://evil.example.test');
    const res = await call(await idp.sign({ aud: 'https://evil.example.test' }));
    expect(res.status).toBe(401);
    expect(res.body.error_description).toMatch(/aud/);
  });

  test('a resolver handing back a shared tenant record, mutated later, does not change the issuer it was resolved for', async () => {
    const record: IssuerOptions = { issuer: other.issuer, audience: [other.audience], jwksUri: other.jwksUri };
    const call = app({ issuers: async (iss) => (iss === other.issuer ? record : undefined) });
    expect((await call(await other.sign())).status).toBe(200);
    (record.audience as string[]).push('https://evil.example.test');
    const res = await call(await other.sign({ aud: 'https://evil.example.test' }));
    expect(res.status).toBe(401);
    expect(res.body.error_description).toMatch(/aud/);
  });

  test('dpop.algorithms mutated after start-up does not add an algorithm', async () => {
    const algorithms: ('ES256' | 'RS256')[] = ['RS256'];
    const auth = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, dpop: { algorithms } });
    algorithms.push('ES256');
    const a = express();
    a.get('/orders', auth, (_req, res) => res.json({ ok: true }));
    a.use(oauthErrorHandler());
    const token = await bound();
    const res = await request(a).get('/orders').set('Host', 'api.example.test').set('Authorization', `DPoP ${token}`).set('DPoP', await proof(token, 'http://api.example.test/orders'));
    expect(res.status).toBe(401);
    expect(res.body.error_description).toMatch(/algorithm/);
  });

  test('duplicate "iss" members: the issuer chosen is the one the claims check sees (last wins in both)', async () => {
    const call = app({ issuers: [{ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri }, { issuer: other.issuer, audience: other.audience, jwksUri: other.jwksUri }] });
    // Signed by idp, first iss = idp, last iss = other: picked as other's, whose keys do not verify it.
    const good = await idp.sign();
    const [h, , s] = good.split('.');
    const claims = JSON.parse(Buffer.from(good.split('.')[1]!, 'base64url').toString());
    const body = `{"iss":${JSON.stringify(idp.issuer)},${JSON.stringify(claims).slice(1, -1).replace(/"iss":"[^"]*",?/, '')},"iss":${JSON.stringify(other.issuer)}}`;
    const forged = `${h}.${Buffer.from(body).toString('base64url')}.${s}`;
    const res = await call(forged);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
  });
});
