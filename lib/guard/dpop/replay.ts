import * as clock from '../../clock.js';
import type { ReplayStore } from './options.js';

/**
 * The in-memory store is full of ids whose proofs are still acceptable. Forgetting one would let
 * its proof be replayed (RFC 9449 §11.1), so new proofs are refused until the earliest expires.
 */
export class ReplayStoreFullError extends Error {
  constructor(
    readonly maxEntries: number,
    /** Whole seconds until the earliest id expires and a place frees up (at least 1). */
    readonly retryAfterSeconds: number,
  ) {
    super(
      `The in-memory DPoP replay store holds ${maxEntries} unexpired proof ids (dpop.replayMaxEntries): new proofs are refused ` +
        'until some expire; size it as proofs per second × (iatWindow + iatLeeway + 2), or use a shared replayStore',
    );
  }
}

/** A replay store's claim() did not settle in time (a Redis that accepts TCP but does not answer). */
export class ReplayStoreTimeoutError extends Error {
  constructor(ms: number) {
    super(`The DPoP replay store did not answer within ${ms} ms (dpop.replayStoreTimeoutMs)`);
  }
}

/**
 * Default replay memory: at most `maxEntries` ids, each kept until its expiry on the library
 * clock. Never forgets a live id to make room (an LRU would, under a flood, and the captured proof
 * would replay): when full of live ids it throws {@link ReplayStoreFullError} instead.
 */
export class MemoryReplayStore implements ReplayStore {
  readonly #expiries = new Map<string, number>();
  /** No id expires before this (a lower bound): nothing to purge until then. */
  #earliest = Infinity;

  constructor(readonly maxEntries: number) {}

  claim(key: string, ttlMs: number): boolean {
    const now = clock.now();
    const held = this.#expiries.get(key);
    if (held !== undefined && held > now) return false;
    if (held === undefined && this.#expiries.size >= this.maxEntries) {
      this.#purge(now);
      if (this.#expiries.size >= this.maxEntries) {
        throw new ReplayStoreFullError(this.maxEntries, Math.max(1, Math.ceil((this.#earliest - now) / 1000)));
      }
    }
    // Whole seconds, rounded up (kept a little longer, never shorter): expiries then fall on few
    // distinct instants, so a full store is swept at most once a second, not once per request.
    const expiry = Math.ceil((now + ttlMs) / 1000) * 1000;
    this.#expiries.set(key, expiry);
    if (expiry < this.#earliest) this.#earliest = expiry;
    return true;
  }

  /** Drops expired ids; runs only when full and something may have expired. */
  #purge(now: number): void {
    if (now < this.#earliest) return;
    let earliest = Infinity;
    for (const [key, expiry] of this.#expiries) {
      if (expiry <= now) this.#expiries.delete(key);
      else if (expiry < earliest) earliest = expiry;
    }
    this.#earliest = earliest;
  }
}

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/**
 * `store.claim()`, bounded: a store that answers later than `timeoutMs` (or never) is an outage,
 * not a reason to hold the request. A synchronous answer costs no timer.
 */
export function claimWithin(store: ReplayStore, key: string, ttlMs: number, timeoutMs: number): boolean | Promise<boolean> {
  const claimed = store.claim(key, ttlMs);
  if (!isThenable(claimed)) return claimed === true;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new ReplayStoreTimeoutError(timeoutMs)), timeoutMs);
    // A pending claim must not keep the process alive on its own.
    timer.unref();
  });
  return Promise.race([Promise.resolve(claimed).then((fresh) => fresh === true), late]).finally(() => clearTimeout(timer));
}
