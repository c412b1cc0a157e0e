/** redisTokenStore() against a real redis-server: the TokenStore contract, what is stored, failing fast. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis, RedisOptions } from 'ioredis';
import { ConfigError } from '../lib/index.js';
import { redisTokenStore, RedisUnavailableError } from '../lib/redis/index.js';
import { closeClients, describeWithRedis, redisClient, startRedis, type RedisServer } from '../fixtures/redis-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The store keeps what the client gives it, a sealed string; it never looks inside. */
const token = (tag = 'a'): string => `v1.AAAAAAAAAAAAAAAA.${tag}.AAAAAAAAAAAAAAAAAAAAAA`;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

test('the core never imports ioredis, and lib/redis imports only its types', () => {
  const all = files('lib').filter((f) => f.endsWith('.ts'));
  const importsIoredis = (src: string): string[] => [...src.matchAll(/^\s*import\s+(type\s+)?[^;]*?from\s+['"]ioredis['"]/gm)].map((m) => m[0]);
  for (const f of all) {
    const found = importsIoredis(readFileSync(f, 'utf8'));
    if (f.startsWith(join('lib', 'redis'))) expect(found.every((s) => /import\s+type\b/.test(s))).toBe(true);
    else expect({ file: f, found }).toEqual({ file: f, found: [] });
    expect(readFileSync(f, 'utf8')).not.toMatch(/import\(\s*['"]ioredis['"]\s*\)|require\(\s*['"]ioredis['"]\s*\)/);
  }
  // and the core entry point does not re-export the Redis module
  expect(readFileSync('lib/index.ts', 'utf8')).not.toMatch(/from\s+['"]\.\/redis\//);
});

test('options are checked at once', () => {
  expect(() => redisTokenStore(undefined as never)).toThrow(ConfigError);
  expect(() => redisTokenStore({} as never)).toThrow(/client must be an ioredis client/);
  // node-redis v4 style objects are not accepted silently
  expect(() => redisTokenStore({ client: { get() {}, set() {}, isOpen: true } as never })).toThrow(/ioredis/);
  const fake = { get() {}, set() {}, eval() {}, status: 'ready' } as never;
  expect(() => redisTokenStore({ client: fake, prefix: 3 as never })).toThrow(/prefix must be a string/);
  expect(() => redisTokenStore({ client: fake, connectWaitMs: -1 })).toThrow(/connectWaitMs must be a non-negative number of at most 2147483647 \(got -1\)/);
  // Unknown options are refused with a suggestion, as by every other factory, under the store's own page.
  let err: unknown;
  try {
    redisTokenStore({ client: fake, prefx: 'a:' } as never);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect(err).toMatchObject({ code: 'config_options', docs: 'express-oauth-kit/docs/fleet.md#redistokenstore-options' });
  expect((err as Error).message).toMatch(/^redisTokenStore\(\): unknown option "prefx"; did you mean prefix\?/);
  expect(() => redisTokenStore({ client: fake, keyPrefix: 'a:' } as never)).toThrow(/did you mean prefix\?/);
  expect(redisTokenStore({ client: fake }).prefix).toBe('oauthkit:m2m:');
  expect(() => redisTokenStore({ client: fake, callTimeoutMs: -5 })).toThrow(/callTimeoutMs must be a non-negative number of at most 2147483647 \(got -5\)/);
  expect(() => redisTokenStore({ client: fake, replayWaitReplicas: 1.5 })).toThrow(/replayWaitReplicas must be a non-negative integer/);
  // WAIT 0 means "wait for ever": never sent.
  expect(() => redisTokenStore({ client: fake, replayWaitReplicas: 1, replayWaitTimeoutMs: 0 })).toThrow(/replayWaitTimeoutMs must be a positive integer/);
  expect(() => redisTokenStore({ client: fake, replayWaitReplicas: 1, replayWaitTimeoutMs: 1000 })).toThrow(/replayWaitTimeoutMs \(1000 ms\) must be shorter than callTimeoutMs \(1000 ms\)/);
  expect(() => redisTokenStore({ client: fake, replayWaitReplicas: 1, replayWaitTimeoutMs: 1000, callTimeoutMs: 0 })).not.toThrow();
  expect(() => redisTokenStore({ client: fake, waitReplicas: 1 } as never)).toThrow(/did you mean replayWaitReplicas\?/);
});

test('a wait longer than a timer can hold is refused: it would fire after 1 ms and fail every call', () => {
  const fake = { get() {}, set() {}, eval() {}, status: 'ready' } as never;
  expect(() => redisTokenStore({ client: fake, callTimeoutMs: 3_000_000_000 })).toThrow(/callTimeoutMs must be a non-negative number of at most 2147483647/);
  expect(() => redisTokenStore({ client: fake, connectWaitMs: 2 ** 31 })).toThrow(/connectWaitMs must be a non-negative number of at most 2147483647/);
  expect(() => redisTokenStore({ client: fake, callTimeoutMs: 2_147_483_647, connectWaitMs: 2_147_483_647 })).not.toThrow();
});

test('docs/fleet.md lists every redisTokenStore() option, and only those', () => {
  // The factory names its options in the message for a missing options object.
  const message = ((): string => {
    try {
      redisTokenStore(5 as never);
    } catch (e) {
      return (e as Error).message;
    }
    return '';
  })();
  const known = [.../\{([^}]*)\}/.exec(message)![1]!.matchAll(/(\w+)\??/g)].map((m) => m[1]).sort();
  const page = readFileSync('docs/fleet.md', 'utf8');
  const table = page.slice(page.indexOf('### `redisTokenStore()` options'), page.indexOf('### Why ioredis'));
  const documented = [...table.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]).sort();
  expect(documented).toEqual(known);
  expect(known).toEqual(['callTimeoutMs', 'client', 'connectWaitMs', 'prefix', 'replayWaitReplicas', 'replayWaitTimeoutMs']);
});

describeWithRedis('redisTokenStore on a real Redis', () => {
  let server: RedisServer;
  let admin: Redis;
  const clients: Redis[] = [];
  const client = (opts: RedisOptions = {}): Redis => {
    const c = redisClient(server.url, opts);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    server = await startRedis();
    admin = redisClient(server.url, { enableOfflineQueue: true });
  });
  afterAll(async () => {
    await closeClients(admin ? [...clients, admin] : clients);
    await server?.stop('SIGTERM');
  });
  beforeEach(async () => {
    if (!server.running) await server.restart();
    await admin.flushall();
  });

  test('set / get round trip with the TTL as a Redis PX expiry; a ttl <= 0 removes the key', async () => {
    const store = redisTokenStore({ client: client(), prefix: 't1:' });
    const t = token();
    expect(await store.get('k')).toBeUndefined();
    await store.set('k', t, 30_000);
    expect(await store.get('k')).toEqual(t);
    const pttl = await admin.pttl('t1:k');
    expect(pttl).toBeGreaterThan(29_000);
    expect(pttl).toBeLessThanOrEqual(30_000);
    await store.set('k', t, 0);
    expect(await admin.exists('t1:k')).toBe(0);
    await store.set('short', t, 50);
    await sleep(120);
    expect(await store.get('short')).toBeUndefined();
  });

  test('what is stored: the string the client sealed, as is', async () => {
    const store = redisTokenStore({ client: client(), prefix: 't2:' });
    await store.set('k', token('xyz'), 10_000);
    expect(await admin.get('t2:k')).toBe(token('xyz'));
  });

  test('any string is handed to the client to judge; a key of another Redis type is a miss, not an outage, and SET replaces it', async () => {
    const store = redisTokenStore({ client: client(), prefix: 't3:' });
    await admin.set('t3:bad', 'eyJsecret-but-not-json');
    expect(await store.get('bad')).toBe('eyJsecret-but-not-json');
    await admin.hset('t3:hash', 'f', 'v');
    await admin.rpush('t3:list', 'x');
    expect(await store.get('hash')).toBeUndefined();
    expect(await store.get('list')).toBeUndefined();
    await store.set('hash', token(), 10_000);
    expect(await store.get('hash')).toBe(token());
  });

  test('delete removes a token; prefixes keep stores apart', async () => {
    const c = client();
    const a = redisTokenStore({ client: c, prefix: 'a:' });
    const b = redisTokenStore({ client: c, prefix: 'b:' });
    await a.set('k', token('A'), 10_000);
    await b.set('k', token('B'), 10_000);
    expect(await a.get('k')).toBe(token('A'));
    await a.delete('k');
    expect(await a.get('k')).toBeUndefined();
    expect(await b.get('k')).toBe(token('B'));
  });

  test('lock: one holder across instances, released by unlock or by its lease', async () => {
    const one = redisTokenStore({ client: client(), prefix: 'l:' });
    const two = redisTokenStore({ client: client(), prefix: 'l:' });
    const results = await Promise.all([...Array.from({ length: 20 }, () => one.lock('k', 5000)), ...Array.from({ length: 20 }, () => two.lock('k', 5000))]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const holder = results.indexOf(true) < 20 ? one : two;
    const other = holder === one ? two : one;
    expect(await admin.exists('l:lock:k')).toBe(1);
    expect(await admin.exists('l:k')).toBe(0); // lock keys never collide with token keys
    await other.unlock('k'); // not its lock: nothing happens
    expect(await other.lock('k', 5000)).toBe(false);
    await holder.unlock('k');
    expect(await other.lock('k', 80)).toBe(true);
    await sleep(150); // lease over: a crashed holder does not block the fleet
    expect(await holder.lock('k', 5000)).toBe(true);
  });

  test('unlock after the lease passed never releases the next holder’s lock (compare-and-delete)', async () => {
    const slow = redisTokenStore({ client: client(), prefix: 'cd:' });
    const next = redisTokenStore({ client: client(), prefix: 'cd:' });
    expect(await slow.lock('k', 50)).toBe(true);
    await sleep(100);
    expect(await next.lock('k', 5000)).toBe(true);
    await slow.unlock('k'); // late
    expect(await admin.exists('cd:lock:k')).toBe(1);
    expect(await slow.lock('k', 5000)).toBe(false);
  });

  test('replayWaitReplicas: a claim no replica confirmed is a store failure, never "new"; a second claim of the id is refused', async () => {
    // A lone server has no replica: WAIT 1 answers 0 after replayWaitTimeoutMs.
    const c = client();
    const waiting = redisTokenStore({ client: c, prefix: 'w:', replayWaitReplicas: 1, replayWaitTimeoutMs: 100 });
    const err = (await waiting.claim('jti-1', 60_000).catch((e: Error) => e)) as RedisUnavailableError;
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect(err.message).toMatch(/0 of 1 replicas confirmed the claim within replayWaitTimeoutMs \(100 ms\)/);
    // The id was written all the same: it stays refused, from this store and from a plain one.
    expect(await waiting.claim('jti-1', 60_000)).toBe(false);
    expect(await redisTokenStore({ client: c, prefix: 'w:' }).claim('jti-1', 60_000)).toBe(false);
    expect(await admin.pttl('w:claim:jti-1')).toBeGreaterThan(50_000);
    // Without the option the same server answers "new".
    expect(await redisTokenStore({ client: c, prefix: 'w:' }).claim('jti-2', 60_000)).toBe(true);
  });

  test('Redis down: every call fails at once (no offline queue, even when the client has one), and works again when Redis is back', async () => {
    const queued = client({ enableOfflineQueue: true, maxRetriesPerRequest: 20 }); // ioredis defaults
    const failFast = client();
    const stores = [redisTokenStore({ client: queued, prefix: 'd:' }), redisTokenStore({ client: failFast, prefix: 'd:' })];
    await stores[0]!.set('k', token(), 10_000);
    await server.stop();
    await sleep(100); // let the clients see the closed connection
    for (const s of stores) {
      for (const call of [() => s.get('k'), () => s.set('k', token(), 1000), () => s.delete('k'), () => s.lock('k', 1000)]) {
        const t0 = Date.now();
        const err = await call().catch((e: Error) => e);
        expect(Date.now() - t0).toBeLessThan(100);
        expect(err).toBeInstanceOf(Error);
        expect((err as Error).message).not.toContain('eyJ');
      }
    }
    const err = (await stores[0]!.get('k').catch((e: Error) => e)) as RedisUnavailableError;
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect(err.status).toMatch(/reconnecting|connecting|close/);
    await server.restart();
    await Promise.all([queued, failFast].map((c) => new Promise((r) => (c.status === 'ready' ? r(null) : c.once('ready', r)))));
    // Nothing queued while it was down was replayed later (no ghost locks, no late writes).
    await sleep(50);
    expect(await admin.keys('d:*')).toEqual([]);
    for (const s of stores) {
      await s.set('k', token(), 10_000);
      expect(await s.get('k')).toBeTruthy();
    }
  });

  test('a client that is still connecting (start-up, lazyConnect) is waited for, briefly', async () => {
    const fresh = client();
    expect(fresh.status).not.toBe('ready');
    const store = redisTokenStore({ client: fresh, prefix: 'c:' });
    await store.set('k', token(), 10_000);
    expect(await store.get('k')).toBeTruthy();

    const lazy = client({ lazyConnect: true });
    expect(lazy.status).toBe('wait');
    expect(await redisTokenStore({ client: lazy, prefix: 'c:' }).get('k')).toBeTruthy();

    // Nothing listening: bounded by connectWaitMs, then RedisUnavailableError.
    await server.stop();
    const dead = client({ retryStrategy: () => 1000 });
    const t0 = Date.now();
    await expect(redisTokenStore({ client: dead, connectWaitMs: 150 }).get('k')).rejects.toBeInstanceOf(RedisUnavailableError);
    expect(Date.now() - t0).toBeLessThan(400);
  });
});
