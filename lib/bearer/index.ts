export { bearerChallenge, type ChallengeParams } from './challenge.js';
export { extractToken, type ExtractOptions, type TokenLocation } from './extract-token.js';
