export * from './oauth-error.js';
export { ConfigError, type ConfigErrorCode, type DocsTopic } from './config-error.js';
export { oauthErrorHandler, type OAuthErrorHandlerOptions } from './error-handler.js';
export { RequestTooLargeError, MethodNotAllowedError, UnsupportedMediaTypeError } from './request-errors.js';
export { InvalidDpopProofError, UseDpopNonceError } from './dpop-errors.js';
