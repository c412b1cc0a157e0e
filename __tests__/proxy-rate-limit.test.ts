/**
 * The brute-force recipe from docs/proxy.md, verbatim apart from the limits: express-rate-limit
 * per IP and per username (per mfa_token for mfa_oob) on the guessable grants only.
 */
import express, { type Request } from 'express';
import { rateLimit, type Options } from 'express-rate-limit';
import request from 'supertest';
import { startMockIdp, type MockIdp } from '../demo-app/mock-idp/index.js';
import { mfaChallengeProxy, tokenProxy } from '../lib/index.js';
import { ServerPool } from './support/serve.js';

// ---- recipe (docs/proxy.md, "Brute force") ----
const GUESSABLE = new Set(['password', 'mfa_oob']);
const isGuess = (req: Request): boolean => GUESSABLE.has(String(req.body?.grant_type));

/** Same body shape and no-store header as every other proxy answer. */
const oauth429: Options['handler'] = (_req, res, _next, options) => {
  res
    .status(options.statusCode)
    .set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' })
    .json({ error: 'temporarily_unavailable', error_description: 'Too many attempts; retry later' });
};

function tokenLimiters(perIp: number, perAccount: number, windowMs = 15 * 60_000) {
  return [
    // The limiters read the body, so it is parsed first; tokenProxy uses the parsed body as is.
    express.urlencoded({ extended: false, limit: '16kb' }),
    express.json({ limit: '16kb' }),
    rateLimit({ windowMs, limit: perIp, skip: (req) => !isGuess(req), standardHeaders: 'draft-8', legacyHeaders: false, handler: oauth429 }),
    rateLimit({
      windowMs,
      limit: perAccount,
      skip: (req) => !isGuess(req),
      // Only failures count, so a user who signs in often is never locked out by their own successes.
      skipSuccessfulRequests: true,
      keyGenerator: (req) =>
        req.body.grant_type === 'password'
          ? `user:${String(req.body.username ?? '').trim().toLowerCase()}`
          : `mfa:${String(req.body.mfa_token ?? '')}`,
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
