export { tokenProxy } from './token-proxy.js';
export { mfaChallengeProxy } from './mfa-challenge-proxy.js';
export { revocationProxy } from './revocation-proxy.js';
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
} from './options.js';
export type { RefreshCookieOptions } from './cookie-mode.js';
export type { ProxyGrantType } from './grants.js';
export { proxyRequestParser, proxyGuess } from './request-parser.js';
export type { ProxyRequestParserOptions, ProxyGuess } from './request-parser.js';
