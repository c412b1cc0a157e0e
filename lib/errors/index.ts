export { OAuthKitError, type OAuthKitErrorOptions } from './base.js';
export type { OAuthKitErrorCode, OAuthErrorCode, ConfigErrorCode, StoreErrorCode } from './codes.js';
export * from './oauth-error.js';
export { ConfigError, type ConfigErrorOptions, type DocsTopic } from './config-error.js';
export { TokenStoreError, type TokenStoreErrorOptions } from './store-errors.js';
export { type AnyOAuthError, type AnyOAuthKitError, isOAuthError, isOAuthKitError } from './any-error.js';
export { oauthErrorHandler, type OAuthErrorHandlerOptions } from './error-handler.js';
export { RequestTooLargeError, MethodNotAllowedError, UnsupportedMediaTypeError } from './request-errors.js';
export { InvalidDpopProofError, UseDpopNonceError } from './dpop-errors.js';
