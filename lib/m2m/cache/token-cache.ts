import { LRUCache } from 'lru-cache';
import { emit } from '../hooks/emit.js';
import { getRetryAfter } from '../request/retry.js';
import type { SealKeys } from '../store/seal.js';
import { SharedStore } from '../store/shared-store.js';
import type { TokenStoreError } from '../../errors/store-errors.js';
import type { StoredToken } from '../store/store.js';
import type { TokenSpec } from '../request/spec.js';
import type { M2MCacheHitEvent, M2MHooks, M2MToken } from '../client/types.js';
import * as clock from '../../clock.js';
import { timing } from './timing.js';

interface Entry {
  readonly token: M2MToken;
  /** Pre-resolved, so a warm `getToken()` returns it without allocating. */
  readonly promise: Promise<M2MToken>;
  readonly record: StoredToken;
  readonly staleAt: number;
  readonly refreshAt: number;
  readonly hit: M2MCacheHitEvent;
  /** refreshAt, pushed back while a refresh runs or after one failed. */
  nextRefreshAt: number;
}

interface Flight {
  readonly spec: TokenSpec;
  promise: Promise<M2MToken>;
  waiters: number;
  readonly background: boolean;
}

type Mode = 'miss' | 'force' | 'refresh';

export type Fetcher = (spec: TokenSpec, background: boolean) => Promise<{ token: StoredToken; attempts: number }>;

export interface TokenCacheOptions {
  expirySkewMs: number;
  refreshAhead: number;
  maxEntries: number;
  store: SharedStore['store'] | undefined;
  sealKeys: Promise<SealKeys> | undefined;
  storeTimeoutMs: number;
  storeBackoffMs: number;
  storeLockWaitMs: number;
  maxPauseMs: number;
  /** How long a failed fetch is answered from memory (0: never). */
  idpBackoffMs: number;
  hooks: M2MHooks;
}

/** An IdP's Retry-After may lengthen `idpBackoff`, but never beyond this. */
export const MAX_IDP_BACKOFF_MS = 60_000;

/**
 * The in-process token cache: lru-cache entries, one in-flight request per key (single flight),
 * refresh-ahead in the background, and an optional shared store behind it.
 */
export class TokenCache {
  readonly #lru: LRUCache<string, Entry>;
  readonly #inflight = new Map<string, Flight>();
  /** Recent failures per key: the IdP is asked again after the window, not by every caller in turn. */
  readonly #failures: LRUCache<string, { error: Error; until: number }>;
  /** Keys whose token a downstream rejected, with that token: the next one is a replacement. */
  readonly #rejected = new Map<string, string>();
  readonly #replacements = new WeakSet<M2MToken>();
  readonly #o: TokenCacheOptions;
  readonly #fetch: Fetcher;
  readonly #shared: SharedStore | undefined;
  readonly #onCacheHit: M2MHooks['onCacheHit'];

  constructor(o: TokenCacheOptions, fetcher: Fetcher) {
    this.#o = o;
    this.#fetch = fetcher;
    this.#lru = new LRUCache<string, Entry>({ max: o.maxEntries });
    this.#failures = new LRUCache({ max: o.maxEntries });
    this.#onCacheHit = o.hooks.onCacheHit;
    this.#shared =
      o.store && o.sealKeys
        ? new SharedStore(o.store, o.sealKeys, o.storeTimeoutMs, o.storeBackoffMs, (err: TokenStoreError, key: string) => this.#report(err, key, 'store'))
        : undefined;
  }

  /** The hot path: one map lookup and a clock read when the token is warm. */
  get(spec: TokenSpec, force: boolean): Promise<M2MToken> {
    if (!force) {
      const e = this.#lru.get(spec.key);
      if (e !== undefined) {
        const now = clock.now();
        if (now < e.staleAt) {
          if (now >= e.nextRefreshAt) this.#refresh(spec, e);
          if (this.#onCacheHit !== undefined) emit(this.#onCacheHit, e.hit);
          return e.promise;
        }
      }
    }
    const f = this.#inflight.get(spec.key);
    if (f !== undefined) {
      f.waiters++;
      return f.promise;
    }
    if (!force && this.#failures.size !== 0) {
      const failed = this.#failures.get(spec.key);
      if (failed !== undefined && clock.now() < failed.until) return Promise.reject(failed.error);
    }
    return this.#start(spec, force ? 'force' : 'miss', 1).promise;
  }

  /** True for a token obtained after a downstream rejected its predecessor (see `invalidate`). */
  isReplacement(token: M2MToken): boolean {
    return this.#replacements.has(token);
  }

  /**
   * Forget a token; with `accessToken`, only if that is still the one held (a late 401 must not
   * drop a newer token). `rejected`: a downstream refused it, so the next token is a replacement.
   */
  async invalidate(spec: TokenSpec, accessToken?: string, rejected = false): Promise<void> {
    if (rejected && accessToken !== undefined) this.#rejected.set(spec.key, accessToken);
    const e = this.#lru.peek(spec.key);
    if (e && (accessToken === undefined || e.token.accessToken === accessToken)) this.#lru.delete(spec.key);
    if (this.#shared) {
      const s = accessToken === undefined ? undefined : await this.#shared.get(spec.key);
      if (accessToken === undefined || s?.accessToken === accessToken) await this.#shared.delete(spec.key);
    }
  }

  clear(): void {
    this.#lru.clear();
    this.#failures.clear();
    this.#rejected.clear();
  }

  #refresh(spec: TokenSpec, e: Entry): void {
    if (this.#inflight.has(spec.key)) return;
    e.nextRefreshAt = Infinity;
    this.#start(spec, 'refresh', 0).promise.catch(() => {
      // Try again later, but early enough that several tries fit before the token goes stale.
      const now = clock.now();
      e.nextRefreshAt = now + Math.min(this.#o.maxPauseMs, Math.max(50, (e.staleAt - now) / 4));
    });
  }

  #start(spec: TokenSpec, mode: Mode, waiters: number): Flight {
    const flight: Flight = { spec, promise: undefined as unknown as Promise<M2MToken>, waiters, background: mode === 'refresh' };
    const started = performance.now();
    const settle = (): void => {
      if (this.#inflight.get(spec.key) === flight) this.#inflight.delete(spec.key);
    };
    flight.promise = this.#obtain(spec, mode, flight, started).then(
      (t) => {
        settle();
        this.#failures.delete(spec.key);
        return t;
      },
      (err: Error) => {
        settle();
        // A failed background refresh has its own schedule (nextRefreshAt) and callers still have a
        // token; only a failure that left a caller without one holds the next callers back.
        if (mode !== 'refresh') this.#rememberFailure(spec.key, err);
        this.#report(err, spec.key, this.#servable(spec.key) ? 'refresh' : 'fetch', spec);
        throw err;
      },
    );
    this.#inflight.set(spec.key, flight);
    return flight;
  }

  #rememberFailure(key: string, error: Error): void {
    const base = this.#o.idpBackoffMs;
    if (base <= 0) return;
    const ms = Math.max(base, Math.min(getRetryAfter(error) ?? 0, MAX_IDP_BACKOFF_MS));
    this.#failures.set(key, { error, until: clock.now() + ms });
  }

  #servable(key: string): boolean {
    const e = this.#lru.peek(key);
    return e !== undefined && clock.now() < e.staleAt;
  }

  async #obtain(spec: TokenSpec, mode: Mode, flight: Flight, started: number): Promise<M2MToken> {
    const shared = this.#shared;
    let locked = false;
    if (shared && mode !== 'force') {
      const current = this.#lru.peek(spec.key);
      const usable = (t: StoredToken): boolean => this.#usable(t, mode, current);
      const found = await shared.get(spec.key);
      if (found && usable(found)) return this.#adopt(spec, found, flight, started);
      if (shared.hasLock) {
        const l = await shared.lock(spec.key, this.#o.storeLockWaitMs);
        if (l === false) {
          const r = await shared.waitForToken(spec.key, this.#o.storeLockWaitMs, usable, !flight.background);
          if (r && 'token' in r) return this.#adopt(spec, r.token, flight, started);
          locked = r !== undefined;
        } else locked = l === true;
        if (locked) {
          // Double check: the previous holder may have published between our get and our lock.
          const again = await shared.get(spec.key);
          if (again && usable(again)) {
            void shared.unlock(spec.key);
            return this.#adopt(spec, again, flight, started);
          }
        }
      }
    }
    let result: { token: StoredToken; attempts: number };
    try {
      result = await this.#fetch(spec, flight.background);
    } catch (err) {
      if (locked) void shared!.unlock(spec.key);
      throw err;
    }
    const { token, entry } = this.#remember(spec, result.token);
    this.#fetched(spec, 'idp', result.token.expiresAt, started, result.attempts, flight);
    if (shared) void this.#publish(shared, spec, result.token, entry?.staleAt ?? 0, locked);
    return token;
  }

  async #publish(shared: SharedStore, spec: TokenSpec, t: StoredToken, staleAt: number, locked: boolean): Promise<void> {
    // TTL in the store = lifetime minus skew, so no instance picks up a token this one would not serve.
    await shared.set(spec.key, t, staleAt - clock.now());
    if (locked) await shared.unlock(spec.key);
  }

  #usable(t: StoredToken, mode: Mode, current: Entry | undefined): boolean {
    const now = clock.now();
    const { staleAt, refreshAt } = timing(t, this.#o.expirySkewMs, this.#o.refreshAhead);
    if (now >= staleAt) return false;
    // A refresh wants a newer token than ours, one that is not itself due for refresh.
    if (mode === 'refresh' && current) return t.accessToken !== current.token.accessToken && now < refreshAt;
    return true;
  }

  #adopt(spec: TokenSpec, t: StoredToken, flight: Flight, started: number): M2MToken {
    const { token } = this.#remember(spec, t);
    this.#fetched(spec, 'store', t.expiresAt, started, 0, flight);
    return token;
  }

  #remember(spec: TokenSpec, t: StoredToken): { token: M2MToken; entry: Entry | undefined } {
    const token: M2MToken = Object.freeze({ accessToken: t.accessToken, tokenType: t.tokenType, expiresAt: t.expiresAt, scope: t.scope });
    const rejected = this.#rejected.get(spec.key);
    if (rejected !== undefined && rejected !== t.accessToken) {
      this.#rejected.delete(spec.key);
      this.#replacements.add(token);
    }
    const { staleAt, refreshAt } = timing(t, this.#o.expirySkewMs, this.#o.refreshAhead);
    const now = clock.now();
    if (now >= staleAt) return { token, entry: undefined };
    const hit: M2MCacheHitEvent = Object.freeze({ ...spec.info, expiresAt: t.expiresAt });
    const entry: Entry = { token, promise: Promise.resolve(token), record: t, staleAt, refreshAt, hit, nextRefreshAt: refreshAt };
    this.#lru.set(spec.key, entry, { ttl: Math.max(1, Math.ceil(staleAt - now)) });
    return { token, entry };
  }

  #fetched(spec: TokenSpec, source: 'idp' | 'store', expiresAt: number, started: number, attempts: number, flight: Flight): void {
    const h = this.#o.hooks.onTokenFetched;
    if (h === undefined) return;
    const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
    emit(h, { ...spec.info, source, latencyMs, expiresAt, attempts, background: flight.background, waiters: flight.waiters });
  }

  #report(err: Error, key: string, phase: 'refresh' | 'fetch' | 'store', spec?: TokenSpec): void {
    const h = this.#o.hooks.onError;
    if (h === undefined) return;
    const info = spec?.info ?? this.#inflight.get(key)?.spec.info ?? this.#lru.peek(key)?.hit ?? { key, clientId: '', scope: undefined, audience: [], resource: [] };
    const { key: k, clientId, scope, audience, resource } = info;
    emit(h, err, { key: k, clientId, scope, audience, resource, phase, servingCachedToken: this.#servable(key) });
  }
}
