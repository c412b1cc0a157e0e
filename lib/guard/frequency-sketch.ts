/**
 * How often each token has been seen lately, in fixed memory and without allocating: a count-min
 * sketch (Cormode & Muthukrishnan), as TinyLFU uses for cache admission. Four rows of saturating
 * 8-bit counters, each row indexed by a different hash of the token; the estimate is the smallest
 * of the four, so collisions can only overstate a count (admitting a token a sighting early),
 * never hide one. `age()` halves every counter, so old popularity fades.
 *
 * Replaces an LRU map of recent token hashes: that map churned an entry per new token, each one
 * promoted to the old generation before being evicted, which showed up as GC time on every new
 * token.
 */
const ROWS = 4;

export class FrequencySketch {
  readonly #counters: Uint8Array;
  readonly #mask: number;

  /** Sized for about `expected` distinct tokens being counted at a time. */
  constructor(expected: number) {
    let width = 1024;
    while (width < expected && width < 1 << 22) width <<= 1;
    this.#counters = new Uint8Array(width * ROWS);
    this.#mask = width - 1;
  }

  /** Counts one more sighting of `token`; returns its estimated count, this one included. */
  add(token: string): number {
    const h = tailHash(token);
    // Double hashing: row i looks at h1 + i·h2 (h2 odd, so the rows spread differently).
    const h1 = h & this.#mask;
    const h2 = ((h >>> 16) | 1) & this.#mask;
    const width = this.#mask + 1;
    let min = 255;
    for (let row = 0; row < ROWS; row++) {
      const i = row * width + ((h1 + row * h2) & this.#mask);
      const c = this.#counters[i]!;
      const next = c === 255 ? 255 : c + 1;
      this.#counters[i] = next;
      if (next < min) min = next;
    }
    return min;
  }

  /** Halves every count. */
  age(): void {
    const counters = this.#counters;
    for (let i = 0; i < counters.length; i++) counters[i] = counters[i]! >>> 1;
  }

  clear(): void {
    this.#counters.fill(0);
  }
}

/**
 * FNV-1a over the last 32 characters (the signature's tail, which is what differs between
 * tokens), then a final avalanche so nearby hashes spread over the whole table.
 */
function tailHash(token: string): number {
  let h = 0x811c9dc5;
  for (let i = Math.max(0, token.length - 32); i < token.length; i++) {
    h ^= token.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
