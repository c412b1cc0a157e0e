/**
 * Certificate-bound tokens (RFC 8705 §3) at the guard: real https servers that request client
 * certificates, clients presenting real certificates (undici Agent), and the trusted-header path
 * behind a TLS-terminating proxy (RFC 9440 Client-Cert, nginx's URL-encoded PEM). Every refusal
 * with its status and challenge, the verified-token cache included.
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import express from 'express';
import { Agent, request as undiciRequest, upgrade as undiciUpgrade } from 'undici';
import { SignJWT } from 'jose';
import {
  ConfigError,
  createGuard,
  nodeAuth,
  oauthErrorHandler,
  requireAuth,
  type GuardCommonOptions,
  type RequireAuthHandler,
} from '../../lib/index.js';
import { certificateFromHeader } from '../../lib/guard/mtls/certificate.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { escapedPem, makeTestPki, rfc9440, type TestCertificate, type TestPki } from '../../fixtures/certificates.js';
import { dpopHolder, type DpopHolder } from '../support/dpop-holder.js';

let idp: JwksServer;
let pki: TestPki;
let holder: DpopHolder;
const agents: Agent[] = [];
const servers: Array<http.Server> = [];

beforeAll(async () => {
  idp = await startJwksServer();
  pki = makeTestPki();
  holder = await dpopHolder();
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await idp.close();
});

/** A client that presents `cert` (or none) and trusts the test CA. */
function agent(cert?: TestCertificate): Agent {
  const a = new Agent({ connect: { ca: pki.ca, ...(cert ? { cert: cert.cert, key: cert.key } : {}) } });
  agents.push(a);
  return a;
}

async function start(server: http.Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const scheme = server instanceof https.Server ? 'https' : 'http';
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

type Extra = Partial<GuardCommonOptions>;

/** An Express API: over https asking for client certificates, or over http (behind a "proxy"). */
async function api(extra: Extra = {}, tls = true): Promise<{ url: string; auth: RequireAuthHandler }> {
  const auth = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, ...extra });
  const app = express();
  app.get('/orders', auth, (req, res) =>
    res.json({ mtls: req.auth!.mtls ?? null, dpop: req.auth!.dpop ?? null, resumed: (req.socket as Partial<TLSSocket>).isSessionReused?.() ?? null }),
  );
  app.use(oauthErrorHandler());
  // rejectUnauthorized: false — the handshake proves possession of the key; whether a CA vouches for
  // the certificate is the IdP's business at issuance (and self-signed certificates are allowed).
  const server = tls
    ? https.createServer({ key: pki.server.key, cert: pki.server.cert, ca: pki.ca, requestCert: true, rejectUnauthorized: false }, app)
    : http.createServer({ maxHeaderSize: 256 * 1024 }, app);
  return { url: await start(server), auth };
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  challenge: string | undefined;
}

async function get(url: string, token: string, o: { via?: Agent; headers?: Record<string, string>; scheme?: string; reset?: boolean } = {}): Promise<Answer> {
  const res = await undiciRequest(url, {
    dispatcher: o.via ?? agent(),
    reset: o.reset ?? false,
    headers: { authorization: `${o.scheme ?? 'Bearer'} ${token}`, ...o.headers },
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: JSON.parse(text) as Record<string, unknown>, challenge: res.headers['www-authenticate'] as string | undefined };
}

const boundTo = (c: TestCertificate, extra: Record<string, unknown> = {}) => idp.sign({ cnf: { 'x5t#S256': c.x5tS256, ...extra } });

describe('the certificate of the TLS connection', () => {
  let url: string;
  let a: Agent;
  let b: Agent;
  beforeAll(async () => {
    ({ url } = await api());
    a = agent(pki.clientA);
    b = agent(pki.clientB);
  });

  test('a bound token with its certificate is accepted; req.auth.mtls names the thumbprint', async () => {
    const res = await get(`${url}/orders`, await boundTo(pki.clientA), { via: a });
    expect(res).toMatchObject({ status: 200, body: { mtls: { x5tS256: pki.clientA.x5tS256 }, dpop: null } });
  });

  test('with another certificate: 401 invalid_token', async () => {
    const res = await get(`${url}/orders`, await boundTo(pki.clientA), { via: b });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'The token is bound to another client certificate' });
    expect(res.challenge).toMatch(/^Bearer realm="api", error="invalid_token"/);
  });

  test('with no certificate: 401 invalid_token', async () => {
    const res = await get(`${url}/orders`, await boundTo(pki.clientA));
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('The token is bound to a client certificate and the request presented none');
  });

  test('a resumed TLS session still carries the certificate (Node keeps it in the session)', async () => {
    const token = await boundTo(pki.clientA);
    const resumer = agent(pki.clientA);
    // reset: a new connection per request, which undici resumes from its TLS session cache.
    await get(`${url}/orders`, token, { via: resumer, reset: true });
    const again = await get(`${url}/orders`, token, { via: resumer, reset: true });
    expect(again).toMatchObject({ status: 200, body: { resumed: true, mtls: { x5tS256: pki.clientA.x5tS256 } } });
  });

  test('a self-signed certificate binds as well as a CA-issued one', async () => {
    const res = await get(`${url}/orders`, await boundTo(pki.selfSigned), { via: agent(pki.selfSigned) });
    expect(res).toMatchObject({ status: 200, body: { mtls: { x5tS256: pki.selfSigned.x5tS256 } } });
  });

  test('an unbound token passes with or without a certificate, and req.auth.mtls stays unset', async () => {
    const token = await idp.sign();
    expect(await get(`${url}/orders`, token, { via: a })).toMatchObject({ status: 200, body: { mtls: null } });
    expect(await get(`${url}/orders`, token)).toMatchObject({ status: 200, body: { mtls: null } });
  });

  test('a cnf x5t#S256 that is not a string is refused, not skipped', async () => {
    const res = await get(`${url}/orders`, await idp.sign({ cnf: { 'x5t#S256': 42 } }), { via: a });
    expect(res.status).toBe(401);
  });

  test('a header naming a certificate is ignored when none is configured (a forged header from an untrusted hop)', async () => {
    const token = await boundTo(pki.clientA);
    // Client B sends client A's certificate in every header a proxy might use.
    const forged = { 'client-cert': rfc9440(pki.clientA), 'x-ssl-client-cert': escapedPem(pki.clientA), 'x-forwarded-client-cert': escapedPem(pki.clientA) };
    expect((await get(`${url}/orders`, token, { via: b, headers: forged })).status).toBe(401);
    expect((await get(`${url}/orders`, token, { headers: forged })).status).toBe(401);
  });
});

describe('the verified-token cache does not skip the certificate check', () => {
  test('a cache hit with the wrong certificate (or none) is refused', async () => {
    const { url, auth } = await api();
    const a = agent(pki.clientA);
    const token = await boundTo(pki.clientA);
    // Verified twice, then admitted to the cache: the third request is a hit.
    for (let i = 0; i < 3; i++) expect((await get(`${url}/orders`, token, { via: a })).status).toBe(200);
    const hits = auth.cacheStats.hits;
    expect(hits).toBeGreaterThan(0);
    expect((await get(`${url}/orders`, token, { via: agent(pki.clientB) })).status).toBe(401);
    expect((await get(`${url}/orders`, token)).status).toBe(401);
    // Both refusals were answered from the cache: no new signature verification.
    expect(auth.cacheStats.hits).toBe(hits + 2);
    expect((await get(`${url}/orders`, token, { via: a })).status).toBe(200);
  });
});

describe('modes', () => {
  test("'required' refuses unbound tokens and still checks bound ones", async () => {
    const { url } = await api({ mtls: { mode: 'required' } });
    const a = agent(pki.clientA);
    const unbound = await get(`${url}/orders`, await idp.sign(), { via: a });
    expect(unbound.status).toBe(401);
    expect(unbound.body.error_description).toMatch(/only certificate-bound tokens/);
    expect((await get(`${url}/orders`, await boundTo(pki.clientA), { via: a })).status).toBe(200);
    expect((await get(`${url}/orders`, await boundTo(pki.clientA), { via: agent(pki.clientB) })).status).toBe(401);
  });

  test("'disabled' refuses bound tokens even with the right certificate (fails closed) and passes unbound ones", async () => {
    const { url } = await api({ mtls: { mode: 'disabled' } });
    const a = agent(pki.clientA);
    const bound = await get(`${url}/orders`, await boundTo(pki.clientA), { via: a });
    expect(bound.status).toBe(401);
    expect(bound.body.error_description).toMatch(/which this API does not check/);
    expect((await get(`${url}/orders`, await idp.sign(), { via: a })).status).toBe(200);
  });

  test('verify() outside a request: a certificate-bound token needs { clientCertificate }, the connection\'s DER certificate', async () => {
    const auth = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false });
    const token = await boundTo(pki.clientA);
    await expect(auth.verify(token)).rejects.toMatchObject({ code: 'invalid_token', status: 401 });
    await expect(auth.verify(token, { clientCertificate: pki.clientB.der })).rejects.toMatchObject({ code: 'invalid_token', message: 'The token is bound to another client certificate' });
    await expect(auth.verify(token, { clientCertificate: 'not bytes' as never })).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(auth.verify(token, { clientCertificate: pki.clientA.der })).resolves.toMatchObject({ issuer: idp.issuer });
    await expect(auth.verify(await idp.sign())).resolves.toMatchObject({ issuer: idp.issuer });
    // Under 'required' an unbound token is refused here too; 'disabled' refuses the bound one even with its certificate.
    const strict = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, mtls: { mode: 'required' } });
    await expect(strict.verify(await idp.sign(), { clientCertificate: pki.clientA.der })).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(strict.verify(token, { clientCertificate: pki.clientA.der })).resolves.toMatchObject({ issuer: idp.issuer });
    const off = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, mtls: { mode: 'disabled' } });
    await expect(off.verify(token, { clientCertificate: pki.clientA.der })).rejects.toMatchObject({ code: 'invalid_token' });
  });

  test('a bound token on a connection without TLS and no certificateHeader: refused, and one line tells the operator why', async () => {
    const lines: string[] = [];
    const logger = { warn: (l: string) => lines.push(l), error: (l: string) => lines.push(l) };
    const { url } = await api({ logger }, false);
    expect((await get(`${url}/orders`, await boundTo(pki.clientA))).status).toBe(401);
    expect(lines).toEqual([expect.stringMatching(/certificate-bound token \(RFC 8705\) arrived where no TLS client certificate can be read .*set mtls.certificateHeader/)]);
  });
});

test('a WebSocket-style upgrade: verify() with the certificate of the upgrading connection', async () => {
  const auth = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false });
  const server = https.createServer({ key: pki.server.key, cert: pki.server.cert, requestCert: true, rejectUnauthorized: false });
  server.on('upgrade', (req: http.IncomingMessage, socket: TLSSocket) => {
    const token = String(req.headers['sec-websocket-protocol'] ?? '');
    auth.verify(token, { clientCertificate: socket.getPeerCertificate().raw }).then(
      () => socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'),
      () => socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'),
    );
  });
  const url = await start(server);
  const token = await boundTo(pki.clientA);
  // undici's upgrade() resolves on 101 and rejects on anything else.
  const upgraded = (cert: TestCertificate) =>
    undiciUpgrade(url, { dispatcher: agent(cert), protocol: 'websocket', headers: { 'sec-websocket-protocol': token } }).then(
      ({ socket }) => {
        socket.destroy();
        return true;
      },
      () => false,
    );
  expect(await upgraded(pki.clientA)).toBe(true);
  expect(await upgraded(pki.clientB)).toBe(false);
});

describe('behind a TLS-terminating proxy: the trusted header', () => {
  test('RFC 9440 Client-Cert: accepted with the bound certificate, refused with another or none', async () => {
    const { url } = await api({ mtls: { certificateHeader: { name: 'Client-Cert', format: 'rfc9440' } } }, false);
    const token = await boundTo(pki.clientA);
    expect(await get(`${url}/orders`, token, { headers: { 'client-cert': rfc9440(pki.clientA) } })).toMatchObject({
      status: 200,
      body: { mtls: { x5tS256: pki.clientA.x5tS256 } },
    });
    expect((await get(`${url}/orders`, token, { headers: { 'client-cert': rfc9440(pki.clientB) } })).status).toBe(401);
    expect((await get(`${url}/orders`, token)).status).toBe(401);
  });

  test("nginx's $ssl_client_escaped_cert (URL-encoded PEM)", async () => {
    const { url } = await api({ mtls: { certificateHeader: { name: 'x-ssl-client-cert', format: 'pem-urlencoded' } } }, false);
    const token = await boundTo(pki.clientA);
    expect((await get(`${url}/orders`, token, { headers: { 'x-ssl-client-cert': escapedPem(pki.clientA) } })).status).toBe(200);
    expect((await get(`${url}/orders`, token, { headers: { 'x-ssl-client-cert': escapedPem(pki.clientB) } })).status).toBe(401);
  });

  test('with a header configured, the connection certificate is not used (behind a proxy it is the proxy\'s)', async () => {
    const { url } = await api({ mtls: { certificateHeader: { name: 'client-cert', format: 'rfc9440' } } });
    const token = await boundTo(pki.clientA);
    expect((await get(`${url}/orders`, token, { via: agent(pki.clientA) })).status).toBe(401);
    expect((await get(`${url}/orders`, token, { via: agent(pki.clientB), headers: { 'client-cert': rfc9440(pki.clientA) } })).status).toBe(200);
  });

  test('garbage, duplicated or huge headers: 400 invalid_request, never a 500', async () => {
    const { url } = await api({ mtls: { certificateHeader: { name: 'client-cert', format: 'rfc9440' } } }, false);
    const token = await boundTo(pki.clientA);
    const good = rfc9440(pki.clientA);
    const cases = [
      'garbage',
      ':not base64!:',
      good.slice(1), // no opening colon
      `${good};a=1`, // parameters
      `${good}, ${good}`, // two headers joined
      `:${Buffer.from('not a certificate at all').toString('base64')}:`,
      `:${Buffer.concat([pki.clientA.der, Buffer.from([0])]).toString('base64')}:`, // trailing byte
      `:${'A'.repeat(200_000)}:`,
    ];
    for (const value of cases) {
      const res = await get(`${url}/orders`, token, { headers: { 'client-cert': value } });
      expect([value.slice(0, 40), res.status, res.body.error]).toEqual([value.slice(0, 40), 400, 'invalid_request']);
      expect(res.challenge).toMatch(/^Bearer realm="api", error="invalid_request"/);
    }
    // An unbound token never reads the header, so it does not care.
    expect((await get(`${url}/orders`, await idp.sign(), { headers: { 'client-cert': 'garbage' } })).status).toBe(200);
  });
});

describe('DPoP and mTLS together', () => {
  const proof = (token: string, htu: string) =>
    new SignJWT({ htm: 'GET', htu, ath: createHash('sha256').update(token).digest('base64url'), jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk })
      .setIssuedAt()
      .sign(holder.privateKey);

  test('a token bound to both needs both the proof and the certificate', async () => {
    const { url } = await api();
    const token = await boundTo(pki.clientA, { jkt: holder.jkt });
    const ok = await get(`${url}/orders`, token, { via: agent(pki.clientA), scheme: 'DPoP', headers: { dpop: await proof(token, `${url}/orders`) } });
    expect(ok).toMatchObject({ status: 200, body: { mtls: { x5tS256: pki.clientA.x5tS256 }, dpop: { jkt: holder.jkt } } });
    const noCert = await get(`${url}/orders`, token, { scheme: 'DPoP', headers: { dpop: await proof(token, `${url}/orders`) } });
    expect(noCert.status).toBe(401);
    expect(noCert.challenge).toMatch(/^DPoP .*error="invalid_token"/);
    // With the certificate but as Bearer: the DPoP binding still refuses it.
    expect((await get(`${url}/orders`, token, { via: agent(pki.clientA) })).status).toBe(401);
  });
});

describe('nodeAuth over https', () => {
  test('reads the connection certificate like requireAuth', async () => {
    const auth = nodeAuth(createGuard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false }));
    const server = https.createServer({ key: pki.server.key, cert: pki.server.cert, requestCert: true, rejectUnauthorized: false }, async (req, res) => {
      const user = await auth(req, res);
      if (user) res.end(JSON.stringify({ mtls: user.mtls }));
    });
    const url = await start(server);
    const token = await boundTo(pki.clientA);
    expect(await get(url, token, { via: agent(pki.clientA) })).toMatchObject({ status: 200, body: { mtls: { x5tS256: pki.clientA.x5tS256 } } });
    expect((await get(url, token, { via: agent(pki.clientB) })).status).toBe(401);
  });
});

describe('options', () => {
  const base = () => ({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false as const });
  test.each([
    [{ mode: 'sometimes' }, /mtls.mode must be/],
    ['on', /mtls must be an object/],
    [{ certificateHeader: 'client-cert' }, /certificateHeader must be \{ name, format/],
    [{ certificateHeader: { name: 'bad name', format: 'rfc9440' } }, /must be a header name/],
    [{ certificateHeader: { name: 'authorization', format: 'rfc9440' } }, /a header with a meaning of its own/],
    [{ certificateHeader: { name: 'client-cert', format: 'der' } }, /format must be 'rfc9440'/],
    [{ mode: 'disabled', certificateHeader: { name: 'client-cert', format: 'rfc9440' } }, /never read with mode 'disabled'/],
  ])('%j → ConfigError config_mtls', (mtls, message) => {
    let thrown: unknown;
    try {
      requireAuth({ ...base(), mtls: mtls as never });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(thrown).toMatchObject({ code: 'config_mtls', message });
    expect((thrown as ConfigError).docs).toBe('express-oauth-kit/docs/mtls.md#options');
  });

  test('a misspelt key is refused with a suggestion', () => {
    expect(() => requireAuth({ ...base(), mtls: { header: { name: 'client-cert', format: 'rfc9440' } } as never })).toThrow(/did you mean mtls.certificateHeader/);
  });
});

describe('certificateFromHeader (the parser alone)', () => {
  test('both formats read the same DER', () => {
    expect(certificateFromHeader(rfc9440(pki.clientA), 'rfc9440')).toEqual(pki.clientA.der);
    expect(certificateFromHeader(` ${rfc9440(pki.clientA)} `, 'rfc9440')).toEqual(pki.clientA.der);
    expect(certificateFromHeader(escapedPem(pki.clientA), 'pem-urlencoded')).toEqual(pki.clientA.der);
    // Form encoders (Go's url.QueryEscape) write the markers' spaces as '+'.
    const plusSpaces = escapedPem(pki.clientA).replace(/%20/g, '+');
    expect(certificateFromHeader(plusSpaces, 'pem-urlencoded')).toEqual(pki.clientA.der);
  });

  test('absent or empty is "no certificate"; anything unreadable is null', () => {
    expect(certificateFromHeader(undefined, 'rfc9440')).toBeUndefined();
    expect(certificateFromHeader('', 'rfc9440')).toBeUndefined();
    for (const bad of ['%E0%A4%A', escapedPem(pki.clientA) + escapedPem(pki.clientB), encodeURIComponent(pki.clientA.key), rfc9440(pki.clientA)]) {
      expect(certificateFromHeader(bad, 'pem-urlencoded')).toBeNull();
    }
    expect(certificateFromHeader([rfc9440(pki.clientA), rfc9440(pki.clientA)], 'rfc9440')).toBeNull();
    expect(certificateFromHeader(escapedPem(pki.clientA), 'rfc9440')).toBeNull();
  });
});
