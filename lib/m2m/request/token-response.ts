import { decodeJwt } from 'jose';
import {
  IdpBadResponseError,
  IdpError,
  IdpTimeoutError,
  IdpUnavailableError,
  OAuthError,
  ServerError,
} from '../../errors/oauth-error.js';
import type { IdpResponse } from '../../idp/http.js';
import { parseRetryAfter } from './retry.js';
import { B64TOKEN, type StoredToken } from '../store/store.js';
import * as clock from '../../clock.js';

/** No token lives a year; a larger lifetime is a broken IdP (or a unit mix-up), not something to cache. */
export const MAX_EXPIRES_IN_S = 365 * 24 * 3600;

const HINTS: Record<string, string> = {
  invalid_client: 'check clientId, clientSecret and clientAuth (client_secret_basic or client_secret_post), or privateKey and kid with private_key_jwt, or tls (the client certificate the IdP registered) with tls_client_auth',
  invalid_scope: 'the client may not be granted that scope at the IdP; check the scope option',
  unauthorized_client: 'the IdP does not allow this client the client_credentials grant; enable it for the application',
  invalid_target: 'the IdP does not accept that resource/audience for this client',
  invalid_request: 'the IdP rejected the request format; check paramsIn, profile and extraParams',
};

/** A JWT's own `exp` is a better guess than any default when the IdP omits `expires_in`; no trust is placed in it. */
function jwtExpiry(token: string): number | undefined {
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === 'number' && Number.isFinite(exp) && exp * 1000 <= clock.now() + MAX_EXPIRES_IN_S * 1000 ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export interface InterpretContext {
  where: string;
  requestedScope: string | undefined;
  defaultExpiresInMs: number;
  /** Makes IdP text fit for our messages (IdpClient.sanitize). */
  sanitize: (text: string) => string;
  issuedAt: number;
  /** The token type asked for: 'DPoP' when the request carried a proof. */
  tokenType?: 'Bearer' | 'DPoP';
}

/** The token endpoint's answer as a storable token, or the error that explains why it is not one. */
export function interpretTokenResponse(res: IdpResponse, ctx: InterpretContext): StoredToken {
  const body = res.body;
  if (res.status < 200 || res.status > 299) {
    const error = typeof body.error === 'string' ? ctx.sanitize(body.error) : undefined;
    const desc = typeof body.error_description === 'string' ? ctx.sanitize(body.error_description) : undefined;
    const hint = error ? HINTS[error] : undefined;
    const msg =
      `The IdP at ${ctx.where} answered ${res.status} ${error ?? '(no OAuth error code)'}` +
      (desc ? ` ("${desc}")` : '') +
      (hint ? `; ${hint}` : '');
    throw new IdpError(msg, { idpStatus: res.status, idpError: error, idpErrorDescription: desc, retryAfterMs: parseRetryAfter(res.headers.get('retry-after')) });
  }
  const token = body.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new IdpBadResponseError(`The IdP at ${ctx.where} answered ${res.status} without an access_token`, { retryable: false });
  }
  if (!B64TOKEN.test(token)) {
    // Not echoed: it is (part of) a bearer token. Sent on, it would break or inject into the Authorization header.
    throw new IdpBadResponseError(`The IdP at ${ctx.where} answered with an access_token that has characters RFC 6750 §2.1 does not allow`, { retryable: false });
  }
  const type = body.token_type;
  const expected = ctx.tokenType ?? 'Bearer';
  if (typeof type !== 'string' || type.toLowerCase() !== expected.toLowerCase()) {
    const shown = typeof type === 'string' ? `token_type "${ctx.sanitize(type).slice(0, 40)}"` : 'no token_type';
    // Asked for a DPoP-bound token and got a Bearer one: using it would silently drop the sender constraint.
    const why = expected === 'DPoP'
      ? 'the token request carried a DPoP proof, so only a DPoP-bound token (RFC 9449 §5) is accepted; enable DPoP for this client at the IdP, or drop the dpop option'
      : 'only Bearer tokens (RFC 6750) can be used; set the dpop option for DPoP-bound tokens';
    throw new IdpBadResponseError(`The IdP at ${ctx.where} answered with ${shown}; ${why}`, { retryable: false });
  }
  const given = body.expires_in;
  let expiresAt: number;
  if (given === undefined || given === null) expiresAt = jwtExpiry(token) ?? ctx.issuedAt + ctx.defaultExpiresInMs;
  else {
    // Some IdPs send the number as a string; anything else (negative, NaN, "1e999", "soon") is refused, not guessed at.
    const raw = typeof given === 'string' && /^\d{1,12}(\.\d{1,6})?$/.test(given) ? Number(given) : given;
    if (typeof raw !== 'number' || !Number.isFinite(raw) || raw < 0 || raw > MAX_EXPIRES_IN_S) {
      const shown = typeof given === 'string' ? `"${ctx.sanitize(given).slice(0, 40)}"` : typeof given === 'number' ? String(given) : `a ${Array.isArray(given) ? 'list' : typeof given}`;
      throw new IdpBadResponseError(`The IdP at ${ctx.where} answered with expires_in ${shown}; expected seconds from 0 to ${MAX_EXPIRES_IN_S}`, { retryable: false });
    }
    expiresAt = ctx.issuedAt + raw * 1000;
  }
  const granted = typeof body.scope === 'string' ? body.scope : Array.isArray(body.scope) ? body.scope.join(' ') : undefined;
  const scope = granted ?? ctx.requestedScope;
  const out: StoredToken = { accessToken: token, tokenType: expected, expiresAt, issuedAt: ctx.issuedAt };
  if (scope !== undefined) out.scope = scope;
  return out;
}

/**
 * The error every waiting caller gets: the IdP's own words plus which token was wanted and how
 * many tries were made. The class (and so `code`) is kept, so callers can still switch on it.
 */
export function withContext(err: unknown, label: string, attempts: number, note?: string): Error {
  const suffix = ` (createM2MClient, ${label}${attempts > 1 ? `, after ${attempts} attempts` : ''}${note ? `; ${note}` : ''})`;
  if (err instanceof IdpError) {
    const { idpStatus, idpError, idpErrorDescription, retryAfterMs } = err;
    return new IdpError(err.message + suffix, { idpStatus, idpError, idpErrorDescription, retryAfterMs, cause: err });
  }
  const cause = { cause: err instanceof OAuthError ? (err.cause ?? err) : err };
  if (err instanceof IdpTimeoutError) return new IdpTimeoutError(err.message + suffix, cause);
  if (err instanceof IdpUnavailableError) return new IdpUnavailableError(err.message + suffix, cause);
  if (err instanceof IdpBadResponseError) return new IdpBadResponseError(err.message + suffix, { ...cause, retryable: err.retryable });
  if (err instanceof ServerError) return new ServerError(err.message + suffix, cause);
  return err instanceof Error ? err : new Error(String(err));
}
