export * from './errors/index.js';
export * from './guard/index.js';
export { bearerChallenge } from './bearer/index.js';
export { IdpClient, discover, clearDiscoveryCache, basicAuthorization } from './idp/index.js';
export type { IdpClientOptions, IdpMetadata, ClientAuthMethod, IdpProfile, ParamsIn, IdpResponse } from './idp/index.js';
export { tokenProxy, mfaChallengeProxy, revocationProxy } from './proxy/index.js';
export type {
  ProxyOptions,
  TokenProxyOptions,
  MfaChallengeProxyOptions,
  RevocationProxyOptions,
  ProxyResultEvent,
  ProxyLogger,
  ExtraParams,
  RefreshCookieOptions,
  ProxyGrantType,
} from './proxy/index.js';
export { createM2MClient, MemoryTokenStore, isStoredToken, TokenStoreError } from './m2m/index.js';
export type {
  M2MClient,
  M2MClientOptions,
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
  TokenStore,
  StoredToken,
  MemoryTokenStoreOptions,
} from './m2m/index.js';
