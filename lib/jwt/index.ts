/** The JWS/JWT verification engine shared by requireAuth (and, later, DPoP proofs). */
export { deepFreeze, jwtVerify, verifyJwt, type GetKey, type JwtVerifyResult, type VerifyKey } from './verify.js';
export { ALGORITHMS, MIN_RSA_BITS, type AlgSpec } from './algorithms.js';
