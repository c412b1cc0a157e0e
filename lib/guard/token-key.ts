/**
 * Numbers that stand for a token in the maps the guard keeps (the verified-token cache, single
 * flight, the DPoP `ath` memo, the sightings table).
 *
 * Why not the token string itself: V8 hashes a string key over every character the first time
 * it is used as one, and each request brings its token as a new string (a slice of a new header
 * value), so a `Map` keyed by the token paid for hashing all of it on every request: 0.9 µs for a
 * 626-character RS256 token (measured with a new string per lookup, Node 20), most of what a
 * cached request cost the guard. These hashes read 24 characters whatever the token's length
 * (reading a character of a sliced string costs a few nanoseconds: fewer is cheaper).
 *
 * Which characters: the last 16 (the end of a JWT's signature, 96 random bits, which is what
 * differs between tokens), 8 spread over the rest (a random part wherever a token format puts
 * it) and the length.
 * Two tokens can share a key; every map keyed this way keeps the token and compares it whole (a
 * string comparison, ~70 ns), so a shared key only ever costs a miss, never another token's answer.
 */

// The two hashes of the last hashToken() call (module state: no allocation per token).
let slot = 0;
let fingerprint = 0;

/**
 * Two FNV-1a hashes (different offset bases) over the same characters, each with a final
 * avalanche so every bit depends on every character read. Read with slotHash() and fingerprintHash().
 */
export function hashToken(token: string): void {
  let h = 0x811c9dc5 ^ token.length;
  let g = 0x050c5d1f ^ token.length;
  const tail = Math.max(0, token.length - 16);
  // 8 characters spread over what comes before the tail (none when there is none).
  const step = Math.max(1, tail >>> 3);
  for (let i = 0; i < tail; i += step) {
    const c = token.charCodeAt(i);
    h = Math.imul(h ^ c, 0x01000193);
    g = Math.imul(g ^ c, 0x01000193);
  }
  for (let i = tail; i < token.length; i++) {
    const c = token.charCodeAt(i);
    h = Math.imul(h ^ c, 0x01000193);
    g = Math.imul(g ^ c, 0x01000193);
  }
  slot = avalanche(h);
  fingerprint = avalanche(g);
}

/** The first hash of the last hashToken() call (unsigned 32 bits). */
export const slotHash = (): number => slot;
/** The second hash of the last hashToken() call (unsigned 32 bits), independent of the first. */
export const fingerprintHash = (): number => fingerprint;

/**
 * A map key for `token`: 53 bits of its two hashes, exact in a double (a `Map` hashes a number
 * in a few nanoseconds). Equal tokens always get equal keys; compare the tokens to know they are equal.
 */
export function tokenKey(token: string): number {
  hashToken(token);
  return slot * 0x200000 + (fingerprint >>> 11);
}

function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
