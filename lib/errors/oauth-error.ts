/**
 * Errors the package sends to HTTP clients. Each class has a stable `code`, so callers can
 * `switch (err.code)` on the `OAuthErrorCode` union instead of comparing messages.
 *
 * `error` is the OAuth wire code (RFC 6749 §5.2, RFC 6750 §3.1) and `status` / `headers` are
 * what Express' default error handler uses, so a bare `next(err)` already answers correctly.
 */

import type { MethodNotAllowedError, RequestTooLargeError, UnsupportedMediaTypeError } from './request-errors.js';

export type OAuthErrorCode =
  | 'missing_token'
  | 'invalid_request'
  | 'request_too_large'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'invalid_token'
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

export interface OAuthErrorJSON {
  /** Absent only for a request that carried no credentials at all (RFC 6750 §3.1). */
  error?: string;
  error_description?: string;
  [extra: string]: unknown;
}

export abstract class OAuthError extends Error {
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

  override get name(): string {
    return this.constructor.name;
  }

  get statusCode(): number {
    return this.status;
  }

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

  toJSON(): OAuthErrorJSON {
    return { error: this.error ?? 'invalid_request', error_description: this.publicDescription };
  }
}

/** No credentials at all (RFC 6750 §3.1: the challenge carries no error code). */
export class MissingTokenError extends OAuthError {
  readonly code = 'missing_token' as const;
  constructor(description = 'Authentication required: send an Authorization: Bearer <token> header', headers: Record<string, string> = {}) {
    super(undefined, description, 401, headers);
  }
  /** Like the challenge, the body names no error code: nothing was wrong with a token, there was none. */
  override toJSON(): OAuthErrorJSON {
    return { error_description: this.message };
  }
}

export class InvalidRequestError extends OAuthError {
  readonly code = 'invalid_request' as const;
  constructor(description: string, headers: Record<string, string> = {}) {
    super('invalid_request', description, 400, headers);
  }
}

export class InvalidTokenError extends OAuthError {
  readonly code = 'invalid_token' as const;
  constructor(description: string, headers: Record<string, string> = {}, options?: { cause?: unknown }) {
    super('invalid_token', description, 401, headers, options);
  }
}

export class InsufficientScopeError extends OAuthError {
  readonly code = 'insufficient_scope' as const;
  /** The scopes the route needs, as sent in the challenge's `scope` attribute. */
  readonly requiredScopes: readonly string[];
  constructor(description: string, requiredScopes: readonly string[] = [], headers: Record<string, string> = {}) {
    super('insufficient_scope', description, 403, headers);
    this.requiredScopes = requiredScopes;
  }
  override toJSON(): OAuthErrorJSON {
    const body = super.toJSON();
    return this.requiredScopes.length ? { ...body, scope: this.requiredScopes.join(' ') } : body;
  }
}

export class InvalidClientError extends OAuthError {
  readonly code = 'invalid_client' as const;
  constructor(description: string, status = 401, headers: Record<string, string> = {}) {
    super('invalid_client', description, status, headers);
  }
}

export class InvalidGrantError extends OAuthError {
  readonly code = 'invalid_grant' as const;
  constructor(description: string) {
    super('invalid_grant', description, 400);
  }
}

export class UnauthorizedClientError extends OAuthError {
  readonly code = 'unauthorized_client' as const;
  constructor(description: string) {
    super('unauthorized_client', description, 400);
  }
}

export class UnsupportedGrantTypeError extends OAuthError {
  readonly code = 'unsupported_grant_type' as const;
  constructor(description: string) {
    super('unsupported_grant_type', description, 400);
  }
}

export class InvalidScopeError extends OAuthError {
  readonly code = 'invalid_scope' as const;
  constructor(description: string) {
    super('invalid_scope', description, 400);
  }
}

export class AccessDeniedError extends OAuthError {
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
  readonly code = 'idp_bad_response' as const;
  override get publicDescription(): string {
    return 'The identity provider sent an invalid answer';
  }
  constructor(description: string, options?: { cause?: unknown }) {
    super('server_error', description, 502, {}, options);
  }
}

/**
 * The IdP answered with an OAuth error where this server needed a token (M2M, discovery).
 * `idpStatus` and `idpError` say what the IdP said; the answer to our own caller is a 502
 * because the fault is between this server and its IdP, not in the caller's request.
 */
export class IdpError extends OAuthError {
  readonly code = 'idp_error' as const;
  readonly idpStatus: number;
  readonly idpError: string | undefined;
  readonly idpErrorDescription: string | undefined;
  override get publicDescription(): string {
    if (this.idpError === 'invalid_client') return 'The server could not authenticate to the identity provider';
    return `The identity provider refused this server's request (${this.idpStatus}${this.idpError ? ` ${this.idpError}` : ''})`;
  }
  constructor(description: string, idpStatus: number, idpError?: string, idpErrorDescription?: string) {
    super('server_error', description, 502);
    this.idpStatus = idpStatus;
    this.idpError = idpError;
    this.idpErrorDescription = idpErrorDescription;
    this.stack = `${new.target.name}: ${this.publicDescription}`;
  }
}

/** A programming or configuration mistake detected while serving a request. */
export class ServerError extends OAuthError {
  readonly code = 'server_error' as const;
  constructor(description: string, options?: { cause?: unknown }) {
    super('server_error', description, 500, {}, options);
  }
}

export type AnyOAuthError =
  | MissingTokenError
  | InvalidRequestError
  | RequestTooLargeError
  | MethodNotAllowedError
  | UnsupportedMediaTypeError
  | InvalidTokenError
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

export function isOAuthError(value: unknown): value is AnyOAuthError {
  return value instanceof OAuthError;
}
