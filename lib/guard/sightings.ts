import { fingerprintHash, hashToken, slotHash } from './token-key.js';

/**
 * How often each token has been seen lately, for cache admission (after TinyLFU), in fixed memory
 * and without allocating per token: a two-way set-associative table of 32-bit token hashes and
 * their counts. A token's two slots are looked up by its hash; a new token takes the slot whose
 * count is lower, so one-off tokens replace each other, not the counts of tokens in real use.
 *
 * Why not an LRU of hashes: it churned an entry per new token, each promoted to the old generation
 * before being evicted, which cost GC time on every new token. Why not a count-min sketch: a
 * stream of distinct tokens fills its counters, and then most new tokens look already seen. Here a
 * new token matches only on an exact 32-bit hash (about one in four billion), so it is counted once.
 */
export class Sightings {
  readonly #hashes: Uint32Array;
  readonly #counts: Uint8Array;
  readonly #mask: number;

  /** Remembers about `capacity` tokens (rounded up to a power of two, at least 1,024). */
  constructor(capacity: number) {
    let size = 1024;
    while (size < capacity && size < 1 << 22) size <<= 1;
    this.#hashes = new Uint32Array(size);
    this.#counts = new Uint8Array(size);
    this.#mask = size - 1;
  }

  /** Counts one more sighting of `token`; returns how many there have been lately, this one included. */
  add(token: string): number {
    hashToken(token);
    // The slot comes from one hash and the fingerprint kept in it from another: with one hash, the
    // bits that chose the slot are the same in every token stored there, and only the rest told
    // tokens apart (about one in 2^19 new tokens matched an unrelated one, and was admitted).
    const a = slotHash() & this.#mask & ~1;
    const b = a | 1;
    const h = fingerprintHash();
    const hashes = this.#hashes;
    const counts = this.#counts;
    // A count of 0 marks an empty (or aged-out) slot: its hash means nothing.
    let slot = counts[a]! > 0 && hashes[a] === h ? a : counts[b]! > 0 && hashes[b] === h ? b : -1;
    if (slot === -1) {
      slot = counts[a]! <= counts[b]! ? a : b;
      hashes[slot] = h;
      counts[slot] = 0;
    }
    const seen = counts[slot]! + 1;
    counts[slot] = seen > 255 ? 255 : seen;
    return seen;
  }

  /** Halves every count, so tokens that fell out of use lose their standing. */
  age(): void {
    const counts = this.#counts;
    for (let i = 0; i < counts.length; i++) counts[i] = counts[i]! >>> 1;
  }

  clear(): void {
    this.#counts.fill(0);
  }
}
