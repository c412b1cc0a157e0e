/**
 * The unions of concrete classes and their type guards. They import every class, so they live
 * here rather than next to the base classes, which then import nothing but the base: no cycles.
 */
import { OAuthKitError } from './base.js';
import {
  OAuthError,
  type MissingTokenError,
  type InvalidRequestError,
  type InvalidTokenError,
  type InsufficientScopeError,
  type InvalidClientError,
  type InvalidGrantError,
  type UnauthorizedClientError,
  type UnsupportedGrantTypeError,
  type InvalidScopeError,
  type AccessDeniedError,
  type JwksUnavailableError,
  type IntrospectionUnavailableError,
  type MisconfigurationError,
  type TemporarilyUnavailableError,
  type IdpTimeoutError,
  type IdpUnavailableError,
  type IdpBadResponseError,
  type IdpError,
  type ServerError,
} from './oauth-error.js';
import type { MethodNotAllowedError, RequestTooLargeError, UnsupportedMediaTypeError } from './request-errors.js';
import type { InvalidDpopProofError, UseDpopNonceError } from './dpop-errors.js';
import type { InsufficientUserAuthenticationError } from './step-up-errors.js';
import type { ConfigError } from './config-error.js';
import type { RedisUnavailableError, TokenStoreError } from './store-errors.js';

/**
 * Union of every concrete {@link OAuthError} class. {@link isOAuthError} narrows to it, so
 * `switch (err.code)` narrows further to the one class and its own members (e.g. `requiredScopes`, `idpStatus`).
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
  | InsufficientUserAuthenticationError
  | InvalidClientError
  | InvalidGrantError
  | UnauthorizedClientError
  | UnsupportedGrantTypeError
  | InvalidScopeError
  | AccessDeniedError
  | JwksUnavailableError
  | IntrospectionUnavailableError
  | MisconfigurationError
  | TemporarilyUnavailableError
  | IdpTimeoutError
  | IdpUnavailableError
  | IdpBadResponseError
  | IdpError
  | ServerError;

/**
 * Union of every concrete class the package throws or reports: the HTTP answers, {@link ConfigError},
 * {@link TokenStoreError} and {@link RedisUnavailableError}. {@link isOAuthKitError} narrows to it.
 */
export type AnyOAuthKitError = AnyOAuthError | ConfigError | TokenStoreError | RedisUnavailableError;

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

/**
 * Type guard: true for any error of this package (an HTTP answer, a {@link ConfigError}, a
 * {@link TokenStoreError}), narrowing to {@link AnyOAuthKitError} so that `err.code` can be switched on.
 */
export function isOAuthKitError(value: unknown): value is AnyOAuthKitError {
  return value instanceof OAuthKitError;
}
