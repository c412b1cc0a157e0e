/**
 * The brute-force recipe of docs/token-proxy.md ("Brute force: the rate-limit recipe"): the code
 * between the recipe markers below is shown there verbatim, so keep the two identical.
 * express-rate-limit per IP and per account (username for password grants, mfa_token for mfa_oob)
 * on real guesses only.
 * proxyRequestParser() reads the request once, with tokenProxy's own rules, and proxyGuess()
 * derives the limiter's key from that very parse, so the limiter counts exactly what the proxy
 * forwards, whatever the content type. The matrix at the end proves it, and also that the older
 * recipe (express.urlencoded + express.json) can no longer be bypassed with a content type the
 * proxy would read but those parsers skip.
 */
import { request as httpRequest } from 'node:http';
import express, { type RequestHandler } from 'express';
import express4 from 'express4';
import { rateLimit, type Options } from 'express-rate-limit';
import request from 'supertest';
import { startMockIdp, type MockIdp } from '../../fixtures/mock-idp/index.js';
import { mfaChallengeProxy, proxyGuess, proxyRequestParser, tokenProxy } from '../../lib/index.js';
import { ServerPool } from '../../fixtures/listen.js';

// ---- recipe (docs: "Brute force") ----
/** Same body shape and no-store header as every other proxy answer. */
const oauth429: Options['handler'] = (_req, res, _next, options) => {
  res
    .status(options.statusCode)
    .set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })
    .json({ error: 'temporarily_unavailable', error_description: 'Too many attempts; retry later' });
};

function tokenLimiters(perIp: number, perAccount: number, windowMs = 15 * 60_000): RequestHandler[] {
  return [
    // Reads the request as tokenProxy will (and tokenProxy then reuses this parse).
    proxyRequestParser(),
    rateLimit({ windowMs, limit: perIp, skip: (req) => !proxyGuess(req), standardHeaders: 'draft-8', legacyHeaders: false, handler: oauth429 }),
    rateLimit({
      windowMs,
      limit: perAccount,
      skip: (req) => !proxyGuess(req),
      // Only failures count, so a user who signs in often is never locked out by their own successes.
      skipSuccessfulRequests: true,
      keyGenerator: (req) => proxyGuess(req)!.account,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      handler: oauth429,
    }),
  ];
}
// ---- end of recipe ----

let idp: MockIdp;
const pool = new ServerPool();
beforeAll(async () => {
  idp = await startMockIdp();
});
afterAll(async () => {
  await pool.closeAll();
  await idp.close();
});

async function app(perIp: number, perAccount: number): Promise<string> {
  const a = express();
  // One reverse-proxy hop: tests pose as several clients through X-Forwarded-For.
  a.set('trust proxy', 1);
  const idpOptions = { profile: 'eiam' as const, tokenEndpoint: idp.eiamTokenEndpoint, clientId: 'web-app', clientSecret: 'web-secret', logger: false as const };
  a.post('/auth/token', ...tokenLimiters(perIp, perAccount), tokenProxy(idpOptions));
  a.post('/auth/mfa/challenge', mfaChallengeProxy(idpOptions));
  return pool.serve(a);
}

const attempt = (url: string, ip: string, body: Record<string, unknown>) =>
  request(url).post('/auth/token').set('X-Forwarded-For', ip).type('form').send(body);

function expect429(res: request.Response): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: 'Too many attempts; retry later' });
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  expect(res.headers['cache-control']).toBe('no-store');
}

test('per username: failures for one account are limited, from any IP, whatever the case', async () => {
  const url = await app(100, 3);
  for (const [ip, username] of [['198.51.100.1', 'alice'], ['198.51.100.2', 'Alice'], ['198.51.100.3', ' alice ']]) {
    await attempt(url, ip!, { grant_type: 'password', username, password: 'guess' }).expect(400);
  }
  const before = idp.stats.tokenRequests;
  expect429(await attempt(url, '198.51.100.4', { grant_type: 'password', username: 'alice', password: 'alice-password' }));
  expect(idp.stats.tokenRequests).toBe(before);
  // Another account is unaffected.
  await attempt(url, '198.51.100.4', { grant_type: 'password', username: 'carol', password: 'carol-password' }).expect(200);
});

test('successful sign-ins do not count toward the per-username limit', async () => {
  const url = await app(100, 2);
  for (let i = 0; i < 4; i += 1) await attempt(url, '198.51.100.9', { grant_type: 'password', username: 'carol', password: 'carol-password' }).expect(200);
});

test('per IP: one client guessing many usernames is limited', async () => {
  const url = await app(4, 100);
  for (const u of ['u1', 'u2', 'u3', 'u4']) await attempt(url, '203.0.113.5', { grant_type: 'password', username: u, password: 'x' }).expect(400);
  expect429(await attempt(url, '203.0.113.5', { grant_type: 'password', username: 'u5', password: 'x' }));
  // A different client is not.
  await attempt(url, '203.0.113.6', { grant_type: 'password', username: 'alice', password: 'alice-password' }).expect(200);
});

test('mfa_oob: SMS-code guesses are limited per mfa_token', async () => {
  const url = await app(100, 2);
  const first = await attempt(url, '192.0.2.1', { grant_type: 'password', username: 'bob', password: 'bob-password' }).expect(400);
  const mfaToken = first.body.mfa_token as string;
  const ch = await request(url).post('/auth/mfa/challenge').type('form').send({ mfa_token: mfaToken, challenge_type: 'oob', oob_channel: 'sms' }).expect(200);
  const guess = { grant_type: 'mfa_oob', mfa_token: mfaToken, code: ch.body.oob_code, binding_code: '000000' };
  // bob's mfa_required answer was a 400 and counted for user:bob, not for this mfa_token.
  await attempt(url, '192.0.2.1', guess).expect(400);
  await attempt(url, '192.0.2.2', guess).expect(400);
  expect429(await attempt(url, '192.0.2.3', { ...guess, binding_code: idp.lastSmsCode('bob') }));
});

test('refresh_token grants are not limited by the recipe', async () => {
  const url = await app(1, 1);
  for (let i = 0; i < 3; i += 1) {
    const res = await attempt(url, '192.0.2.50', { grant_type: 'refresh_token', refresh_token: 'nope' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_grant');
  }
});

test('JSON bodies are limited the same way', async () => {
  const url = await app(100, 1);
  await request(url).post('/auth/token').send({ grant_type: 'password', username: 'alice', password: 'x' }).expect(400);
  expect429(await request(url).post('/auth/token').send({ grant_type: 'password', username: 'alice', password: 'x' }));
});

test('proxyGuess without proxyRequestParser fails closed (the limiter errors rather than letting the request through)', async () => {
  const a = express();
  a.post('/auth/token', rateLimit({ limit: 100, skip: (req) => !proxyGuess(req) }), tokenProxy({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'web-app', clientSecret: 'web-secret', logger: false }));
  a.use(((err, _req, res, _next) => res.status(500).json({ message: (err as Error).message })) as express.ErrorRequestHandler);
  const url = await pool.serve(a);
  const before = idp.stats.tokenRequests;
  const res = await attempt(url, '192.0.2.77', { grant_type: 'password', username: 'alice', password: 'x' });
  expect(res.status).toBe(500);
  expect(res.body.message).toMatch(/proxyRequestParser/);
  expect(idp.stats.tokenRequests).toBe(before);
});

describe('a guess is a guess whatever its Content-Type: the limiter and the proxy agree', () => {
  /** Sent byte for byte (supertest would normalise or add a Content-Type). */
  function rawPost(url: string, contentType: string | undefined, body: string, ip: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(body), 'x-forwarded-for': ip };
      if (contentType !== undefined) headers['content-type'] = contentType;
      const req = httpRequest(`${url}/auth/token`, { method: 'POST', headers }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode!, body: text }));
      });
      req.on('error', reject).end(body);
    });
  }

  const CONTENT_TYPES: (string | undefined)[] = [
    'application/json',
    'APPLICATION/JSON',
    'Application/Json; charset=UTF-8',
    'application/json; charset="utf-8"',
    'application/x-www-form-urlencoded',
    'Application/X-WWW-Form-Urlencoded; Charset=utf-8',
    'application/vnd.api+json',
    'application/merge-patch+json',
    'application/json; charset=utf-16',
    'application/json; foo',
    'application/json;',
    'application/json; charset=utf-8; charset=latin1',
    'application/x-www-form-urlencoded; charset=iso-8859-1',
    'application/json, application/x-www-form-urlencoded',
    'text/plain',
    'text/plain; charset=utf-8',
    'multipart/form-data; boundary=xyz',
    'application/octet-stream',
    undefined,
  ];
  const PER_ACCOUNT = 2;
  const ROUNDS = 3; // each round tries a JSON and a form body: 6 guesses per content type

  const recipes: [string, (e: typeof express | typeof express4) => RequestHandler[]][] = [
    ['proxyRequestParser + proxyGuess', () => tokenLimiters(1000, PER_ACCOUNT)],
    // The recipe as first published: the proxy must not read what these parsers skip.
    [
      'express.urlencoded + express.json (older recipe)',
      (e) => [
        e.urlencoded({ extended: false, limit: '16kb' }) as RequestHandler,
        e.json({ limit: '16kb' }) as RequestHandler,
        rateLimit({
          limit: PER_ACCOUNT,
          skip: (req) => req.body?.grant_type !== 'password',
          skipSuccessfulRequests: true,
          keyGenerator: (req) => `user:${String(req.body.username ?? '').trim().toLowerCase()}`,
          handler: oauth429,
        }),
      ],
    ],
  ];

  for (const [flavour, e] of [['Express 5', express], ['Express 4', express4]] as const) {
    for (const [name, limiters] of recipes) {
      test(`${flavour}, ${name}: at most ${PER_ACCOUNT} password guesses per account reach the IdP, for each of ${CONTENT_TYPES.length} content types`, async () => {
        const a = e();
        a.set('trust proxy', 1);
        // Errors from the body parsers (bad charset, malformed JSON) end here, never at the IdP.
        const onError: express.ErrorRequestHandler = (err, _req, res, _next) => res.status((err as { status?: number }).status ?? 500).json({ error: 'invalid_request' });
        a.post('/auth/token', ...limiters(e), tokenProxy({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'web-app', clientSecret: 'web-secret', logger: false }));
        a.use(onError);
        const url = await pool.serve(a as unknown as Parameters<ServerPool['serve']>[0]);
        const reached: Record<string, number> = {};
        for (const [i, type] of CONTENT_TYPES.entries()) {
          const username = `victim-${i}`;
          const before = idp.stats.tokenRequests;
          for (let r = 0; r < ROUNDS; r += 1) {
            const ip = `198.18.${i}.${r + 1}`;
            const json = await rawPost(url, type, JSON.stringify({ grant_type: 'password', username, password: `guess-${r}` }), ip);
            const form = await rawPost(url, type, `grant_type=password&username=${username}&password=guess-${r}b`, ip);
            for (const res of [json, form]) {
              expect(res.status).toBeGreaterThanOrEqual(400);
              expect(res.status).not.toBe(500);
            }
          }
          reached[String(type)] = idp.stats.tokenRequests - before;
        }
        for (const [type, n] of Object.entries(reached)) expect({ type, n: Math.min(n, PER_ACCOUNT + 1) }).toEqual({ type, n: Math.min(n, PER_ACCOUNT) });
        // The accepted types do reach the IdP (the limit, not a refusal, is what stops them).
        expect(reached['application/json']).toBe(PER_ACCOUNT);
        expect(reached['application/x-www-form-urlencoded']).toBe(PER_ACCOUNT);
        expect(reached['APPLICATION/JSON']).toBe(PER_ACCOUNT);
      });
    }
  }
});
