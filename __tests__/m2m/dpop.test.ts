/**
 * createM2MClient({ dpop }) against independent parties: node oidc-provider issues the DPoP-bound
 * client_credentials tokens (and, configured so, demands its nonce), and both requireAuth (this
 * package) and express-oauth2-jwt-bearer (Auth0's SDK, DPoP on) accept the client's proofs.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import express from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, type JWK } from 'jose';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { createM2MClient, IdpError, MemoryTokenStore, oauthErrorHandler, requireAuth, type M2MClientOptions, type M2MClientBaseOptions, type M2MTokenFetchedEvent } from '../../lib/index.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';


const thumbprintOf = async (publicJwk: JWK) => calculateJwkThumbprint(publicJwk, 'sha256');

describe('oidc-provider issues DPoP-bound tokens to createM2MClient; requireAuth and express-oauth2-jwt-bearer accept its proofs', () => {
  let op: RunningOidcProvider;
  let api: Listening;
  const seen: { path: string; authorization: string | undefined; hasProof: boolean }[] = [];
  beforeAll(async () => {
    clearDiscoveryCache();
    op = await startOidcProvider({ dPoPSigningAlgValues: ['ES256', 'EdDSA', 'PS256', 'RS256'] });
    const app = express();
    app.use((req, _res, next) => {
      seen.push({ path: req.path, authorization: req.headers.authorization?.split(' ')[0], hasProof: typeof req.headers.dpop === 'string' });
      next();
    });
    app.all('/kit', requireAuth({ issuer: op.issuer, audience: op.resource, logger: false }), (req, res) => res.json({ jkt: req.auth!.dpop?.jkt ?? null }));
    app.all(
      '/auth0',
      auth({ issuer: op.issuer, audience: op.resource, jwksUri: op.jwksUri, tokenSigningAlg: 'RS256', dpop: { enabled: true, required: true } }),
      (req, res) => res.json({ jkt: (req as unknown as { auth: { payload: { cnf?: { jkt?: string } } } }).auth.payload.cnf?.jkt ?? null }),
    );
    app.use(oauthErrorHandler());
    api = await listen(app);
  });
  afterAll(async () => {
    await api.close();
    await op.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  const client = (extra: Partial<M2MClientBaseOptions> & { clientSecret?: string } = {}) =>
    createM2MClient({ issuer: op.issuer, clientId: 'oidc-m2m', clientSecret: 'oidc-m2m-secret', scope: 'api:read', resource: op.resource, ...extra });

  test('dpop: true — a DPoP token bound to the client key, accepted with fresh proofs by both guards', async () => {
    const m2m = client({ dpop: true });
    const token = await m2m.getToken();
    expect(token.tokenType).toBe('DPoP');
    const jkt = (decodeJwt(token.accessToken).cnf as { jkt: string }).jkt;
    expect(jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);

    for (const path of ['/kit', '/auth0', '/kit']) {
      const res = await m2m.fetch(`${api.url}${path}?page=2#frag`, { method: path === '/auth0' ? 'POST' : 'GET' });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ jkt });
    }
    // Each request carried its own proof (requireAuth refuses a replayed jti, so the second /kit call proves it).
    expect(seen).toEqual([
      { path: '/kit', authorization: 'DPoP', hasProof: true },
      { path: '/auth0', authorization: 'DPoP', hasProof: true },
      { path: '/kit', authorization: 'DPoP', hasProof: true },
    ]);
  });

  test('req.m2m.fetch sends DPoP too', async () => {
    const m2m = client({ dpop: true });
    const app = express();
    app.get('/relay', m2m.middleware(), async (req, res) => {
      const down = await req.m2m!.fetch(`${api.url}/auth0`);
      const t = await req.m2m!.getToken();
      res.json({ status: down.status, body: await down.json(), tokenType: t.tokenType });
    });
    const relay = await listen(app);
    try {
      const r = await (await fetch(`${relay.url}/relay`)).json();
      expect(r).toMatchObject({ status: 200, tokenType: 'DPoP' });
      expect(r.body.jkt).toBe((decodeJwt((await m2m.getToken()).accessToken).cnf as { jkt: string }).jkt);
    } finally {
      await relay.close();
    }
  });

  test.each([
    ['EdDSA', 'generated', {}],
    ['PS256', 'generated', {}],
    ['RS256', 'a private JWK', { jwk: true }],
    ['ES256', 'a KeyObject', { keyObject: true }],
    ['ES256', 'a non-extractable CryptoKey', { cryptoKey: true }],
  ] as const)('%s with %s: the token is bound to that key and both guards accept', async (alg, _how, opts: { jwk?: boolean; keyObject?: boolean; cryptoKey?: boolean }) => {
    let privateKey: NonNullable<Exclude<M2MClientOptions['dpop'], boolean | undefined>>['privateKey'];
    let expected: string | undefined;
    if ('jwk' in opts) {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      privateKey = pair.privateKey.export({ format: 'jwk' });
      expected = await thumbprintOf(pair.publicKey.export({ format: 'jwk' }) as JWK);
    } else if ('keyObject' in opts) {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      privateKey = pair.privateKey;
      expected = await thumbprintOf(pair.publicKey.export({ format: 'jwk' }) as JWK);
    } else if ('cryptoKey' in opts) {
      const pair = await generateKeyPair('ES256', { extractable: false });
      privateKey = pair.privateKey;
      expected = await thumbprintOf(await exportJWK(pair.publicKey));
    }
    const m2m = client({ dpop: { alg, privateKey } });
    const token = await m2m.getToken();
    const jkt = (decodeJwt(token.accessToken).cnf as { jkt: string }).jkt;
    if (expected) expect(jkt).toBe(expected);
    for (const path of ['/kit', '/auth0']) {
      const res = await m2m.fetch(`${api.url}${path}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ jkt });
    }
  });

  test('a fleet shares a DPoP token only by sharing the key: the thumbprint is part of the store key', async () => {
    const store = new MemoryTokenStore();
    const keys: string[] = [];
    const spy = { get: (k: string) => store.get(k), set: (k: string, v: string, ttl: number) => (keys.push(k), store.set(k, v, ttl)), lock: (k: string, t: number) => store.lock(k, t), unlock: (k: string) => store.unlock(k) };
    const shared = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const events: M2MTokenFetchedEvent[] = [];
    const onTokenFetched = (e: M2MTokenFetchedEvent) => events.push(e);
    const a = client({ dpop: { privateKey: shared }, store: spy, onTokenFetched });
    const b = client({ dpop: { privateKey: shared }, store: spy, onTokenFetched });
    const other = client({ dpop: true, store: spy, onTokenFetched });

    const ta = await a.getToken();
    const tb = await b.getToken();
    expect(tb.accessToken).toBe(ta.accessToken); // same key: the second instance reads the first one's token
    const to = await other.getToken();
    expect(to.accessToken).not.toBe(ta.accessToken); // another key: it never reads the bound token, it gets its own
    expect(events.map((e) => e.source)).toEqual(['idp', 'store', 'idp']);
    expect(keys).toHaveLength(2);
    const jktA = (decodeJwt(ta.accessToken).cnf as { jkt: string }).jkt;
    const jktO = (decodeJwt(to.accessToken).cnf as { jkt: string }).jkt;
    expect(keys[0]).toContain(`dpop:${jktA}`);
    expect(keys[1]).toContain(`dpop:${jktO}`);
    // And each instance's proofs work with its own token.
    expect((await b.fetch(`${api.url}/kit`)).status).toBe(200);
    expect((await other.fetch(`${api.url}/auth0`)).status).toBe(200);
  });

  test('a wrong secret with dpop: invalid_client at once, no retries, nothing of the proof or key in the error', async () => {
    const retries: unknown[] = [];
    let grantErrors = 0;
    const count = () => void (grantErrors += 1);
    op.provider.on('grant.error', count);
    try {
      const privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const d = (privateKey.export({ format: 'jwk' }) as JWK).d!;
      const lines: string[] = [];
      const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
      const m2m = client({ clientSecret: 'not-the-secret', dpop: { privateKey }, onRetry: (e) => retries.push(e), logger });
      const err = (await m2m.getToken().catch((e: unknown) => e)) as IdpError;
      expect(err).toBeInstanceOf(IdpError);
      expect(err.idpError).toBe('invalid_client');
      expect(retries).toEqual([]);
      expect(grantErrors).toBe(1);
      expect(lines.join('\n')).toMatch(/no token \(idp_error\): .*answered 401 invalid_client/);
      const text = `${err.message} ${err.stack} ${JSON.stringify(err)} ${lines.join('\n')}`;
      expect(text).not.toContain(d);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]+\.eyJ/); // no JWS (proof) anywhere
      expect(text).not.toContain('not-the-secret');
    } finally {
      op.provider.off('grant.error', count);
    }
  });
});

describe('oidc-provider requiring DPoP nonces', () => {
  let op: RunningOidcProvider;
  let api: Listening;
  let grants = { ok: 0, nonce: 0 };
  beforeAll(async () => {
    clearDiscoveryCache();
    op = await startOidcProvider({ dPoP: { nonceSecret: randomBytes(32), requireNonce: () => true } });
    op.provider.on('grant.success', () => void (grants.ok += 1));
    op.provider.on('grant.error', (_ctx: unknown, err: { error?: string }) => void (err.error === 'use_dpop_nonce' && (grants.nonce += 1)));
    const app = express();
    app.get('/kit', requireAuth({ issuer: op.issuer, audience: op.resource, logger: false }), (req, res) => res.json({ jkt: req.auth!.dpop?.jkt }));
    app.use(oauthErrorHandler());
    api = await listen(app);
  });
  afterAll(async () => {
    await api.close();
    await op.close();
  });

  test('the first token request is answered use_dpop_nonce and retried once with the nonce; the nonce is then remembered', async () => {
    grants = { ok: 0, nonce: 0 };
    const m2m = createM2MClient({ issuer: op.issuer, clientId: 'oidc-m2m', clientSecret: 'oidc-m2m-secret', resource: op.resource, dpop: true, retry: false });
    const first = await m2m.getToken();
    expect(first.tokenType).toBe('DPoP');
    expect(grants).toEqual({ ok: 1, nonce: 1 });
    const second = await m2m.getToken({ forceRefresh: true });
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(grants).toEqual({ ok: 2, nonce: 1 }); // the remembered nonce was accepted at once
    expect((await m2m.fetch(`${api.url}/kit`)).status).toBe(200);
  });
});
