import { LRUCache } from 'lru-cache';
import type { VerifiedToken } from './verifier.js';

interface Entry extends VerifiedToken {
  exp: number;
  iat: number | undefined;
  /** The key set the token was verified under; a different one means "verify again". */
  generation: object | undefined;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// FNV-1a over the last 32 characters (the signature's tail): a number, so the admission filter
// holds no reference to the token string. A collision only admits a token one sighting early.
function tailHash(token: string): number {
  let h = 0x811c9dc5;
  for (let i = Math.max(0, token.length - 32); i < token.length; i++) {
    h ^= token.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Tokens that verified, keyed by the exact token string, so a token seen again skips signature
 * work. Bounded by count and by an estimate of bytes. Every hit re-checks `exp` (and maxTokenAge)
 * and that the key set has not changed since, so an entry never outlives what a full
 * verification would accept. Failures are never cached: a bad token costs a verification each time.
 *
 * Admission on the second sighting: a token is stored only once it has verified twice. Clients
 * reuse an access token for its whole lifetime, so this costs one extra verification per token,
 * while a stream of one-off tokens (a flood, or a client that mints a token per call) no longer
 * churns the LRU and the old generation of the heap with entries nobody reads again.
 */
export class VerifiedCache {
  readonly #lru: LRUCache<string, Entry>;
  readonly #seen: LRUCache<number, true>;
  readonly #tolerance: number;
  readonly #maxTokenAge: number | undefined;

  constructor(maxEntries: number, maxBytes: number, clockTolerance: number, maxTokenAge: number | undefined) {
    this.#lru = new LRUCache<string, Entry>({
      max: maxEntries,
      maxSize: maxBytes,
      // The key string, the decoded header/payload objects (about the size of the token again)
      // and the entry's own overhead.
      sizeCalculation: (_entry, token) => token.length * 3 + 256,
    });
    this.#seen = new LRUCache<number, true>({ max: maxEntries });
    this.#tolerance = clockTolerance;
    this.#maxTokenAge = maxTokenAge;
  }

  get(token: string, generation: object | undefined): Entry | undefined {
    const entry = this.#lru.get(token);
    if (entry === undefined) return undefined;
    const now = Date.now() / 1000;
    if (
      entry.generation !== generation ||
      now - this.#tolerance >= entry.exp ||
      (this.#maxTokenAge !== undefined && entry.iat !== undefined && now - this.#tolerance > entry.iat + this.#maxTokenAge)
    ) {
      this.#lru.delete(token);
      return undefined;
    }
    return entry;
  }

  set(token: string, verified: VerifiedToken, generation: object | undefined): void {
    const { exp, iat } = verified.payload;
    if (typeof exp !== 'number') return;
    const tail = tailHash(token);
    if (this.#seen.get(tail) === undefined) {
      this.#seen.set(tail, true);
      return;
    }
    deepFreeze(verified.payload);
    deepFreeze(verified.header);
    this.#lru.set(token, { ...verified, exp, iat: typeof iat === 'number' ? iat : undefined, generation });
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
