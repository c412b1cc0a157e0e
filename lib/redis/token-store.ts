import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { TokenStore } from '../m2m/store/store.js';
import { MAX_TIMER_MS, OptionChecker } from '../options/validate.js';
import { renamed } from '../options/deprecated.js';
import { keySlot } from './key-slot.js';
import { RedisUnavailableError } from '../errors/store-errors.js';

export { RedisUnavailableError };

/** An ioredis client the application built (with its own TLS, AUTH/ACL, sentinel or cluster options). */
export type RedisClient = Redis | Cluster;

/** Options of {@link redisTokenStore}. */
export interface RedisTokenStoreOptions {
  /**
   * The application's ioredis client (`new Redis(url, options)` or `new Redis.Cluster(...)`). This
   * package never creates one, so TLS, AUTH/ACL user and password, sentinels and cluster settings
   * are the application's. Recommended: `{ enableOfflineQueue: false, maxRetriesPerRequest: 1,
   * commandTimeout: 500 }` (on a Cluster, inside `redisOptions`; docs/fleet.md has each topology).
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
  connectWaitMs?: number;
  /** @deprecated Use connectWaitMs (same unit, milliseconds). */
  connectWait?: number;
  /**
   * Milliseconds any one call may take once sent (a stalled or frozen server, a Cluster slot being
   * failed over, a Sentinel switch): then it fails with {@link RedisUnavailableError}, whatever the
   * client's own options. The command itself cannot be withdrawn; a lock() that lands after its
   * call timed out is released as soon as its answer arrives. 0 leaves it to the client.
   * @default 1000
   */
  callTimeoutMs?: number;
  /** @deprecated Use callTimeoutMs (same unit, milliseconds). */
  callTimeout?: number;
  /**
   * Replicas that must have a DPoP proof id before {@link RedisTokenStore.claim} reports it new.
   * Redis replication is asynchronous: a claim acknowledged by a master that dies before passing
   * it on is lost at the failover, and the same proof is accepted again. With `1`, claim() sends
   * `WAIT 1 <replayWaitTimeoutMs>` after its `SET NX`, on the same connection (WAIT counts that
   * connection's writes; on a Cluster, the key's master), and a claim fewer replicas confirmed in
   * time fails with {@link RedisUnavailableError}: the guard refuses the request (503) instead of
   * risking a replay. While a master has fewer live replicas than this, its claims all fail. Only
   * claim() waits; token reads and writes do not.
   * @default 0
   */
  replayWaitReplicas?: number;
  /**
   * Milliseconds the replicas get to confirm a claim (the WAIT timeout) with `replayWaitReplicas`.
   * Keep it below the client's `commandTimeout` and the store's `callTimeoutMs`, which bound the
   * whole claim.
   * @default 250
   */
  replayWaitTimeoutMs?: number;
  /** @deprecated Use replayWaitTimeoutMs (same unit, milliseconds). */
  replayWaitTimeout?: number;
}

/**
 * The one wording of a Redis outage: the client status, what happened (`detail`), and whether the
 * command went out (then it may still run on the server).
 */
function unavailable(status: string, detail = '', sent = false): RedisUnavailableError {
  return new RedisUnavailableError(`Redis is not available (client status "${status}")${detail}; ${sent ? 'the call was abandoned' : 'the call was not sent'}`, { clientStatus: status, sent });
}

// Compare-and-delete: release a lock only while it is still ours (its lease may have passed and
// another instance may hold it now).
const UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** Old option names of redisTokenStore() (CHANGELOG.md, "Option names"); each keeps its unit (ms). */
const RENAMES = { connectWait: 'connectWaitMs', callTimeout: 'callTimeoutMs', replayWaitTimeout: 'replayWaitTimeoutMs' } as const;

const STARTING = new Set(['wait', 'connecting', 'connect']);

/** How often a refused Cluster call may ask for the slot map again (it changes at a failover). */
const SLOT_REFRESH_MS = 200;

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
  readonly #callTimeout: number;
  readonly #waitReplicas: number;
  readonly #waitTimeout: number;
  /** Lock value per key this store currently holds. */
  readonly #locks = new Map<string, string>();
  #slotsAskedAt = 0;

  constructor(options: RedisTokenStoreOptions) {
    const check: OptionChecker = new OptionChecker('redisTokenStore()', 'fleet.md#redistokenstore-options');
    options = renamed(check, check.object(options, '{ client, prefix?, connectWaitMs?, callTimeoutMs?, replayWaitReplicas?, replayWaitTimeoutMs? }'), RENAMES);
    check.knownKeys(
      options,
      ['client', 'prefix', 'connectWaitMs', 'callTimeoutMs', 'replayWaitReplicas', 'replayWaitTimeoutMs'],
      { redis: 'client', keyPrefix: 'prefix', commandTimeout: 'callTimeoutMs', timeout: 'callTimeoutMs', timeoutMs: 'callTimeoutMs', waitReplicas: 'replayWaitReplicas', replicas: 'replayWaitReplicas' },
    );
    const { client, prefix = 'oauthkit:m2m:' } = options;
    const c = client as unknown as Record<string, unknown> | null | undefined;
    if (!c || typeof c !== 'object' || typeof c.get !== 'function' || typeof c.set !== 'function' || typeof c.eval !== 'function' || typeof c.status !== 'string') {
      check.fail('config_store', 'client must be an ioredis client (new Redis(url, options) or new Redis.Cluster(...)); this package does not create one');
    }
    if (typeof prefix !== 'string') check.fail('config_store', 'prefix must be a string');
    // Both are timers: a longer one would fire after 1 ms and fail every call.
    const connectWait = check.number(options.connectWaitMs, 'connectWaitMs', 500, { max: MAX_TIMER_MS });
    this.#client = client;
    this.prefix = prefix;
    this.#connectWait = connectWait;
    this.#callTimeout = check.number(options.callTimeoutMs, 'callTimeoutMs', 1000, { max: MAX_TIMER_MS });
    this.#waitReplicas = check.number(options.replayWaitReplicas, 'replayWaitReplicas', 0, { integer: true, max: 100 });
    // Whole ms, never 0: WAIT 0 would block until the replicas answer, however long that takes.
    this.#waitTimeout = check.number(options.replayWaitTimeoutMs, 'replayWaitTimeoutMs', 250, { integer: true, positive: true });
    if (this.#callTimeout !== 0 && this.#waitTimeout >= this.#callTimeout) {
      check.fail('config_number', `replayWaitTimeoutMs (${this.#waitTimeout} ms) must be shorter than callTimeoutMs (${this.#callTimeout} ms), which bounds the whole claim`);
    }
  }

  /** The Redis key a token is stored under. */
  #tokenKey(key: string): string {
    return this.prefix + key;
  }

  /** The Redis key of a token key's lock. */
  #lockKey(key: string): string {
    return `${this.prefix}lock:${key}`;
  }

  /**
   * The stored string as is: the M2M client opens it (it is sealed with the client's credentials)
   * and treats anything it cannot open as a miss, which the next fetch overwrites.
   */
  async get(key: string): Promise<string | undefined> {
    const k = this.#tokenKey(key);
    await this.#ready(k);
    try {
      return (await this.#bounded(this.#client.get(k))) ?? undefined;
    } catch (err) {
      // Not a string: a miss for this key (SET replaces it), not a reason to stop using Redis.
      if (isWrongType(err)) return undefined;
      throw err;
    }
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    const k = this.#tokenKey(key);
    await this.#ready(k);
    if (!(ttlMs >= 1)) {
      await this.#bounded(this.#client.del(k));
      return;
    }
    await this.#bounded(this.#client.set(k, value, 'PX', Math.ceil(ttlMs)));
  }

  async delete(key: string): Promise<void> {
    const k = this.#tokenKey(key);
    await this.#ready(k);
    await this.#bounded(this.#client.del(k));
  }

  async lock(key: string, ttlMs: number): Promise<boolean> {
    const k = this.#lockKey(key);
    await this.#ready(k);
    const value = randomBytes(16).toString('hex');
    const sent = this.#client.set(k, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    // A lock that lands after its call gave up would block the fleet until its lease ends: release it.
    const ok = await this.#bounded(sent, () => {
      sent.then((late) => (late === 'OK' ? this.#client.eval(UNLOCK, 1, k, value) : null)).catch(() => undefined);
    });
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
    const k = `${this.prefix}claim:${key}`;
    await this.#ready(k);
    const px = Math.max(1, Math.ceil(ttlMs));
    const n = this.#waitReplicas;
    if (n === 0) return (await this.#bounded(this.#client.set(k, '1', 'PX', px, 'NX'))) === 'OK';
    // WAIT counts the writes of the connection it is sent on: one pipeline puts SET and WAIT on the
    // same connection (on a Cluster, ioredis sends a pipeline to the master of its keys' slot).
    const replies = await this.#bounded(this.#client.pipeline().set(k, '1', 'PX', px, 'NX').wait(n, this.#waitTimeout).exec());
    const [set, acked] = replies ?? [];
    if (!set || set[0]) {
      // A pipeline that met MOVED/ASK is not followed by ioredis here (WAIT is not a read): learn the new map.
      if (set?.[0] && /^(?:MOVED|ASK)\b/.test(set[0].message) && (this.#client as Cluster).isCluster === true) (this.#client as Cluster).refreshSlotsCache();
      throw set?.[0] ?? unavailable(this.#client.status, ' (the claim got no answer)', true);
    }
    // Already taken: a replay whatever the replicas know.
    if (set[1] !== 'OK') return false;
    if (!acked || acked[0]) throw acked?.[0] ?? unavailable(this.#client.status, ' (WAIT got no answer)', true);
    // Not on enough replicas yet: a failover now could forget it, so it cannot be vouched for as new.
    if (typeof acked[1] !== 'number' || acked[1] < n) {
      throw unavailable(this.#client.status, ` and ${String(acked[1])} of ${n} replicas confirmed the claim within replayWaitTimeoutMs (${this.#waitTimeout} ms)`, true);
    }
    return true;
  }

  async unlock(key: string): Promise<void> {
    const value = this.#locks.get(key);
    if (value === undefined) return;
    this.#locks.delete(key);
    const k = this.#lockKey(key);
    await this.#ready(k);
    await this.#bounded(this.#client.eval(UNLOCK, 1, k, value));
  }

  /** `sent`, or RedisUnavailableError after callTimeoutMs (then `onLate` deals with a late answer). */
  #bounded<T>(sent: Promise<T>, onLate?: () => void): Promise<T> {
    if (this.#callTimeout === 0) return sent;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        onLate?.();
        reject(unavailable(this.#client.status, ` and no answer came within callTimeoutMs (${this.#callTimeout} ms)`, true));
      }, this.#callTimeout);
      timer.unref();
      sent.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err as Error);
        },
      );
    });
  }

  /**
   * On a Cluster the client stays `ready` while one master is down, and a command for that
   * master's slots would bounce between nodes (MOVED, "Too many Cluster redirections") until a
   * replica takes over. Refuse it at once instead when the slot's master has no ready connection,
   * and ask for the slot map again, so the call after a failover goes to the new master.
   */
  #slotReady(key: string): void {
    const cluster = this.#client as Cluster;
    if (cluster.isCluster !== true || cluster.status !== 'ready') return;
    const owner = cluster.slots[keySlot(key)]?.[0];
    const node = owner === undefined ? undefined : cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
    // A node connection ioredis has just created ('wait', 'connecting') is being set up, not lost.
    if (node && (node.status === 'ready' || STARTING.has(node.status))) return;
    const now = Date.now();
    if (now - this.#slotsAskedAt >= SLOT_REFRESH_MS) {
      this.#slotsAskedAt = now;
      cluster.refreshSlotsCache();
    }
    throw unavailable(node?.status ?? 'no master', ' for this key’s cluster slot');
  }

  /**
   * Fail fast: while ioredis reconnects, a command would wait in its offline queue (or be resent
   * later, e.g. a lock nobody will release). Only a connection that is still being set up is
   * waited for, briefly.
   */
  async #ready(key: string): Promise<void> {
    const client = this.#client;
    if (client.status === 'ready') {
      this.#slotReady(key);
      return;
    }
    if (!STARTING.has(client.status) || this.#connectWait === 0) throw unavailable(client.status);
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
      const onClose = (): void => done(unavailable(client.status, ' (the connection attempt failed)'));
      const timer = setTimeout(() => done(unavailable(client.status, ` after waiting ${this.#connectWait} ms to connect`)), this.#connectWait);
      timer.unref();
      client.on('ready', onReady);
      client.on('close', onClose);
      if (client.status === 'ready') done();
    });
    this.#slotReady(key);
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
