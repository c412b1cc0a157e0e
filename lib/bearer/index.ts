export { bearerChallenge, type ChallengeParams } from './challenge.js';
export { extractCredentials, type ExtractOptions, type TokenLocation } from './extract-token.js';
export type { GuardRequest } from './guard-request.js';
