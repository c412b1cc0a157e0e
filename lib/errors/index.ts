export { OAuthKitError, type OAuthKitErrorOptions } from './base.js';
export type { OAuthKitErrorCode, OAuthErrorCode, ConfigErrorCode, StoreErrorCode } from './codes.js';
// Listed by name: oauth-error.ts also holds the subclasses' internal init helper.
export {
  OAuthError,
  MissingTokenError,
  InvalidRequestError,
  InvalidTokenError,
  InsufficientScopeError,
  InvalidClientError,
  InvalidGrantError,
  UnauthorizedClientError,
  UnsupportedGrantTypeError,
  InvalidScopeError,
  AccessDeniedError,
  JwksUnavailableError,
  MisconfigurationError,
  TemporarilyUnavailableError,
  IdpTimeoutError,
  IdpUnavailableError,
  IdpBadResponseError,
  IdpError,
  ServerError,
  type OAuthErrorJSON,
  type OAuthErrorOptions,
  type OAuthErrorInit,
  type InsufficientScopeErrorOptions,
  type OAuthErrorStatusOptions,
  type RetryAfterOptions,
  type IdpBadResponseErrorOptions,
  type IdpErrorOptions,
} from './oauth-error.js';
export { ConfigError, type ConfigErrorOptions } from './config-error.js';
export { TokenStoreError, RedisUnavailableError, type TokenStoreErrorOptions, type RedisUnavailableErrorOptions } from './store-errors.js';
export { type AnyOAuthError, type AnyOAuthKitError, isOAuthError, isOAuthKitError } from './any-error.js';
export { oauthErrorHandler, type OAuthErrorHandlerOptions } from './error-handler.js';
export { RequestTooLargeError, MethodNotAllowedError, UnsupportedMediaTypeError } from './request-errors.js';
export { InvalidDpopProofError, UseDpopNonceError } from './dpop-errors.js';
