/**
 * Introspection against a hostile or broken endpoint (a real HTTP server on 127.0.0.1): answers
 * that are not RFC 7662 answers are outages (503, never cached, never "allow"); answers for
 * another issuer or audience are refusals; a flood of made-up tokens costs one call per token
 * per inactiveCacheTtlSeconds with bounded memory; the token never reaches a log line.
 */
import type { IncomingMessage } from 'node:http';
import express from 'express';
import request from 'supertest';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { createGuard, MemoryTokenStore, oauthErrorHandler, requireAuth, type IntrospectionOptions, type RequireAuthOptions } from '../../lib/index.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { useTestClock } from '../support/clock.js';

const ISSUER = 'https://idp.hostile.test';
const AUD = 'https://api.hostile.test';
const CLIENT = { clientId: 'api', clientSecret: 'api-secret-0123456789abcdef' };

type Handler = (req: IncomingMessage, form: URLSearchParams, res: import('node:http').ServerResponse) => void;
let handler: Handler;
let idp: Listening;
let calls = 0;
let lastRequest: { contentType?: string; authorization?: string; accept?: string; form: string } | undefined;
let signingKey: CryptoKey;
let otherKey: CryptoKey;
let jwks: { keys: Record<string, unknown>[] };
const clock = useTestClock();

const json = (body: unknown, status = 200) => (_req: IncomingMessage, _f: URLSearchParams, res: import('node:http').ServerResponse) =>
  void res.writeHead(status, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
const now = () => Math.floor(Date.now() / 1000);
const active = (extra: Record<string, unknown> = {}) => ({ active: true, iss: ISSUER, aud: AUD, exp: now() + 600, iat: now(), client_id: 'caller', scope: 'read', ...extra });

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  signingKey = pair.privateKey;
  otherKey = (await generateKeyPair('ES256')).privateKey;
  jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
  idp = await listen(async (req, res) => {
    calls += 1;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = Buffer.concat(chunks).toString('utf8');
    lastRequest = { contentType: req.headers['content-type'], authorization: req.headers.authorization, accept: req.headers.accept, form };
    handler(req, new URLSearchParams(form), res);
  });
});
afterAll(() => idp.close());
beforeEach(() => {
  calls = 0;
  handler = json(active());
});

function app(introspection: Partial<IntrospectionOptions> = {}, options: Partial<RequireAuthOptions> = {}, lines: string[] = []) {
  const a = express();
  const logger = { warn: (l: string) => lines.push(l), error: (l: string) => lines.push(l), debug: (l: string) => lines.push(l) };
  a.get('/r', requireAuth({ issuer: ISSUER, audience: AUD, jwks, logger, introspection: { ...CLIENT, endpoint: `${idp.url}/introspect`, ...introspection }, ...options } as RequireAuthOptions), (req, res) =>
    res.json({ scopes: req.auth!.scopes, clientId: req.auth!.clientId }),
  );
  a.use(oauthErrorHandler());
  return a;
}
const call = (a: express.Express, token: string) => request(a).get('/r').set('Authorization', `Bearer ${token}`);

test('the request is a POST form token=…&token_type_hint=access_token with client_secret_basic; the answer maps to req.auth', async () => {
  const res = await call(app(), 'opaque-token-1');
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ scopes: ['read'], clientId: 'caller' });
  expect(lastRequest).toMatchObject({ contentType: 'application/x-www-form-urlencoded', accept: 'application/json', form: 'token=opaque-token-1&token_type_hint=access_token' });
  expect(lastRequest!.authorization).toMatch(/^Basic /);
});

describe('answers that are not introspection answers: 503 with Retry-After, not cached, the token not in any line', () => {
  const cases: Array<[string, Handler, Partial<IntrospectionOptions>]> = [
    ['a huge body', (_q, _f, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(`{"active":true,"pad":"${'x'.repeat(200_000)}"}`), {}],
    ['non-JSON (an HTML error page)', (_q, _f, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>'), {}],
    ['active as the string "true"', json({ ...active(), active: 'true' }), {}],
    ['active missing', json({ iss: ISSUER, aud: AUD }), {}],
    ['an array', json([active()]), {}],
    ['JSON null', json('null'), {}],
    ['a redirect', (_q, _f, res) => void res.writeHead(302, { location: 'https://elsewhere.example/introspect' }).end(), {}],
    ['a 500 echoing the token', (_q, f, res) => void res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'server_error', error_description: `bad ${f.get('token')}` })), {}],
    ['a slow answer (bounded by timeoutMs)', () => undefined, { timeoutMs: 500 }],
  ];
  test.each(cases)('%s', async (_name, h, extra) => {
    handler = h;
    const lines: string[] = [];
    const a = app(extra, {}, lines);
    const token = `secret-opaque-${Math.random().toString(36).slice(2)}`;
    for (let i = 1; i <= 2; i++) {
      const res = await call(a, token);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.body.error).toBe('temporarily_unavailable');
      // Errors are not cached: each request asks again.
      expect(calls).toBe(i);
    }
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(token);
  });

  test("a 503 with Retry-After: the endpoint's value is passed on, bounded", async () => {
    handler = (_q, _f, res) => void res.writeHead(503, { 'retry-after': '17' }).end('{}');
    expect((await call(app(), 't-503')).headers['retry-after']).toBe('17');
    handler = (_q, _f, res) => void res.writeHead(503, { 'retry-after': '999999' }).end('{}');
    expect((await call(app(), 't-503b')).headers['retry-after']).toBe('60');
  });
});

describe('active answers this API must refuse: 401', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['another issuer', active({ iss: 'https://evil.example' }), /another issuer/],
    ['another audience', active({ aud: ['https://other.example'] }), /not meant for this API/],
    ['no audience', active({ aud: undefined }), /has no aud/],
    ['expired', active({ exp: now() - 60 }), /expired/],
    ['exp as a string', active({ exp: String(now() + 600) }), /invalid "exp"/],
    ['a refresh token type', active({ token_type: 'refresh_token' }), /not an access token/],
    ['a certificate-bound token', active({ cnf: { 'x5t#S256': 'abc' } }), /client certificate/],
    ['a cnf.jkt that is not a string', active({ cnf: { jkt: 42 } }), /invalid "cnf"/],
    ['not active', { active: false }, /not active/],
  ];
  test.each(cases)('%s', async (_name, answer, message) => {
    handler = json(answer);
    const res = await call(app(), `t-${_name.replace(/\W+/g, '-')}`);
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
    expect(res.body.error_description).toMatch(message);
  });

  test('an answer without aud is accepted with allowMissingAudience', async () => {
    handler = json(active({ aud: undefined }));
    expect((await call(app({ allowMissingAudience: true }), 't-noaud')).status).toBe(200);
  });

  test('an answer is never used past its exp, whatever cacheTtlSeconds says', async () => {
    handler = json(active({ exp: now() + 20 }));
    const a = app({ cacheTtlSeconds: 3600 });
    expect((await call(a, 't-exp')).status).toBe(200);
    clock.advance(25_000);
    handler = json({ active: false });
    expect((await call(a, 't-exp')).status).toBe(401);
    expect(calls).toBe(2);
  });
});

test('a flood of made-up tokens: one call per token per inactiveCacheTtlSeconds, memory bounded by cacheMaxEntries', async () => {
  handler = json({ active: false });
  const a = createGuard({ issuer: ISSUER, audience: AUD, jwks, logger: false, introspection: { ...CLIENT, endpoint: `${idp.url}/introspect`, cacheMaxEntries: 100 } });
  const tokens = Array.from({ length: 300 }, (_, i) => `garbage-${i}`);
  const refuse = async (t: string) => expect(await a.verify(t).then(() => 'accepted', (e: { code: string }) => e.code)).toBe('invalid_token');
  for (const t of tokens) await refuse(t);
  expect(calls).toBe(300);
  // The last 100 are remembered: no call.
  for (const t of tokens.slice(200)) await refuse(t);
  expect(calls).toBe(300);
  // The first ones were evicted (bounded): asked again.
  await refuse(tokens[0]!);
  expect(calls).toBe(301);
  // After inactiveCacheTtlSeconds (10 s), asked again.
  clock.advance(10_001);
  await refuse(tokens[299]!);
  expect(calls).toBe(302);
});

test('distinct tokens in flight are bounded (by cacheMaxEntries, at most 1024): past it, 503 at once', async () => {
  handler = () => undefined; // never answers
  const g = createGuard({ issuer: ISSUER, audience: AUD, jwks, logger: false, introspection: { ...CLIENT, endpoint: `${idp.url}/introspect`, cacheMaxEntries: 5, timeoutMs: 2_000 } });
  const outcome = (t: string) => g.verify(t).then(() => 'accepted', (e: { code: string; headers: Record<string, string> }) => `${e.code} ${e.headers['Retry-After']}`);
  const pending = Array.from({ length: 5 }, (_, i) => outcome(`pending-${i}`));
  // The sixth distinct token is refused without a call, before the five have an answer.
  expect(await outcome('one-too-many')).toBe('introspection_unavailable 1');
  // The same token as one in flight joins it rather than counting again.
  const joined = outcome('pending-0');
  expect(await Promise.all([...pending, joined])).toEqual(Array(6).fill('introspection_unavailable 5'));
  expect(calls).toBe(5);
});

test('several issuers: an opaque token goes to the one that introspects, a JWT of another is verified locally; a resolver may not introspect', async () => {
  const b = await generateKeyPair('ES256', { extractable: true });
  const jwksB = { keys: [{ ...(await exportJWK(b.publicKey)), kid: 'b1', alg: 'ES256' }] };
  const g = createGuard({
    logger: false,
    issuers: [
      { issuer: ISSUER, audience: AUD, jwks, introspection: { ...CLIENT, endpoint: `${idp.url}/introspect` } },
      { issuer: 'https://b.example', audience: AUD, jwks: jwksB },
    ],
  });
  expect((await g.verify('opaque-for-a')).issuer).toBe(ISSUER);
  expect(calls).toBe(1);
  const jwtB = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'b1' }).setIssuer('https://b.example').setAudience(AUD).setExpirationTime('5m').sign(b.privateKey);
  const v = await g.verify(jwtB);
  expect(v).toMatchObject({ issuer: 'https://b.example' });
  expect(v.verifiedBy).toBe('jwt');
  expect(calls).toBe(1);

  const resolved = createGuard({ logger: false, issuers: async (iss) => ({ issuer: iss, audience: AUD, jwks, introspection: CLIENT }) });
  const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUD).setExpirationTime('5m').sign(signingKey);
  await expect(resolved.verify(jwt)).rejects.toMatchObject({ code: 'misconfigured', message: expect.stringMatching(/introspection is not supported with a resolver/) });
});

test('the cache key includes the endpoint: two guards with other endpoints sharing a store each ask', async () => {
  const store = new MemoryTokenStore();
  const a = app({ store, endpoint: `${idp.url}/a` });
  const b = app({ store, endpoint: `${idp.url}/b` });
  expect((await call(a, 'shared-token')).status).toBe(200);
  expect((await call(b, 'shared-token')).status).toBe(200);
  expect(calls).toBe(2);
  // Same endpoint and client: the second instance reads the first one's answer.
  const c = app({ store, endpoint: `${idp.url}/a` });
  expect((await call(c, 'shared-token')).status).toBe(200);
  expect(calls).toBe(2);
});

describe('RFC 9701 signed answers', () => {
  const signed = (key: CryptoKey, claims: Record<string, unknown>, typ = 'token-introspection+jwt') =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1', typ }).setIssuer(ISSUER).setAudience(CLIENT.clientId).setIssuedAt().sign(key);
  const reply = (jwt: string) => (_q: IncomingMessage, _f: URLSearchParams, res: import('node:http').ServerResponse) =>
    void res.writeHead(200, { 'content-type': 'application/token-introspection+jwt' }).end(jwt);

  test('asked for with signedAnswers, verified with the issuer keys', async () => {
    handler = reply(await signed(signingKey, { token_introspection: active() }));
    const res = await call(app({ signedAnswers: true }), 't-signed');
    expect(res.status).toBe(200);
    expect(lastRequest!.accept).toMatch(/^application\/token-introspection\+jwt/);
  });

  test.each([
    ['signed by another key', async () => signed(otherKey, { token_introspection: active() })],
    ['without token_introspection', async () => signed(signingKey, { active: true })],
    ['with the wrong typ', async () => signed(signingKey, { token_introspection: active() }, 'JWT')],
  ])('%s: 503', async (_name, make) => {
    handler = reply(await make());
    expect((await call(app({ signedAnswers: true }), `t-${_name.replace(/\W+/g, '-')}`)).status).toBe(503);
  });
});

test('options are checked at start-up', () => {
  const base = { issuer: ISSUER, audience: AUD, jwks };
  expect(() => createGuard({ ...base, introspection: { ...CLIENT, tokens: 'some' as never } })).toThrow(/introspection\.tokens must be 'opaque', 'all' or 'jwt'/);
  expect(() => createGuard({ ...base, introspection: { ...CLIENT, cacheTtl: 60 } as never })).toThrow(/unknown option "introspection\.cacheTtl"; did you mean introspection\.cacheTtlSeconds\?/);
  expect(() => createGuard({ ...base, introspection: { clientId: 'x' } as never })).toThrow(/clientSecret is required/);
  expect(() => createGuard({ ...base, introspection: { ...CLIENT, store: {} as never } })).toThrow(/store must have get/);
  expect(() =>
    createGuard({
      issuers: [
        { issuer: 'https://a.example', audience: AUD, jwks, introspection: CLIENT },
        { issuer: 'https://b.example', audience: AUD, jwks, introspection: CLIENT },
      ],
    }),
  ).toThrow(/only one issuer may introspect opaque tokens/);
  expect(() =>
    createGuard({
      issuers: [
        { issuer: 'https://a.example', audience: AUD, jwks, introspection: CLIENT },
        { issuer: 'https://b.example', audience: AUD, jwks, introspection: { ...CLIENT, tokens: 'jwt' } },
      ],
    }),
  ).not.toThrow();
});

test("tokens: 'all' introspects JWTs too (revocation of JWTs is seen); tokens: 'jwt' never calls", async () => {
  const jwt = await new SignJWT({ scope: 'read' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUD).setIssuedAt().setExpirationTime('10m').sign(signingKey);
  handler = json({ active: false });
  // The signature is fine, but the issuer says the token is revoked: refused.
  expect((await call(app({ tokens: 'all' }), jwt)).status).toBe(401);
  expect(calls).toBe(1);
  // The default ('opaque'): verified locally, no call.
  expect((await call(app(), jwt)).status).toBe(200);
  expect(calls).toBe(1);
  // 'jwt': an opaque token is refused as without introspection, no call.
  const res = await call(app({ tokens: 'jwt' }), 'opaque-token');
  expect(res.status).toBe(401);
  expect(res.body.error_description).toMatch(/not a signed JWT/);
  expect(calls).toBe(1);
});

test('without introspection an opaque token is refused as before, without a call', async () => {
  const a = express();
  a.get('/r', requireAuth({ issuer: ISSUER, audience: AUD, jwks, logger: false }), (_req, res) => res.end());
  a.use(oauthErrorHandler());
  const res = await call(a, 'opaque');
  expect(res.status).toBe(401);
  expect(calls).toBe(0);
});
