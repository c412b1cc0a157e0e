/**
 * The key memo in KeySource (lib/guard/key-source.ts): rotation, removal and look-alike headers on a
 * real JWKS server, with jose.jwtVerify as the reference for key selection.
 */
import { constants, KeyObject, sign as cryptoSign } from 'node:crypto';
import express from 'express';
import request from 'supertest';
import { createLocalJWKSet, jwtVerify as joseVerify, type JWTVerifyOptions } from 'jose';
import { oauthErrorHandler, requireAuth, type GuardCommonOptions, type IssuerSettings } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';
import { useTestClock } from '../support/clock.js';

/** Options a test puts over a working single-issuer base (the either/or key options are unions: see option-types.test.ts). */
type OptionOverrides = Partial<GuardCommonOptions & IssuerSettings> & { jwksUri?: string };

const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');

let idp: JwksServer;
beforeEach(async () => {
  idp = await startJwksServer({ algs: ['RS256', 'ES256'] });
  clearDiscoveryCache();
});
afterEach(() => idp.close());

function setup(options: OptionOverrides = {}) {
  const guard = requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, jwksTimeout: 500, logger: false, ...options });
  const app = express();
  app.get('/me', guard, (req, res) => res.json({ sub: req.auth!.payload.sub, kid: req.auth!.header.kid ?? null }));
  app.use(oauthErrorHandler());
  const call = (token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`);
  return { guard, app, call };
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
  // jwksCacheMaxAge is measured with the library's clock: moved forward, not slept through.
  const clock = useTestClock();

  test('after jwksCacheMaxAge a removed key is refused, even for a key the memo held; a new key is accepted', async () => {
    const { call } = setup({ jwksCacheMaxAge: 300, cache: false });
    const [oldKey] = idp.keys;
    // Twice: the second lookup is served by the memo.
    expect((await call(await idp.sign({ n: 1 }, { kid: oldKey!.kid }))).status).toBe(200);
    expect((await call(await idp.sign({ n: 2 }, { kid: oldKey!.kid }))).status).toBe(200);
    const newKey = await idp.addKey('RS256');
    const oldSigned = await idp.sign({ n: 3 }, { kid: oldKey!.kid });
    idp.removeKey(oldKey!.kid);
    clock.advance(350);
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
