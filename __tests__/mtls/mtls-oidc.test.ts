/**
 * RFC 8705 end to end against node oidc-provider (an IdP this package did not write), with its mTLS
 * features behind an https listener that asks for client certificates (oidc-provider does not
 * terminate TLS): createM2MClient authenticates with its certificate (tls_client_auth,
 * self_signed_tls_client_auth) at the discovered mtls_endpoint_aliases, gets a token bound to that
 * certificate, and m2m.fetch presents the certificate to an API guarded by requireAuth.
 */
import https from 'node:https';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { decodeJwt, exportJWK } from 'jose';
import { X509Certificate } from 'node:crypto';
import { Agent, request as undiciRequest } from 'undici';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { createM2MClient, oauthErrorHandler, requireAuth, revocationProxy, type GuardCommonOptions } from '../../lib/index.js';
import { makeTestPki, rfc9440, type TestCertificate, type TestPki } from '../../fixtures/certificates.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';
import { listen } from '../../fixtures/listen.js';

let pki: TestPki;
let op: RunningOidcProvider;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  clearDiscoveryCache();
  pki = makeTestPki();
  const selfSignedJwk = { ...(await exportJWK(new X509Certificate(pki.selfSigned.cert).publicKey)), x5c: [pki.selfSigned.der.toString('base64')] };
  op = await startOidcProvider({
    mtls: { server: pki.server, ca: pki.ca },
    clients: [
      { client_id: 'mtls-a', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'CN=client-a', tls_client_certificate_bound_access_tokens: true },
      { client_id: 'mtls-self', token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [selfSignedJwk] }, tls_client_certificate_bound_access_tokens: true },
      { client_id: 'secret-bound', client_secret: 'secret-bound-secret', tls_client_certificate_bound_access_tokens: true },
    ],
  });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await op.close();
});

/** The tls option for a certificate; the IdP's and APIs' server certificates chain to the test CA. */
const tls = (c: TestCertificate) => ({ cert: c.cert, key: c.key, ca: pki.ca });

/** An API guarded by requireAuth: https asking for client certificates, or http behind a "proxy". */
async function api(extra: Partial<GuardCommonOptions> = {}, secure = true): Promise<string> {
  const app = express();
  app.get('/orders', requireAuth({ issuer: op.issuer, audience: op.resource, logger: false, ...extra }), (req, res) => res.json({ mtls: req.auth!.mtls ?? null }));
  app.use(oauthErrorHandler());
  const server = secure
    ? https.createServer({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: false }, app)
    : http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return `${secure ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function call(url: string, token: string, o: { cert?: TestCertificate; headers?: Record<string, string> } = {}): Promise<number> {
  const dispatcher = new Agent({ connect: { ca: pki.ca, ...(o.cert ? { cert: o.cert.cert, key: o.cert.key } : {}) } });
  try {
    const res = await undiciRequest(`${url}/orders`, { dispatcher, headers: { authorization: `Bearer ${token}`, ...o.headers } });
    await res.body.dump();
    return res.statusCode;
  } finally {
    await dispatcher.close();
  }
}

describe('tls_client_auth', () => {
  const client = () => createM2MClient({ issuer: op.issuer, clientId: 'mtls-a', clientAuth: 'tls_client_auth', tls: tls(pki.clientA), resource: op.resource, logger: false });

  test('a certificate-bound token is issued at the mTLS alias, and m2m.fetch presents the certificate to the API', async () => {
    const m2m = client();
    const { accessToken } = await m2m.getToken();
    expect(decodeJwt(accessToken).cnf).toEqual({ 'x5t#S256': pki.clientA.x5tS256 });
    const url = await api();
    const res = await m2m.fetch(`${url}/orders`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ mtls: { x5tS256: pki.clientA.x5tS256 } });
  });

  test('the bound token is refused with another certificate or none', async () => {
    const { accessToken } = await client().getToken();
    const url = await api();
    expect(await call(url, accessToken, { cert: pki.clientA })).toBe(200);
    expect(await call(url, accessToken, { cert: pki.clientB })).toBe(401);
    expect(await call(url, accessToken)).toBe(401);
  });

  test('through a TLS-terminating proxy: accepted from the trusted header only', async () => {
    const { accessToken } = await client().getToken();
    const trusted = await api({ mtls: { certificateHeader: { name: 'client-cert', format: 'rfc9440' } } }, false);
    expect(await call(trusted, accessToken, { headers: { 'client-cert': rfc9440(pki.clientA) } })).toBe(200);
    expect(await call(trusted, accessToken, { headers: { 'client-cert': rfc9440(pki.clientB) } })).toBe(401);
    // The same header sent to an API that names no trusted header: a forged header from an untrusted hop.
    const untrusted = await api({}, false);
    expect(await call(untrusted, accessToken, { headers: { 'client-cert': rfc9440(pki.clientA) } })).toBe(401);
  });

  test('a certificate the client is not registered with: the IdP refuses the client', async () => {
    const m2m = createM2MClient({ issuer: op.issuer, clientId: 'mtls-a', clientAuth: 'tls_client_auth', tls: tls(pki.clientB), resource: op.resource, logger: false, retry: false });
    await expect(m2m.getToken()).rejects.toMatchObject({ code: 'idp_error', message: expect.stringMatching(/401 invalid_client.*tls \(the client certificate the IdP registered\)/) });
  });

  test('revocationProxy authenticates with the certificate too (the revocation alias)', async () => {
    // oidc-provider cannot revoke JWT access tokens (400 unsupported_token_type): that answer comes
    // after client authentication, which a missing or wrong certificate fails with 401 invalid_client.
    const { accessToken } = await client().getToken();
    const app = express();
    app.post('/revoke', revocationProxy({ issuer: op.issuer, clientId: 'mtls-a', clientAuth: 'tls_client_auth', tls: tls(pki.clientA), logger: false }));
    const proxy = await listen(app);
    closers.push(proxy.close);
    const res = await fetch(`${proxy.url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: accessToken }) });
    expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([400, 'unsupported_token_type']);
    // The same proxy with the wrong certificate: the IdP refuses the client.
    const wrong = express();
    wrong.post('/revoke', revocationProxy({ issuer: op.issuer, clientId: 'mtls-a', clientAuth: 'tls_client_auth', tls: tls(pki.clientB), logger: false }));
    const wrongProxy = await listen(wrong);
    closers.push(wrongProxy.close);
    const refused = await fetch(`${wrongProxy.url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: accessToken }) });
    expect(refused.status).not.toBe(200);
    expect(refused.status).not.toBe(400);
  });
});

test('self_signed_tls_client_auth: the registered self-signed certificate', async () => {
  const m2m = createM2MClient({ issuer: op.issuer, clientId: 'mtls-self', clientAuth: 'self_signed_tls_client_auth', tls: tls(pki.selfSigned), resource: op.resource, logger: false });
  const { accessToken } = await m2m.getToken();
  expect(decodeJwt(accessToken).cnf).toEqual({ 'x5t#S256': pki.selfSigned.x5tS256 });
  const res = await m2m.fetch(`${await api()}/orders`);
  expect(await res.json()).toEqual({ mtls: { x5tS256: pki.selfSigned.x5tS256 } });
});

test('a client secret for authentication, the certificate for binding only', async () => {
  const m2m = createM2MClient({ issuer: op.issuer, clientId: 'secret-bound', clientSecret: 'secret-bound-secret', tls: tls(pki.clientB), resource: op.resource, logger: false });
  const { accessToken } = await m2m.getToken();
  expect(decodeJwt(accessToken).cnf).toEqual({ 'x5t#S256': pki.clientB.x5tS256 });
  expect((await m2m.fetch(`${await api()}/orders`)).status).toBe(200);
});
