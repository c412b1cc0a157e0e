/**
 * private_key_jwt (RFC 7523 §2.2, OIDC Core §9) against node oidc-provider, which checks the
 * assertion's signature, iss/sub, aud, exp and jti replay: the M2M client (both aud forms, three key
 * types and input forms), the shared store (only holders of the key read its tokens), the token and
 * revocation proxies, a wrong key (invalid_client, one request), and the assertion kept out of
 * errors, logs and hook events even when an IdP echoes it.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { jest } from '@jest/globals';
import express from 'express';
import { decodeJwt, decodeProtectedHeader, exportJWK, type JWK } from 'jose';
import request from 'supertest';
import { ConfigError, createM2MClient, MemoryTokenStore, revocationProxy, tokenProxy, type M2MClientOptions } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { getAuthorizationCode } from '../../fixtures/oidc-refresh.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';
import { startScriptedIdp, until } from '../support/m2m.js';
import { ServerPool } from '../../fixtures/listen.js';

const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa2 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const rsaPem = rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;

const publicJwk = async (k: KeyObject, kid: string): Promise<JWK> => ({ ...(await exportJWK(k)), kid, use: 'sig' });

let op: RunningOidcProvider;
const pool = new ServerPool();
/** What oidc-provider received, per successful or failed grant. */
const seen: { assertion?: string; assertionType?: string; query: string; clientId?: string; error?: string }[] = [];

beforeAll(async () => {
  jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  jest.spyOn(console, 'info').mockImplementation(() => undefined);
  clearDiscoveryCache();
  op = await startOidcProvider({
    accessTokenTtl: 120,
    clients: [
      {
        client_id: 'pkjwt-rsa',
        token_endpoint_auth_method: 'private_key_jwt',
        // Two registered keys: an instance holding either one authenticates (key rotation).
        jwks: { keys: [await publicJwk(rsa.publicKey, 'rsa-1'), await publicJwk(rsa2.publicKey, 'rsa-2')] as never },
        grant_types: ['client_credentials'],
      },
      { client_id: 'pkjwt-ec', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [await publicJwk(ec.publicKey, 'ec-1')] as never }, grant_types: ['client_credentials'] },
      { client_id: 'pkjwt-ed', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [await publicJwk(ed.publicKey, 'ed-1')] as never }, grant_types: ['client_credentials'] },
      {
        client_id: 'pkjwt-web',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [await publicJwk(rsa.publicKey, 'rsa-1')] as never },
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
      },
    ],
  });
  const record = (ctx: { oidc: { params?: Record<string, string>; client?: { clientId: string } }; querystring: string }, err?: { error?: string }) => {
    seen.push({
      assertion: ctx.oidc.params?.client_assertion,
      assertionType: ctx.oidc.params?.client_assertion_type,
      query: ctx.querystring,
      clientId: ctx.oidc.client?.clientId,
      error: err?.error,
    });
  };
  const on = op.provider.on.bind(op.provider) as (event: string, listener: (ctx: never, err?: never) => void) => void;
  on('grant.success', (ctx) => record(ctx));
  on('grant.error', (ctx, err) => record(ctx, err));
});
afterAll(async () => {
  await pool.closeAll();
  await op.close();
  jest.restoreAllMocks();
});

const base = (o: Partial<M2MClientOptions>): M2MClientOptions => ({ clientId: 'pkjwt-rsa', clientAuth: 'private_key_jwt', resource: op.resource, scope: 'api:read', retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 }, ...o }) as M2MClientOptions;

describe('M2M client', () => {
  test('aud = issuer identifier by default; iss = sub = client id, short exp, unique jti, form body only', async () => {
    seen.length = 0;
    const client = createM2MClient(base({ issuer: op.issuer, privateKey: rsaPem, kid: 'rsa-1' }));
    const t = await client.getToken();
    expect(decodeJwt(t.accessToken).client_id).toBe('pkjwt-rsa');
    await client.getToken({ forceRefresh: true });
    expect(seen).toHaveLength(2);
    const [a, b] = seen.map((s) => s.assertion!);
    for (const s of seen) {
      expect(s.assertionType).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      expect(s.query).toBe(''); // never in the URL
    }
    expect(decodeProtectedHeader(a!)).toEqual({ alg: 'RS256', kid: 'rsa-1' });
    const c = decodeJwt(a!);
    expect(c).toMatchObject({ iss: 'pkjwt-rsa', sub: 'pkjwt-rsa', aud: op.issuer });
    expect(c.exp! - c.iat!).toBeLessThanOrEqual(60);
    expect(c.exp! * 1000).toBeGreaterThan(Date.now());
    expect(decodeJwt(b!).jti).not.toBe(c.jti);
  });

  test.each([
    ['tokenEndpoint only (no issuer)', () => ({ tokenEndpoint: op.tokenEndpoint })],
    ['issuer with assertionAudience: token_endpoint (discovered)', () => ({ issuer: op.issuer, assertionAudience: 'token_endpoint' as const })],
  ])('aud = token endpoint URL: %s', async (_name, where) => {
    seen.length = 0;
    const client = createM2MClient(base({ ...where(), privateKey: rsaPem, kid: 'rsa-1' }));
    await client.getToken();
    expect(decodeJwt(seen[0]!.assertion!).aud).toBe(op.tokenEndpoint);
  });

  test.each([
    ['EC P-256 private JWK (kid and alg from the JWK)', 'pkjwt-ec', async () => ({ privateKey: { ...(await exportJWK(ec.privateKey)), kid: 'ec-1' } }), 'ES256', 'ec-1'],
    ['Ed25519 KeyObject', 'pkjwt-ed', async () => ({ privateKey: ed.privateKey, kid: 'ed-1' }), 'EdDSA', 'ed-1'],
    ['RSA WebCrypto CryptoKey with PS256', 'pkjwt-rsa', async () => ({
      privateKey: await crypto.subtle.importKey('pkcs8', rsa.privateKey.export({ format: 'der', type: 'pkcs8' }), { name: 'RSA-PSS', hash: 'SHA-256' }, true, ['sign']),
      alg: 'PS256' as const,
    }), 'PS256', undefined],
  ])('%s', async (_name, clientId, keyOptions, alg, kid) => {
    seen.length = 0;
    const client = createM2MClient(base({ issuer: op.issuer, clientId, ...(await keyOptions()) }));
    const t = await client.getToken();
    expect(decodeJwt(t.accessToken).client_id).toBe(clientId);
    expect(decodeProtectedHeader(seen[0]!.assertion!)).toEqual(kid === undefined ? { alg } : { alg, kid });
  });

  test('a wrong key: invalid_client, one request, the assertion nowhere in the error or hook events', async () => {
    seen.length = 0;
    const events: unknown[] = [];
    const wrong = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const client = createM2MClient(
      base({
        issuer: op.issuer,
        privateKey: wrong,
        kid: 'rsa-1',
        onError: (err, e) => events.push({ message: err.message, stack: err.stack, ...e }),
        onRetry: (e) => events.push(e),
      }),
    );
    const err = await client.getToken().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'idp_error', idpStatus: 401, idpError: 'invalid_client' });
    expect((err as Error).message).toMatch(/privateKey and kid with private_key_jwt/);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.error).toBe('invalid_client');
    const assertion = seen[0]!.assertion!;
    const signature = assertion.split('.')[2]!;
    const everything = JSON.stringify([err, (err as Error).message, (err as Error).stack, events, (err as { idpErrorDescription?: string }).idpErrorDescription]);
    expect(everything).not.toContain(signature);
    expect(events.length).toBeGreaterThan(0);
  });

  test('an IdP that echoes the request: the assertion is redacted from errors and hook events', async () => {
    const idp = await startScriptedIdp([{ status: 400, body: { error: 'invalid_request' } }]);
    try {
      // The echo needs the request, so answer after reading it: the scripted IdP answers in order,
      // the first request gets a generic answer, the second one echoes the first request's body.
      const events: string[] = [];
      const client = createM2MClient({
        tokenEndpoint: idp.tokenEndpoint,
        clientId: 'echo',
        privateKey: ec.privateKey,
        retry: false,
        idpBackoffMs: 0,
        onError: (err) => events.push(err.message),
      });
      await client.getToken().catch(() => undefined);
      const first = idp.requests[0]!.body.toString();
      const assertion = idp.requests[0]!.body.get('client_assertion')!;
      expect(decodeJwt(assertion).aud).toBe(idp.tokenEndpoint);
      idp.answers = [{ status: 400, body: { error: 'invalid_request', error_description: `bad request: ${first} / ${assertion}` } }];
      const err = (await client.getToken().catch((e: unknown) => e)) as Error & { idpErrorDescription?: string };
      expect(err.message).toContain('[redacted]');
      expect(JSON.stringify([err.message, err.idpErrorDescription, events])).not.toContain(assertion.split('.')[2]!);
    } finally {
      await idp.close();
    }
  });
});

describe('shared store', () => {
  test('tokens obtained with a key are readable only by instances holding that key', async () => {
    const written: string[] = [];
    const store = new (class extends MemoryTokenStore {
      override set(key: string, value: string, ttlMs: number): void {
        written.push(key, value);
        super.set(key, value, ttlMs);
      }
    })();
    const sources: string[] = [];
    const onTokenFetched = (e: { source: string }) => sources.push(e.source);
    const a = createM2MClient(base({ issuer: op.issuer, privateKey: rsaPem, kid: 'rsa-1', store, onTokenFetched }));
    const t = await a.getToken();
    await until(() => store.size === 1);
    // The same key in another form (JWK): the same sealing keys, so it reads the fleet's token.
    const b = createM2MClient(base({ issuer: op.issuer, privateKey: { ...(await exportJWK(rsa.privateKey)) }, kid: 'rsa-1', store, onTokenFetched }));
    expect((await b.getToken()).accessToken).toBe(t.accessToken);
    // Another key registered for the same client: a valid client, but it cannot open the entry.
    const c = createM2MClient(base({ issuer: op.issuer, privateKey: rsa2.privateKey, kid: 'rsa-2', store, onTokenFetched }));
    expect((await c.getToken()).accessToken).not.toBe(t.accessToken);
    expect(sources).toEqual(['idp', 'store', 'idp']);
    // Sealed: neither the token nor anything of the key is in what the store was given.
    await until(() => written.length === 4);
    const d = (await exportJWK(rsa.privateKey)).d!;
    expect(written.join('\n')).not.toContain(t.accessToken);
    expect(written.join('\n')).not.toContain(d.slice(0, 40));
    expect(written[0]).not.toBe(written[2]); // different keys, different store keys
  });
});

describe('token and revocation proxies', () => {
  test('authorization_code → refresh_token → revocation, the proxy authenticating with private_key_jwt', async () => {
    const options = { issuer: op.issuer, clientId: 'pkjwt-web', privateKey: rsaPem, kid: 'rsa-1', logger: false as const };
    const app = express();
    app.post('/auth/token', tokenProxy({ ...options, grants: ['authorization_code', 'refresh_token'] }));
    app.post('/auth/revoke', revocationProxy(options));
    const url = await pool.serve(app);
    const { code, codeVerifier } = await getAuthorizationCode(op, { clientId: 'pkjwt-web', redirectUri: REDIRECT_URI });
    seen.length = 0;
    const tokens = await request(url)
      .post('/auth/token')
      .type('form')
      .send({ grant_type: 'authorization_code', code, code_verifier: codeVerifier, redirect_uri: REDIRECT_URI, client_assertion: 'caller-sent' })
      .expect(200);
    expect(tokens.body.refresh_token).toEqual(expect.any(String));
    const refreshed = await request(url).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token }).expect(200);
    await request(url).post('/auth/revoke').type('form').send({ token: refreshed.body.refresh_token, token_type_hint: 'refresh_token' }).expect(200);
    expect(seen.map((s) => s.clientId)).toEqual(['pkjwt-web', 'pkjwt-web']);
    // The caller's client_assertion was dropped; ours was sent, with aud = issuer.
    for (const s of seen) expect(decodeJwt(s.assertion!)).toMatchObject({ iss: 'pkjwt-web', aud: op.issuer });
    // Revocation authenticated too (an unauthenticated one would not have revoked): the token is dead.
    const dead = await request(url).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token }).expect(400);
    expect(dead.body.error).toBe('invalid_grant');
  });

  test('a wrong key: 502 server_error for the caller, the operator log without the assertion', async () => {
    const logs: string[] = [];
    const wrong = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const app = express();
    app.post('/auth/token', tokenProxy({ issuer: op.issuer, clientId: 'pkjwt-web', privateKey: wrong, grants: ['refresh_token'], logger: { warn: (m) => logs.push(m), error: (m) => logs.push(m) } }));
    const url = await pool.serve(app);
    seen.length = 0;
    const res = await request(url).post('/auth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: 'x' }).expect(502);
    expect(res.body).toEqual({ error: 'server_error', error_description: 'The server could not authenticate to the identity provider' });
    expect(logs.join()).toMatch(/401 invalid_client/);
    expect(logs.join()).not.toContain(seen[0]!.assertion!.split('.')[2]!);
  });
});

describe('configuration', () => {
  // Loosely typed on purpose: these are the start-up checks JavaScript callers rely on (the types refuse some of them).
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['no privateKey', { clientAuth: 'private_key_jwt' }, /privateKey is required/],
    ['a public key', { privateKey: rsa.publicKey }, /public key/],
    ['a public JWK', { privateKey: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } as JWK }, /public JWK/],
    ['not a PEM', { privateKey: 'secret-looking-string' }, /must be a PEM private key/],
    ['an RSA key under 2048 bits', { privateKey: generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey }, /shorter than 2048/],
    ['alg that does not fit the key', { privateKey: ec.privateKey, alg: 'RS256' }, /does not fit/],
    ['HS256', { privateKey: rsaPem, alg: 'HS256' as never }, /alg must be one of/],
    ['clientSecret too', { privateKey: rsaPem, clientAuth: 'private_key_jwt', clientSecret: 's3cret' }, /clientSecret is not used/],
    ['paramsIn query', { privateKey: rsaPem, paramsIn: 'query' }, /form body/],
    ['privateKey with client_secret_basic', { privateKey: rsaPem, clientAuth: 'client_secret_basic', clientSecret: 's3cret' }, /only used with clientAuth: 'private_key_jwt'/],
    ["assertionAudience 'issuer' without issuer", { privateKey: rsaPem, assertionAudience: 'issuer', issuer: undefined }, /needs the issuer/],
  ];
  test.each(cases)('%s is a ConfigError that shows no key', (_name, o, message) => {
    let err: unknown;
    try {
      createM2MClient({ tokenEndpoint: 'http://127.0.0.1:1/token', clientId: 'c', ...o } as M2MClientOptions);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('config_client');
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).not.toMatch(/MII|secret-looking/);
  });

  test('privateKey alone means private_key_jwt; clientSecret stays required otherwise', () => {
    expect(createM2MClient({ tokenEndpoint: 'http://127.0.0.1:1/token', clientId: 'c', privateKey: rsaPem }).clientId).toBe('c');
    expect(() => createM2MClient({ tokenEndpoint: 'http://127.0.0.1:1/token', clientId: 'c' })).toThrow(/clientSecret is required/);
  });
});
