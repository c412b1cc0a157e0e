import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';

/** Signing algorithms the test issuer can use; each is in `requireAuth()`'s default allow-list. */
export type TestIssuerAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

/** A private key with its published half. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: TestIssuerAlgorithm;
  readonly privateKey: CryptoKey;
  /** The JWKS member: public parameters, `kid`, `alg`, `use: 'sig'`. */
  readonly publicJwk: JWK;
}

export async function newSigningKey(alg: TestIssuerAlgorithm): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  // Random kids: a rotated-in key never reuses a kid a guard may still hold for the old key.
  const kid = `test-${randomBytes(6).toString('base64url')}`;
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** The DPoP key a test client holds: proofs are signed with it, bound tokens carry its thumbprint. */
export interface DpopKey {
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  /** RFC 7638 thumbprint: the `cnf.jkt` of tokens bound to this key. */
  readonly jkt: string;
}

export async function newDpopKey(): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const publicJwk = await exportJWK(publicKey);
  return { privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk) };
}

/**
 * Signs `claims` as they are: every default has been filled in by the caller. A claim given as
 * `undefined` is left out (JSON drops it), which is how a test makes a token without `exp`.
 */
export function signJwt(claims: JWTPayload, key: SigningKey, header: Partial<JWTHeaderParameters>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ ...header, alg: key.alg, kid: header.kid ?? key.kid } as JWTHeaderParameters).sign(key.privateKey);
}

/** Input of {@link TestIssuer.dpopProof}. */
export interface DpopProofOptions {
  /** The HTTP method of the request the proof goes with. */
  htm: string;
  /** The URL of that request; query and fragment are dropped (RFC 9449 §4.2). */
  htu: string;
  /** The access token sent with the proof: its hash becomes `ath`. Leave out for a token request. */
  accessToken?: string;
  /** A server nonce from a `DPoP-Nonce` header (RFC 9449 §8). */
  nonce?: string;
  /** Seconds since the epoch; default: now, on the issuer's clock. */
  iat?: number;
  /** Default: a random UUID, so each proof is new to the replay check. */
  jti?: string;
}

export function signDpopProof(key: DpopKey, options: DpopProofOptions, nowSeconds: number): Promise<string> {
  const url = new URL(options.htu);
  const claims: JWTPayload = { htm: options.htm, htu: `${url.origin}${url.pathname}`, iat: options.iat ?? nowSeconds, jti: options.jti ?? randomUUID() };
  if (options.accessToken !== undefined) claims.ath = createHash('sha256').update(options.accessToken).digest('base64url');
  if (options.nonce !== undefined) claims.nonce = options.nonce;
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.publicJwk }).sign(key.privateKey);
}
