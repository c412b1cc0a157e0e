import type { JWTPayload } from 'jose';

const EMPTY: readonly string[] = Object.freeze([]);

/** Past this many scopes, duplicates are found with a Set instead of a linear search. */
const LINEAR = 16;

function add(out: string[], scope: string): void {
  if (out.length < LINEAR ? !out.includes(scope) : !new Set(out).has(scope)) out.push(scope);
}

/** Adds each non-empty, not yet seen scope of `value` (a space-separated string or an array). */
function addScopes(out: string[], value: unknown): void {
  if (typeof value === 'string') {
    if (value.length > LINEAR * 8) return addAll(out, value.split(' '));
    let start = 0;
    while (start <= value.length) {
      let end = value.indexOf(' ', start);
      if (end < 0) end = value.length;
      if (end > start) add(out, value.slice(start, end));
      start = end + 1;
    }
  } else if (Array.isArray(value)) {
    if (value.length > LINEAR) return addAll(out, value);
    for (const scope of value) if (typeof scope === 'string' && scope !== '') add(out, scope);
  }
}

/** Many scopes: one Set for the whole list. */
function addAll(out: string[], values: unknown[]): void {
  const seen = new Set(out);
  for (const scope of values) {
    if (typeof scope === 'string' && scope !== '' && !seen.has(scope)) {
      seen.add(scope);
      out.push(scope);
    }
  }
}

/**
 * Granted scopes of a token: RFC 9068 / RFC 8693 `scope` (space-separated string; Tencent CIAM
 * sends an array) plus the `scp` array some IdPs (Azure AD, Okta) use. Runs once per new token,
 * so it is a plain loop (a token has a handful of scopes; `includes` beats building a Set).
 */
export function scopesOf(payload: JWTPayload): readonly string[] {
  if (payload.scope === undefined && payload.scp === undefined) return EMPTY;
  const out: string[] = [];
  addScopes(out, payload.scope);
  addScopes(out, payload.scp);
  return Object.freeze(out);
}
