/** RFC 7515 §7.1 compact serialization: three non-empty base64url parts. */
const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

// The last string that matched. The bearer parser, the verifier and the engine ask about the same
// token string in turn: comparing a string with itself is free, scanning its ~1,000 characters is not.
let lastMatch: string | undefined;

/** Whether `s` has the shape of a compact JWS (its parts are not decoded here). */
export function isCompactJws(s: string): boolean {
  if (s === lastMatch) return true;
  if (!JWS_COMPACT.test(s)) return false;
  lastMatch = s;
  return true;
}
