/**
 * `express-oauth-kit/testing`: a real local issuer for testing routes behind `requireAuth()`,
 * and the M2M client and token proxy, without an IdP, without mocking fetch and without any test
 * switch in the guard. Kept out of the main entry point: production code never loads it.
 */
export { createTestIssuer, type TestIssuer, type TestIssuerOptions, type TestSignOptions } from './test-issuer.js';
export type { TestIssuerAlgorithm, DpopProofOptions } from './keys.js';
export type { TestClient, TestUser, TokenEndpointFailure, TestTokenRequest } from './token-endpoint.js';
export type { TestIntrospectionRequest } from './introspection-endpoint.js';
