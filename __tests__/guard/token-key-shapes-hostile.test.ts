/**
 * The guard's maps are keyed by a number made from 24 characters of a token and its length
 * (lib/guard/token-key.ts), each entry keeping its token and comparing it whole. Beyond
 * token-key-hostile.test.ts: opaque tokens that differ only in characters the key does not read
 * (an IdP's token format decides where a token's random part is, and an attacker who knows one
 * token can make such strings), each introspected to a different user, in bursts and with DPoP;
 * a forgery verified first (its refusal lingering, its flight pending) before the real token; and
 * token shapes a hostile caller can hand to guard.verify() or put in a header.
 */
import type { IncomingMessage } from 'node:http';
import express from 'express';
import request from 'supertest';
import { exportJWK, generateKeyPair } from 'jose';
import { createGuard, oauthErrorHandler, requireAuth, requireScopes, type RequireAuthOptions } from '../../lib/index.js';
import { tokenKey } from '../../lib/guard/token-key.js';
import { payloadRange, sameKeyVariant } from '../support/same-key.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { dpopHolder, dpopProof, type DpopHolder } from '../support/dpop-holder.js';

const ISSUER = 'https://idp.token-key.test';
const AUD = 'https://api.token-key.test';
const now = () => Math.floor(Date.now() / 1000);

/** `token` with one character changed, the key the same: another token. */
const sameKeySibling = (token: string): string => sameKeyVariant(token);

describe('opaque tokens that share a key, introspected to different users', () => {
  let endpoint: Listening;
  let answers: Map<string, Record<string, unknown>>;
  let introspections: string[];
  let jwks: { keys: Record<string, unknown>[] };
  let holder: DpopHolder;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
    holder = await dpopHolder();
    endpoint = await listen(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const token = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('token') ?? '';
      introspections.push(token);
      // Answered on a later turn, so a burst's requests all arrive while the first is in flight.
      setImmediate(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers.get(token) ?? { active: false })));
    });
  });
  afterAll(() => endpoint.close());
  beforeEach(() => {
    answers = new Map();
    introspections = [];
  });

  const options = (): RequireAuthOptions =>
    ({
      issuer: ISSUER,
      audience: AUD,
      jwks,
      logger: false,
      introspection: { clientId: 'api', clientSecret: 'api-secret-0123456789abcdef', endpoint: `${endpoint.url}/introspect` },
    }) as RequireAuthOptions;
  const activeFor = (sub: string, extra: Record<string, unknown> = {}) => ({ active: true, iss: ISSUER, aud: AUD, exp: now() + 600, iat: now(), sub, scope: 'read', ...extra });

  /** Two opaque tokens of one format: a random-looking part, then a long constant part (where a format may put its tag). */
  function siblings(): [string, string] {
    const alice = `${'Zq7Kp2Lm9Xw4Rt6Yb1Nc'}.${'tag-of-this-idp-format'.repeat(3)}`;
    const bob = sameKeySibling(alice);
    expect(bob).not.toBe(alice);
    expect(tokenKey(bob)).toBe(tokenKey(alice));
    return [alice, bob];
  }

  test('a burst mixing both, over HTTP: every request gets its own token’s user, fresh and from the introspection cache', async () => {
    const [alice, bob] = siblings();
    answers.set(alice, activeFor('alice'));
    answers.set(bob, activeFor('bob'));
    const app = express();
    app.get('/me', requireAuth(options()), (req, res) => void res.json({ sub: req.auth!.payload.sub }));
    app.use(oauthErrorHandler());
    for (let round = 0; round < 2; round++) {
      const tokens = [alice, bob, alice, bob, bob, alice];
      const subs = await Promise.all(tokens.map(async (t) => (await request(app).get('/me').set('Authorization', `Bearer ${t}`)).body.sub));
      expect(subs).toEqual(tokens.map((t) => (t === alice ? 'alice' : 'bob')));
    }
    // Each token introspected (at least once), and only these two.
    expect(new Set(introspections)).toEqual(new Set([alice, bob]));
  });

  test('guard.verify(): one active, the other not: the refusal never reaches the active one, nor the answer the refused one', async () => {
    const [alice, mallory] = siblings();
    answers.set(alice, activeFor('alice'));
    const guard = createGuard(options());
    for (let round = 0; round < 2; round++) {
      const results = await Promise.allSettled([guard.verify(mallory), guard.verify(alice), guard.verify(mallory), guard.verify(alice)]);
      expect(results.map((r) => (r.status === 'fulfilled' ? r.value.payload.sub : (r.reason as { code: string }).code))).toEqual([
        'invalid_token',
        'alice',
        'invalid_token',
        'alice',
      ]);
    }
  });

  test('DPoP-bound, presented with proofs: each proof must carry its own token’s ath; a proof made for the sibling is refused', async () => {
    const [alice, bob] = siblings();
    answers.set(alice, activeFor('alice', { cnf: { jkt: holder.jkt } }));
    answers.set(bob, activeFor('bob', { cnf: { jkt: holder.jkt } }));
    const app = express();
    app.get('/me', requireAuth(options()), (req, res) => void res.json({ sub: req.auth!.payload.sub }));
    app.use(oauthErrorHandler());
    const present = async (token: string, proofFor: string) =>
      request(app)
        .get('/me')
        .set('Host', 'api.token-key.test')
        .set('Authorization', `DPoP ${token}`)
        .set('DPoP', await dpopProof(holder, { htm: 'GET', htu: 'http://api.token-key.test/me', accessToken: proofFor }));
    for (let round = 0; round < 2; round++) {
      expect((await present(alice, alice)).body).toEqual({ sub: 'alice' });
      expect((await present(bob, bob)).body).toEqual({ sub: 'bob' });
      // Right after the sibling's ath was worked out (and memoized under the same key).
      const crossed = await present(bob, alice);
      expect(crossed.status).toBe(401);
      expect(crossed.headers['www-authenticate']).toMatch(/^DPoP /);
      expect(JSON.stringify(crossed.body)).not.toMatch(/alice|bob/);
    }
  });

  test('requireScopes() after the guard challenges introspected tokens in the guard’s realm and scheme, with its resource_metadata, fresh and cached', async () => {
    const [alice, bob] = siblings();
    answers.set(alice, activeFor('alice'));
    answers.set(bob, activeFor('bob', { cnf: { jkt: holder.jkt } }));
    const app = express();
    app.get('/write', requireAuth({ ...options(), realm: 'opaque', resourceMetadata: {} } as RequireAuthOptions), requireScopes('write'), (_q, res) => void res.end());
    app.use(oauthErrorHandler());
    for (let round = 0; round < 3; round++) {
      const bearer = await request(app).get('/write').set('Authorization', `Bearer ${alice}`);
      expect(bearer.status).toBe(403);
      expect(bearer.headers['www-authenticate']).toMatch(/^Bearer realm="opaque", error="insufficient_scope", .*resource_metadata="https:\/\/api\.token-key\.test\//);
      const dpop = await request(app)
        .get('/write')
        .set('Host', 'api.token-key.test')
        .set('Authorization', `DPoP ${bob}`)
        .set('DPoP', await dpopProof(holder, { htm: 'GET', htu: 'http://api.token-key.test/write', accessToken: bob }));
      expect(dpop.status).toBe(403);
      expect(dpop.headers['www-authenticate']).toMatch(/^DPoP realm="opaque", error="insufficient_scope", .*algs="[^"]+", resource_metadata="https:\/\/api\.token-key\.test\//);
    }
  });
});

describe('a same-key forgery verified before the real token', () => {
  let idp: JwksServer;
  beforeEach(async () => {
    idp = await startJwksServer();
    clearDiscoveryCache();
  });
  afterEach(() => idp.close());

  /**
   * A payload character changed so that the key stays the same and the claims still parse (so
   * that the forgery gets as far as the signature check, as a careful forger's would): it fails its signature.
   */
  const forgeryOf = (token: string): string => {
    const range = payloadRange(token);
    return sameKeyVariant(token, {
      ...range,
      accept: (forged) => {
        try {
          const claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(forged.slice(range.from, range.to + 1), 'base64url'))) as { iss?: unknown };
          return claims.iss === idp.issuer;
        } catch {
          return false; // not JSON any more: try the next
        }
      },
    });
  };
  const guardOf = () => createGuard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksTimeoutMs: 2_000, logger: false } as RequireAuthOptions);

  test('its refusal, lingering for the turn, is not the real token’s answer', async () => {
    const guard = guardOf();
    await guard.verify(await idp.sign({ sub: 'warm-up' }));
    const token = await idp.sign({ sub: 'alice' });
    const forged = forgeryOf(token);
    // Same turn: the forgery's refusal is synchronous and lingers under the shared key.
    const fake = guard.verify(forged);
    const real = guard.verify(token);
    const again = guard.verify(forged);
    await expect(fake).rejects.toMatchObject({ code: 'invalid_token' });
    await expect(real).resolves.toMatchObject({ payload: { sub: 'alice' } });
    await expect(again).rejects.toMatchObject({ code: 'invalid_token' });
  });

  test('its flight, pending on the key set, neither answers the real token nor stops the real token’s burst sharing one verification', async () => {
    const guard = guardOf();
    const token = await idp.sign({ sub: 'alice' });
    const forged = forgeryOf(token);
    // Cold key set: every verification below waits on one JWKS fetch.
    const results = await Promise.allSettled([guard.verify(forged), guard.verify(token), guard.verify(token), guard.verify(token)]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { code: 'invalid_token' } });
    for (const r of results.slice(1)) expect(r).toMatchObject({ status: 'fulfilled', value: { payload: { sub: 'alice' } } });
    // The forgery's and one shared by the three real ones.
    expect(guard.cacheStats.verifications).toBe(2);
  });

  test('a flood of distinct same-key forgeries of a cached token is refused, each one, and neither evicts it nor takes its place', async () => {
    const guard = guardOf();
    const token = await idp.sign({ sub: 'alice' });
    // Twice: admitted on its second verification.
    for (let i = 0; i < 2; i++) await guard.verify(token);
    expect(guard.cacheStats.entries).toBe(1);
    const start = token.indexOf('.') + 1;
    const end = token.indexOf('.', start);
    const forgeries = new Set<string>();
    for (let i = start; i < end - 1 && forgeries.size < 500; i++) {
      for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') {
        const forged = token.slice(0, i) + c + token.slice(i + 1);
        if (forged !== token && tokenKey(forged) === tokenKey(token)) forgeries.add(forged);
      }
    }
    expect(forgeries.size).toBeGreaterThan(100);
    for (let round = 0; round < 2; round++) {
      const results = await Promise.allSettled([...forgeries].map((f) => guard.verify(f)));
      expect(results.every((r) => r.status === 'rejected' && (r.reason as { code: string }).code === 'invalid_token')).toBe(true);
    }
    expect(guard.cacheStats.entries).toBe(1);
    const { hits, verifications } = guard.cacheStats;
    await expect(guard.verify(token)).resolves.toMatchObject({ payload: { sub: 'alice' } });
    expect(guard.cacheStats).toMatchObject({ hits: hits + 1, verifications });
  });
});

describe('token shapes a hostile caller can send', () => {
  let idp: JwksServer;
  beforeAll(async () => {
    idp = await startJwksServer();
    clearDiscoveryCache();
  });
  afterAll(() => idp.close());

  const MAX = 4_096;
  const shapes: Array<[string, string]> = [
    ['one character', 'a'],
    ['two characters', 'ab'],
    ['15 characters', 'a'.repeat(15)],
    ['16 characters (the tail alone)', 'b'.repeat(16)],
    ['17 characters', 'c'.repeat(17)],
    ['24 characters', 'd'.repeat(24)],
    ['maxTokenLength characters', 'e'.repeat(MAX)],
    ['maxTokenLength characters shaped like a JWS', `${'f'.repeat(100)}.${'g'.repeat(MAX - 202)}.${'h'.repeat(100)}`],
  ];
  const guardOf = () => createGuard({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksTimeoutMs: 2_000, logger: false, maxTokenLength: MAX } as RequireAuthOptions);

  test.each(shapes)('%s, in a header, twice: 401 invalid_token both times, never a 500', async (_label, token) => {
    const app = express();
    app.get('/me', requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksTimeoutMs: 2_000, logger: false, maxTokenLength: MAX }), (_q, res) => void res.end());
    app.use(oauthErrorHandler());
    for (let i = 0; i < 2; i++) {
      const res = await request(app).get('/me').set('Authorization', `Bearer ${token}`);
      expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: 'invalid_token' });
    }
  });

  test('guard.verify() with lone surrogates, non-ASCII and strings that differ only where the key does not read: refusals, each for itself', async () => {
    const guard = guardOf();
    const good = await idp.sign({ sub: 'alice' });
    const hostile = [
      '\uD800',
      '\uDC00\uD800',
      `${good.slice(0, 10)}\uD800${good.slice(11)}`,
      `${good.slice(0, -1)}\uDFFF`,
      'é'.repeat(40),
      '\u0000'.repeat(30),
      sameKeySibling('x'.repeat(3_000)),
      `${'\uD83D'.repeat(MAX - 1)}z`,
    ];
    for (let round = 0; round < 2; round++) {
      const results = await Promise.allSettled([...hostile.map((t) => guard.verify(t)), guard.verify(good)]);
      for (const r of results.slice(0, -1)) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'invalid_token', status: 401 } });
      expect(results.at(-1)).toMatchObject({ status: 'fulfilled', value: { payload: { sub: 'alice' } } });
    }
    await expect(guard.verify('y'.repeat(MAX + 1))).rejects.toMatchObject({ code: 'invalid_token' });
  });
});
