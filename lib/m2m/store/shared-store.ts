import type { SealKeys } from './seal.js';
import type { StoredToken, TokenStore } from './store.js';
import { sleep } from '../sleep.js';
import * as clock from '../../clock.js';
import { TokenStoreError } from '../../errors/store-errors.js';

/** The message every store failure shares: what failed, and that token requests carry on without the store. */
const storeError = (operation: string, detail: string, cause?: unknown): TokenStoreError =>
  new TokenStoreError(`The token store's ${operation}() ${detail}; continuing with the in-process cache and the IdP`, { operation, cause });

const FAILED = Symbol('store-failed');
type Failed = typeof FAILED;

/**
 * Every store call is bounded by a timeout and never throws: a slow or dead store (Redis down)
 * must cost at most `timeout` ms and must not fail a token request. After a failure the store is
 * left alone for `backoff` ms, so an outage costs one timeout, not one per cache miss (client
 * libraries often queue commands while reconnecting, which looks like a hang). The adapter's error
 * is kept as `cause` but not copied into the message, since a client library may echo command arguments.
 *
 * Callers speak in cache keys and tokens; the store sees store keys and sealed strings only. A value
 * that does not unseal is a miss for its key (and is overwritten by the next fetch), not a store
 * failure: it says nothing about the store's health, and backing off would keep it there forever.
 */
export class SharedStore {
  #skipUntil = 0;
  #keys: SealKeys | undefined;
  #keysFailed = false;

  constructor(
    readonly store: TokenStore,
    private readonly sealKeys: Promise<SealKeys>,
    private readonly timeout: number,
    private readonly backoff: number,
    private readonly report: (err: TokenStoreError, key: string) => void,
  ) {}

  /** The derived keys; the derivation is not a store call, so it does not count against `timeout`. */
  async #sealing(key: string): Promise<SealKeys | undefined> {
    if (this.#keys !== undefined) return this.#keys;
    if (this.#keysFailed) return undefined;
    try {
      this.#keys = await this.sealKeys;
      return this.#keys;
    } catch (err) {
      if (!this.#keysFailed) {
        this.#keysFailed = true;
        const e = err as { code?: string } | null;
        this.report(storeError('seal', `key derivation failed (${typeof e?.code === 'string' ? e.code : 'Error'}); the store is not used`, err), key);
      }
      return undefined;
    }
  }

  get hasLock(): boolean {
    return typeof this.store.lock === 'function';
  }

  async #call<T>(op: string, key: string, run: () => T | Promise<T>): Promise<T | Failed> {
    if (this.#skipUntil !== 0 && clock.now() < this.#skipUntil) return FAILED;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(storeError(op, `did not answer within ${this.timeout} ms`)), this.timeout);
        timer.unref();
      });
      return await Promise.race([Promise.resolve().then(run), timedOut]);
    } catch (err) {
      this.#skipUntil = clock.now() + this.backoff;
      if (err instanceof TokenStoreError) this.report(err, key);
      else {
        const e = err as { name?: string; code?: string } | null;
        const what = [e?.name, e?.code].filter((x) => typeof x === 'string' && x !== '').join(' ') || 'Error';
        this.report(storeError(op, `failed (${what})`, err), key);
      }
      return FAILED;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A token sealed for this key by these credentials, or undefined on a miss, any other value or a failure. */
  async get(key: string): Promise<StoredToken | undefined> {
    const k = await this.#sealing(key);
    if (k === undefined) return undefined;
    const sk = k.storeKey(key);
    const v = await this.#call('get', key, () => this.store.get(sk));
    return v === FAILED ? undefined : k.unseal(v, sk);
  }

  async set(key: string, value: StoredToken, ttlMs: number): Promise<void> {
    if (!(ttlMs > 0)) return;
    const k = await this.#sealing(key);
    if (k === undefined) return;
    const sk = k.storeKey(key);
    await this.#call('set', key, () => this.store.set(sk, k.seal(value, sk), Math.ceil(ttlMs)));
  }

  async delete(key: string): Promise<void> {
    if (!this.store.delete) return;
    const k = await this.#sealing(key);
    if (k !== undefined) await this.#call('delete', key, () => this.store.delete!(k.storeKey(key)));
  }

  /** true: we hold it; false: someone else does; 'failed': the store could not say (act alone). */
  async lock(key: string, ttlMs: number): Promise<boolean | 'failed'> {
    const k = await this.#sealing(key);
    if (k === undefined) return 'failed';
    const r = await this.#call('lock', key, () => this.store.lock!(k.storeKey(key), Math.ceil(ttlMs)));
    return r === FAILED ? 'failed' : r === true;
  }

  async unlock(key: string): Promise<void> {
    const k = await this.#sealing(key);
    if (k !== undefined) await this.#call('unlock', key, () => this.store.unlock!(k.storeKey(key)));
  }

  /**
   * Another instance holds the lock: poll for the token it will publish, taking the lock over if it
   * is released without one (that instance failed). Bounded by `waitMs`, after which the caller
   * fetches on its own rather than hang. Background waits do not keep the process alive.
   */
  async waitForToken(
    key: string,
    waitMs: number,
    usable: (t: StoredToken) => boolean,
    keepAlive: boolean,
  ): Promise<{ token: StoredToken } | { locked: true } | undefined> {
    // A wait, not an expiry check: real time, whatever clock the tests set.
    // Real time, not lib/clock.ts: this bounds a real wait made of timers, which a test clock does not advance.
    const deadline = Date.now() + waitMs;
    let interval = 20;
    while (Date.now() < deadline) {
      await sleep(Math.min(interval, Math.max(1, deadline - Date.now())), keepAlive);
      interval = Math.min(interval * 2, 250);
      const t = await this.get(key);
      if (t && usable(t)) return { token: t };
      const l = await this.lock(key, waitMs);
      if (l === true) return { locked: true };
      if (l === 'failed') return undefined;
    }
    return undefined;
  }
}
