/**
 * Errors the package sends to HTTP clients. Each class has a stable `code`, so callers can
 * `switch (err.code)` on the `OAuthErrorCode` union instead of comparing messages.
 *
 * `error` is the OAuth wire code (RFC 6749 §5.2, RFC 6750 §3.1) and `status` / `headers` are
 * what Express' default error handler uses, so a bare `next(err)` already answers correctly.
 *
 * This module imports only the base: the union of all classes lives in any-error.ts, which imports
 * them, so no two error modules import each other.
 */

import { OAuthKitError, setErrorName, type OAuthKitErrorOptions } from './base.js';
import type { OAuthErrorCode } from './codes.js';

export type { OAuthErrorCode } from './codes.js';

/** Options every {@link OAuthError} subclass accepts after its description. */
export interface OAuthErrorOptions extends OAuthKitErrorOptions {
  /**
   * Response headers, e.g. a `WWW-Authenticate` challenge. Headers a class sets itself
   * (`Retry-After`, `Allow`, `Connection`) win over these.
   */
  headers?: Record<string, string>;
}

/** Options of {@link InsufficientScopeError}. */
export interface InsufficientScopeErrorOptions extends OAuthErrorOptions {
  /** The scopes the route needs, as in the challenge's `scope` attribute; the body lists them too. */
  requiredScopes?: readonly string[];
}

/** Options of the classes whose status may differ from their default ({@link InvalidClientError}, {@link AccessDeniedError}). */
export interface OAuthErrorStatusOptions extends OAuthErrorOptions {
  /** The HTTP status, instead of the class's default. */
  status?: number;
}

/** Options of the 503 classes ({@link JwksUnavailableError}, {@link TemporarilyUnavailableError}). */
export interface RetryAfterOptions extends OAuthErrorOptions {
  /** Seconds for the `Retry-After` header. @defaultValue 5 */
  retryAfterSeconds?: number;
}

/** Options of {@link IdpBadResponseError}. */
export interface IdpBadResponseErrorOptions extends OAuthErrorOptions {
  /** false when trying again cannot help (a 2xx answer without a usable token). @defaultValue true */
  retryable?: boolean;
}

/**
 * The {@link OAuthErrorInit} a subclass passes up, always as an object literal of one shape:
 * spreading the caller's options instead made every error ~2 µs slower to create in V8 (a
 * per-object clone), and the guard creates one per refused request.
 * @internal
 */
export function oauthInit(
  options: OAuthErrorOptions | undefined,
  error: string | undefined,
  status: number,
  headers: Record<string, string> | undefined = options?.headers,
): OAuthErrorInit {
  return { error, status, headers, cause: options?.cause };
}

/** What a subclass of {@link OAuthError} passes up: the wire `error` and `status` it answers with. */
export interface OAuthErrorInit extends OAuthErrorOptions {
  /** The OAuth `error` value on the wire; undefined for a bare challenge (no token sent). */
  error: string | undefined;
  /** HTTP status of the answer. */
  status: number;
}

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
export abstract class OAuthError extends OAuthKitError {
  // Only for application subclasses that set no name of their own; each class here sets its literal.
  static {
    setErrorName(this, 'OAuthError');
  }
  /**
   * Stable identifier of the case, one per class (see {@link OAuthErrorCode}). Unlike `error`,
   * which is the coarser OAuth wire value, it tells apart e.g. a JWKS outage from an IdP timeout.
   */
  abstract override readonly code: OAuthErrorCode;
  /** HTTP status to answer with. `statusCode` mirrors it for frameworks that read that name. */
  readonly status: number;
  /** Response headers, e.g. `WWW-Authenticate` or `Retry-After`. */
  readonly headers: Record<string, string>;
  /** 4xx/5xx answers of this package are meant to be shown; http-errors and finalhandler read this. */
  readonly expose = true;
  /** The OAuth `error` value put on the wire; undefined for a bare challenge (no token sent). */
  readonly error: string | undefined;

  /**
   * @param description - the detail, for logs; see {@link OAuthError.publicDescription} for what a client sees.
   * @param init - the wire `error` and `status` the subclass answers with, plus {@link OAuthErrorOptions}.
   */
  constructor(description: string, init: OAuthErrorInit) {
    super(description, init);
    this.error = init.error;
    this.status = init.status;
    this.headers = init.headers ?? {};
    // Client errors are expected outcomes, not bugs: a one-line "stack" keeps frames out of any
    // page a default handler renders (Express' finalhandler shows `stack` outside production).
    // It is the public description: the detail in `message` may name internal URLs.
    // (Assigned, not a getter: an accessor on `stack` makes every error ~5× slower to create.)
    // `this.name` is each class's literal, set on its prototype (see setErrorName).
    this.stack = `${this.name}: ${this.publicDescription}`;
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
  /** Always `"MissingTokenError"`. */
  declare readonly name: 'MissingTokenError';
  static {
    setErrorName(this, 'MissingTokenError');
  }
  /** Always `'missing_token'`. */
  readonly code = 'missing_token' as const;
  constructor(description = 'Authentication required: send an Authorization: Bearer <token> header', options?: OAuthErrorOptions) {
    super(description, oauthInit(options, undefined, 401));
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
  /** Always `"InvalidRequestError"`. */
  declare readonly name: 'InvalidRequestError';
  static {
    setErrorName(this, 'InvalidRequestError');
  }
  /** Always `'invalid_request'`. */
  readonly code = 'invalid_request' as const;
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'invalid_request', 400));
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
  /** Always `"InvalidTokenError"`. */
  declare readonly name: 'InvalidTokenError';
  static {
    setErrorName(this, 'InvalidTokenError');
  }
  /** Always `'invalid_token'`. */
  readonly code = 'invalid_token' as const;
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'invalid_token', 401));
  }
}

/**
 * 403 `insufficient_scope`: the token is valid but lacks a scope the route needs (RFC 6750 §3.1).
 * The challenge and the body name the required scopes.
 */
export class InsufficientScopeError extends OAuthError {
  /** Always `"InsufficientScopeError"`. */
  declare readonly name: 'InsufficientScopeError';
  static {
    setErrorName(this, 'InsufficientScopeError');
  }
  /** Always `'insufficient_scope'`. */
  readonly code = 'insufficient_scope' as const;
  /** The scopes the route needs, as sent in the challenge's `scope` attribute. */
  readonly requiredScopes: readonly string[];
  constructor(description: string, options?: InsufficientScopeErrorOptions) {
    super(description, oauthInit(options, 'insufficient_scope', 403));
    this.requiredScopes = options?.requiredScopes ?? [];
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
  /** Always `"InvalidClientError"`. */
  declare readonly name: 'InvalidClientError';
  static {
    setErrorName(this, 'InvalidClientError');
  }
  /** Always `'invalid_client'`. */
  readonly code = 'invalid_client' as const;
  constructor(description: string, options?: OAuthErrorStatusOptions) {
    super(description, oauthInit(options, 'invalid_client', options?.status ?? 401));
  }
}

/**
 * 400 `invalid_grant`: the grant (code, refresh token, password, MFA token) is invalid, expired,
 * revoked or was issued to another client (RFC 6749 §5.2).
 */
export class InvalidGrantError extends OAuthError {
  /** Always `"InvalidGrantError"`. */
  declare readonly name: 'InvalidGrantError';
  static {
    setErrorName(this, 'InvalidGrantError');
  }
  /** Always `'invalid_grant'`. */
  readonly code = 'invalid_grant' as const;
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'invalid_grant', 400));
  }
}

/** 400 `unauthorized_client`: this client may not use this grant type (RFC 6749 §5.2). */
export class UnauthorizedClientError extends OAuthError {
  /** Always `"UnauthorizedClientError"`. */
  declare readonly name: 'UnauthorizedClientError';
  static {
    setErrorName(this, 'UnauthorizedClientError');
  }
  /** Always `'unauthorized_client'`. */
  readonly code = 'unauthorized_client' as const;
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'unauthorized_client', 400));
  }
}

/**
 * 400 `unsupported_grant_type`: the grant type is unknown, or not in the proxy's `grants`
 * allow-list (RFC 6749 §5.2).
 */
export class UnsupportedGrantTypeError extends OAuthError {
  /** Always `"UnsupportedGrantTypeError"`. */
  declare readonly name: 'UnsupportedGrantTypeError';
  static {
    setErrorName(this, 'UnsupportedGrantTypeError');
  }
  /** Always `'unsupported_grant_type'`. */
  readonly code = 'unsupported_grant_type' as const;
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'unsupported_grant_type', 400));
  }
}

/** 400 `invalid_scope`: the requested scope is invalid, unknown or exceeds what was granted (RFC 6749 §5.2). */
export class InvalidScopeError extends OAuthError {
  /** Always `"InvalidScopeError"`. */
  declare readonly name: 'InvalidScopeError';
  static {
    setErrorName(this, 'InvalidScopeError');
  }
  /** Always `'invalid_scope'`. */
  readonly code = 'invalid_scope' as const;
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'invalid_scope', 400));
  }
}

/**
 * `access_denied` (403 by default): the token is valid and has the scopes, but a claim check
 * (`requireIssuer`, `claimEquals`, `claimIncludes`, `claimCheck`) refused it.
 */
export class AccessDeniedError extends OAuthError {
  /** Always `"AccessDeniedError"`. */
  declare readonly name: 'AccessDeniedError';
  static {
    setErrorName(this, 'AccessDeniedError');
  }
  /** Always `'access_denied'`. */
  readonly code = 'access_denied' as const;
  constructor(description: string, options?: OAuthErrorStatusOptions) {
    super(description, oauthInit(options, 'access_denied', options?.status ?? 403));
  }
}

/**
 * Keys could not be fetched: the token may well be valid, so this is 503, never 401. `message`
 * names the JWKS/discovery URL and what failed, for logs; clients see a generic sentence.
 */
export class JwksUnavailableError extends OAuthError {
  /** Always `"JwksUnavailableError"`. */
  declare readonly name: 'JwksUnavailableError';
  static {
    setErrorName(this, 'JwksUnavailableError');
  }
  /** Always `'jwks_unavailable'`. */
  readonly code = 'jwks_unavailable' as const;
  override get publicDescription(): string {
    return 'The keys needed to check the token are unavailable right now; try again shortly';
  }
  constructor(description: string, options?: RetryAfterOptions) {
    const headers = { ...options?.headers, 'Retry-After': String(options?.retryAfterSeconds ?? 5) };
    super(description, oauthInit(options, 'temporarily_unavailable', 503, headers));
  }
}

/**
 * Token introspection (RFC 7662) could not give an answer: the endpoint is down, slow, or answered
 * something that is not an introspection answer. The token may well be valid, so this is 503
 * with Retry-After, never 401 (and never "allow"). `message` names the endpoint and what failed,
 * for logs; clients see a generic sentence. Never carries the token.
 */
export class IntrospectionUnavailableError extends OAuthError {
  /** Always `"IntrospectionUnavailableError"`. */
  declare readonly name: 'IntrospectionUnavailableError';
  static {
    setErrorName(this, 'IntrospectionUnavailableError');
  }
  /** Always `'introspection_unavailable'`. */
  readonly code = 'introspection_unavailable' as const;
  override get publicDescription(): string {
    return 'The token cannot be checked with its issuer right now; try again shortly';
  }
  constructor(description: string, options?: RetryAfterOptions) {
    const headers = { ...options?.headers, 'Retry-After': String(options?.retryAfterSeconds ?? 5) };
    super(description, oauthInit(options, 'temporarily_unavailable', 503, headers));
  }
}

/**
 * The IdP's own metadata contradicts this server's settings (discovery names another issuer, or a
 * jwks_uri that is missing or fails the URL policy). Not an outage, so no Retry-After: an operator
 * must act. 500, with a generic public description; the detail is in `message` for logs.
 */
export class MisconfigurationError extends OAuthError {
  /** Always `"MisconfigurationError"`. */
  declare readonly name: 'MisconfigurationError';
  static {
    setErrorName(this, 'MisconfigurationError');
  }
  /** Always `'misconfigured'`. */
  readonly code = 'misconfigured' as const;
  override get publicDescription(): string {
    return "The server's identity provider settings do not match the provider; an operator must fix them";
  }
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'server_error', 500));
  }
}

/**
 * Something the answer depends on (an application callback such as an issuers resolver or an
 * async claim check) failed: 503 with Retry-After, the detail in `message` for logs only.
 */
export class TemporarilyUnavailableError extends OAuthError {
  /** Always `"TemporarilyUnavailableError"`. */
  declare readonly name: 'TemporarilyUnavailableError';
  static {
    setErrorName(this, 'TemporarilyUnavailableError');
  }
  /** Always `'temporarily_unavailable'`. */
  readonly code = 'temporarily_unavailable' as const;
  override get publicDescription(): string {
    return 'The request cannot be checked right now; try again shortly';
  }
  constructor(description: string, options?: RetryAfterOptions) {
    const headers = { ...options?.headers, 'Retry-After': String(options?.retryAfterSeconds ?? 5) };
    super(description, oauthInit(options, 'temporarily_unavailable', 503, headers));
  }
}

/** The IdP did not answer in time. */
export class IdpTimeoutError extends OAuthError {
  /** Always `"IdpTimeoutError"`. */
  declare readonly name: 'IdpTimeoutError';
  static {
    setErrorName(this, 'IdpTimeoutError');
  }
  /** Always `'idp_timeout'`. */
  readonly code = 'idp_timeout' as const;
  override get publicDescription(): string {
    return 'The identity provider did not answer in time';
  }
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'temporarily_unavailable', 504));
  }
}

/** The IdP could not be reached (refused, reset, DNS). */
export class IdpUnavailableError extends OAuthError {
  /** Always `"IdpUnavailableError"`. */
  declare readonly name: 'IdpUnavailableError';
  static {
    setErrorName(this, 'IdpUnavailableError');
  }
  /** Always `'idp_unavailable'`. */
  readonly code = 'idp_unavailable' as const;
  override get publicDescription(): string {
    return 'The identity provider could not be reached';
  }
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'temporarily_unavailable', 502));
  }
}

/** The IdP answered something that is not an OAuth JSON answer (HTML page, oversized, not JSON). */
export class IdpBadResponseError extends OAuthError {
  /** Always `"IdpBadResponseError"`. */
  declare readonly name: 'IdpBadResponseError';
  static {
    setErrorName(this, 'IdpBadResponseError');
  }
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
  constructor(description: string, options?: IdpBadResponseErrorOptions) {
    super(description, oauthInit(options, 'server_error', 502));
    this.retryable = options?.retryable ?? true;
  }
}

/** Options of {@link IdpError}: what the IdP answered. */
export interface IdpErrorOptions extends OAuthErrorOptions {
  /** HTTP status the IdP answered with. */
  idpStatus: number;
  /** The IdP's OAuth `error` value, if its answer had one (e.g. `invalid_client`). */
  idpError?: string | undefined;
  /** The IdP's `error_description`, for logs; never sent to this server's caller. */
  idpErrorDescription?: string | undefined;
  /** The wait the IdP asked for with `Retry-After`, in milliseconds, if it sent one. */
  retryAfterMs?: number | undefined;
}

/**
 * The IdP answered with an OAuth error where this server needed a token (M2M, discovery).
 * `idpStatus` and `idpError` say what the IdP said; the answer to our own caller is a 502
 * because the fault is between this server and its IdP, not in the caller's request.
 */
export class IdpError extends OAuthError {
  /** Always `"IdpError"`. */
  declare readonly name: 'IdpError';
  static {
    setErrorName(this, 'IdpError');
  }
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
  constructor(description: string, options: IdpErrorOptions) {
    super(description, oauthInit(options, 'server_error', 502));
    this.idpStatus = options.idpStatus;
    this.idpError = options.idpError;
    this.idpErrorDescription = options.idpErrorDescription;
    this.retryAfterMs = options.retryAfterMs;
    // Again: the public description reads the members just set, which the base could not see.
    this.stack = `${this.name}: ${this.publicDescription}`;
  }
}

/** A programming or configuration mistake detected while serving a request. */
export class ServerError extends OAuthError {
  /** Always `"ServerError"`. */
  declare readonly name: 'ServerError';
  static {
    setErrorName(this, 'ServerError');
  }
  /** Always `'server_error'`. */
  readonly code = 'server_error' as const;
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'server_error', 500));
  }
}
