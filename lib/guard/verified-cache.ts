import { LRUCache } from 'lru-cache';
import type { Verifier, VerifiedToken } from './verifier.js';
import * as clock from '../clock.js';
import { Sightings } from './sightings.js';
import { tokenKey } from './token-key.js';

interface Entry extends VerifiedToken {
  /** The token itself: entries are keyed by a number standing for it (token-key.ts), which two tokens can share. */
  token: string;
  /** Whose token this is: its key set and time rules. */
  verifier: Verifier;
  /** The key set the token was verified under; a different one means "verify again". */
  generation: object | undefined;
  /** Hits counted since `epoch`; halved once per epoch that passed (see admit()). */
  hits: number;
  epoch: number;
}

/**
 * Whether a token verified earlier would still pass a full verification now: its key set is
 * still the one in use, and `exp` (and maxTokenAge) have not passed. O(1): runs on every hit.
 */
export function stillValid(payload: VerifiedToken['payload'], verifier: Verifier, generation: object | undefined): boolean {
  const now = clock.now() / 1000;
  const { exp, iat } = payload;
  const tolerance = verifier.clockTolerance;
  return (
    generation === verifier.keys.hitGeneration() &&
    typeof exp === 'number' &&
    now - tolerance < exp &&
    (verifier.maxTokenAge === undefined || typeof iat !== 'number' || now - tolerance <= iat + verifier.maxTokenAge)
  );
}

/**
 * Tokens that verified, so the same token string seen again skips signature work. Keyed by a
 * number worked out from the token (lib/guard/token-key.ts: hashing the whole string for a `Map`
 * was most of a cache hit's cost), and a hit is the exact token string, compared whole. Bounded by count and by an estimate of bytes. Every hit re-checks `exp` (and maxTokenAge)
 * and that the key set has not changed since, so an entry never outlives what a full
 * verification would accept. Failures are never cached: a bad token costs a verification each time.
 *
 * Admission (after TinyLFU): a token is stored once it has verified twice, and, when the cache is
 * full, only if it has been seen more often than the entry it would evict is being used. So a
 * stream of one-off or twice-sent tokens, even more distinct ones than the cache holds, cannot
 * push out the tokens real clients keep presenting. Frequencies age by halving every few
 * cache-sizes of admissions, so a token that stopped being used does lose its place.
 */
export class VerifiedCache {
  readonly #lru: LRUCache<number, Entry>;
  readonly #seen: Sightings;
  readonly #max: number;
  readonly #epochLength: number;
  #attempts = 0;
  #epoch = 0;

  constructor(maxEntries: number, maxBytes: number) {
    this.#lru = new LRUCache<number, Entry>({
      max: maxEntries,
      maxSize: maxBytes,
      // The key string, the decoded header/payload objects (about the size of the token again)
      // and the entry's own overhead, plus the MCP members: `extra` (~60 bytes) and, when the
      // audience is a URL, `resource` (a URL object, ~270 bytes measured on Node 20).
      sizeCalculation: (entry) => entry.token.length * 3 + 320 + (entry.resource === undefined ? 0 : 288),
    });
    this.#max = maxEntries;
    this.#seen = new Sightings(maxEntries * 2);
    this.#epochLength = maxEntries * 8;
  }

  get(token: string): Entry | undefined {
    const key = tokenKey(token);
    const entry = this.#lru.get(key);
    // Another token with the same key is a miss, and stays: it is as welcome as this one.
    if (entry === undefined || entry.token !== token) return undefined;
    if (!stillValid(entry.payload, entry.verifier, entry.generation)) {
      this.#lru.delete(key);
      return undefined;
    }
    entry.hits = this.#aged(entry) + 1;
    return entry;
  }

  /** Offers a freshly verified token; admit() decides whether it is kept. */
  set(token: string, verified: VerifiedToken, verifier: Verifier, generation: object | undefined): void {
    if (typeof verified.payload.exp !== 'number') return;
    if (++this.#attempts % this.#epochLength === 0) {
      this.#epoch += 1;
      this.#seen.age();
    }
    const sightings = this.#seen.add(token);
    if (sightings < 2 || !this.#admit(sightings)) return;
    // A token whose key another token's entry holds takes its place (both are as likely to come again).
    this.#lru.set(tokenKey(token), { ...verified, token, verifier, generation, hits: 0, epoch: this.#epoch });
  }

  #admit(sightings: number): boolean {
    if (this.#lru.size < this.#max) return true;
    for (const victim of this.#lru.rkeys()) {
      const entry = this.#lru.peek(victim, { allowStale: true });
      return entry === undefined || sightings > this.#aged(entry);
    }
    return true;
  }

  #aged(entry: Entry): number {
    if (entry.epoch !== this.#epoch) {
      entry.hits = entry.hits >> Math.min(31, this.#epoch - entry.epoch);
      entry.epoch = this.#epoch;
    }
    return entry.hits;
  }

  get size(): number {
    return this.#lru.size;
  }

  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  clear(): void {
    this.#lru.clear();
    this.#seen.clear();
  }
}
