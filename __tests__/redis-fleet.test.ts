/**
 * A fleet of M2M clients sharing tokens through a real Redis: each "instance" is its own
 * createM2MClient() with its own ioredis connection and in-process cache, as separate processes
 * would be. The IdP is the package's mock IdP; nothing is mocked.
 */
import type { Redis } from 'ioredis';
import { createM2MClient, TokenStoreError, type M2MClient, type M2MClientBaseOptions, type M2MErrorEvent, type M2MToken, type M2MTokenFetchedEvent } from '../lib/index.js';
import { redisTokenStore, RedisUnavailableError } from '../lib/redis/index.js';
import { startMockIdp, type MockIdp } from '../fixtures/mock-idp/index.js';
import { closeClients, describeWithRedis, redisClient, startRedis, type RedisServer } from '../fixtures/redis-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `cond` holds (the store is written after getToken() resolves, in the background). */
async function until(cond: () => Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}
const svc = { clientId: 'svc-report', clientSecret: 'svc-secret' };

interface Instance {
  redis: Redis;
  client: M2MClient;
  errors: [Error, M2MErrorEvent][];
  fetched: (M2MTokenFetchedEvent & { at: number })[];
}

describeWithRedis('M2M fleet sharing tokens through Redis', () => {
  let server: RedisServer;
  let admin: Redis;
  let idp: MockIdp;
  let short: MockIdp; // 2 s tokens
  const redisClients: Redis[] = [];
  let prefixSeq = 0;
  let prefix = '';

  const fleet = async (n: number, tokenEndpoint: string, extra: Partial<M2MClientBaseOptions> & { clientSecret?: string } = {}): Promise<Instance[]> => {
    const list = Array.from({ length: n }, (): Instance => {
      const redis = redisClient(server.url);
      redisClients.push(redis);
      const inst: Instance = { redis, client: undefined as unknown as M2MClient, errors: [], fetched: [] };
      inst.client = createM2MClient({
        tokenEndpoint,
        ...svc,
        store: redisTokenStore({ client: redis, prefix }),
        onError: (e, ev) => inst.errors.push([e, ev]),
        onTokenFetched: (e) => inst.fetched.push({ ...e, at: Date.now() }),
        ...extra,
      });
      return inst;
    });
    await ready(list);
    return list;
  };
  const ready = (list: Instance[]): Promise<unknown> =>
    Promise.all(list.map((i) => (i.redis.status === 'ready' ? null : new Promise((r) => i.redis.once('ready', r)))));

  /** Loads not stopped yet: afterEach stops them when a test failed before its own stop(), or the
   * loops would keep the jest worker alive ("a worker process has failed to exit gracefully"). */
  const runningLoads: Array<() => Promise<void>> = [];

  /** Every instance calls getToken() every `everyMs` until stop(); failures and stale tokens are collected. */
  const load = (list: Instance[], everyMs = 10) => {
    let running = true;
    const failures: Error[] = [];
    const stale: M2MToken[] = [];
    let calls = 0;
    const loops = list.map(async (i) => {
      while (running) {
        try {
          const t = await i.client.getToken();
          calls++;
          if (t.expiresAt <= Date.now()) stale.push(t);
        } catch (err) {
          failures.push(err as Error);
        }
        await sleep(everyMs);
      }
    });
    const stop = async () => {
      running = false;
      await Promise.all(loops);
    };
    runningLoads.push(stop);
    return {
      failures,
      stale,
      get calls() {
        return calls;
      },
      stop,
    };
  };

  beforeAll(async () => {
    [server, idp, short] = await Promise.all([startRedis(), startMockIdp(), startMockIdp({ accessTokenTtl: 2 })]);
    admin = redisClient(server.url, { enableOfflineQueue: true });
  });
  afterAll(async () => {
    await closeClients([...redisClients, ...(admin ? [admin] : [])]);
    await Promise.all([server?.stop('SIGTERM'), idp?.close(), short?.close()]);
  });
  beforeEach(async () => {
    if (!server.running) await server.restart();
    prefix = `fleet${++prefixSeq}:`;
    idp.resetStats();
    short.resetStats();
    idp.faults = { mode: 'none' };
    short.faults = { mode: 'none' };
  });
  afterEach(async () => {
    await Promise.all(runningLoads.splice(0).map((stop) => stop()));
    await closeClients(redisClients.splice(0));
  });

  test('4 instances × 250 concurrent getToken() at a cold start → exactly 1 IdP token request', async () => {
    idp.faults = { mode: 'slow', delayMs: 100, count: 1 }; // the first fetch is slow, so everyone piles up behind it
    const list = await fleet(4, idp.ciamTokenEndpoint);
    const tokens = await Promise.all(list.flatMap((i) => Array.from({ length: 250 }, () => i.client.getToken())));
    expect(tokens).toHaveLength(1000);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(idp.stats.tokenRequests).toBe(1);
    expect(list.flatMap((i) => i.fetched.map((e) => e.source)).sort()).toEqual(['idp', 'store', 'store', 'store']);
    expect(list.flatMap((i) => i.errors)).toEqual([]);

    // Redis holds one token key (the lock is released) with TTL = lifetime (3600 s) minus skew (60 s).
    await sleep(20);
    const keys = await admin.keys(`${prefix}*`);
    expect(keys).toHaveLength(1);
    const pttl = await admin.pttl(keys[0]!);
    expect(pttl).toBeGreaterThan(3_540_000 - 2000);
    expect(pttl).toBeLessThanOrEqual(3_540_000);

    // Warm path: no Redis round trip per call.
    const gets = async (): Promise<number> => Number(/cmdstat_get:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
    const before = await gets();
    for (const i of list) for (let n = 0; n < 1000; n++) await i.client.getToken();
    expect(await gets()).toBe(before);
  });

  test('what Redis holds: the token sealed (v1, AES-256-GCM), never in the clear; no secret, no request parameters', async () => {
    const [one] = await fleet(1, idp.ciamTokenEndpoint, { scope: 'inventory:read' });
    const t = await one!.client.getToken();
    await until(async () => (await admin.keys(`${prefix}*`)).length === 1 && (await admin.keys(`${prefix}lock:*`)).length === 0);
    const keys = await admin.keys(`${prefix}*`);
    const raw = (await admin.get(keys[0]!))!;
    expect(raw).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    for (const part of t.accessToken.split('.')) expect(raw).not.toContain(part);
    expect(raw).not.toContain(String(t.expiresAt));
    for (const k of keys) expect(k + (await admin.get(k))).not.toMatch(/svc-secret|client_credentials/);
  });

  test('an instance with the right client id and endpoint but a wrong secret gets a miss from Redis and is refused by the IdP', async () => {
    const [good] = await fleet(1, idp.ciamTokenEndpoint);
    const t = await good!.client.getToken();
    await until(async () => (await admin.keys(`${prefix}m2m1:*`)).length === 1);
    const [impostor] = await fleet(1, idp.ciamTokenEndpoint, { clientSecret: 'guessed' });
    const err = await impostor!.client.getToken().catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'idp_error', idpError: 'invalid_client' });
    expect(String((err as Error).message)).not.toContain(t.accessToken);
    expect(impostor!.fetched).toEqual([]);
    expect(idp.stats.tokenRequests).toBe(2);
    expect(impostor!.errors.filter(([, ev]) => ev.phase === 'store')).toEqual([]);
    // an instance with the right secret still shares the token
    const [twin] = await fleet(1, idp.ciamTokenEndpoint);
    expect((await twin!.client.getToken()).accessToken).toBe(t.accessToken);
    expect(idp.stats.tokenRequests).toBe(2);
  });

  test.each([
    ['not json', (k: string) => admin.set(k, 'not json')],
    ['[]', (k: string) => admin.set(k, '[]')],
    ['null', (k: string) => admin.set(k, 'null')],
    ['a wrong shape', (k: string) => admin.set(k, JSON.stringify({ accessToken: 'eyJ.stolen', tokenType: 'Bearer', expiresAt: Date.now() + 3_600_000, issuedAt: Date.now() }))],
    ['an undecryptable v1 value', (k: string) => admin.set(k, 'v1.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA')],
    ['a hash (WRONGTYPE)', (k: string) => admin.hset(k, 'accessToken', 'eyJ.stolen')],
  ])('garbage under the token key (%s): a miss, overwritten by the fresh token; Redis stays in use (no back-off)', async (_name, plant) => {
    const [first] = await fleet(1, idp.ciamTokenEndpoint);
    await first!.client.getToken();
    await until(async () => (await admin.keys(`${prefix}m2m1:*`)).length === 1 && (await admin.keys(`${prefix}lock:*`)).length === 0);
    const [key] = await admin.keys(`${prefix}m2m1:*`);
    await admin.del(key!);
    await plant(key!);
    const [second] = await fleet(1, idp.ciamTokenEndpoint);
    const t = await second!.client.getToken();
    expect(t.accessToken).not.toBe('eyJ.stolen');
    expect(second!.fetched.map((e) => e.source)).toEqual(['idp']);
    await until(async () => /^v1\./.test((await admin.type(key!)) === 'string' ? ((await admin.get(key!)) ?? '') : '')); // overwritten
    await until(async () => (await admin.keys(`${prefix}lock:*`)).length === 0);
    const [third] = await fleet(1, idp.ciamTokenEndpoint);
    expect((await third!.client.getToken()).accessToken).toBe(t.accessToken);
    expect(third!.fetched.map((e) => e.source)).toEqual(['store']);
    expect(idp.stats.tokenRequests).toBe(2);
    expect([first, second, third].flatMap((i) => i!.errors)).toEqual([]);
  });

  test('expiry across instances: when the shared token goes stale, the fleet fetches exactly one new one', async () => {
    // 2 s tokens: the skew is capped at half the lifetime, so each is served for 1 s.
    const list = await fleet(4, short.ciamTokenEndpoint, { refreshAhead: false });
    const burst = async (): Promise<Set<string>> =>
      new Set((await Promise.all(list.flatMap((i) => Array.from({ length: 50 }, () => i.client.getToken())))).map((t) => t.accessToken));
    const first = await burst();
    expect(first.size).toBe(1);
    expect(short.stats.tokenRequests).toBe(1);
    const key = (await admin.keys(`${prefix}*`))[0]!;
    expect(await admin.pttl(key)).toBeLessThanOrEqual(1000); // Redis forgets it when instances stop serving it
    await sleep(1100);
    expect(await admin.exists(key)).toBe(0);
    const second = await burst();
    expect(second.size).toBe(1);
    expect([...second][0]).not.toBe([...first][0]);
    expect(short.stats.tokenRequests).toBe(2);
  });

  test('refresh across instances under load: one IdP request per refresh window for the whole fleet', async () => {
    // 2 s tokens: served for 1 s, refresh-ahead starts at 0.8 s.
    const list = await fleet(4, short.ciamTokenEndpoint);
    const run = load(list, 5);
    const started = Date.now();
    await sleep(4000);
    await run.stop();
    const elapsed = Date.now() - started;
    expect(run.failures).toEqual([]);
    expect(run.stale).toEqual([]);
    const windows = Math.ceil(elapsed / 800);
    // Alone, each instance would ask once per window: 4 × windows. Shared: about one per window.
    expect(short.stats.tokenRequests).toBeGreaterThanOrEqual(4);
    expect(short.stats.tokenRequests).toBeLessThanOrEqual(windows + 2);
    const bySource = list.flatMap((i) => i.fetched).reduce<Record<string, number>>((m, e) => ((m[e.source] = (m[e.source] ?? 0) + 1), m), {});
    expect(bySource.idp).toBe(short.stats.tokenRequests);
    expect(bySource.store).toBeGreaterThanOrEqual(3 * (short.stats.tokenRequests - 1));
    // After the first token, refreshes ran in the background: nobody waited, unless the IdP took
    // longer than the 200 ms between refresh-ahead and expiry (a loaded CI machine can take 300).
    expect(list.flatMap((i) => i.fetched.slice(1)).filter((e) => e.waiters > 0 && e.latencyMs < 200)).toEqual([]);
    expect(list.flatMap((i) => i.errors)).toEqual([]);
  });

  test('Redis killed mid-run: calls keep succeeding (in-process cache + IdP), onError reports it; Redis back: sharing resumes', async () => {
    // After a store failure the client leaves the store alone for storeBackoff (default 5 s: one
    // report per outage); shortened here so the test sees sharing resume quickly.
    const list = await fleet(4, short.ciamTokenEndpoint, { storeBackoffMs: 500 });
    const run = load(list, 10);
    await sleep(1200);
    const sharedBefore = short.stats.tokenRequests;
    expect(sharedBefore).toBeLessThanOrEqual(3);

    // ---- Redis dies
    await server.stop();
    const downAt = Date.now();
    const requestsAtDown = short.stats.tokenRequests;
    await sleep(2200);
    const upAt = Date.now();
    expect(run.failures).toEqual([]);
    expect(run.stale).toEqual([]);
    // Every instance carried on alone: it fetched its own tokens from the IdP ...
    for (const i of list) expect(i.fetched.filter((e) => e.at > downAt && e.source === 'idp').length).toBeGreaterThanOrEqual(1);
    expect(short.stats.tokenRequests - requestsAtDown).toBeGreaterThanOrEqual(4);
    // ... and reported the store failures, as 'store' errors that say the client carried on.
    for (const i of list) {
      const storeErrors = i.errors.filter(([, ev]) => ev.phase === 'store');
      expect(storeErrors.length).toBeGreaterThanOrEqual(1);
      const [err, ev] = storeErrors[0]!;
      expect(err).toBeInstanceOf(TokenStoreError);
      expect(err.message).toMatch(/continuing with the in-process cache and the IdP/);
      expect(err.message).not.toMatch(/eyJ|svc-secret/);
      expect((err as TokenStoreError).cause).toBeInstanceOf(RedisUnavailableError);
      expect(ev.clientId).toBe('svc-report');
    }
    // Fail fast: while Redis is down no call waits for it (no caller waits on a store timeout).
    expect(list.flatMap((i) => i.fetched).filter((e) => e.at > downAt && e.latencyMs > 900)).toEqual([]);

    // ---- Redis comes back (empty)
    await server.restart();
    await ready(list);
    expect(Date.now() - upAt).toBeLessThan(2000);
    // The clients try the store again once their storeBackoff (500 ms) has passed.
    await sleep(600);
    const backAt = Date.now();
    const requestsAtBack = short.stats.tokenRequests;
    await sleep(2400);
    await run.stop();
    expect(run.failures).toEqual([]);
    expect(run.stale).toEqual([]);
    // Sharing resumed: instances adopt each other's tokens again ...
    const afterBack = list.flatMap((i) => i.fetched).filter((e) => e.at > backAt);
    expect(afterBack.filter((e) => e.source === 'store').length).toBeGreaterThanOrEqual(3);
    // ... and the IdP sees about one request per 0.8 s window again (3 windows), not one per instance (~12).
    expect(short.stats.tokenRequests - requestsAtBack).toBeLessThanOrEqual(6);
    // Errors stopped once Redis was back.
    expect(list.flatMap((i) => i.errors).filter(([e]) => (e.cause as Error | undefined)?.name !== 'RedisUnavailableError')).toEqual([]);
    expect(await admin.keys(`${prefix}*`)).toHaveLength(1);

    // A cold key after the outage: the whole fleet shares one IdP request again.
    idp.resetStats();
    const cold = await fleet(4, idp.ciamTokenEndpoint, { scope: 'inventory:write' });
    idp.faults = { mode: 'slow', delayMs: 100, count: 1 };
    await Promise.all(cold.flatMap((i) => Array.from({ length: 50 }, () => i.client.getToken())));
    expect(idp.stats.tokenRequests).toBe(1);
  });

  test('Redis down from the start: getToken works without it, promptly', async () => {
    await server.stop();
    const redis = redisClient(server.url, { retryStrategy: () => 200 });
    redisClients.push(redis);
    const errors: Error[] = [];
    // storeTimeout 5 s: a client that waited on the store would take that long. The bound leaves room
    // for the one-time key derivation (scrypt) that a client with a store runs when it is created.
    const client = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, storeTimeoutMs: 5000, store: redisTokenStore({ client: redis, prefix }), onError: (e) => errors.push(e) });
    const t0 = Date.now();
    const tokens = await Promise.all(Array.from({ length: 20 }, () => client.getToken()));
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
    expect(idp.stats.tokenRequests).toBe(1);
    await sleep(20);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.every((e) => e instanceof TokenStoreError)).toBe(true);
  });

  test('the lock wait is bounded: a holder that never releases does not hang the others', async () => {
    // Learn the store key of this client's default token, then have a "dead instance" hold its lock.
    const dead = redisClient(server.url);
    redisClients.push(dead);
    const probe = createM2MClient({ tokenEndpoint: idp.ciamTokenEndpoint, ...svc, store: redisTokenStore({ client: dead, prefix }) });
    await probe.getToken();
    await until(async () => (await admin.keys(`${prefix}m2m1:*`)).length === 1 && (await admin.keys(`${prefix}lock:*`)).length === 0);
    const [tokenKey] = await admin.keys(`${prefix}m2m1:*`);
    const key = tokenKey!.slice(prefix.length);
    await admin.del(tokenKey!);
    expect(await redisTokenStore({ client: dead, prefix }).lock(key, 60_000)).toBe(true);
    idp.resetStats();

    const list = await fleet(4, idp.ciamTokenEndpoint, { storeLockWaitMs: 300 });
    const t0 = Date.now();
    const tokens = await Promise.all(list.flatMap((i) => Array.from({ length: 50 }, () => i.client.getToken())));
    const elapsed = Date.now() - t0;
    expect(tokens).toHaveLength(200);
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(2000);
    // Each instance gave up waiting and fetched on its own (at most one request per instance).
    expect(idp.stats.tokenRequests).toBeGreaterThanOrEqual(1);
    expect(idp.stats.tokenRequests).toBeLessThanOrEqual(4);
    // The foreign lock is left alone: it is not ours to release; its lease will end it.
    expect(await admin.exists(`${prefix}lock:${key}`)).toBe(1);
  });
});
