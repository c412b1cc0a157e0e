import express from 'express';
import request from 'supertest';
import { SignJWT, exportJWK, generateKeyPair, base64url, type JSONWebKeySet } from 'jose';
import { oauthErrorHandler, requireAuth, type RequireAuthOptions, type GuardCommonOptions, type IssuerSettings } from '../../lib/index.js';
import { startJwksServer, type JwksServer } from '../../fixtures/jwks-server.js';

/** Options a test puts over a working single-issuer base (the either/or key options are unions: see option-types.test.ts). */
type OptionOverrides = Partial<GuardCommonOptions & IssuerSettings> & { jwksUri?: string; jwks?: JSONWebKeySet; secret?: string };

let idp: JwksServer;

beforeAll(async () => {
  idp = await startJwksServer({ algs: ['RS256', 'PS256', 'ES256', 'EdDSA'] });
});
afterAll(() => idp.close());

function appWith(options: OptionOverrides = {}, { jsonErrors = false } = {}) {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(requireAuth({ issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, ...options } as RequireAuthOptions));
  app.all('/me', (req, res) => res.json({ sub: req.auth?.payload.sub ?? null, scopes: req.auth?.scopes ?? null, alg: req.auth?.header.alg }));
  if (jsonErrors) app.use(oauthErrorHandler());
  return app;
}

const challenge = (res: request.Response) => res.headers['www-authenticate'] as string | undefined;

describe('requireAuth: valid tokens', () => {
  test.each(['RS256', 'PS256', 'ES256', 'EdDSA'] as const)('accepts a %s token and sets req.auth', async (alg) => {
    const token = await idp.sign({ sub: `user-${alg}` }, { alg });
    const res = await request(appWith()).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sub: `user-${alg}`, scopes: ['read:things'], alg });
  });

  test('the scheme is case-insensitive and several spaces after it are allowed (RFC 6750 §2.1: 1*SP)', async () => {
    const token = await idp.sign();
    for (const header of [`bearer ${token}`, `BEARER ${token}`, `Bearer    ${token}`]) {
      const res = await request(appWith()).get('/me').set('Authorization', header);
      expect(res.status).toBe(200);
    }
  });

  test('accepts any one of several audiences', async () => {
    const token = await idp.sign();
    const res = await request(appWith({ audience: ['https://other.example', idp.audience] })).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
  });

  test('reads scopes from a CIAM-style scope array and from scp', async () => {
    const token = await idp.sign({ scope: ['openid', 'orders:read'], scp: ['extra'] });
    const res = await request(appWith()).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.body.scopes).toEqual(['openid', 'orders:read', 'extra']);
  });
});

describe('requireAuth: missing or malformed requests', () => {
  test('no token → 401 with a challenge per accepted scheme (Bearer, DPoP) and no error code', async () => {
    const res = await request(appWith()).get('/me');
    expect(res.status).toBe(401);
    expect(challenge(res)).toBe('Bearer realm="api", DPoP realm="api", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"');
  });

  test('a Basic Authorization header counts as no bearer token', async () => {
    const res = await request(appWith()).get('/me').set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(res.status).toBe(401);
    expect(challenge(res)).toBe('Bearer realm="api", DPoP realm="api", algs="ES256 ES384 EdDSA Ed25519 PS256 RS256"');
  });

  test.each([
    ['empty token', 'Bearer '],
    ['two tokens', 'Bearer abc.def.ghi second'],
    ['characters outside b64token', 'Bearer abc"def'],
    ['no space after the scheme', 'Bearerabc.def.ghi'],
  ])('%s → 400 invalid_request', async (_name, header) => {
    const res = await request(appWith({}, { jsonErrors: true })).get('/me').set('Authorization', header);
    if (header === 'Bearerabc.def.ghi') {
      // Not the Bearer scheme at all: treated as no credentials.
      expect(res.status).toBe(401);
      return;
    }
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(challenge(res)).toMatch(/^Bearer realm="api", error="invalid_request", error_description="/);
  });

  test('a token larger than maxTokenLength → 400 before any parsing', async () => {
    // Node itself refuses headers over 16 KiB (431), so the bound is shown with a smaller limit
    // and with the form body, which has no such limit.
    const big = 'a'.repeat(5_000);
    const res = await request(appWith({ maxTokenLength: 4096 }, { jsonErrors: true })).get('/me').set('Authorization', `Bearer ${big}`);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', error_description: 'The token is longer than 4096 characters' });
    const huge = 'a'.repeat(100_000);
    const viaBody = await request(appWith({ tokenLocations: ['body'] }, { jsonErrors: true })).post('/me').type('form').send({ access_token: huge });
    expect(viaBody.status).toBe(400);
    expect(viaBody.body.error_description).toBe('The token is longer than 16384 characters');
  });

  test('token in header and query at once → 400 invalid_request (RFC 6750 §2)', async () => {
    const token = await idp.sign();
    const res = await request(appWith({ tokenLocations: ['query'] }, { jsonErrors: true }))
      .get(`/me?access_token=${token}`)
      .set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  test('query and form-body tokens only when enabled', async () => {
    const token = await idp.sign();
    const off = await request(appWith()).get(`/me?access_token=${token}`);
    expect(off.status).toBe(401);
    const query = await request(appWith({ tokenLocations: ['query'] })).get(`/me?access_token=${token}`);
    expect(query.status).toBe(200);
    const body = await request(appWith({ tokenLocations: ['body'] })).post('/me').type('form').send({ access_token: token });
    expect(body.status).toBe(200);
  });

  test('authRequired: false lets anonymous requests through but still rejects a bad token', async () => {
    const app = appWith({ authRequired: false });
    const anon = await request(app).get('/me');
    expect(anon.status).toBe(200);
    expect(anon.body.sub).toBeNull();
    const bad = await request(app).get('/me').set('Authorization', 'Bearer a.b.c');
    expect(bad.status).toBe(401);
  });
});

describe('requireAuth: hostile and invalid tokens → 401 invalid_token', () => {
  async function expectInvalid(token: string, description: string | RegExp, options: OptionOverrides = {}) {
    const res = await request(appWith(options, { jsonErrors: true })).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
    expect(res.body.error_description).toMatch(description);
    // A quoted-string: '"' and '\' inside it are backslash-escaped (RFC 9110 §5.6.4).
    expect(challenge(res)).toMatch(/^Bearer realm="api", error="invalid_token", error_description="(?:[^"\\]|\\["\\])+"$/);
    // Nothing of the token is echoed back.
    expect(JSON.stringify(res.body) + challenge(res)).not.toContain(token.split('.')[1] || token);
  }

  test('alg: none', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = base64url.encode(JSON.stringify({ iss: idp.issuer, aud: idp.audience, exp: Math.floor(Date.now() / 1000) + 60 }));
    await expectInvalid(`${header}.${payload}.`, /not a signed JWT/);
    await expectInvalid(`${header}.${payload}.AAAA`, /algorithm this API does not accept/);
  });

  test('HS256 signed with the RSA public key (algorithm confusion)', async () => {
    const rsa = idp.keys.find((k) => k.alg === 'RS256')!;
    const secret = new TextEncoder().encode(JSON.stringify(rsa.publicJwk));
    const forged = await new SignJWT({ sub: 'attacker' })
      .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
      .setIssuer(idp.issuer)
      .setAudience(idp.audience)
      .setExpirationTime('5m')
      .sign(secret);
    await expectInvalid(forged, /algorithm this API does not accept/);
  });

  test('unknown kid', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'nobody' }).setIssuer(idp.issuer).setAudience(idp.audience).setExpirationTime('5m').sign(privateKey);
    await expectInvalid(forged, /No key of the issuer matches/);
  });

  test('jwk header injection: an embedded attacker key is never used', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const rsa = idp.keys.find((k) => k.alg === 'RS256')!;
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: rsa.kid, jwk: await exportJWK(publicKey) })
      .setIssuer(idp.issuer)
      .setAudience(idp.audience)
      .setExpirationTime('5m')
      .sign(privateKey);
    await expectInvalid(forged, /signature is invalid/);
  });

  test('jku / x5u headers are never followed', async () => {
    const before = idp.jwksRequests;
    const { privateKey } = await generateKeyPair('RS256');
    const rsa = idp.keys.find((k) => k.alg === 'RS256')!;
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: rsa.kid, jku: 'http://127.0.0.1:1/evil.json', x5u: 'http://127.0.0.1:1/evil.pem' })
      .setIssuer(idp.issuer)
      .setAudience(idp.audience)
      .setExpirationTime('5m')
      .sign(privateKey);
    await expectInvalid(forged, /signature is invalid/);
    expect(idp.jwksRequests - before).toBeLessThanOrEqual(1);
  });

  test('truncated signature, bad base64url, payload not JSON, JWE', async () => {
    const token = await idp.sign();
    const [h, p, s] = token.split('.');
    await expectInvalid(`${h}.${p}.${s!.slice(0, 20)}`, /signature is invalid/);
    await expectInvalid(`${h}.${p}`, /not a signed JWT/);
    await expectInvalid(`${h}x.${p}.${s}`, /not a well-formed JWS|signature is invalid/);
    await expectInvalid(`${h}.${base64url.encode('not json')}.${s}`, /not a valid JWT claims set|signature is invalid/);
    await expectInvalid('a.b.c.d.e', /Encrypted tokens/);
  });

  test('expired, not yet valid, too old', async () => {
    await expectInvalid(await idp.sign({}, { expiresIn: -60 }), /expired/);
    await expectInvalid(await idp.sign({ nbf: Math.floor(Date.now() / 1000) + 600 }), /not valid yet/);
    await expectInvalid(await idp.sign({ iat: Math.floor(Date.now() / 1000) - 3600 }), /too old/, { maxTokenAge: 600 });
  });

  test('clockTolerance accepts a token expired a moment ago', async () => {
    const token = await idp.sign({}, { expiresIn: -3 });
    const res = await request(appWith({ clockTolerance: 10 })).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
  });

  test('wrong issuer, wrong audience, missing exp, missing required claim, wrong typ', async () => {
    // The operator learns why (at debug), in the app's logger rather than on the console.
    const lines: string[] = [];
    const logger = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`), debug: (m: string) => lines.push(`debug ${m}`) };
    await expectInvalid(await idp.sign({ iss: 'https://evil.example' }), /another issuer/, { logger });
    await expectInvalid(await idp.sign({ aud: 'https://other-api.example' }), /not meant for this API/, { logger });
    expect(lines).toEqual([
      expect.stringMatching(/^debug .*refused a token from issuer "https:\/\/evil\.example"/),
      expect.stringMatching(/^debug .*refused a token with aud "https:\/\/other-api\.example"/),
    ]);
    await expectInvalid(await idp.sign({}, { omit: ['exp'] }), /no "exp" claim/);
    await expectInvalid(await idp.sign(), /no "tenant" claim/, { requiredClaims: ['tenant'] });
    await expectInvalid(await idp.sign({}, { header: { typ: 'JWT' } }), /unexpected type/, { typ: 'at+jwt' });
  });
});

describe('requireAuth: key sources', () => {
  test('local jwks', async () => {
    const token = await idp.sign();
    const res = await request(appWith({ jwksUri: undefined, jwks: { keys: idp.keys.map((k) => k.publicJwk) } }))
      .get('/me')
      .set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
  });

  test('discovery from the issuer', async () => {
    const token = await idp.sign();
    const res = await request(appWith({ jwksUri: undefined })).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
  });

  test('HS256 only with an explicit secret', async () => {
    const secret = 'a-very-long-shared-secret-of-32-bytes-or-more!';
    const token = await new SignJWT({ sub: 'svc' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(idp.issuer).setAudience(idp.audience).setExpirationTime('5m').sign(new TextEncoder().encode(secret));
    const res = await request(appWith({ jwksUri: undefined, secret })).get('/me').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    const rejected = await request(appWith()).get('/me').set('Authorization', `Bearer ${token}`);
    expect(rejected.status).toBe(401);
  });
});

describe('requireAuth: options are validated up front', () => {
  test.each<[string, OptionOverrides, RegExp]>([
    ['missing issuer', { issuer: undefined }, /issuer is required.*config_issuer/],
    ['missing audience', { audience: undefined }, /audience is required/],
    ['empty audience list', { audience: [] }, /audience is required/],
    ['HS256 with a JWKS', { algorithms: ['HS256'] }, /not allowed with public keys/],
    ['alg none', { algorithms: ['none' as never] }, /"none" is never accepted/],
    ['bad jwksUri', { jwksUri: 'not a url' }, /jwksUri is not a valid URL/],
    ['plain http on a public host', { jwksUri: 'http://idp.example.com/jwks' }, /must use https/],
    ['two key sources', { jwks: { keys: [] } }, /only one of jwksUri, jwks or secret/],
    ['short secret', { jwksUri: undefined, secret: 'short' }, /at least 32 bytes/],
    ['bad cache option', { cache: { maxEntries: -1 } }, /cache.maxEntries must be a positive integer/],
  ])('%s', (_name, override, message) => {
    const options = { issuer: idp.issuer, audience: idp.audience, jwksUri: idp.jwksUri, ...override } as RequireAuthOptions;
    expect(() => requireAuth(options)).toThrow(message);
  });
});
