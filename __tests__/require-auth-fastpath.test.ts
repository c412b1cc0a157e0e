/**
 * Hostile review of requireAuth's synchronous fast path (issue #12): the key memo in KeySource,
 * results lingering for single flight, the character-code Authorization parser and the engine's
 * one-scan alphabet check. Each part is compared with what the code did before: jose.jwtVerify
 * for key selection, the old header regexes written out below, and the old engine copied into
 * support/old-engine (lib/jwt as of 9b72334).
 */
import { constants, createHmac, generateKeyPairSync, KeyObject, sign as cryptoSign } from 'node:crypto';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import express from 'express';
import request from 'supertest';
import { createLocalJWKSet, jwtVerify as joseVerify, type JWK, type JWTVerifyOptions } from 'jose';
import { oauthErrorHandler, requireAuth, type OAuthError, type RequireAuthOptions } from '../lib/index.js';
import { clearDiscoveryCache } from '../lib/idp/discovery.js';
import { extractCredentials, type ExtractOptions } from '../lib/bearer/extract-token.js';
import { InvalidRequestError } from '../lib/errors/oauth-error.js';
import { verifyJwt } from '../lib/jwt/verify.js';
import { seeded } from './support/seeded.js';
import { formatProblem } from '../lib/guard/verifier.js';
import { jwtVerify as oldJwtVerify } from './support/old-engine/verify.js';
import { startJwksServer, type JwksServer } from '../fixtures/jwks-server.js';
import { useTestClock } from './support/clock.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');

let idp: JwksServer;
beforeEach(async () => {
  idp = await startJwksServer({ algs: ['RS256', 'ES256'] });
  clearDiscoveryCache();
});
afterEach(() => idp.close());

function setup(options: Partial<RequireAuthOptions> = {}) {
  const guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksTimeout: 500, logger: false, ...options });
  const app = express();
  app.get('/me', guard, (req, res) => res.json({ sub: req.auth!.payload.sub, kid: req.auth!.header.kid ?? null }));
  app.use(oauthErrorHandler());
  const call = (token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`);
  return { guard, app, call };
}

/** The middleware called directly, so several requests can run in one event-loop turn. */
function direct(guard: ReturnType<typeof requireAuth>, token: string): { sync: boolean; error?: OAuthError; done: Promise<OAuthError | undefined> } {
  const req = { headers: { authorization: `Bearer ${token}` }, rawHeaders: ['Authorization', `Bearer ${token}`] } as unknown as express.Request;
  let settled: { error: OAuthError | undefined } | undefined;
  const done = new Promise<OAuthError | undefined>((resolve) =>
    guard(req, {} as express.Response, (err?: unknown) => {
      settled = { error: err as OAuthError | undefined };
      resolve(err as OAuthError | undefined);
    }),
  );
  return { sync: settled !== undefined, error: settled?.error, done };
}

// What the guard says for each jose error class (lib/guard/verifier.ts tokenProblem): the oracle maps jose's verdict to it.
const DESCRIPTION: Record<string, string> = {
  JWSSignatureVerificationFailed: 'The token signature is invalid',
  JOSEAlgNotAllowed: 'The token is signed with an algorithm this API does not accept',
  JWKSNoMatchingKey: 'No key of the issuer matches the token (kid/alg)',
  JWKSMultipleMatchingKeys: 'Several keys match the token and none verified it',
  JWSInvalid: 'The token is not a well-formed JWS',
  JWTInvalid: 'The token payload is not a valid JWT claims set',
  JOSENotSupported: 'The token uses an unsupported algorithm or critical header',
};

describe('key memo: rotation, removal, look-alike headers (real JWKS server)', () => {
  test('after jwksCacheMaxAge a removed key is refused, even for a key the memo held; a new key is accepted', async () => {
    const { call } = setup({ jwksCacheMaxAge: 300, cache: false });
    const [oldKey] = idp.keys;
    // Twice: the second lookup is served by the memo.
    expect((await call(await idp.sign({ n: 1 }, { kid: oldKey!.kid }))).status).toBe(200);
    expect((await call(await idp.sign({ n: 2 }, { kid: oldKey!.kid }))).status).toBe(200);
    const newKey = await idp.addKey('RS256');
    const oldSigned = await idp.sign({ n: 3 }, { kid: oldKey!.kid });
    idp.removeKey(oldKey!.kid);
    await sleep(350);
    const refused = await call(oldSigned);
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: 'invalid_token', error_description: DESCRIPTION.JWKSNoMatchingKey });
    // Still refused once the memo has been rebuilt for the new set.
    expect((await call(await idp.sign({ n: 4 }, { kid: newKey.kid }))).status).toBe(200);
    expect((await call(oldSigned)).status).toBe(401);
  });

  test('an unknown kid reloads the set: the removed key stops verifying at once, cached or memoized', async () => {
    const { call } = setup({ jwksCooldown: 0 });
    const [oldKey] = idp.keys;
    const oldToken = await idp.sign({}, { kid: oldKey!.kid });
    for (let i = 0; i < 3; i++) expect((await call(oldToken)).status).toBe(200); // memo + verified cache both warm
    const signedBefore = await idp.sign({ n: 9 }, { kid: oldKey!.kid });
    const newKey = await idp.addKey('RS256');
    idp.removeKey(oldKey!.kid);
    expect((await call(await idp.sign({}, { kid: newKey.kid }))).status).toBe(200);
    expect(idp.jwksRequests).toBe(2);
    for (const t of [oldToken, signedBefore]) {
      const res = await call(t);
      expect(res.status).toBe(401);
      expect(res.body.error_description).toBe(DESCRIPTION.JWKSNoMatchingKey);
    }
  });

  test('two keys with the same kid but different kty/alg: each alg gets its own key, the memo never crosses them', async () => {
    const rs = idp.keys.find((k) => k.alg === 'RS256')!;
    const es = idp.keys.find((k) => k.alg === 'ES256')!;
    const ps = await idp.addKey('PS256');
    for (const k of [rs, es, ps]) {
      k.kid = 'shared';
      k.publicJwk = { ...k.publicJwk, kid: 'shared' };
    }
    const { call } = setup({ cache: false });
    const set = createLocalJWKSet({ keys: idp.keys.map((k) => k.publicJwk) });
    const opts: JWTVerifyOptions = { issuer: idp.issuer, audience: idp.audience, requiredClaims: ['exp'] };
    // Signed with node:crypto, so a key can sign under a header alg that is not its own.
    const sign = async (alg: string, key: CryptoKey, n: number) => {
      const now = Math.floor(Date.now() / 1000);
      const input = `${b64(JSON.stringify({ alg, kid: 'shared', typ: 'at+jwt' }))}.${b64(JSON.stringify({ sub: 'user-1', n, iss: idp.issuer, aud: idp.audience, iat: now, exp: now + 300 }))}`;
      const k = KeyObject.from(key);
      const sig =
        alg === 'ES256'
          ? cryptoSign('sha256', Buffer.from(input), { key: k, dsaEncoding: 'ieee-p1363' })
          : alg === 'PS256'
            ? cryptoSign('sha256', Buffer.from(input), { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 })
            : cryptoSign('sha256', Buffer.from(input), { key: k, padding: constants.RSA_PKCS1_PADDING });
      return `${input}.${b64(sig)}`;
    };
    const tokens: Array<[string, string]> = [];
    for (let n = 0; n < 2; n++) {
      tokens.push(['ES256 by EC key', await sign('ES256', es.privateKey, n)]);
      tokens.push(['RS256 by RSA key', await sign('RS256', rs.privateKey, n)]);
      tokens.push(['PS256 by PSS key', await sign('PS256', ps.privateKey, n)]);
      tokens.push(['RS256 header, PSS key signed', await sign('RS256', ps.privateKey, n)]);
      tokens.push(['PS256 header, RSA key signed', await sign('PS256', rs.privateKey, n)]);
    }
    const seen: string[] = [];
    for (const [name, t] of tokens) {
      const jose = await joseVerify(t, set, opts).then(
        () => 'ok',
        (e: Error) => e.constructor.name,
      );
      const res = await call(t);
      const got = res.status === 200 ? 'ok' : res.body.error_description;
      expect(`${name}: ${got}`).toBe(`${name}: ${jose === 'ok' ? 'ok' : DESCRIPTION[jose]}`);
      seen.push(`${name}: ${got}`);
    }
    expect(seen.filter((s) => s.endsWith(': ok'))).toHaveLength(6);
  });

  test('non-string or missing kid, alg none / other case / not allowed: the same verdict as jose, cold and with the memo warm', async () => {
    await idp.addKey('RS256'); // two RSA keys: a token without kid matches both
    const { call } = setup({ cache: false, algorithms: ['RS256', 'ES256', 'PS256'] });
    const set = createLocalJWKSet({ keys: idp.keys.map((k) => k.publicJwk) });
    const opts: JWTVerifyOptions = { issuer: idp.issuer, audience: idp.audience, algorithms: ['RS256', 'ES256', 'PS256'], requiredClaims: ['exp'] };
    const rsa = idp.keys[0]!;
    const es = idp.keys.find((k) => k.alg === 'ES256')!;
    const { SignJWT } = await import('jose');
    const base = JSON.parse(Buffer.from((await idp.sign()).split('.')[1]!, 'base64url').toString());
    const signed = (header: Record<string, unknown>, key: CryptoKey) => new SignJWT(base).setProtectedHeader(header as never).sign(key);
    const forged = (header: Record<string, unknown>) => `${b64(JSON.stringify(header))}.${b64(JSON.stringify(base))}.${b64('sig')}`;
    const cases: Array<[string, string]> = [
      ['kid number', await signed({ alg: 'RS256', kid: 7 }, rsa.privateKey)],
      ['kid object', await signed({ alg: 'RS256', kid: { $ne: null } }, rsa.privateKey)],
      ['kid null', await signed({ alg: 'RS256', kid: null }, rsa.privateKey)],
      ['kid array of the real kid', await signed({ alg: 'RS256', kid: [rsa.kid] }, rsa.privateKey)],
      ['no kid, two RSA keys', await signed({ alg: 'RS256' }, rsa.privateKey)],
      ['no kid, one EC key', await signed({ alg: 'ES256' }, es.privateKey)],
      ['kid of the EC key, alg RS256', await signed({ alg: 'RS256', kid: es.kid }, rsa.privateKey)],
      ['alg none', forged({ alg: 'none', kid: rsa.kid })],
      ['alg NONE', forged({ alg: 'NONE', kid: rsa.kid })],
      ['alg rs256', forged({ alg: 'rs256', kid: rsa.kid })],
      ['alg Rs256', forged({ alg: 'Rs256', kid: rsa.kid })],
      ['alg HS256', forged({ alg: 'HS256', kid: rsa.kid })],
      ['alg ES512', forged({ alg: 'ES512', kid: es.kid })],
      ['alg EdDSA (not allowed here)', forged({ alg: 'EdDSA', kid: es.kid })],
      ['alg RS256 with a kid full of dots and slashes', forged({ alg: 'RS256', kid: '../../jwks.json' })],
      ['valid', await signed({ alg: 'RS256', kid: rsa.kid }, rsa.privateKey)],
    ];
    const answer = async (t: string) => {
      const res = await call(t);
      return res.status === 200 ? 'ok' : `${res.status} ${res.body.error} ${res.body.error_description}`;
    };
    for (const round of ['cold', 'warm']) {
      // Warm: a valid token for each (alg, kid) the cases use has filled the memo first.
      if (round === 'warm') for (const t of [cases.at(-1)![1], cases[5]![1]]) expect(await answer(t)).toBe('ok');
      for (const [name, t] of cases) {
        const jose = await joseVerify(t, set, opts).then(
          () => 'ok',
          (e: Error) => e.constructor.name,
        );
        const expected = jose === 'ok' ? 'ok' : `401 invalid_token ${DESCRIPTION[jose]}`;
        expect(`${round} ${name}: ${await answer(t)}`).toBe(`${round} ${name}: ${expected}`);
      }
    }
  });
});

describe('single flight with results kept for the turn', () => {
  const clock = useTestClock();

  async function warm() {
    const s = setup({ clockTolerance: 0 });
    // Keys loaded, then the key memoized (a lookup is kept only when no load happened during it): synchronous from here on.
    for (let i = 0; i < 2; i++) await s.guard.verify(await idp.sign({ warm: i }));
    return s;
  }

  test('a token that expires between two requests of the same turn is refused the second time', async () => {
    const { guard } = await warm();
    const token = await idp.sign({}, { expiresIn: 1 });
    const first = direct(guard, token);
    expect(first).toMatchObject({ sync: true, error: undefined });
    clock.advance(1_100);
    const second = direct(guard, token);
    expect(second.sync).toBe(true);
    expect(second.error).toMatchObject({ status: 401, code: 'invalid_token', message: 'The access token expired' });
  });

  test('an error shared by a burst never reaches a request with a different token, in the same turn or over HTTP', async () => {
    const { guard, call } = await warm();
    const good = await idp.sign({ n: 1 });
    const bad = await idp.sign({ n: 1, aud: 'https://elsewhere.test' });
    // Same payload, another signature: a near twin of the good token.
    const twin = `${good.slice(0, good.lastIndexOf('.'))}.${(await idp.sign({ n: 2 })).split('.')[2]}`;
    const results = [bad, bad, twin, good, bad, twin, good].map((t) => direct(guard, t));
    expect(results.every((r) => r.sync)).toBe(true);
    expect(results.map((r) => r.error?.message ?? 'ok')).toEqual([
      'The token is not meant for this API (aud)',
      'The token is not meant for this API (aud)',
      'The token signature is invalid',
      'ok',
      'The token is not meant for this API (aud)',
      'The token signature is invalid',
      'ok',
    ]);
    const overHttp = await Promise.all([bad, good, twin, good, bad].map((t) => call(t).then((r) => r.status)));
    expect(overHttp).toEqual([401, 200, 401, 200, 401]);
  });

  test('a refusal kept for the burst is not handed out once the clock says otherwise (nbf reached)', async () => {
    const { guard } = await warm();
    const early = await idp.sign({ nbf: Math.floor(Date.now() / 1000) + 30 });
    const first = direct(guard, early);
    expect(first.error).toMatchObject({ code: 'invalid_token', message: 'The token is not valid yet (nbf)' });
    clock.advance(60_000);
    // A full verification now accepts the token; the result kept from a moment ago must not say otherwise.
    const second = direct(guard, early);
    expect(second.error).toBeUndefined();
  });

  test('300+ distinct bad tokens in one turn: every one refused, and what is kept for the turn is bounded and let go', async () => {
    const { guard } = await warm();
    const good = await idp.sign();
    const [h, p] = good.split('.');
    const bads = Array.from({ length: 400 }, (_, i) => `${h}.${p}.${b64(`forged-signature-${i}`.padEnd(256, '*'))}`);
    const before = guard.cacheStats.verifications;
    const first = bads.map((t) => direct(guard, t));
    expect(first.every((r) => r.sync && r.error?.status === 401 && r.error.message === 'The token signature is invalid')).toBe(true);
    expect(guard.cacheStats.verifications - before).toBe(400);
    // The same 400 again in the same turn: at most a bounded number joined a kept result.
    const again = bads.map((t) => direct(guard, t));
    expect(again.every((r) => r.error?.status === 401)).toBe(true);
    const joined = 800 - (guard.cacheStats.verifications - before);
    expect(joined).toBeGreaterThan(0);
    expect(joined).toBeLessThanOrEqual(256);
    // After a timers phase nothing is kept: all 400 verify again.
    await sleep(5);
    const mark = guard.cacheStats.verifications;
    bads.forEach((t) => direct(guard, t));
    expect(guard.cacheStats.verifications - mark).toBe(400);
  });

  test('300+ distinct bad tokens at once over HTTP: all 401 invalid_token, none 500', async () => {
    const { app } = await warm();
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const { port } = server.address() as AddressInfo;
      const good = await idp.sign();
      const [h, p] = good.split('.');
      const statuses = await Promise.all(
        Array.from({ length: 320 }, (_, i) =>
          fetch(`http://127.0.0.1:${port}/me`, { headers: { authorization: `Bearer ${h}.${p}.${b64(`x${i}`)}` } }).then(async (r) => `${r.status} ${(await r.json()).error}`),
        ),
      );
      expect(new Set(statuses)).toEqual(new Set(['401 invalid_token']));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('verify() in a tight loop while the clock moves: every answer is what a full verification says at that moment', async () => {
    const { guard } = await warm();
    const now = Math.floor(Date.now() / 1000);
    const token = await idp.sign({ nbf: now + 2 }, { expiresIn: 5 });
    const answers: Array<Promise<string>> = [];
    const expected: string[] = [];
    for (let step = 0; step < 40; step++) {
      const at = (Date.now() + step * 250) / 1000;
      expected.push(at < now + 2 ? 'nbf' : at < now + 5 ? 'ok' : 'exp');
      answers.push(
        guard.verify(token).then(
          () => 'ok',
          (e: OAuthError) => (e.message.includes('nbf') ? 'nbf' : e.message.includes('expired') ? 'exp' : e.message),
        ),
      );
      clock.advance(250);
    }
    const got = await Promise.all(answers);
    // Steps within a few ms of a boundary may go either way (real time passes during the loop).
    const mismatches = got.flatMap((g, i) => (g === expected[i] ? [] : [`step ${i}: ${g} ≠ ${expected[i]}`]));
    expect(mismatches.length).toBeLessThanOrEqual(2);
    expect(got).toContain('ok');
    expect(got.at(-1)).toBe('exp');
  });
});

// ---------------------------------------------------------------------------------------------
// Authorization header: the character-code parser against the regexes it replaced.

/** lib/bearer/extract-token.ts before 7a7526d, written out: the oracle. */
function oldHeader(header: string, dpop: boolean): { kind: 'none' } | { kind: 'malformed' } | { kind: 'token'; token: string; scheme: 'bearer' | 'dpop' } {
  if (!(dpop ? /^(?:bearer|dpop)(?: |$)/i : /^bearer(?: |$)/i).test(header)) return { kind: 'none' };
  const m = /^(bearer|dpop) +([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  if (m === null) return { kind: 'malformed' };
  return { kind: 'token', token: m[2]!, scheme: m[1]!.length === 4 ? 'dpop' : 'bearer' };
}
const malformedText = (dpop: boolean) =>
  `The Authorization header is malformed: expected "${dpop ? 'Bearer or DPoP' : 'Bearer'} <token>" with exactly one token of base64url/b64token characters`;

function headerCorpus(jwt: string): string[] {
  const schemes = [
    'Bearer', 'bearer', 'BEARER', 'bEaReR', 'Bear', 'Bearerx', 'Bearer2', 'DPoP', 'dpop', 'DPOP', 'dPoP', 'DPo', 'DPoPx', 'Basic', 'Token', '',
    // Look-alikes: fullwidth, Cyrillic, dotless/long letters, Kelvin sign, combining marks, letters ±0x20 that are not letters.
    '\uff22earer', 'B\u0435arer', 'Be\u0430rer', 'Bearer\u0301', 'Bea\u0280er', '\u0392earer', 'D\u0420oP', 'DP\u043eP', '\uff24\uff30\uff4f\uff30',
    '\u212Aearer', 'Bea\u017Fer', 'B\u00e9arer', '\u0142earer', 'Bearer\u0000', '\u0002earer', 'Bearer\u00a0', 'BEARE\u0152', 'BEA\u0152ER', '\u00c2earer',
  ];
  const separators = ['', ' ', '  ', '\t', ' \t', '\t ', '\u00a0', '\u3000', ',', ':', '=', '\u0000'];
  const tokens = [jwt, '', 'abc', 'a=b', 'abc==', '==', 'a b', `${jwt.slice(0, 20)}=${jwt.slice(20)}`, `${jwt}=`, 'tok~en+/.', ' ', 'x\u212A', '\u00e9', 'a\tb', `${jwt} `, '\uff41bc'];
  const out = new Set<string>(['', ' ', 'Bearer', 'DPoP', ' Bearer x', 'Bearer x ', 'Bearer  ', 'Bearer\t', 'bearer\u0000x']);
  for (const s of schemes) for (const sep of separators) for (const t of tokens) out.add(`${s}${sep}${t}`);
  return [...out];
}

describe('Authorization header parsing equals the old regexes', () => {
  test('extractCredentials over a generated corpus (with and without DPoP)', async () => {
    const jwt = await idp.sign();
    const corpus = headerCorpus(jwt);
    let compared = 0;
    const tally: Record<string, number> = {};
    for (const dpop of [false, true]) {
      const options: ExtractOptions = { locations: ['header'], dpop, maxLength: 16_384, invalidRequest: (d) => new InvalidRequestError(d) };
      for (const value of corpus) {
        const expected = oldHeader(value, dpop);
        let got: ReturnType<typeof oldHeader>;
        try {
          const c = extractCredentials({ headers: { authorization: value }, rawHeaders: ['Authorization', value] } as never, options);
          got = c === undefined ? { kind: 'none' } : { kind: 'token', token: c.token, scheme: c.scheme };
        } catch (err) {
          expect((err as Error).message).toBe(malformedText(dpop));
          got = { kind: 'malformed' };
        }
        expect({ dpop, value, got }).toEqual({ dpop, value, got: expected });
        tally[expected.kind] = (tally[expected.kind] ?? 0) + 1;
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(12_000);
    expect(tally.token).toBeGreaterThan(20);
    expect(tally.malformed).toBeGreaterThan(100);
  });

  test('over real HTTP, header bytes as sent (UTF-8 look-alikes included): status, error and description as the old parser implies', async () => {
    const jwt = await idp.sign();
    for (const mode of ['disabled', 'allowed'] as const) {
      const dpop = mode === 'allowed';
      const guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, logger: false, dpop: { mode } });
      const received = new Map<string, string | undefined>();
      const app = express();
      app.use((req, _res, next) => {
        received.set(req.get('x-case')!, req.headers.authorization);
        next();
      });
      app.get('/me', guard, (req, res) => res.json({ sub: req.auth!.payload.sub }));
      app.use(oauthErrorHandler());
      const server = app.listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const { port } = server.address() as AddressInfo;
      try {
        const canonical = new Map<string, string>();
        const answer = async (id: string, value: Buffer | undefined) => {
          const r = await rawGet(port, id, value);
          return `${r.status} ${r.body}`;
        };
        const none = await answer('none', undefined);
        expect(none).toMatch(/^401 \{"error_description"/);
        // Every value as UTF-8 bytes; the server reads header bytes as latin1, so the oracle is fed what it received.
        // Every third value (the unit test above takes them all): enough to cover each scheme, separator and token shape.
        const values = headerCorpus(jwt).filter((v, i) => i % 3 === 0 && !/[\u0000-\u0008\u000a-\u001f\u007f]/.test(v));
        let n = 0;
        const kinds = new Set<string>();
        for (const value of values) {
          const id = `c${n++}`;
          const got = await answer(id, Buffer.from(value, 'utf8'));
          const seen = received.get(id);
          expect(seen).toBeDefined();
          const expected = oldHeader(seen!, dpop);
          kinds.add(expected.kind);
          let want: string;
          if (expected.kind === 'none') want = none;
          else if (expected.kind === 'malformed') want = `400 ${JSON.stringify({ error: 'invalid_request', error_description: malformedText(dpop) })}`;
          else {
            const key = `${expected.scheme === 'dpop' ? 'DPoP' : 'Bearer'} ${expected.token}`;
            if (!canonical.has(key)) canonical.set(key, await answer(`k${n}`, Buffer.from(key, 'latin1')));
            want = canonical.get(key)!;
          }
          expect({ mode, value, got }).toEqual({ mode, value, got: want });
        }
        expect(kinds).toEqual(new Set(['none', 'malformed', 'token']));
        expect([...canonical.values()].some((a) => a.startsWith('200 '))).toBe(true);
      } finally {
        await new Promise((r) => server.close(r));
      }
    }
  });
});

/** One HTTP/1.1 GET over a raw socket, so any header bytes can be sent. */
function rawGet(port: number, id: string, authorization: Buffer | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      resolve({ status: Number(head!.split(' ')[1]), body: Buffer.from(rest.join('\r\n\r\n'), 'latin1').toString('utf8') });
    });
    const lines: Buffer[] = [Buffer.from(`GET /me HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Case: ${id}\r\nConnection: close\r\n`, 'latin1')];
    if (authorization !== undefined) lines.push(Buffer.from('Authorization: ', 'latin1'), authorization, Buffer.from('\r\n', 'latin1'));
    lines.push(Buffer.from('\r\n', 'latin1'));
    // write, not end: a half-closed socket makes Node abort a request still being answered.
    socket.write(Buffer.concat(lines));
  });
}

// ---------------------------------------------------------------------------------------------
// Engine: the one-scan alphabet check, decodeChecked and the latin1 JSON read against the old engine.

describe('engine fast path equals the old engine', () => {
  const NOW = 1_900_000_000;
  const ISS = 'https://idp.example.test';
  const AUD = 'https://api.example.test';
  const es = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed = generateKeyPairSync('ed25519');
  const secret = Buffer.from('fast-path-differential-secret-0123456789');
  const jwks = {
    keys: [
      { ...(es.publicKey.export({ format: 'jwk' }) as JWK), kid: 'es', alg: 'ES256' },
      { ...(ed.publicKey.export({ format: 'jwk' }) as JWK), kid: 'ed', alg: 'EdDSA' },
    ],
  };
  const options: JWTVerifyOptions = { issuer: ISS, audience: AUD, algorithms: ['ES256', 'EdDSA'], requiredClaims: ['exp'], currentDate: new Date(NOW * 1000) };
  const hsOptions: JWTVerifyOptions = { ...options, algorithms: ['HS256'] };
  const claims = JSON.stringify({ iss: ISS, aud: AUD, sub: 'user-1', iat: NOW - 10, exp: NOW + 300 });

  type Signer = 'es' | 'ed' | 'hs';
  const signRaw = (s: Signer, h: string, p: string) => {
    const input = Buffer.from(`${h}.${p}`, 'latin1');
    const sig =
      s === 'hs' ? createHmac('sha256', secret).update(input).digest() : s === 'es' ? cryptoSign('sha256', input, { key: es.privateKey, dsaEncoding: 'ieee-p1363' }) : cryptoSign(null, input, ed.privateKey);
    return `${h}.${p}.${b64(sig)}`;
  };
  const headerOf = (s: Signer) => JSON.stringify(s === 'hs' ? { alg: 'HS256', typ: 'at+jwt' } : { alg: s === 'es' ? 'ES256' : 'EdDSA', kid: s, typ: 'at+jwt' });

  // The same mutations every run.
  const { int } = seeded(0xfa57);

  function corpus(): Array<{ name: string; jwt: string; signer: Signer }> {
    const out: Array<{ name: string; jwt: string; signer: Signer }> = [];
    const jsonBytes = (json: string): Array<[string, Uint8Array]> => {
      const inner = json.slice(1);
      return [
        ['ascii', Buffer.from(json)],
        ['BOM', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)])],
        ['BOM twice', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), Buffer.from(json)])],
        ['UTF-16 BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(json)])],
        ['valid UTF-8 ü', Buffer.from(`{"x":"ü✓😀",${inner}`)],
        ['latin1 é byte', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xe9]), Buffer.from(`",${inner}`)])],
        ['lone 0x80', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0x80]), Buffer.from(`",${inner}`)])],
        ['0xff', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xff]), Buffer.from(`",${inner}`)])],
        ['overlong /', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xc0, 0xaf]), Buffer.from(`",${inner}`)])],
        ['CESU surrogate', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from(`",${inner}`)])],
        ['truncated 3-byte', Buffer.concat([Buffer.from('{"x":"'), Buffer.from([0xe2, 0x82]), Buffer.from(`",${inner}`)])],
        ['raw DEL', Buffer.from(`{"x":"\u007f",${inner}`)],
        ['raw NUL in string', Buffer.from(`{"x":"\u0000",${inner}`)],
        ['BOM in the middle', Buffer.from(`{"x":"\ufeff",${inner}`)],
        ['NBSP as whitespace', Buffer.from(`{\u00a0${inner}`)],
        ['escaped non-ASCII', Buffer.from(`{"x":"\\u00e9\\ud83d\\ude00",${inner}`)],
        ['latin1 text as bytes', Buffer.from(`{"x":"é",${inner}`, 'latin1')],
      ];
    };
    for (const s of ['es', 'ed', 'hs'] as Signer[]) {
      for (const [hn, hb] of jsonBytes(headerOf(s))) {
        for (const [pn, pb] of jsonBytes(claims)) {
          if (hn !== 'ascii' && pn !== 'ascii') continue;
          out.push({ name: `${s} header ${hn} payload ${pn}`, jwt: signRaw(s, b64(hb), b64(pb)), signer: s });
        }
      }
    }
    const bases = (['es', 'ed', 'hs'] as Signer[]).map((s) => ({ s, jwt: signRaw(s, b64(headerOf(s)), b64(claims)) }));
    const CHARS = ['+', '/', '=', '.', ' ', '\t', '*', '~', '-', '_', 'A', 'é', '\u212A', '\u017F', '\uff21', '\ufeff', '\ud800', '\u0000', '\n', '\u00a0', '%', '\\'];
    for (const { s, jwt } of bases) {
      const parts = jwt.split('.');
      out.push({ name: `${s} valid`, jwt, signer: s });
      for (let i = 0; i < 3; i++) {
        const p = [...parts];
        p[i] = '';
        out.push({ name: `${s} empty part ${i}`, jwt: p.join('.'), signer: s });
        // Standard base64 and padding.
        const std = [...parts];
        std[i] = Buffer.from(parts[i]!, 'base64url').toString('base64');
        out.push({ name: `${s} part ${i} standard base64`, jwt: std.join('.'), signer: s });
        const unpadded = [...parts];
        unpadded[i] = Buffer.from(parts[i]!, 'base64url').toString('base64').replace(/=+$/, '');
        out.push({ name: `${s} part ${i} +/ unpadded`, jwt: unpadded.join('.'), signer: s });
        // Non-canonical endings: every other value of the last character.
        for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') {
          const nc = [...parts];
          nc[i] = parts[i]!.slice(0, -1) + c;
          out.push({ name: `${s} part ${i} last char ${c}`, jwt: nc.join('.'), signer: s });
        }
        for (const extra of ['A', 'AA', 'AAA', '=', '==']) {
          const longer = [...parts];
          longer[i] = parts[i]! + extra;
          out.push({ name: `${s} part ${i} + ${extra}`, jwt: longer.join('.'), signer: s });
        }
      }
      for (let n = 0; n < 700; n++) {
        const chars = [...jwt];
        const at = int(chars.length);
        const c = CHARS[int(CHARS.length)]!;
        const op = int(3);
        if (op === 0) chars[at] = c;
        else if (op === 1) chars.splice(at, 0, c);
        else chars.splice(at, 1);
        out.push({ name: `${s} mutation ${n} (${op} ${JSON.stringify(c)} at ${at})`, jwt: chars.join(''), signer: s });
      }
    }
    return out;
  }

  type Outcome = string;
  const outcome = async (run: () => unknown): Promise<Outcome> => {
    try {
      const r = (await run()) as { payload: unknown; protectedHeader: unknown };
      return `ok ${JSON.stringify(r.payload)} ${JSON.stringify(r.protectedHeader)}`;
    } catch (err) {
      const e = err as { claim?: string; reason?: string; message: string; constructor: { name: string } };
      return `${e.constructor.name}: ${e.message}${e.claim ? ` ${e.claim}/${e.reason}` : ''}`;
    }
  };

  test('every token of the corpus: same verdict, error class and message, with the key at hand, a key set, as bytes, and shape-checked as the guard calls it', async () => {
    const set = createLocalJWKSet(jwks);
    const cases = corpus();
    expect(cases.length).toBeGreaterThan(2_500);
    const mismatches: string[] = [];
    const tally: Record<string, number> = {};
    let shapeChecked = 0;
    for (const c of cases) {
      const opts = c.signer === 'hs' ? hsOptions : options;
      const direct = c.signer === 'hs' ? new Uint8Array(secret) : c.signer === 'es' ? es.publicKey : ed.publicKey;
      for (const [how, key] of [
        ['key', direct],
        ['set', c.signer === 'hs' ? direct : set],
      ] as const) {
        const old = await outcome(() => oldJwtVerify(c.jwt, key as never, opts));
        const fresh = await outcome(() => verifyJwt(c.jwt, key as never, opts));
        const bytes = await outcome(() => verifyJwt(new TextEncoder().encode(c.jwt), key as never, opts));
        const oldBytes = await outcome(() => oldJwtVerify(new TextEncoder().encode(c.jwt), key as never, opts));
        if (fresh !== old) mismatches.push(`${c.name} [${how}]: now ${fresh} | before ${old}`);
        if (bytes !== oldBytes) mismatches.push(`${c.name} [${how}, bytes]: now ${bytes} | before ${oldBytes}`);
        // As the guard calls it: formatProblem() first, whose shape match the engine then reuses.
        if (formatProblem(c.jwt) === undefined) {
          shapeChecked++;
          const guarded = await outcome(() => verifyJwt(c.jwt, key as never, opts));
          if (guarded !== old) mismatches.push(`${c.name} [${how}, shapeChecked]: now ${guarded} | before ${old}`);
        }
        const k = old.startsWith('ok') ? 'ok' : old.split(':')[0]!;
        tally[k] = (tally[k] ?? 0) + 1;
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    // The corpus must reach both verdicts and the decoding errors, or it proves little.
    expect(tally.ok).toBeGreaterThan(50);
    expect(tally.JWSInvalid).toBeGreaterThan(500);
    expect(tally.JWSSignatureVerificationFailed).toBeGreaterThan(100);
    expect(shapeChecked).toBeGreaterThan(1_000);
  });
});
