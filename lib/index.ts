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
