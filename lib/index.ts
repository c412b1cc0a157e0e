// The public API. Folders mirror the architecture: three jobs (guard, proxy, m2m) built on
// shared pieces (errors, bearer, idp). The Redis store is a separate entry: express-oauth-kit/redis.
export * from './errors/index.js';
export * from './guard/index.js';
export * from './proxy/index.js';
export * from './m2m/index.js';
import './m2m/middleware.js'; // brings its Express.Request augmentation (req.m2m) into dist/index.d.ts
export { bearerChallenge } from './bearer/index.js';
export { IdpClient, discover, clearDiscoveryCache, basicAuthorization } from './idp/index.js';
export type { IdpClientOptions, IdpMetadata, ClientAuthMethod, IdpProfile, ParamsIn, IdpResponse } from './idp/index.js';
