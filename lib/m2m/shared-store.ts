import { isStoredToken, type StoredToken, type TokenStore } from './store.js';
import { sleep } from './retry.js';

/** A shared store failed or was too slow. Reported through `onError` (phase 'store'), never thrown to callers. */
export class TokenStoreError extends Error {
  /** Always `'token_store_error'`: switch on it in `onError` rather than on the message. */
  readonly code = 'token_store_error' as const;
  /** The store method that failed: get, set, delete, lock or unlock. */
  readonly operation: string;
  constructor(operation: string, detail: string, options?: { cause?: unknown }) {
    super(`The token store's ${operation}() ${detail}; continuing with the in-process cache and the IdP`, options);
    this.operation = operation;
  }
  /** Always `"TokenStoreError"`. */
  override get name(): string {
    return 'TokenStoreError';
  }
}

const FAILED = Symbol('store-failed');
type Failed = typeof FAILED;

/**
 * Every store call is bounded by a timeout and never throws: a slow or dead store (Redis down)
 * must cost at most `timeout` ms and must not fail a token request. After a failure the store is
 * left alone for `backoff` ms, so an outage costs one timeout, not one per cache miss (client
 * libraries often queue commands while reconnecting, which looks like a hang). The adapter's error
 * is kept as `cause` but not copied into the message, since a client library may echo command arguments.
 */
export class SharedStore {
  #skipUntil = 0;

  constructor(
    readonly store: TokenStore,
    private readonly timeout: number,
    private readonly backoff: number,
    private readonly report: (err: TokenStoreError, key: string) => void,
  ) {}

  get hasLock(): boolean {
    return typeof this.store.lock === 'function';
  }

  async #call<T>(op: string, key: string, run: () => T | Promise<T>): Promise<T | Failed> {
    if (this.#skipUntil !== 0 && Date.now() < this.#skipUntil) return FAILED;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TokenStoreError(op, `did not answer within ${this.timeout} ms`)), this.timeout);
        timer.unref();
      });
      return await Promise.race([Promise.resolve().then(run), timedOut]);
    } catch (err) {
      this.#skipUntil = Date.now() + this.backoff;
      if (err instanceof TokenStoreError) this.report(err, key);
      else {
        const e = err as { name?: string; code?: string } | null;
        const what = [e?.name, e?.code].filter((x) => typeof x === 'string' && x !== '').join(' ') || 'Error';
        this.report(new TokenStoreError(op, `failed (${what})`, { cause: err }), key);
      }
      return FAILED;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A valid-looking token, or undefined on a miss, a corrupt value or a failure. */
  async get(key: string): Promise<StoredToken | undefined> {
    const v = await this.#call('get', key, () => this.store.get(key));
    return v !== FAILED && isStoredToken(v) ? v : undefined;
  }

  async set(key: string, value: StoredToken, ttlMs: number): Promise<void> {
    if (ttlMs > 0) await this.#call('set', key, () => this.store.set(key, value, Math.ceil(ttlMs)));
  }

  async delete(key: string): Promise<void> {
    if (this.store.delete) await this.#call('delete', key, () => this.store.delete!(key));
  }

  /** true: we hold it; false: someone else does; 'failed': the store could not say (act alone). */
  async lock(key: string, ttlMs: number): Promise<boolean | 'failed'> {
    const r = await this.#call('lock', key, () => this.store.lock!(key, Math.ceil(ttlMs)));
    return r === FAILED ? 'failed' : r === true;
  }

  async unlock(key: string): Promise<void> {
    await this.#call('unlock', key, () => this.store.unlock!(key));
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
