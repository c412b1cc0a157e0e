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

/**
 * Tokens that verified, keyed by the exact token string, so a token seen again skips signature
 * work. Bounded by count and by an estimate of bytes. Every hit re-checks `exp` (and maxTokenAge)
 * and that the key set has not changed since, so an entry never outlives what a full
 * verification would accept. Failures are never cached: a bad token costs a verification each time.
 */
export class VerifiedCache {
  readonly #lru: LRUCache<string, Entry>;
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
  }
}
