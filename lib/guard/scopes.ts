import type { JWTPayload } from 'jose';

const EMPTY: readonly string[] = Object.freeze([]);

function split(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string' && v !== '');
  return [];
}

/**
 * Granted scopes of a token: RFC 9068 / RFC 8693 `scope` (space-separated string; Tencent CIAM
 * sends an array) plus the `scp` array some IdPs (Azure AD, Okta) use.
 */
export function scopesOf(payload: JWTPayload): readonly string[] {
  if (payload.scope === undefined && payload.scp === undefined) return EMPTY;
  return Object.freeze([...new Set([...split(payload.scope), ...split(payload.scp)])]);
}
