/**
 * createM2MClient({ dpop }) edges on real servers: what the token request's proof holds, the
 * IdP's use_dpop_nonce (retried once, never looped), a Bearer answer to a DPoP request (refused),
 * a resource server that requires nonces (requireAuth with dpop.nonce), and start-up errors for
 * bad keys that never echo key material.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import express from 'express';
import { EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import { ConfigError, createM2MClient, IdpBadResponseError, IdpError, oauthErrorHandler, requireAuth } from '../../lib/index.js';
import { jwkThumbprint } from '../../lib/m2m/dpop/key.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { listen, startScriptedIdp, type Listening, type ScriptedIdp } from '../support/m2m.js';
import { createServer } from 'node:http';

const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jkt = jwkThumbprint(key.publicKey.export({ format: 'jwk' }) as Record<string, string>);
const privateD = (key.privateKey.export({ format: 'jwk' }) as JWK).d!;

let jwks: JwksServer;
let idp: ScriptedIdp;
beforeAll(async () => {
  jwks = await startJwksServer();
  idp = await startScriptedIdp();
});
afterAll(async () => {
  await idp.close();
  await jwks.close();
});
beforeEach(() => {
  idp.requests.length = 0;
});

const boundAnswer = () => ({ body: () => ({ access_token: `bound-${Math.random().toString(36).slice(2)}`, token_type: 'DPoP', expires_in: 300 }) });
const client = (extra: Record<string, unknown> = {}) =>
  createM2MClient({ tokenEndpoint: idp.tokenEndpoint, clientId: 'svc', clientSecret: 'svc-secret-value', dpop: { privateKey: key.privateKey }, retry: false, idpBackoffMs: 0, logger: false, ...extra });

describe('the token request', () => {
  test('carries one proof: dpop+jwt, public jwk of the client key, htm POST, htu the token endpoint, jti, iat, no ath', async () => {
    idp.answers = [boundAnswer()];
    const t = await client().getToken();
    expect(t.tokenType).toBe('DPoP');
    expect(idp.requests).toHaveLength(1);
    const proof = idp.requests[0]!.headers.dpop as string;
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    expect(protectedHeader.jwk).toEqual(key.publicKey.export({ format: 'jwk' }));
    expect(payload).toEqual({ htm: 'POST', htu: idp.tokenEndpoint, jti: expect.any(String), iat: expect.any(Number) });
    expect(Math.abs(payload.iat! - Date.now() / 1000)).toBeLessThan(5);
    // Client authentication is unchanged.
    expect(idp.requests[0]!.headers.authorization).toMatch(/^Basic /);
  });

  test('use_dpop_nonce with a DPoP-Nonce: sent once more with the nonce, and the nonce is kept for the next request', async () => {
    idp.answers = [{ status: 400, body: { error: 'use_dpop_nonce' }, headers: { 'DPoP-Nonce': 'n-1' } }, boundAnswer()];
    const m2m = client();
    await m2m.getToken();
    expect(idp.requests).toHaveLength(2);
    const nonces = await Promise.all(idp.requests.map(async (r) => (await jwtVerify(r.headers.dpop as string, EmbeddedJWK)).payload.nonce));
    expect(nonces).toEqual([undefined, 'n-1']);
    await m2m.getToken({ forceRefresh: true });
    expect((await jwtVerify(idp.requests[2]!.headers.dpop as string, EmbeddedJWK)).payload.nonce).toBe('n-1');
  });

  test('an IdP that keeps asking for a nonce gets two requests, not a loop, and the caller an IdpError use_dpop_nonce', async () => {
    idp.answers = [{ status: 400, body: { error: 'use_dpop_nonce' }, headers: { 'DPoP-Nonce': 'always-new' } }];
    const err = (await client({ retry: { attempts: 3, baseDelayMs: 1 } }).getToken().catch((e: unknown) => e)) as IdpError;
    expect(err).toBeInstanceOf(IdpError);
    expect(err.idpError).toBe('use_dpop_nonce');
    expect(idp.requests).toHaveLength(2);
  });

  test('use_dpop_nonce without a nonce header is not retried', async () => {
    idp.answers = [{ status: 400, body: { error: 'use_dpop_nonce' } }];
    await expect(client().getToken()).rejects.toMatchObject({ idpError: 'use_dpop_nonce' });
    expect(idp.requests).toHaveLength(1);
  });

  test('a Bearer token in answer to a DPoP request is refused (the binding would be silently lost), without retries', async () => {
    idp.answers = [{ body: { access_token: 'plain', token_type: 'Bearer', expires_in: 300 } }];
    const err = await client({ retry: { attempts: 3, baseDelayMs: 1 } }).getToken().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdpBadResponseError);
    expect((err as Error).message).toMatch(/token_type "Bearer".*DPoP-bound/);
    expect(idp.requests).toHaveLength(1);
  });

  test('invalid_client: one request, and neither the proof nor the key appears in the error', async () => {
    idp.answers = [{ status: 401, body: { error: 'invalid_client', error_description: 'bad credentials' } }];
    const events: unknown[] = [];
    const err = (await client({ retry: { attempts: 3, baseDelayMs: 1 }, onError: (e: Error, ev: unknown) => events.push([e.message, ev]) })
      .getToken()
      .catch((e: unknown) => e)) as IdpError;
    expect(err.idpError).toBe('invalid_client');
    expect(idp.requests).toHaveLength(1);
    const proof = idp.requests[0]!.headers.dpop as string;
    const text = `${err.message} ${err.stack} ${JSON.stringify(err)} ${JSON.stringify(events)}`;
    expect(text).not.toContain(proof.split('.')[2]!);
    expect(text).not.toContain(privateD);
    expect(text).not.toContain('svc-secret-value');
  });
});

describe('a resource server that requires DPoP nonces (requireAuth with dpop.nonce)', () => {
  let api: Listening;
  const hits: { status: number; nonce: boolean; body: string }[] = [];
  beforeAll(async () => {
    const app = express();
    app.use(express.text({ type: '*/*' }));
    app.use((req, res, next) => {
      const proof = req.headers.dpop as string | undefined;
      const nonce = proof ? 'nonce' in JSON.parse(Buffer.from(proof.split('.')[1]!, 'base64url').toString()) : false;
      res.on('finish', () => hits.push({ status: res.statusCode, nonce, body: typeof req.body === 'string' ? req.body : '' }));
      next();
    });
    const guard = requireAuth({ issuer: jwks.issuer, audience: jwks.audience, jwksUri: jwks.jwksUri, logger: false, dpop: { mode: 'required', nonce: { secret: randomBytes(32) } } });
    app.all('/orders', guard, (req, res) => res.json({ jkt: req.auth!.dpop!.jkt }));
    app.use(oauthErrorHandler());
    api = await listen(createServer(app));
  });
  afterAll(() => api.close());
  beforeEach(() => {
    hits.length = 0;
  });

  test('401 use_dpop_nonce is retried once with the nonce; later requests carry it from the start', async () => {
    const token = await jwks.sign({ cnf: { jkt } });
    idp.answers = [{ body: { access_token: token, token_type: 'DPoP', expires_in: 300 } }];
    const m2m = client();
    const res = await m2m.fetch(`${api.url}/orders`, { method: 'POST', body: 'payload-1' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ jkt });
    expect(hits).toEqual([
      { status: 401, nonce: false, body: 'payload-1' },
      { status: 200, nonce: true, body: 'payload-1' },
    ]);
    hits.length = 0;
    expect((await m2m.fetch(`${api.url}/orders`)).status).toBe(200);
    expect(hits).toEqual([{ status: 200, nonce: true, body: '' }]);
    expect(idp.requests).toHaveLength(1); // a nonce challenge is not a reason for a new token
  });

  test('a stream body is not sent twice: the use_dpop_nonce answer goes to the caller', async () => {
    idp.answers = [{ body: { access_token: await jwks.sign({ cnf: { jkt } }), token_type: 'DPoP', expires_in: 300 } }];
    const res = await client().fetch(`${api.url}/orders`, { method: 'POST', body: Readable.toWeb(Readable.from(['streamed'])) as ReadableStream, duplex: 'half' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^DPoP .*error="use_dpop_nonce"/);
    expect(res.headers.get('dpop-nonce')).toBeTruthy();
    expect(hits).toHaveLength(1);
  });
});

describe('start-up errors', () => {
  test.each([
    ['an unknown alg', { alg: 'HS256' }],
    ['an unknown member', { privateKey: key.privateKey, kid: 'x' }],
    ['a public key', { privateKey: key.publicKey }],
    ['a key that does not fit the alg', { privateKey: key.privateKey, alg: 'RS256' }],
    ['a public JWK', { privateKey: key.publicKey.export({ format: 'jwk' }) }],
    ['a broken private JWK', { privateKey: { ...(key.privateKey.export({ format: 'jwk' }) as object), x: 'AAAA' } }],
    ['a short RSA key', { privateKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey, alg: 'PS256' }],
    ['a string', 'yes'],
  ])('%s → ConfigError config_keys, without key material in the message', (_name, dpop) => {
    let err: unknown;
    try {
      createM2MClient({ tokenEndpoint: 'http://127.0.0.1:1/token', clientId: 'svc', clientSecret: 'svc-secret-value', dpop: dpop as never });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('config_keys');
    expect((err as ConfigError).docs).toBe('express-oauth-kit/docs/dpop.md#m2m-client');
    expect((err as Error).message).not.toContain(privateD);
  });
});
