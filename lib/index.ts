export * from './errors/index.js';
export * from './guard/index.js';
export { bearerChallenge } from './bearer/index.js';
export { IdpClient, discover, clearDiscoveryCache, basicAuthorization } from './idp/index.js';
export type { IdpClientOptions, IdpMetadata, ClientAuthMethod, IdpProfile, ParamsIn, IdpResponse } from './idp/index.js';
