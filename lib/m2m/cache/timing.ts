import type { StoredToken } from '../store/store.js';

// The serving window of a token, shared by the token cache and the token exchange cache.

/**
 * When a token stops being served and when its refresh starts. The skew is capped at half the
 * lifetime so that a short-lived token (10 s) is still cached instead of being born expired.
 */
export function timing(t: StoredToken, skewMs: number, refreshAhead: number): { staleAt: number; refreshAt: number } {
  const lifetime = Math.max(0, t.expiresAt - t.issuedAt);
  const staleAt = t.expiresAt - Math.min(skewMs, lifetime / 2);
  const refreshAt = refreshAhead > 0 ? staleAt - refreshAhead * Math.max(0, staleAt - t.issuedAt) : Infinity;
  return { staleAt, refreshAt };
}
