// The public API, listed by name so nothing becomes public by accident; etc/*.api.md records it
// and CI fails when it changes without the report. Folders mirror the architecture: three jobs
// (guard, proxy, m2m) built on shared pieces (errors, bearer, idp, options). The Redis store is a
// separate entry point: express-oauth-kit/redis.

// Errors: one base class (OAuthKitError) for everything the package throws, one class per case,
// each with a stable `code` (the OAuthKitErrorCode union).
export {
  OAuthKitError,
  OAuthError,
  MissingTokenError,
  InvalidRequestError,
  RequestTooLargeError,
  MethodNotAllowedError,
  UnsupportedMediaTypeError,
  InvalidTokenError,
  InvalidDpopProofError,
  UseDpopNonceError,
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
  isOAuthError,
  isOAuthKitError,
  ConfigError,
  TokenStoreError,
  RedisUnavailableError,
  oauthErrorHandler,
} from './errors/index.js';
export type {
  OAuthKitErrorCode,
  OAuthKitErrorOptions,
  OAuthErrorCode,
  OAuthErrorOptions,
  OAuthErrorInit,
  IdpErrorOptions,
  InsufficientScopeErrorOptions,
  OAuthErrorStatusOptions,
  RetryAfterOptions,
  IdpBadResponseErrorOptions,
  OAuthErrorJSON,
  AnyOAuthError,
  AnyOAuthKitError,
  ConfigErrorCode,
  ConfigErrorOptions,
  StoreErrorCode,
  TokenStoreErrorOptions,
  RedisUnavailableErrorOptions,
  OAuthErrorHandlerOptions,
} from './errors/index.js';

// Operator log lines (guard and proxies write to a logger of this shape).
export type { OperatorLogger } from './log/operator-log.js';

// Job 1: protect routes. The guard's core knows no framework (createGuard); adapters put it in
// front of Express (requireAuth and the helpers after it), node:http (nodeAuth) and web-standard
// Request/Response handlers (webAuth).
export { createGuard, scopesOf } from './guard/index.js';
export type {
  Guard,
  GuardOutcome,
  GuardCacheStats,
  GuardRequest,
  GuardOptions,
  GuardCommonOptions,
  SingleIssuerOptions,
  MultiIssuerOptions,
  GuardIssuerResolver,
  IssuerOptions,
  IssuerSettings,
  IssuerKeySource,
  GuardLogger,
  AsymmetricAlgorithm,
  SymmetricAlgorithm,
  AuthResult,
  VerifiedToken,
  DpopOptions,
  ReplayStore,
} from './guard/index.js';
export {
  requireAuth,
  requireScopes,
  requireAnyScope,
  requireIssuer,
  claimEquals,
  claimIncludes,
  claimCheck,
} from './adapters/express/index.js';
export type {
  RequireAuthHandler,
  RequireAuthOptions,
  IssuerResolver,
  ClaimCheckOptions,
  ClaimCheckResult,
  JsonPrimitive,
} from './adapters/express/index.js';
export { nodeAuth, type NodeAuthHandler, type NodeAuthOptions } from './adapters/node/index.js';
export { webAuth, type WebAuthHandler } from './adapters/web/index.js';

// Job 2: token grants on behalf of front ends.
export { tokenProxy, mfaChallengeProxy, revocationProxy, proxyRequestParser, proxyGuess } from './proxy/index.js';
export type {
  ProxyOptions,
  ProxyBaseOptions,
  TokenProxyOptions,
  TokenProxyBaseOptions,
  MfaChallengeProxyOptions,
  RevocationProxyOptions,
  RevocationProxyBaseOptions,
  ProxyResultEvent,
  ProxyLogger,
  ExtraParams,
  RefreshCookieOptions,
  ProxyGrantType,
  ProxyRequestParserOptions,
  ProxyGuess,
} from './proxy/index.js';

// Job 3: call other services as this service.
export * from './m2m/index.js';
import './m2m/client/middleware.js'; // brings its Express.Request augmentation (req.m2m) into dist/index.d.ts

// Option types shared by the IdP-facing factories.
export type { IdpClientOptions, IdpConnectionOptions, IdpCredentials, ClientSecretCredentials, PrivateKeyCredentials, ClientAuthMethod, IdpProfile, ParamsIn, IdpFetch, ClientPrivateKey, ClientAssertionAlgorithm, AssertionAudience } from './idp/index.js';
