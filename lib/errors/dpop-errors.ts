import { OAuthError, oauthInit, type OAuthErrorOptions } from './oauth-error.js';
import { setErrorName } from './base.js';

/**
 * 401: the DPoP proof is missing, malformed, replayed or does not match the request or the token
 * (RFC 9449 §7.1). The `WWW-Authenticate: DPoP` challenge names the accepted `algs`.
 */
export class InvalidDpopProofError extends OAuthError {
  /** Always `"InvalidDpopProofError"`. */
  declare readonly name: 'InvalidDpopProofError';
  static {
    setErrorName(this, 'InvalidDpopProofError');
  }
  /** Always `'invalid_dpop_proof'`. */
  readonly code = 'invalid_dpop_proof' as const;
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'invalid_dpop_proof', 401));
  }
}

/**
 * 401: the server wants a proof carrying the nonce it sends in the `DPoP-Nonce` header
 * (RFC 9449 §8). A client retries the request once with a new proof that includes it.
 */
export class UseDpopNonceError extends OAuthError {
  /** Always `"UseDpopNonceError"`. */
  declare readonly name: 'UseDpopNonceError';
  static {
    setErrorName(this, 'UseDpopNonceError');
  }
  /** Always `'use_dpop_nonce'`. */
  readonly code = 'use_dpop_nonce' as const;
  constructor(description: string, options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'use_dpop_nonce', 401));
  }
}
