export { createGuard, type Guard, type GuardOutcome, type GuardCacheStats } from './guard.js';
export type { GuardOptions, GuardCommonOptions, SingleIssuerOptions, MultiIssuerOptions, IssuerOptions, IssuerSettings, IssuerKeySource, GuardIssuerResolver, GuardLogger, AsymmetricAlgorithm, SymmetricAlgorithm } from './options.js';
export type { GuardRequest } from '../bearer/guard-request.js';
export type { AuthResult } from './types.js';
export type { VerifiedToken } from './verifier.js';
export { scopesOf } from './scopes.js';
export type { DpopOptions, ReplayStore } from './dpop/options.js';
