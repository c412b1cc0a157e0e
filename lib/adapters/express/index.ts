export { requireAuth, type RequireAuthHandler, type RequireAuthOptions, type IssuerResolver } from './require-auth.js';
export { requireScopes, requireAnyScope, claimEquals, claimIncludes, claimCheck, requireIssuer, type ClaimCheckOptions, type ClaimCheckResult, type JsonPrimitive } from './claims.js';
