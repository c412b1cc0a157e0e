/**
 * Attacks on RFC 7662 introspection (a hostile client, a hostile or broken IdP), each against a
 * real server on 127.0.0.1: node oidc-provider where its behaviour is the point, else a small
 * hostile endpoint. Each test is a finding that was fixed.
 */
import express from 'express';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { createGuard, oauthErrorHandler, requireAuth, type RequireAuthOptions } from '../../lib/index.js';
import { clearDiscoveryCache } from '../../lib/idp/discovery.js';
import { startOidcProvider, type RunningOidcProvider } from '../../fixtures/oidc-provider.js';
import { listen, type Listening } from '../../fixtures/listen.js';
import { useTestClock } from '../support/clock.js';
import type { IncomingMessage, ServerResponse } from 'node:http';

const API = { client_id: 'api-attack', client_secret: 'api-attack-secret-0123456789abcdef', grant_types: ['client_credentials'] };

let op: RunningOidcProvider;
/** The hostile endpoint: answers with whatever `answer` says, and counts calls. */
let hostile: Listening;
let answer: (res: ServerResponse) => void;
let calls = 0;
const clock = useTestClock();
beforeAll(async () => {
  clearDiscoveryCache();
  op = await startOidcProvider({ accessTokenFormat: 'opaque', clients: [API] });
  hostile = await listen(async (req: IncomingMessage, res: ServerResponse) => {
    calls += 1;
    for await (const _chunk of req);
    answer(res);
  });
});
afterAll(async () => {
  await op.close();
  await hostile.close();
});
beforeEach(() => {
  calls = 0;
});

const HOSTILE_ISSUER = 'https://idp.attack.test';
const HOSTILE_AUD = 'https://api.attack.test';
const json = (body: unknown) => (res: ServerResponse) => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const seconds = () => Math.floor(Date.now() / 1000);
function hostileGuard(options: Record<string, unknown> = {}, introspection: Record<string, unknown> = {}) {
  return createGuard({
    issuer: HOSTILE_ISSUER,
    audience: HOSTILE_AUD,
    jwks: { keys: [] },
    logger: false,
    introspection: { clientId: 'api', clientSecret: 'api-secret-0123456789abcdef', endpoint: `${hostile.url}/introspect`, ...introspection },
    ...options,
  } as never);
}
const outcome = (g: ReturnType<typeof hostileGuard>, token: string) =>
  g.verify(token).then(
    () => 'accepted',
    (e: { code: string }) => e.code,
  );

function appWith(lines: Array<[string, string]>, options: Partial<RequireAuthOptions> = {}): express.Express {
  const app = express();
  const logger = { warn: (l: string) => lines.push(['warn', l]), error: (l: string) => lines.push(['error', l]), debug: (l: string) => lines.push(['debug', l]) };
  app.get('/r', requireAuth({ issuer: op.issuer, audience: op.resource, logger, introspection: { clientId: API.client_id, clientSecret: API.client_secret }, ...options } as RequireAuthOptions), (_req, res) => res.end('ok'));
  app.use(oauthErrorHandler());
  return app;
}

test('a client token the endpoint answers 400 for (oidc-provider: a JWS-like header, not a compact JWS) is a 401, never a 500 and never an error-level line', async () => {
  const lines: Array<[string, string]> = [];
  const app = appWith(lines);
  // Not a compact JWS (an empty part), so introspected; oidc-provider reads its first part as a
  // JOSE header and answers 400 unsupported_token_type. Any client can send it.
  const token = `${Buffer.from('{"alg":"none"}').toString('base64url')}..attacker-chosen`;
  const res = await request(app).get('/r').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(401);
  expect(res.body.error).toBe('invalid_token');
  expect(op.requests('/token/introspection')).toBe(1);
  // Cached like any refusal: a flood of the same token is one call.
  expect((await request(app).get('/r').set('Authorization', `Bearer ${token}`)).status).toBe(401);
  expect(op.requests('/token/introspection')).toBe(1);
  expect(lines.filter(([level]) => level === 'error')).toEqual([]);
  expect(lines.map(([, l]) => l).join('\n')).not.toContain('attacker-chosen');
});

describe('maxTokenAgeSeconds holds for introspected tokens as for JWTs', () => {
  test('an answer without iat is refused (its age is unknown), as jose refuses a JWT without iat', async () => {
    answer = json({ active: true, iss: HOSTILE_ISSUER, aud: HOSTILE_AUD, exp: seconds() + 3600 });
    expect(await outcome(hostileGuard({ maxTokenAgeSeconds: 300 }), 'no-iat')).toBe('invalid_token');
  });

  test('a cached answer is not used past iat + maxTokenAgeSeconds, whatever cacheTtlSeconds says', async () => {
    answer = json({ active: true, iss: HOSTILE_ISSUER, aud: HOSTILE_AUD, exp: seconds() + 3600, iat: seconds() - 290 });
    const g = hostileGuard({ maxTokenAgeSeconds: 300 }, { cacheTtlSeconds: 600 });
    expect(await outcome(g, 'aging')).toBe('accepted');
    clock.advance(30_000);
    expect(await outcome(g, 'aging')).toBe('invalid_token');
    // The endpoint was asked again (the cached answer had run out), and said the same.
    expect(calls).toBe(2);
  });
});

test('token_type DPoP without cnf.jkt is refused: a DPoP token whose key is not named cannot be checked, and must not pass as a bearer token', async () => {
  answer = json({ active: true, iss: HOSTILE_ISSUER, aud: HOSTILE_AUD, exp: seconds() + 600, token_type: 'DPoP' });
  expect(await outcome(hostileGuard(), 'dpop-without-key')).toBe('invalid_token');
});

describe('RFC 9701 signed answers must be fresh (iat): an old signed answer replayed is not an answer', () => {
  let signingKey: CryptoKey;
  let jwks: { keys: Record<string, unknown>[] };
  beforeAll(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    signingKey = pair.privateKey;
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] };
  });
  const signed = (iat: number | undefined) => {
    const jwt = new SignJWT({ token_introspection: { active: true, iss: HOSTILE_ISSUER, aud: HOSTILE_AUD, exp: seconds() + 600 } })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'token-introspection+jwt' })
      .setIssuer(HOSTILE_ISSUER)
      .setAudience('api');
    return (iat === undefined ? jwt : jwt.setIssuedAt(iat)).sign(signingKey);
  };
  const reply = (body: string) => (res: ServerResponse) => void res.writeHead(200, { 'content-type': 'application/token-introspection+jwt' }).end(body);

  test.each([
    ['without iat', undefined],
    ['issued a day ago', seconds() - 86_400],
  ])('%s: 503, never accepted', async (_name, iat) => {
    answer = reply(await signed(iat));
    expect(await outcome(hostileGuard({ jwks }, { signedAnswers: true }), `signed-${String(iat)}`)).toBe('introspection_unavailable');
  });

  test('with signedAnswers, a plain JSON answer is not an answer: stripping the signature must not downgrade to trusting it', async () => {
    answer = json({ active: true, iss: HOSTILE_ISSUER, aud: HOSTILE_AUD, exp: seconds() + 600 });
    expect(await outcome(hostileGuard({ jwks }, { signedAnswers: true }), 'signed-stripped')).toBe('introspection_unavailable');
    // Without signedAnswers, plain JSON is the RFC 7662 answer.
    expect(await outcome(hostileGuard({ jwks }), 'plain')).toBe('accepted');
  });

  test('a fresh one is accepted', async () => {
    answer = reply(await signed(seconds()));
    expect(await outcome(hostileGuard({ jwks }, { signedAnswers: true }), 'signed-fresh')).toBe('accepted');
  });
});

test('active answers are bounded in bytes, not only in count: a hostile endpoint with huge answers cannot fill cacheMaxEntries × maxResponseBytes', async () => {
  // 10 entries allowed, 4 KiB each on average: 40 KiB. Answers of 20 KiB: the oldest go first.
  answer = json({ active: true, iss: HOSTILE_ISSUER, aud: HOSTILE_AUD, exp: seconds() + 600, pad: 'x'.repeat(20_000) });
  const g = hostileGuard({}, { cacheMaxEntries: 10 });
  for (const t of ['big-0', 'big-1', 'big-2', 'big-3']) expect(await outcome(g, t)).toBe('accepted');
  expect(calls).toBe(4);
  // big-0 was evicted by size (4 entries < 10): asked again.
  expect(await outcome(g, 'big-0')).toBe('accepted');
  expect(calls).toBe(5);
  // Small answers are unaffected: 10 of them all stay.
  answer = json({ active: true, iss: HOSTILE_ISSUER, aud: HOSTILE_AUD, exp: seconds() + 600 });
  const small = hostileGuard({}, { cacheMaxEntries: 10 });
  const tokens = Array.from({ length: 10 }, (_, i) => `small-${i}`);
  for (const t of tokens) await outcome(small, t);
  for (const t of tokens) await outcome(small, t);
  expect(calls).toBe(15);
});

test('cacheMaxEntries is capped at start-up: lru-cache allocates its index at once, and a billion aborted the process (out of memory) instead of a ConfigError', () => {
  expect(() => hostileGuard({}, { cacheMaxEntries: 1e9 })).toThrow(/introspection\.cacheMaxEntries/);
  expect(() => hostileGuard({}, { cacheMaxEntries: 1_000_000 })).not.toThrow();
});

test('verify() holds a token to maxTokenLength as a request does: a megabyte token is not forwarded to the introspection endpoint', async () => {
  answer = json({ active: true, iss: HOSTILE_ISSUER, aud: HOSTILE_AUD, exp: seconds() + 600 });
  const g = hostileGuard();
  expect(await outcome(g, 'x'.repeat(1_000_000))).toBe('invalid_token');
  expect(calls).toBe(0);
  expect(await outcome(g, 'x'.repeat(16_384))).toBe('accepted');
  expect(calls).toBe(1);
});

test("tokens: 'all': a DPoP-bound JWT whose introspection answer omits cnf keeps its binding — replayed as Bearer it is refused", async () => {
  const { privateKey } = await generateKeyPair('ES256');
  const bound = await new SignJWT({ cnf: { jkt: 'thumbprint-of-the-client-key' } })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(HOSTILE_ISSUER)
    .setAudience(HOSTILE_AUD)
    .setExpirationTime('10m')
    .sign(privateKey);
  // Many IdPs leave cnf out of introspection answers; the token itself says it is bound.
  answer = json({ active: true, iss: HOSTILE_ISSUER, aud: HOSTILE_AUD, exp: seconds() + 600, token_type: 'Bearer' });
  expect(await outcome(hostileGuard({}, { tokens: 'all' }), bound)).toBe('invalid_token');
  expect(calls).toBe(1);
});

test('an answer nested thousands of levels deep (within maxResponseBytes) is never a 500: accepted uncached, or an outage', async () => {
  const deep = '['.repeat(5_000) + ']'.repeat(5_000);
  answer = (res) =>
    void res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(`{"active":true,"iss":"${HOSTILE_ISSUER}","aud":"${HOSTILE_AUD}","exp":${seconds() + 600},"x":${deep}}`);
  const a = express();
  a.get('/r', requireAuth({ issuer: HOSTILE_ISSUER, audience: HOSTILE_AUD, jwks: { keys: [] }, logger: false, introspection: { clientId: 'api', clientSecret: 'api-secret-0123456789abcdef', endpoint: `${hostile.url}/introspect` } }), (_req, res) => res.end('ok'));
  a.use(oauthErrorHandler());
  for (let i = 0; i < 2; i++) expect([200, 503]).toContain((await request(a).get('/r').set('Authorization', 'Bearer deep-token')).status);
});
