import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { TokenStore } from '../m2m/store.js';
import { OptionChecker } from '../options/validate.js';
import { OAuthKitError } from '../errors/base.js';

/** An ioredis client the application built (with its own TLS, AUTH/ACL, sentinel or cluster options). */
export type RedisClient = Redis | Cluster;

/** Options of {@link redisTokenStore}. */
export interface RedisTokenStoreOptions {
  /**
   * The application's ioredis client (`new Redis(url, options)` or `new Redis.Cluster(...)`). This
   * package never creates one, so TLS, AUTH/ACL user and password, sentinels and cluster settings
   * are the application's. Recommended: `{ enableOfflineQueue: false, maxRetriesPerRequest: 1 }`.
   */
  client: RedisClient;
  /**
   * Prepended to every key. Token keys are `<prefix><key>`, lock keys `<prefix>lock:<key>`; with
   * an ACL, grant the store's user `~<prefix>*` only.
   * @default 'oauthkit:m2m:'
   */
  prefix?: string;
  /**
   * Milliseconds a call waits for the client's connection when it is still being set up (the
   * first connect at start-up, or `lazyConnect`). While ioredis is *reconnecting* after losing
   * Redis, calls fail at once instead, so nothing queues up behind a dead server. 0 never waits.
   * @default 500
   */
  connectWait?: number;
}

/**
 * Redis is not connected, so the call was not sent. The M2M client reports it through `onError`
 * (phase 'store') and carries on with its in-process cache and the IdP.
 */
export class RedisUnavailableError extends OAuthKitError {
  /** Always `'redis_unavailable'`. */
  readonly code = 'redis_unavailable' as const;
  /** The ioredis client status when the call was refused (`reconnecting`, `end`, …). */
  readonly status: string;
  constructor(status: string, detail = '') {
    super(`Redis is not available (client status "${status}")${detail}; the call was not sent`);
    this.status = status;
  }
  /** Always `"RedisUnavailableError"`. */
  override get name(): string {
    return 'RedisUnavailableError';
  }
}

// Compare-and-delete: release a lock only while it is still ours (its lease may have passed and
// another instance may hold it now).
const UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

const STARTING = new Set(['wait', 'connecting', 'connect']);

/** A Redis error that says the key holds another type (a hash, a list): that is a value, not an outage. */
const isWrongType = (err: unknown): boolean => err instanceof Error && /^WRONGTYPE\b/.test(err.message);

/**
 * The M2M `TokenStore` on Redis: `GET`, `SET … PX`, `DEL`, a `SET … NX PX` lease lock and a
 * compare-and-delete unlock. Create it with `redisTokenStore()`. One store object per M2M client
 * is the simplest (they can share one ioredis connection): the store remembers the lock value of
 * each key it holds, as the TokenStore contract allows.
 */
export class RedisTokenStore implements TokenStore {
  /** The key prefix in use ({@link RedisTokenStoreOptions.prefix}). */
  readonly prefix: string;
  readonly #client: RedisClient;
  readonly #connectWait: number;
  /** Lock value per key this store currently holds. */
  readonly #locks = new Map<string, string>();

  constructor(options: RedisTokenStoreOptions) {
    const check: OptionChecker = new OptionChecker('redisTokenStore()', 'fleet.md#redistokenstore-options');
    check.knownKeys(check.object(options, '{ client, prefix?, connectWait? }'), ['client', 'prefix', 'connectWait'], { redis: 'client', keyPrefix: 'prefix' });
    const { client, prefix = 'oauthkit:m2m:' } = options;
    const c = client as unknown as Record<string, unknown> | null | undefined;
    if (!c || typeof c !== 'object' || typeof c.get !== 'function' || typeof c.set !== 'function' || typeof c.eval !== 'function' || typeof c.status !== 'string') {
      check.fail('config_store', 'client must be an ioredis client (new Redis(url, options) or new Redis.Cluster(...)); this package does not create one');
    }
    if (typeof prefix !== 'string') check.fail('config_store', 'prefix must be a string');
    const connectWait = check.number(options.connectWait, 'connectWait (ms)', 500);
    this.#client = client;
    this.prefix = prefix;
    this.#connectWait = connectWait;
  }

  /** The Redis key a token is stored under. */
  tokenKey(key: string): string {
    return this.prefix + key;
  }

  /** The Redis key of a token key's lock. */
  lockKey(key: string): string {
    return `${this.prefix}lock:${key}`;
  }

  /**
   * The stored string as is: the M2M client opens it (it is sealed with the client's credentials)
   * and treats anything it cannot open as a miss, which the next fetch overwrites.
   */
  async get(key: string): Promise<string | undefined> {
    await this.#ready();
    try {
      return (await this.#client.get(this.tokenKey(key))) ?? undefined;
    } catch (err) {
      // Not a string: a miss for this key (SET replaces it), not a reason to stop using Redis.
      if (isWrongType(err)) return undefined;
      throw err;
    }
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#ready();
    if (!(ttlMs >= 1)) {
      await this.#client.del(this.tokenKey(key));
      return;
    }
    await this.#client.set(this.tokenKey(key), value, 'PX', Math.ceil(ttlMs));
  }

  async delete(key: string): Promise<void> {
    await this.#ready();
    await this.#client.del(this.tokenKey(key));
  }

  async lock(key: string, ttlMs: number): Promise<boolean> {
    await this.#ready();
    const value = randomBytes(16).toString('hex');
    const ok = await this.#client.set(this.lockKey(key), value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    if (ok !== 'OK') return false;
    this.#locks.set(key, value);
    return true;
  }

  /**
   * Sets `key` for `ttlMs` only if it is absent (`SET NX PX`); true when it was absent. For
   * once-only ids such as DPoP proof `jti`s (requireAuth's `dpop.replayStore`): unlike lock(),
   * nothing is remembered in process memory, Redis's expiry forgets the key.
   */
  async claim(key: string, ttlMs: number): Promise<boolean> {
    await this.#ready();
    return (await this.#client.set(`${this.prefix}claim:${key}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
  }

  async unlock(key: string): Promise<void> {
    const value = this.#locks.get(key);
    if (value === undefined) return;
    this.#locks.delete(key);
    await this.#ready();
    await this.#client.eval(UNLOCK, 1, this.lockKey(key), value);
  }

  /**
   * Fail fast: while ioredis reconnects, a command would wait in its offline queue (or be resent
   * later, e.g. a lock nobody will release). Only a connection that is still being set up is
   * waited for, briefly.
   */
  async #ready(): Promise<void> {
    const client = this.#client;
    if (client.status === 'ready') return;
    if (!STARTING.has(client.status) || this.#connectWait === 0) throw new RedisUnavailableError(client.status);
    if (client.status === 'wait') client.connect().catch(() => undefined); // lazyConnect: start it
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onReady = (): void => done();
      // The connection attempt failed (refused, reset, AUTH rejected): no point waiting further.
      const onClose = (): void => done(new RedisUnavailableError(client.status, ' (the connection attempt failed)'));
      const timer = setTimeout(() => done(new RedisUnavailableError(client.status, ` after waiting ${this.#connectWait} ms to connect`)), this.#connectWait);
      timer.unref();
      client.on('ready', onReady);
      client.on('close', onClose);
      if (client.status === 'ready') done();
    });
  }
}

/**
 * A shared M2M token store on Redis, for `createM2MClient({ store })`:
 *
 * ```ts
 * import { Redis } from 'ioredis';
 * import { redisTokenStore } from 'express-oauth-kit/redis';
 * const redis = new Redis(process.env.REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
 * const m2m = createM2MClient({ ...idp, store: redisTokenStore({ client: redis, prefix: 'myapi:m2m:' }) });
 * ```
 *
 * It stores the token and its expiry only, sealed with AES-256-GCM under a key derived from the
 * client's credentials, with a Redis TTL of the token's usable lifetime: reading Redis is not
 * enough to use a token. Protect it all the same (AUTH/ACL, TLS, private network): whoever can
 * write to it can delete tokens or hold locks.
 */
export function redisTokenStore(options: RedisTokenStoreOptions): RedisTokenStore {
  return new RedisTokenStore(options);
}
