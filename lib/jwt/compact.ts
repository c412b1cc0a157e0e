/** RFC 7515 §7.1 compact serialization: three non-empty base64url parts. */
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

// The last two strings that matched. The bearer parser, the verifier and the engine ask about the
// same token string in turn, and a client sends the same token again and again: comparing strings
// is cheap (a length check, then memcmp), scanning ~1,000 characters with the regex is not
// (~0.6 µs). Two, because a DPoP request asks about its access token and then its proof: with
// one, each pushed the other out and both were scanned on every request.
let lastMatch: string | undefined;
let previousMatch: string | undefined;

/** Whether `s` has the shape of a compact JWS (its parts are not decoded here). */
export function isCompactJws(s: string): boolean {
  if (s === lastMatch || s === previousMatch) return true;
  if (!JWS_COMPACT.test(s)) return false;
  previousMatch = lastMatch;
  lastMatch = s;
  return true;
}
