/**
 * Strict base64url (RFC 7515 §2, RFC 4648 §5): the URL-safe alphabet only, no padding, no
 * whitespace, and canonical (the unused low bits of the last character are zero). jose (through
 * atob) is more forgiving on all four; being strict here means one signed token has exactly one
 * string form, so nothing keyed by the token string (caches, deny lists) can be sidestepped by
 * re-spelling a token.
 */

// Value of each base64url character, -1 elsewhere (ASCII only; anything above is rejected first).
const VALUE = new Int8Array(128).fill(-1);
const CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
for (let i = 0; i < CHARS.length; i++) VALUE[CHARS.charCodeAt(i)] = i;

const ALPHABET = /^[A-Za-z0-9_-]*$/;

/** Whether the length and last character of `s` (base64url characters only) are canonical. */
function canonicalEnding(s: string): boolean {
  const rest = s.length & 3;
  if (rest === 1) return false;
  if (rest === 0) return true;
  // 2 characters carry 8 bits (4 spare), 3 carry 16 (2 spare): the spare bits must be zero.
  return (VALUE[s.charCodeAt(s.length - 1)]! & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/** True when `s` is canonical unpadded base64url (so `decode` will accept it). */
export function isBase64url(s: string): boolean {
  return ALPHABET.test(s) && canonicalEnding(s);
}

/** Like decode(), for a string already known to use only the alphabet: only the canonical form is checked. */
export function decodeChecked(s: string): Buffer | undefined {
  return canonicalEnding(s) ? Buffer.from(s, 'base64url') : undefined;
}

/** Decodes canonical base64url; undefined when `s` is anything else. */
export function decode(s: string): Buffer | undefined {
  return isBase64url(s) ? Buffer.from(s, 'base64url') : undefined;
}
