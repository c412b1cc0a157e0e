// The public API, listed by name so nothing becomes public by accident; etc/*.api.md records it
// and CI fails when it changes without the report. Folders mirror the architecture: three jobs
// (guard, proxy, m2m) built on shared pieces (errors, bearer, idp, options). The Redis store is a
// separate entry point: express-oauth-kit/redis.

// Errors: one base class (OAuthKitError) for everything the package throws, one class per case,
// each with a stable `code` (the OAuthKitErrorCode union).
export { OAuthKitError } from './errors/base.js';
export { OAuthError, MissingTokenError, InvalidRequestError, InvalidTokenError, InsufficientScopeError, InvalidClientError, InvalidGrantError, UnauthorizedClientError, UnsupportedGrantTypeError, InvalidScopeError, AccessDeniedError, JwksUnavailableError, IntrospectionUnavailableError, MisconfigurationError, TemporarilyUnavailableError, IdpTimeoutError, IdpUnavailableError, IdpBadResponseError, IdpError, ServerError } from './errors/oauth-error.js';
export { RequestTooLargeError, MethodNotAllowedError, UnsupportedMediaTypeError } from './errors/request-errors.js';
export { InvalidDpopProofError, UseDpopNonceError } from './errors/dpop-errors.js';
export { InsufficientUserAuthenticationError } from './errors/step-up-errors.js';
export { isOAuthError, isOAuthKitError } from './errors/any-error.js';
export { ConfigError } from './errors/config-error.js';
export { TokenStoreError, RedisUnavailableError } from './errors/store-errors.js';
export { oauthErrorHandler } from './errors/error-handler.js';
export type { OAuthKitErrorCode, OAuthErrorCode, ConfigErrorCode, StoreErrorCode } from './errors/codes.js';
export type { OAuthKitErrorOptions } from './errors/base.js';
export type { OAuthErrorOptions, OAuthErrorInit, IdpErrorOptions, InsufficientScopeErrorOptions, OAuthErrorStatusOptions, RetryAfterOptions, IdpBadResponseErrorOptions, OAuthErrorJSON } from './errors/oauth-error.js';
export type { AnyOAuthError, AnyOAuthKitError } from './errors/any-error.js';
export type { ConfigErrorOptions } from './errors/config-error.js';
export type { TokenStoreErrorOptions, RedisUnavailableErrorOptions } from './errors/store-errors.js';
export type { OAuthErrorHandlerOptions } from './errors/error-handler.js';
export type { InsufficientUserAuthenticationErrorOptions } from './errors/step-up-errors.js';

// Operator log lines (guard and proxies write to a logger of this shape).
export type { OperatorLogger } from './log/operator-log.js';

// Job 1: protect routes. The guard's core knows no framework (createGuard); adapters put it in
// front of Express (requireAuth and the helpers after it), node:http (nodeAuth) and web-standard
// Request/Response handlers (webAuth).
export { createGuard } from './guard/guard.js';
export { scopesOf } from './guard/scopes.js';
export type { Guard, GuardOutcome, GuardCacheStats, GuardVerifyOptions } from './guard/guard.js';
export type { GuardRequest } from './bearer/guard-request.js';
export type { GuardOptions, GuardCommonOptions, SingleIssuerOptions, MultiIssuerOptions, GuardIssuerResolver, IssuerOptions, IssuerSettings, IssuerKeySource, GuardLogger, AsymmetricAlgorithm, SymmetricAlgorithm } from './guard/options.js';
export type { AuthResult, AuthExtra } from './guard/types.js';
export { protectedResourceMetadataDocument, wellKnownPath } from './guard/resource-metadata.js';
export type { ResourceMetadataOptions, ProtectedResourceMetadata, ProtectedResourceMetadataJson } from './guard/resource-metadata.js';
export type { VerifiedToken } from './guard/verifier.js';
export type { DpopOptions, ReplayStore } from './guard/dpop/options.js';
export type { CertificateHeaderOptions, MtlsOptions } from './guard/mtls/options.js';

export type { IntrospectionOptions, IntrospectionSettings, IntrospectionStore, IntrospectedTokens } from './guard/introspection/options.js';
export { requireAuth } from './adapters/express/require-auth.js';
export { protectedResourceMetadata } from './adapters/express/resource-metadata.js';
export { requireScopes, requireAnyScope, requireIssuer, claimEquals, claimIncludes, claimCheck } from './adapters/express/claims.js';
export type { RequireAuthHandler, RequireAuthOptions, IssuerResolver } from './adapters/express/require-auth.js';
export type { ClaimCheckOptions, ClaimCheckResult, JsonPrimitive } from './adapters/express/claims.js';
// Step-up (RFC 9470): requireAcr() for Express, acrCheck() for createGuard() and the other adapters.
export { requireAcr } from './adapters/express/step-up.js';
export { acrCheck, type AcrCheck, type AcrOptions } from './guard/step-up.js';
export { nodeAuth, type NodeAuthHandler, type NodeAuthOptions } from './adapters/node/node-auth.js';
export { webAuth, type WebAuthHandler } from './adapters/web/web-auth.js';

// Job 2: token grants on behalf of front ends.
export { tokenProxy } from './proxy/token-proxy.js';
export { mfaChallengeProxy } from './proxy/mfa-challenge-proxy.js';
export { revocationProxy } from './proxy/revocation-proxy.js';
export { proxyRequestParser, proxyGuess } from './proxy/request-parser.js';
export type { ProxyOptions, ProxyBaseOptions, TokenProxyOptions, TokenProxyBaseOptions, MfaChallengeProxyOptions, RevocationProxyOptions, RevocationProxyBaseOptions, ProxyResultEvent, ProxyLogger, ExtraParams } from './proxy/options.js';
export type { RefreshCookieOptions } from './proxy/cookie-mode.js';
export type { ProxyGrantType } from './proxy/grants.js';
export type { ProxyRequestParserOptions, ProxyGuess } from './proxy/request-parser.js';

// Job 3: call other services as this service.
export { createM2MClient } from './m2m/client/m2m-client.js';
export { MemoryTokenStore, type TokenStore, type StoredToken, type MemoryTokenStoreOptions } from './m2m/store/store.js';
export type { M2MDpopOptions, M2MDpopAlgorithm } from './m2m/dpop/key.js';
export type {
  M2MClient,
  M2MClientOptions,
  M2MClientBaseOptions,
  M2MToken,
  GetTokenOptions,
  TokenRequestOptions,
  M2MRetryOptions,
  M2MHooks,
  M2MTokenKeyInfo,
  M2MTokenFetchedEvent,
  M2MCacheHitEvent,
  M2MErrorEvent,
  M2MRetryEvent,
  M2MFetch,
  M2MFetchInit,
  M2MGetToken,
  M2MRequestApi,
  M2MMiddlewareOptions,
} from './m2m/client/types.js';
export { ACCESS_TOKEN_TYPE } from './m2m/exchange/exchange-types.js';
export type { TokenExchangeTarget, TokenExchangeOptions, ExchangedToken, M2MExchange, OnBehalfOfOptions, OnBehalfOfApi } from './m2m/exchange/exchange-types.js';
import './m2m/client/middleware.js'; // brings its Express.Request augmentation (req.m2m) into dist/index.d.ts

// Option types shared by the IdP-facing factories.
export type { IdpClientOptions, IdpConnectionOptions, IdpCredentials, ClientSecretCredentials, PrivateKeyCredentials } from './idp/idp-client.js';
export type { ClientAuthMethod } from './idp/client-auth.js';
export type { ClientTlsOptions, PemInput } from './idp/tls.js';
export type { IdpProfile, ParamsIn } from './idp/profiles.js';
export type { IdpFetch } from './idp/http.js';
export type { ClientPrivateKey, ClientAssertionAlgorithm, AssertionAudience } from './idp/client-assertion.js';
