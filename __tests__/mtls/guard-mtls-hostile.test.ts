/**
 * Certificate-bound tokens (RFC 8705) behind a TLS-terminating proxy, against what a client
 * controls: the forwarded-certificate header's value in odd forms, and the scheme it presents the
 * token with. Every answer is an OAuth error with the challenge of that scheme (RFC 9449 §7.1 for
 * DPoP), never a 500.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import express from 'express';
import { oauthErrorHandler, requireAuth } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { makeTestPki, rfc9440, type TestPki } from '../../fixtures/certificates.js';
import { dpopHolder, dpopProof, type DpopHolder } from '../support/dpop-holder.js';

let idp: JwksServer;
let pki: TestPki;
let holder: DpopHolder;
let server: Listening;
let url: string;

beforeAll(async () => {
  idp = await startJwksServer();
  pki = makeTestPki();
  holder = await dpopHolder();
  const auth = requireAuth({
    issuer: idp.issuer,
    audience: idp.audience,
    jwksUri: idp.jwksUri,
    logger: false,
    mtls: { certificateHeader: { name: 'client-cert', format: 'rfc9440' } },
  });
  const app = express();
  app.get('/orders', auth, (req, res) => res.json({ mtls: req.auth!.mtls ?? null, dpop: req.auth!.dpop ?? null }));
  app.use(oauthErrorHandler());
  server = await listen(http.createServer({ maxHeaderSize: 128 * 1024 }, app));
  url = server.url;
});
afterAll(async () => {
  await server.close();
  await idp.close();
});

const thumbprint = (der: Buffer) => createHash('sha256').update(der).digest('base64url');

const proof = (token: string): Promise<string> => dpopProof(holder, { htm: 'GET', htu: `${url}/orders`, accessToken: token });

async function call(token: string, cert: string | undefined, dpop: boolean) {
  const headers: Record<string, string> = { authorization: `${dpop ? 'DPoP' : 'Bearer'} ${token}` };
  if (cert !== undefined) headers['client-cert'] = cert;
  if (dpop) headers.dpop = await proof(token);
  const res = await fetch(`${url}/orders`, { headers });
  return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '', body: (await res.json()) as Record<string, unknown> };
}

const UNREADABLE = [
  ['base64url instead of base64', () => `:${pki.clientA.der.toString('base64url')}:`],
  ['trailing data after the certificate', () => `:${Buffer.concat([pki.clientA.der, Buffer.from([0])]).toString('base64')}:`],
  ['PEM where RFC 9440 is configured', () => pki.clientA.cert.replace(/\n/g, ' ')],
  ['a parameter after the byte sequence', () => `${rfc9440(pki.clientA)};foo=1`],
  ['32 KiB of base64', () => `:${'A'.repeat(32_768)}:`],
] as const;

describe('a forwarded certificate that cannot be read', () => {
  test.each(UNREADABLE)('%s: 400 invalid_request as Bearer (Bearer challenge)', async (_name, value) => {
    const token = await idp.sign({ cnf: { 'x5t#S256': thumbprint(pki.clientA.der) } });
    const r = await call(token, value(), false);
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_request');
    expect(r.challenge).toMatch(/^Bearer realm="api", error="invalid_request"/);
  });

  test.each(UNREADABLE)('%s: 400 invalid_request with DPoP — in the DPoP scheme, with algs (RFC 9449 §7.1)', async (_name, value) => {
    const token = await idp.sign({ cnf: { jkt: holder.jkt, 'x5t#S256': thumbprint(pki.clientA.der) } });
    const r = await call(token, value(), true);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'invalid_request', error_description: 'The client certificate forwarded by the proxy could not be read' });
    expect(r.challenge).toMatch(/^DPoP realm="api", error="invalid_request", error_description="The client certificate forwarded by the proxy could not be read", algs="[^"]+"$/);
  });
});

test('the right certificate, the wrong one and none, with DPoP: 200, then 401s in the DPoP scheme', async () => {
  const token = await idp.sign({ cnf: { jkt: holder.jkt, 'x5t#S256': thumbprint(pki.clientA.der) } });
  const ok = await call(token, rfc9440(pki.clientA), true);
  expect(ok.status).toBe(200);
  expect(ok.body).toEqual({ mtls: { x5tS256: thumbprint(pki.clientA.der) }, dpop: { jkt: holder.jkt } });
  for (const cert of [rfc9440(pki.clientB), undefined]) {
    const r = await call(token, cert, true);
    expect(r.status).toBe(401);
    expect(r.challenge).toMatch(/^DPoP .*error="invalid_token"/);
  }
});

test('a client-cert header is never read for an unbound token, however odd its value', async () => {
  const token = await idp.sign({});
  for (const [, value] of UNREADABLE) expect((await call(token, value(), false)).status).toBe(200);
});
