import type { M2MFetchInit } from '../request/token-types.js';

export type FetchInput = string | URL | Request;

function isStream(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  return (
    body instanceof ReadableStream ||
    typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function' ||
    typeof (body as { pipe?: unknown }).pipe === 'function'
  );
}

/** A stream (or a Request's own body) is consumed by the first send; sending it again would send nothing. */
export function isReplayable(input: FetchInput, init: M2MFetchInit | undefined): boolean {
  const body = init?.body;
  if (body !== undefined && body !== null) return !isStream(body);
  if (input instanceof Request) return input.body === null;
  return true;
}

/**
 * The caller's init with our Authorization header (and DPoP proof), replacing any the caller set
 * (or the Request carried).
 */
export function withBearer(input: FetchInput, init: M2MFetchInit | undefined, accessToken: string, dpopProof?: string): M2MFetchInit {
  const authorization = dpopProof === undefined ? `Bearer ${accessToken}` : `DPoP ${accessToken}`;
  // Common case first: no caller headers, so a plain object (what undici takes fastest) will do.
  if (init?.headers === undefined && !(input instanceof Request)) {
    const headers: Record<string, string> = dpopProof === undefined ? { authorization } : { authorization, dpop: dpopProof };
    return init === undefined ? { headers } : { ...init, headers };
  }
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  headers.set('authorization', authorization);
  if (dpopProof === undefined) headers.delete('dpop');
  else headers.set('dpop', dpopProof);
  return init === undefined ? { headers } : { ...init, headers };
}

/** Method and URL of an outbound request, as a DPoP proof names them (htm, htu). */
export function target(input: FetchInput, init: M2MFetchInit | undefined): { method: string; url: string } {
  const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  return { method, url: input instanceof Request ? input.url : String(input) };
}

/**
 * RFC 6750 §3.1: a 401 that names another error (invalid_request, a non-Bearer scheme's error)
 * will not be cured by a new token; a bare challenge or `invalid_token` may be (revoked, rotated
 * keys, clock skew on the downstream).
 */
export function newTokenMayHelp(res: Response): boolean {
  const header = res.headers.get('www-authenticate');
  if (header === null) return true;
  const m = /\berror\s*=\s*"?([^",\s]+)"?/i.exec(header);
  return m === null || m[1] === 'invalid_token';
}
