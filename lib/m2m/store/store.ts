import { LRUCache } from 'lru-cache';
import * as clock from '../../clock.js';

/**
 * What a sealed store entry contains for one cache key: the token and its expiry, nothing else (no
 * client secret, no request parameters). `issuedAt` is kept so every instance derives the same
 * skew and refresh-ahead point from a shared token. Stores never see this in the clear.
 */
export interface StoredToken {
  /** The bearer token. A credential: a shared store must be access-controlled. */
  accessToken: string;
  /** `'DPoP'` for a token bound to the client's DPoP key (RFC 9449), else `'Bearer'`. */
  tokenType: 'Bearer' | 'DPoP';
  /** Epoch milliseconds at which the IdP says the token expires. */
  expiresAt: number;
  /** Epoch milliseconds at which the token was obtained from the IdP. */
  issuedAt: number;
  /** Scope the IdP granted (or the scope requested, when the IdP did not say). */
  scope?: string;
}

// Each method may answer synchronously (memory) or with a promise (Redis): `T | Promise<T>`.

/** RFC 6750 §2.1 b64token: anything else could not be sent in an Authorization header as is. */
export const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * A cache shared between client instances, so a fleet asks the IdP for one token per key instead
 * of one per process. Keys are opaque strings built by the client (endpoint, client id, scopes,
 * audience/resource, and an id derived from the credentials by a slow KDF); they contain no
 * secrets. Values are opaque strings: the token sealed with AES-256-GCM under a key derived from
 * the client's credentials (see seal.ts), so only instances holding the same client secret can
 * read them. A store may still be access-controlled as any cache is.
 *
 * Contract, shaped for Redis (`GET`, `SET … PX`, `SET … NX PX`, compare-and-delete):
 * - `get` returns the string `set` stored, or undefined once `ttlMs` has passed. Whatever else it
 *   returns (another program's value, damage) is a miss for that key and is overwritten.
 * - `lock(key, ttlMs)` is a short mutual-exclusion lease: true for exactly one caller until it
 *   calls `unlock(key)` or `ttlMs` passes (so a crashed holder cannot block the fleet). Lock keys
 *   must not collide with token keys (e.g. add a suffix). The client never holds two locks on one
 *   key at once, so an adapter may keep the lock owner's random value per key in memory.
 * - Any method may throw or reject: the client reports it through `onError` and carries on with
 *   its in-process cache and the IdP. Calls are also bounded by `storeTimeoutMs`.
 */
export interface TokenStore {
  /** The sealed entry stored under `key`, or undefined / null when there is none or its TTL has passed. */
  get(key: string): string | undefined | null | Promise<string | undefined | null>;
  /**
   * Stores the sealed entry `value` under `key` for `ttlMs` milliseconds (the token's usable
   * lifetime), replacing any previous value.
   */
  set(key: string, value: string, ttlMs: number): void | Promise<void>;
  /** Removes a token the downstream rejected, so other instances stop using it. */
  delete?(key: string): void | Promise<void>;
  /**
   * Takes the fetch lease for `key` for `ttlMs` milliseconds: true for exactly one caller, false
   * while another holds it. Optional, but must come with `unlock`; without them each instance
   * fetches its own token on a miss.
   */
  lock?(key: string, ttlMs: number): boolean | Promise<boolean>;
  /**
   * Releases the lease taken with `lock`. A shared adapter should compare-and-delete, so a lease
   * that expired and was taken by another instance is not released.
   */
  unlock?(key: string): void | Promise<void>;
}

/** Structural check for tokens read back from a shared store (another version may have written them). */
export function isStoredToken(value: unknown): value is StoredToken {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.accessToken === 'string' &&
    B64TOKEN.test(v.accessToken) &&
    (v.tokenType === 'Bearer' || v.tokenType === 'DPoP') &&
    typeof v.expiresAt === 'number' &&
    Number.isFinite(v.expiresAt) &&
    typeof v.issuedAt === 'number' &&
    Number.isFinite(v.issuedAt) &&
    (v.scope === undefined || typeof v.scope === 'string')
  );
}

/** Options of {@link MemoryTokenStore}. */
export interface MemoryTokenStoreOptions {
  /**
   * Most tokens kept; least recently used ones are dropped first.
   * @default 1000
   */
  max?: number;
}

/**
 * The reference `TokenStore`: an lru-cache with per-entry TTL and lease locks. Pass one instance to
 * several clients in the same process to share tokens between them (or use it as the model for an
 * adapter to another engine).
 */
export class MemoryTokenStore implements TokenStore {
  readonly #tokens: LRUCache<string, string>;
  readonly #locks = new Map<string, number>();

  constructor(options: MemoryTokenStoreOptions = {}) {
    this.#tokens = new LRUCache<string, string>({ max: options.max ?? 1000, ttlAutopurge: false });
  }

  get(key: string): string | undefined {
    return this.#tokens.get(key);
  }

  set(key: string, value: string, ttlMs: number): void {
    if (ttlMs > 0) this.#tokens.set(key, value, { ttl: Math.ceil(ttlMs) });
    else this.#tokens.delete(key);
  }

  delete(key: string): void {
    this.#tokens.delete(key);
  }

  lock(key: string, ttlMs: number): boolean {
    // A lease compared against the one clock, so tests can let it run out without waiting.
    const now = clock.now();
    const until = this.#locks.get(key);
    if (until !== undefined && until > now) return false;
    this.#locks.set(key, now + ttlMs);
    return true;
  }

  unlock(key: string): void {
    this.#locks.delete(key);
  }

  /** Number of tokens held now (expired ones may still count until they are read). */
  get size(): number {
    return this.#tokens.size;
  }
}
