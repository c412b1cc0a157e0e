/**
 * The shared rate-limit recipe (docs/redis-rate-limit.ts): express-rate-limit + rate-limit-redis in
 * front of tokenProxy, on two app instances that share one real Redis.
 */
import express from 'express';
import request from 'supertest';
import type { Redis } from 'ioredis';
import { tokenProxy } from '../lib/index.js';
import { startMockIdp, type MockIdp } from '../fixtures/mock-idp/index.js';
import { tokenRateLimits, type TokenRateLimitOptions } from '../docs/redis-rate-limit.js';
import { closeClients, describeWithRedis, redisClient, startRedis, type RedisServer } from '../fixtures/redis-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describeWithRedis('shared rate limits on the token proxy (two instances, one Redis)', () => {
  let server: RedisServer;
  let idp: MockIdp;
  const clients: Redis[] = [];
  const storeErrors: unknown[] = [];
  let seq = 0;

  /** One "instance": its own Express app, ioredis client and limiters. */
  const instance = (limits: Partial<TokenRateLimitOptions>) => {
    const redis = redisClient(server.url);
    clients.push(redis);
    const app = express();
    app.set('trust proxy', 'loopback'); // the test sends X-Forwarded-For to act as different callers
    app.post(
      '/auth/token',
      ...tokenRateLimits({ redis, logger: { error: (e) => storeErrors.push(e), warn: () => undefined }, ...limits }),
      tokenProxy({ tokenEndpoint: idp.ciamTokenEndpoint, clientId: 'web-app', clientSecret: 'web-secret', logger: false }),
    );
    return { app, redis };
  };

  /** Two instances with a fresh key prefix; limits: 3 per account, 6 per IP, 60 s windows. */
  const pair = (limits: Partial<TokenRateLimitOptions> = {}) => {
    const o = { prefix: `rl${++seq}:`, perAccount: 3, perIp: 6, windowMs: 60_000, ...limits };
    return [instance(o), instance(o)] as const;
  };
  const ready = (rs: Redis[]): Promise<unknown> => Promise.all(rs.map((r) => (r.status === 'ready' ? null : new Promise((ok) => r.once('ready', ok)))));

  const post = (app: express.Express, body: Record<string, string>, ip = '203.0.113.7', json = false) => {
    const r = request(app).post('/auth/token').set('X-Forwarded-For', ip);
    return json ? r.send(body) : r.type('form').send(body);
  };
  const password = (username: string, pw = 'wrong') => ({ grant_type: 'password', username, password: pw });

  const expect429 = (res: request.Response, windowS = 60): void => {
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(windowS);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: `Too many sign-in attempts. Try again in ${retryAfter} seconds.` });
  };

  beforeAll(async () => {
    [server, idp] = await Promise.all([startRedis(), startMockIdp()]);
  });
  afterAll(async () => {
    await closeClients(clients);
    await Promise.all([server?.stop('SIGTERM'), idp?.close()]);
  });
  beforeEach(async () => {
    if (!server.running) await server.restart();
    idp.resetStats();
    storeErrors.length = 0;
  });

  test('per username, across instances: the 4th wrong password on either instance → 429 with Retry-After and an OAuth body, without an IdP call', async () => {
    const [a, b] = pair();
    await ready([a.redis, b.redis]);
    // Different IPs each time, so only the per-account limit can apply; case and spaces do not evade it.
    // Successful sign-ins do not count against the account.
    for (let i = 0; i < 5; i++) expect((await post((i % 2 ? b : a).app, password('alice', 'alice-password'), `198.51.100.${i + 1}`)).status).toBe(200);
    idp.resetStats();
    const names = ['alice', 'Alice', ' ALICE '];
    for (let i = 0; i < 3; i++) {
      const res = await post((i % 2 ? b : a).app, password(names[i]!), `198.51.100.${i + 1}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    }
    expect(idp.stats.tokenRequests).toBe(3);
    const blocked = await post(b.app, password('alice', 'alice-password'), '198.51.100.99');
    expect429(blocked);
    expect(idp.stats.tokenRequests).toBe(3);
    expect429(await post(a.app, password('alice'), '198.51.100.100', true)); // JSON bodies count too
    // other accounts are not affected
    const carol = await post(a.app, password('carol', 'carol-password'), '198.51.100.1');
    expect(carol.status).toBe(200);
    expect(carol.body.access_token).toBeTruthy();
    // Redis holds counters under hashed keys, not usernames
    const keys = await a.redis.keys('*');
    expect(keys.some((k) => k.includes('account:user:'))).toBe(true);
    expect(keys.join(' ')).not.toMatch(/alice|carol/i);
    expect(storeErrors).toEqual([]);
  });

  test('per IP, across instances: the 7th attempt from one address → 429; other addresses go on', async () => {
    const [a, b] = pair();
    await ready([a.redis, b.redis]);
    for (let i = 0; i < 6; i++) {
      const res = await post((i % 2 ? b : a).app, password(`user${i}`), '192.0.2.10');
      expect(res.status).toBe(400);
    }
    expect429(await post(a.app, password('someone-else'), '192.0.2.10'));
    expect429(await post(b.app, password('someone-else'), '192.0.2.10'));
    expect((await post(b.app, password('carol', 'carol-password'), '192.0.2.11')).status).toBe(200);
  });

  test('MFA grant: limited per mfa_token across instances; refresh_token is never limited', async () => {
    const [a, b] = pair();
    await ready([a.redis, b.redis]);
    const mfa = await post(a.app, password('bob', 'bob-password'), '198.51.100.1');
    expect(mfa.status).toBe(400);
    expect(mfa.body.error).toBe('mfa_required');
    const mfaToken = mfa.body.mfa_token as string;
    const guess = (app: express.Express, i: number) =>
      post(app, { grant_type: 'mfa_oob', mfa_token: mfaToken, code: 'oob-guess', binding_code: String(100000 + i) }, `198.51.100.${i + 2}`);
    for (let i = 0; i < 3; i++) expect((await guess(i % 2 ? b.app : a.app, i)).status).not.toBe(429);
    const before = idp.stats.tokenRequests;
    expect429(await guess(b.app, 3));
    expect(idp.stats.tokenRequests).toBe(before);
    // refresh_token grants from one IP, far beyond both limits: passed to the IdP every time
    for (let i = 0; i < 10; i++) {
      const res = await post(i % 2 ? b.app : a.app, { grant_type: 'refresh_token', refresh_token: `rt-${i}` }, '192.0.2.50');
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_grant');
    }
  });

  test('a body the proxy would refuse gets an OAuth-style error, not an HTML page', async () => {
    const [a] = pair();
    await ready([a.redis]);
    const bad = await request(a.app).post('/auth/token').set('content-type', 'application/json').send('{"grant_type":');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_request');
    const big = await request(a.app).post('/auth/token').type('form').send({ grant_type: 'password', username: 'x', password: 'p'.repeat(20_000) });
    expect(big.status).toBe(413);
    expect(big.body.error).toBe('invalid_request');
    expect(idp.stats.tokenRequests).toBe(0);
  });

  test('a guess counts whatever its Content-Type: +json, text/plain, case variants and missing types never get past the limit', async () => {
    const [a, b] = pair({ perIp: 1000 });
    await ready([a.redis, b.redis]);
    const types = ['application/json', 'APPLICATION/JSON; charset=UTF-8', 'application/vnd.api+json', 'application/merge-patch+json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined];
    for (const [i, type] of types.entries()) {
      const username = `target-${i}`;
      const before = idp.stats.tokenRequests;
      for (let r = 0; r < 5; r++) {
        const app = r % 2 ? b.app : a.app;
        const body = type?.includes('form-urlencoded') ? `grant_type=password&username=${username}&password=p${r}` : JSON.stringify(password(username, `p${r}`));
        let req = request(app).post('/auth/token').set('X-Forwarded-For', `198.51.100.${r + 1}`);
        req = type === undefined ? req.set('Content-Type', '') : req.set('Content-Type', type);
        const res = await req.send(body);
        expect(res.status === 400 || res.status === 415 || res.status === 429).toBe(true);
      }
      expect({ type, reached: Math.min(idp.stats.tokenRequests - before, 4) }).toEqual({ type, reached: type?.match(/^application\/(json|x-www)|^APPLICATION\/JSON/) ? 3 : 0 });
    }
    expect(storeErrors).toEqual([]);
  });

  test('window end: counting starts again', async () => {
    const [a, b] = pair({ windowMs: 1000 });
    await ready([a.redis, b.redis]);
    for (let i = 0; i < 3; i++) await post(i % 2 ? b.app : a.app, password('alice'), `198.51.100.${i}`);
    expect429(await post(a.app, password('alice'), '198.51.100.9'), 1);
    await sleep(1100);
    expect((await post(b.app, password('alice', 'alice-password'), '198.51.100.9')).status).toBe(200);
  });

  test('Redis down: sign-ins are let through (fail open, logged); a limiter created while Redis was down works once it is back', async () => {
    const [a] = pair();
    await ready([a.redis]);
    await server.stop();
    await sleep(50);
    for (let i = 0; i < 5; i++) expect((await post(a.app, password('alice', 'alice-password'))).status).toBe(200);
    expect(storeErrors.length).toBeGreaterThan(0);

    // New instances start while Redis is still down (their script loads fail) ...
    const [c, d] = pair();
    expect((await post(c.app, password('alice', 'alice-password'))).status).toBe(200);
    await server.restart();
    await ready([c.redis, d.redis]);
    // ... and limit as soon as Redis is back.
    for (let i = 0; i < 3; i++) expect((await post(i % 2 ? d.app : c.app, password('dave'), `198.51.100.${i}`)).status).toBe(400);
    expect429(await post(d.app, password('dave'), '198.51.100.50'));
  });
});
