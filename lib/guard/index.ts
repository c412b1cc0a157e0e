export { requireAuth, type RequireAuthHandler } from './require-auth.js';
export { requireScopes, requireAnyScope, claimEquals, claimIncludes, claimCheck, requireIssuer, type ClaimCheckOptions, type ClaimCheckResult, type JsonPrimitive } from './claims.js';
export type { RequireAuthOptions, IssuerOptions, IssuerResolver, GuardLogger, AsymmetricAlgorithm, SymmetricAlgorithm } from './options.js';
export type { AuthResult } from './types.js';
export type { VerifiedToken } from './verifier.js';
export { scopesOf } from './scopes.js';
export type { DpopOptions, ReplayStore } from './dpop/options.js';
