import { OAuthError } from './oauth-error.js';

/**
 * 401: the DPoP proof is missing, malformed, replayed or does not match the request or the token
 * (RFC 9449 §7.1). The `WWW-Authenticate: DPoP` challenge names the accepted `algs`.
 */
export class InvalidDpopProofError extends OAuthError {
  /** Always `'invalid_dpop_proof'`. */
  readonly code = 'invalid_dpop_proof' as const;
  constructor(description: string, headers: Record<string, string> = {}, options?: { cause?: unknown }) {
    super('invalid_dpop_proof', description, 401, headers, options);
  }
}

/**
 * 401: the server wants a proof carrying the nonce it sends in the `DPoP-Nonce` header
 * (RFC 9449 §8). A client retries the request once with a new proof that includes it.
 */
export class UseDpopNonceError extends OAuthError {
  /** Always `'use_dpop_nonce'`. */
  readonly code = 'use_dpop_nonce' as const;
  constructor(description: string, headers: Record<string, string>) {
    super('use_dpop_nonce', description, 401, headers);
  }
}
