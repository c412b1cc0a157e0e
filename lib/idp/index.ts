export { IdpClient, type IdpClientOptions, type IdpConnectionOptions, type IdpCredentials, type ClientSecretCredentials, type PrivateKeyCredentials, type IdpEndpoint } from './idp-client.js';
export { discover, clearDiscoveryCache, type IdpMetadata, type DiscoveryOptions } from './discovery.js';
export { basicAuthorization, type ClientAuthMethod } from './client-auth.js';
export type { ClientPrivateKey, ClientAssertionAlgorithm, AssertionAudience } from './client-assertion.js';
export type { IdpProfile, ParamsIn } from './profiles.js';
export type { IdpResponse, IdpFetch } from './http.js';
