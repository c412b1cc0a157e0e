import { OAuthError } from '../errors/oauth-error.js';
import { forLog } from '../log/operator-log.js';

/** An error answer as status, headers and body: what oauthErrorHandler() sends in Express. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The answer to an outcome's error, the same bytes whatever the adapter: its status and headers
 * (WWW-Authenticate, Retry-After, DPoP-Nonce), `no-store`, and the `toJSON()` body. Anything else
 * (a bug) becomes a 500 without detail, as oauthErrorHandler() does, and is reported by name only.
 */
export function errorAnswer(err: unknown): ErrorAnswer {
  if (err instanceof OAuthError) {
    return {
      status: err.status,
      headers: { ...err.headers, 'Cache-Control': 'no-store', 'Content-Type': JSON_TYPE },
      body: JSON.stringify(err.toJSON()),
    };
  }
  const e = err as { name?: unknown; message?: unknown } | undefined;
  console.error(`[express-oauth-kit] unexpected error: ${forLog(e?.name ?? 'Error')}: ${forLog(e?.message ?? String(err), 600)}`);
  return {
    status: 500,
    headers: { 'Cache-Control': 'no-store', 'Content-Type': JSON_TYPE },
    body: JSON.stringify({ error: 'server_error', error_description: 'Internal server error' }),
  };
}
