/**
 * Errors the package sends to HTTP clients. Each class has a stable `code`, so callers can
 * `switch (err.code)` on the `OAuthErrorCode` union instead of comparing messages.
 *
 * `error` is the OAuth wire code (RFC 6749 §5.2, RFC 6750 §3.1) and `status` / `headers` are
 * what Express' default error handler uses, so a bare `next(err)` already answers correctly.
 */

import type { MethodNotAllowedError, RequestTooLargeError, UnsupportedMediaTypeError } from './request-errors.js';
import type { InvalidDpopProofError, UseDpopNonceError } from './dpop-errors.js';

/**
 * Every value {@link OAuthError.code} can take: one per error class, stable across versions.
 * Switch on it rather than on `message`, which is prose for logs and may change.
 *
 * Several codes share one wire `error` (for instance `request_too_large`, `method_not_allowed` and
 * `unsupported_media_type` are all `invalid_request` on the wire); the code tells them apart.
 */
export type OAuthErrorCode =
  | 'missing_token'
  | 'invalid_request'
  | 'request_too_large'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'invalid_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'insufficient_scope'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'jwks_unavailable'
  | 'misconfigured'
  | 'temporarily_unavailable'
  | 'idp_timeout'
  | 'idp_unavailable'
  | 'idp_bad_response'
  | 'idp_error'
  | 'server_error';

/**
 * The JSON body {@link oauthErrorHandler} sends for an {@link OAuthError}: the RFC 6749 §5.2 /
 * RFC 6750 §3 error object. Extra members (such as `scope` on an insufficient_scope answer) may
 * be present.
 */
export interface OAuthErrorJSON {
  /** Absent only for a request that carried no credentials at all (RFC 6750 §3.1). */
  error?: string;
  /** Human-readable explanation for the client: the error's {@link OAuthError.publicDescription}. */
  error_description?: string;
  [extra: string]: unknown;
}

/**
 * Base class of every error this package sends to an HTTP client. Each subclass has a stable
 * {@link OAuthError.code}; `error`, `status` and `headers` say how it goes on the wire, so both
 * {@link oauthErrorHandler} and Express' default handler answer correctly with a bare `next(err)`.
 *
 * `message` holds the detail for logs (it may name internal URLs); the client only ever sees
 * {@link OAuthError.publicDescription}.
 *
 * @example
 * ```ts
 * app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
 *   if (!isOAuthError(err)) return next(err);
 *   switch (err.code) {
 *     case 'jwks_unavailable':
 *     case 'idp_timeout':
 *       logger.warn(err.message); // detail for operators, never sent to the client
 *       break;
 *     case 'insufficient_scope':
 *       metrics.count('forbidden', { needed: err.requiredScopes.join(' ') });
 *       break;
 *   }
 *   res.status(err.status).set(err.headers).json(err.toJSON());
 * });
 * ```
 */
export abstract class OAuthError extends Error {
  /**
   * Stable identifier of the case, one per class (see {@link OAuthErrorCode}). Unlike `error`,
   * which is the coarser OAuth wire value, it tells apart e.g. a JWKS outage from an IdP timeout.
   */
  abstract readonly code: OAuthErrorCode;
  /** HTTP status to answer with. `statusCode` mirrors it for frameworks that read that name. */
  readonly status: number;
  /** Response headers, e.g. `WWW-Authenticate` or `Retry-After`. */
  readonly headers: Record<string, string>;
  /** 4xx/5xx answers of this package are meant to be shown; http-errors and finalhandler read this. */
  readonly expose = true;
  /** The OAuth `error` value put on the wire; undefined for a bare challenge (no token sent). */
  readonly error: string | undefined;

  constructor(
    error: string | undefined,
    description: string,
    status: number,
    headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(description, options);
    this.error = error;
    this.status = status;
    this.headers = headers;
    // Client errors are expected outcomes, not bugs: a one-line "stack" keeps frames out of any
    // page a default handler renders (Express' finalhandler shows `stack` outside production).
    // It is the public description: the detail in `message` may name internal URLs.
    // (Assigned, not a getter: an accessor on `stack` makes every error ~5× slower to create.)
    this.stack = `${new.target.name}: ${this.publicDescription}`;
  }

  /** The class name, e.g. `"InvalidTokenError"`, so logs and `String(err)` say which case it is. */
  override get name(): string {
    return this.constructor.name;
  }

  /** Same as {@link OAuthError.status}, for frameworks and loggers that read `statusCode`. */
  get statusCode(): number {
    return this.status;
  }

  /**
   * The full detail, same as `message`: for logs only, as it may name IdP URLs or client ids.
   * What a client may see is {@link OAuthError.publicDescription}.
   */
  get description(): string {
    return this.message;
  }

  /**
   * The description a client may see. Errors about this server's own IdP connection keep their
   * detail (IdP URL, client id, IdP answer) in `message` for logs, and show a generic sentence.
   */
  get publicDescription(): string {
    return this.message;
  }

  /**
   * The response body: `{ error, error_description }` with the public description, never the
   * log detail. Also what `JSON.stringify(err)` gives, so serialising an error leaks nothing.
   */
  toJSON(): OAuthErrorJSON {
    return { error: this.error ?? 'invalid_request', error_description: this.publicDescription };
  }
}

/** No credentials at all (RFC 6750 §3.1: the challenge carries no error code). */
export class MissingTokenError extends OAuthError {
  /** Always `'missing_token'`. */
  readonly code = 'missing_token' as const;
  constructor(description = 'Authentication required: send an Authorization: Bearer <token> header', headers: Record<string, string> = {}) {
    super(undefined, description, 401, headers);
  }
  /** Like the challenge, the body names no error code: nothing was wrong with a token, there was none. */
  override toJSON(): OAuthErrorJSON {
    return { error_description: this.message };
  }
}

/**
 * 400 `invalid_request`: the request is malformed (a parameter missing, repeated or invalid, or a
 * token sent in more than one way, RFC 6750 §3.1).
 */
export class InvalidRequestError extends OAuthError {
  /** Always `'invalid_request'`. */
  readonly code = 'invalid_request' as const;
  constructor(description: string, headers: Record<string, string> = {}) {
    super('invalid_request', description, 400, headers);
  }
}

/**
 * 401 `invalid_token`: the access token is expired, revoked, malformed, signed by an unknown key
 * or meant for another audience or issuer (RFC 6750 §3.1). Carries a `WWW-Authenticate` challenge.
 * `message` says which check failed, for logs.
 *
 * @example
 * ```ts
 * app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
 *   if (err instanceof InvalidTokenError) audit.log('rejected token', { reason: err.message });
 *   next(err);
 * });
 * ```
 */
export class InvalidTokenError extends OAuthError {
  /** Always `'invalid_token'`. */
  readonly code = 'invalid_token' as const;
  constructor(description: string, headers: Record<string, string> = {}, options?: { cause?: unknown }) {
    super('invalid_token', description, 401, headers, options);
  }
}

/**
 * 403 `insufficient_scope`: the token is valid but lacks a scope the route needs (RFC 6750 §3.1).
 * The challenge and the body name the required scopes.
 */
export class InsufficientScopeError extends OAuthError {
  /** Always `'insufficient_scope'`. */
  readonly code = 'insufficient_scope' as const;
  /** The scopes the route needs, as sent in the challenge's `scope` attribute. */
  readonly requiredScopes: readonly string[];
  constructor(description: string, requiredScopes: readonly string[] = [], headers: Record<string, string> = {}) {
    super('insufficient_scope', description, 403, headers);
    this.requiredScopes = requiredScopes;
  }
  /** The usual body, plus `scope` listing {@link InsufficientScopeError.requiredScopes} when there are any. */
  override toJSON(): OAuthErrorJSON {
    const body = super.toJSON();
    return this.requiredScopes.length ? { ...body, scope: this.requiredScopes.join(' ') } : body;
  }
}

/**
 * `invalid_client` (401 by default): client authentication failed or the client is not allowed
 * here (RFC 6749 §5.2). Mostly relayed from the IdP by the token proxy.
 */
export class InvalidClientError extends OAuthError {
  /** Always `'invalid_client'`. */
  readonly code = 'invalid_client' as const;
  constructor(description: string, status = 401, headers: Record<string, string> = {}) {
    super('invalid_client', description, status, headers);
  }
}

/**
 * 400 `invalid_grant`: the grant (code, refresh token, password, MFA token) is invalid, expired,
 * revoked or was issued to another client (RFC 6749 §5.2).
 */
export class InvalidGrantError extends OAuthError {
  /** Always `'invalid_grant'`. */
  readonly code = 'invalid_grant' as const;
  constructor(description: string) {
    super('invalid_grant', description, 400);
  }
}

/** 400 `unauthorized_client`: this client may not use this grant type (RFC 6749 §5.2). */
export class UnauthorizedClientError extends OAuthError {
  /** Always `'unauthorized_client'`. */
  readonly code = 'unauthorized_client' as const;
  constructor(description: string) {
    super('unauthorized_client', description, 400);
  }
}

/**
 * 400 `unsupported_grant_type`: the grant type is unknown, or not in the proxy's `grants`
 * allow-list (RFC 6749 §5.2).
 */
export class UnsupportedGrantTypeError extends OAuthError {
  /** Always `'unsupported_grant_type'`. */
  readonly code = 'unsupported_grant_type' as const;
  constructor(description: string) {
    super('unsupported_grant_type', description, 400);
  }
}

/** 400 `invalid_scope`: the requested scope is invalid, unknown or exceeds what was granted (RFC 6749 §5.2). */
export class InvalidScopeError extends OAuthError {
  /** Always `'invalid_scope'`. */
  readonly code = 'invalid_scope' as const;
  constructor(description: string) {
    super('invalid_scope', description, 400);
  }
}

/**
 * `access_denied` (403 by default): the token is valid and has the scopes, but a claim check
 * (`requireIssuer`, `claimEquals`, `claimIncludes`, `claimCheck`) refused it.
 */
export class AccessDeniedError extends OAuthError {
  /** Always `'access_denied'`. */
  readonly code = 'access_denied' as const;
  constructor(description: string, status = 403) {
    super('access_denied', description, status);
  }
}

/**
 * Keys could not be fetched: the token may well be valid, so this is 503, never 401. `message`
 * names the JWKS/discovery URL and what failed, for logs; clients see a generic sentence.
 */
export class JwksUnavailableError extends OAuthError {
  /** Always `'jwks_unavailable'`. */
  readonly code = 'jwks_unavailable' as const;
  override get publicDescription(): string {
    return 'The keys needed to check the token are unavailable right now; try again shortly';
  }
  constructor(description: string, retryAfterSeconds = 5, options?: { cause?: unknown }) {
    super('temporarily_unavailable', description, 503, { 'Retry-After': String(retryAfterSeconds) }, options);
  }
}

/**
 * The IdP's own metadata contradicts this server's settings (discovery names another issuer, or a
 * jwks_uri that is missing or fails the URL policy). Not an outage, so no Retry-After: an operator
 * must act. 500, with a generic public description; the detail is in `message` for logs.
 */
export class MisconfigurationError extends OAuthError {
  /** Always `'misconfigured'`. */
  readonly code = 'misconfigured' as const;
  override get publicDescription(): string {
    return "The server's identity provider settings do not match the provider; an operator must fix them";
  }
  constructor(description: string, options?: { cause?: unknown }) {
    super('server_error', description, 500, {}, options);
  }
}

/**
 * Something the answer depends on (an application callback such as an issuers resolver or an
 * async claim check) failed: 503 with Retry-After, the detail in `message` for logs only.
 */
export class TemporarilyUnavailableError extends OAuthError {
  /** Always `'temporarily_unavailable'`. */
  readonly code = 'temporarily_unavailable' as const;
  override get publicDescription(): string {
    return 'The request cannot be checked right now; try again shortly';
  }
  constructor(description: string, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super('temporarily_unavailable', description, 503, { 'Retry-After': String(options?.retryAfterSeconds ?? 5) }, options);
  }
}

/** The IdP did not answer in time. */
export class IdpTimeoutError extends OAuthError {
  /** Always `'idp_timeout'`. */
  readonly code = 'idp_timeout' as const;
  override get publicDescription(): string {
    return 'The identity provider did not answer in time';
  }
  constructor(description: string, options?: { cause?: unknown }) {
    super('temporarily_unavailable', description, 504, {}, options);
  }
}

/** The IdP could not be reached (refused, reset, DNS). */
export class IdpUnavailableError extends OAuthError {
  /** Always `'idp_unavailable'`. */
  readonly code = 'idp_unavailable' as const;
  override get publicDescription(): string {
    return 'The identity provider could not be reached';
  }
  constructor(description: string, options?: { cause?: unknown }) {
    super('temporarily_unavailable', description, 502, {}, options);
  }
}

/** The IdP answered something that is not an OAuth JSON answer (HTML page, oversized, not JSON). */
export class IdpBadResponseError extends OAuthError {
  /** Always `'idp_bad_response'`. */
  readonly code = 'idp_bad_response' as const;
  override get publicDescription(): string {
    return 'The identity provider sent an invalid answer';
  }
  /**
   * false when trying again cannot help (a 2xx answer without a usable token is a configuration
   * matter on the IdP's side); retry policies read it.
   */
  readonly retryable: boolean;
  constructor(description: string, options?: { cause?: unknown; retryable?: boolean }) {
    super('server_error', description, 502, {}, options);
    this.retryable = options?.retryable ?? true;
  }
}

/**
 * The IdP answered with an OAuth error where this server needed a token (M2M, discovery).
 * `idpStatus` and `idpError` say what the IdP said; the answer to our own caller is a 502
 * because the fault is between this server and its IdP, not in the caller's request.
 */
export class IdpError extends OAuthError {
  /** Always `'idp_error'`. */
  readonly code = 'idp_error' as const;
  /** HTTP status the IdP answered with. */
  readonly idpStatus: number;
  /** The IdP's OAuth `error` value, if its answer had one (e.g. `invalid_client`). */
  readonly idpError: string | undefined;
  /** The IdP's `error_description`, for logs; never sent to this server's caller. */
  readonly idpErrorDescription: string | undefined;
  /** The wait the IdP asked for with `Retry-After`, in milliseconds, if it sent one. */
  readonly retryAfterMs: number | undefined;
  override get publicDescription(): string {
    if (this.idpError === 'invalid_client') return 'The server could not authenticate to the identity provider';
    return `The identity provider refused this server's request (${this.idpStatus}${this.idpError ? ` ${this.idpError}` : ''})`;
  }
  constructor(
    description: string,
    idpStatus: number,
    idpError?: string,
    idpErrorDescription?: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super('server_error', description, 502, {}, options);
    this.idpStatus = idpStatus;
    this.idpError = idpError;
    this.idpErrorDescription = idpErrorDescription;
    this.retryAfterMs = options?.retryAfterMs;
    this.stack = `${new.target.name}: ${this.publicDescription}`;
  }
}

/** A programming or configuration mistake detected while serving a request. */
export class ServerError extends OAuthError {
  /** Always `'server_error'`. */
  readonly code = 'server_error' as const;
  constructor(description: string, options?: { cause?: unknown }) {
    super('server_error', description, 500, {}, options);
  }
}

/**
 * Union of every concrete error class. {@link isOAuthError} narrows to it, so `switch (err.code)`
 * narrows further to the one class and its own members (e.g. `requiredScopes`, `idpStatus`).
 */
export type AnyOAuthError =
  | MissingTokenError
  | InvalidRequestError
  | RequestTooLargeError
  | MethodNotAllowedError
  | UnsupportedMediaTypeError
  | InvalidTokenError
  | InvalidDpopProofError
  | UseDpopNonceError
  | InsufficientScopeError
  | InvalidClientError
  | InvalidGrantError
  | UnauthorizedClientError
  | UnsupportedGrantTypeError
  | InvalidScopeError
  | AccessDeniedError
  | JwksUnavailableError
  | MisconfigurationError
  | TemporarilyUnavailableError
  | IdpTimeoutError
  | IdpUnavailableError
  | IdpBadResponseError
  | IdpError
  | ServerError;

/**
 * Type guard: true for any error of this package that maps to an HTTP answer, narrowing to
 * {@link AnyOAuthError} so that `err.code` can be switched on exhaustively.
 *
 * @example
 * ```ts
 * try {
 *   await m2m.getToken();
 * } catch (err) {
 *   if (isOAuthError(err) && err.code === 'idp_error') console.warn(err.idpStatus, err.idpError);
 *   throw err;
 * }
 * ```
 */
export function isOAuthError(value: unknown): value is AnyOAuthError {
  return value instanceof OAuthError;
}
