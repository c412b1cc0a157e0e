/**
 * The client side of RFC 8705 against a local https token endpoint that records what it was sent:
 * the certificate in the handshake, client_id and no secret in the body, and the IdP client's
 * policies (no redirects, size cap, timeout) unchanged on the certificate's connection. Then the
 * start-up checks of the tls options.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createM2MClient, tokenProxy } from '../../lib/index.js';
import { loadUndici } from '../../lib/idp/tls.js';
import { OptionChecker } from '../../lib/options/validate.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { makeTestPki, type TestCertificate, type TestPki } from '../../fixtures/certificates.js';

interface Seen {
  x5tS256: string | undefined;
  path: string;
  body: URLSearchParams;
  authorization: string | undefined;
}

let pki: TestPki;
let url: string;
let server: https.Server;
const seen: Seen[] = [];
let answer: (req: IncomingMessage, res: ServerResponse) => void;

beforeAll(async () => {
  pki = makeTestPki();
  server = https.createServer({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString()));
    req.on('end', () => {
      const raw = (req.socket as TLSSocket).getPeerCertificate().raw;
      seen.push({ x5tS256: raw ? createHash('sha256').update(raw).digest('base64url') : undefined, path: req.url!, body: new URLSearchParams(text), authorization: req.headers.authorization });
      answer(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  seen.length = 0;
  answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'at-1', token_type: 'Bearer', expires_in: 300 }));
});

const require = createRequire(import.meta.url);
const tls = (c: TestCertificate) => ({ cert: c.cert, key: c.key, ca: pki.ca });
const base = () => ({ tokenEndpoint: `${url}/token`, clientId: 'svc', logger: false as const, retry: false as const });

test('tls_client_auth: the certificate in the handshake, client_id in the body, no secret anywhere', async () => {
  const m2m = createM2MClient({ ...base(), clientAuth: 'tls_client_auth', tls: tls(pki.clientA) });
  await expect(m2m.getToken()).resolves.toMatchObject({ accessToken: 'at-1' });
  expect(seen).toHaveLength(1);
  expect(seen[0]!.x5tS256).toBe(pki.clientA.x5tS256);
  expect(seen[0]!.body.get('client_id')).toBe('svc');
  expect(seen[0]!.body.get('grant_type')).toBe('client_credentials');
  expect(seen[0]!.body.has('client_secret')).toBe(false);
  expect(seen[0]!.body.has('client_assertion')).toBe(false);
  expect(seen[0]!.authorization).toBeUndefined();
});

test('only tls given: clientAuth defaults to tls_client_auth', async () => {
  await createM2MClient({ ...base(), tls: tls(pki.selfSigned) }).getToken();
  expect(seen[0]).toMatchObject({ x5tS256: pki.selfSigned.x5tS256, authorization: undefined });
});

test('a secret for authentication with tls for binding: Basic credentials and the certificate', async () => {
  await createM2MClient({ ...base(), clientSecret: 'svc-secret-value', tls: tls(pki.clientB) }).getToken();
  expect(seen[0]!.x5tS256).toBe(pki.clientB.x5tS256);
  expect(seen[0]!.authorization).toMatch(/^Basic /);
});

test('the IdP policies hold on the certificate connection: no redirects, size cap', async () => {
  answer = (_req, res) => res.writeHead(302, { location: 'https://elsewhere.example/token' }).end();
  await expect(createM2MClient({ ...base(), tls: tls(pki.clientA) }).getToken()).rejects.toMatchObject({ code: 'idp_bad_response' });
  expect(seen).toHaveLength(1); // not followed
  answer = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'x'.repeat(5000), token_type: 'Bearer' }));
  await expect(createM2MClient({ ...base(), tls: tls(pki.clientA), maxResponseBytes: 1024 }).getToken()).rejects.toMatchObject({ code: 'idp_bad_response', message: expect.stringMatching(/larger than 1024 bytes/) });
});

test('the IdP timeout holds on the certificate connection', async () => {
  answer = () => undefined; // never answers
  await expect(createM2MClient({ ...base(), tls: tls(pki.clientA), timeoutMs: 2000 }).getToken()).rejects.toMatchObject({ code: 'idp_timeout' });
});

test('discovery: with tls the mtls_endpoint_aliases token endpoint is used; without, the plain one', async () => {
  clearDiscoveryCache();
  answer = (req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: url, token_endpoint: `${url}/plain-token`, mtls_endpoint_aliases: { token_endpoint: `${url}/mtls-token` } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'at-2', token_type: 'Bearer', expires_in: 300 }));
  };
  const options = { issuer: url, clientId: 'svc', logger: false as const, tls: { ...tls(pki.clientA) } };
  await createM2MClient(options).getToken();
  expect(seen.map((s) => s.path)).toEqual(['/.well-known/openid-configuration', '/mtls-token']);
  // Over the certificate's connection (tls.ca is what trusts this IdP), discovery included.
  expect(seen.map((s) => s.x5tS256)).toEqual([pki.clientA.x5tS256, pki.clientA.x5tS256]);
  seen.length = 0;
  // Without tls (a fetch that only trusts the CA): the plain token endpoint.
  const { Agent } = require('undici') as typeof import('undici');
  const caOnly = new Agent({ connect: { ca: pki.ca } });
  try {
    await createM2MClient({ issuer: url, clientId: 'svc', clientSecret: 'svc-secret-value', logger: false, fetch: (u, init) => fetch(u, { ...init, dispatcher: caOnly } as RequestInit) }).getToken();
  } finally {
    await caOnly.close();
  }
  expect(seen.map((s) => s.path)).toEqual(['/.well-known/openid-configuration', '/plain-token']);
});

test('a custom fetch receives the certificate\'s dispatcher in init, with the signal, and the policies still apply', async () => {
  const seenInit: Array<RequestInit & { dispatcher?: unknown }> = [];
  const m2m = createM2MClient({
    ...base(),
    tls: tls(pki.clientA),
    fetch: (u, init) => {
      seenInit.push(init);
      return fetch(u, init);
    },
  });
  await m2m.getToken();
  expect(seenInit).toHaveLength(1);
  expect(seenInit[0]!.dispatcher).toBeDefined();
  expect(seenInit[0]!.signal).toBeInstanceOf(AbortSignal);
  expect(seenInit[0]!.redirect).toBe('manual');
  expect(seen[0]!.x5tS256).toBe(pki.clientA.x5tS256);
});

describe('start-up checks', () => {
  const fails = (options: object, code: string, message: RegExp) => {
    let thrown: unknown;
    try {
      createM2MClient({ ...base(), ...options } as never);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(thrown).toMatchObject({ code, message: expect.stringMatching(message) });
    // Never the key in a message.
    expect((thrown as Error).message).not.toContain('PRIVATE KEY');
  };

  test('tls_client_auth without tls', () => fails({ clientAuth: 'tls_client_auth' }, 'config_mtls', /give tls: \{ cert, key \}/));
  test('a secret with tls_client_auth', () => fails({ clientAuth: 'self_signed_tls_client_auth', clientSecret: 's3cret-value', tls: tls(pki.clientA) }, 'config_client', /clientSecret is not used/));
  test('tls without a key', () => fails({ tls: { cert: pki.clientA.cert } }, 'config_mtls', /tls.cert and tls.key are required/));
  test('a key that is not the certificate\'s', () => fails({ tls: { cert: pki.clientA.cert, key: pki.clientB.key } }, 'config_mtls', /Node cannot use this certificate and key/));
  test('an unknown tls key', () => fails({ tls: { ...tls(pki.clientA), pfx: 'x' } }, 'config_options', /did you mean tls.cert/));
  test('an unknown clientAuth names the new methods', () => fails({ clientAuth: 'mtls', tls: tls(pki.clientA) }, 'config_client', /'tls_client_auth' or 'self_signed_tls_client_auth'/));
  test('the proxies take the same options', () => {
    expect(() => tokenProxy({ tokenEndpoint: `${url}/token`, clientId: 'spa', clientAuth: 'tls_client_auth' })).toThrow(/give tls/);
    expect(() => tokenProxy({ tokenEndpoint: `${url}/token`, clientId: 'spa', clientAuth: 'tls_client_auth', tls: tls(pki.clientA) })).not.toThrow();
  });

  test('undici missing: a ConfigError that says how to install it', () => {
    const elsewhere = createRequire(join(tmpdir(), 'no-node-modules-here', 'x.js'));
    const check = new OptionChecker('createM2MClient()', 'm2m.md#options');
    expect(() => loadUndici(check, elsewhere)).toThrow(ConfigError);
    expect(() => loadUndici(check, elsewhere)).toThrow(/npm install undici/);
    expect(typeof loadUndici(check, require).Agent).toBe('function');
  });
});
