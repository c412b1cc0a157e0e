import { OAuthKitError, setErrorName, type OAuthKitErrorOptions } from './base.js';

/** Options of {@link TokenStoreError}. */
export interface TokenStoreErrorOptions extends OAuthKitErrorOptions {
  /** The store method that failed: get, set, delete, lock or unlock (or `seal` when no sealing key could be derived). */
  operation: string;
}

/**
 * A shared token store failed or was too slow. Reported through the M2M client's `onError`
 * (phase 'store'), never thrown to callers: the client carries on with its in-process cache and the IdP.
 */
export class TokenStoreError extends OAuthKitError {
  /** Always `"TokenStoreError"`. */
  declare readonly name: 'TokenStoreError';
  static {
    setErrorName(this, 'TokenStoreError');
  }
  /** Always `'token_store_error'`: switch on it in `onError` rather than on the message. */
  readonly code = 'token_store_error' as const;
  /** The store method that failed: get, set, delete, lock or unlock. */
  readonly operation: string;
  constructor(description: string, options: TokenStoreErrorOptions) {
    super(description, options);
    this.operation = options.operation;
  }
}
