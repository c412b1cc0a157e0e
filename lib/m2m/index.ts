export { createM2MClient } from './client/m2m-client.js';
export { MemoryTokenStore, type TokenStore, type StoredToken, type MemoryTokenStoreOptions } from './store/store.js';
export type { M2MDpopOptions, M2MDpopAlgorithm } from './dpop/key.js';
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
} from './client/types.js';
export { ACCESS_TOKEN_TYPE } from './exchange/exchange-types.js';
export type { TokenExchangeTarget, TokenExchangeOptions, ExchangedToken, M2MExchange, OnBehalfOfOptions, OnBehalfOfApi } from './exchange/exchange-types.js';
