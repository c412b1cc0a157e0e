/**
 * `express-oauth-kit/redis`: running a fleet of instances against one Redis. Kept out of the core
 * entry point so applications that do not use Redis never load it. It does not import ioredis at
 * run time either: the application passes its own client.
 */
export {
  redisTokenStore,
  // The type of what redisTokenStore() returns; the class itself is not for constructing.
  type RedisTokenStore,
  // Also exported by the main entry point (it is one class): importable from either.
  RedisUnavailableError,
  type RedisTokenStoreOptions,
  type RedisClient,
} from './token-store.js';
// The store contract it implements, so this entry point's types stand on their own.
export type { TokenStore, StoredToken } from '../m2m/store/store.js';
// The base class RedisUnavailableError extends, so this entry point's types stand on their own;
// catch it with `instanceof` from the main entry point.
export type { OAuthKitError, OAuthKitErrorOptions } from '../errors/base.js';
export type { RedisUnavailableErrorOptions } from '../errors/store-errors.js';
export type { OAuthKitErrorCode, OAuthErrorCode, ConfigErrorCode, StoreErrorCode } from '../errors/codes.js';
