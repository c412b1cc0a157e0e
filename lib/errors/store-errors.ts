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

/** Options of {@link RedisUnavailableError}. */
export interface RedisUnavailableErrorOptions extends OAuthKitErrorOptions {
  /** The ioredis client status when the call was refused or abandoned (`reconnecting`, `end`, `ready` …). */
  clientStatus: string;
  /** true when the command was sent but not answered in time (it may still run on the server). */
  sent?: boolean;
}

/**
 * Redis could not serve the call: not connected (the call was not sent), no answer within
 * `callTimeout`, or a claim fewer replicas confirmed than `replayWaitReplicas` asks. The M2M
 * client reports it through `onError` (phase 'store') and carries on with its in-process cache and
 * the IdP; requireAuth's DPoP check treats it as a replay-store outage (503 unless it fails open).
 * Thrown by `express-oauth-kit/redis`; defined here so every error of the package shares one model.
 */
export class RedisUnavailableError extends OAuthKitError {
  /** Always `"RedisUnavailableError"`. */
  declare readonly name: 'RedisUnavailableError';
  static {
    setErrorName(this, 'RedisUnavailableError');
  }
  /** Always `'redis_unavailable'`. */
  readonly code = 'redis_unavailable' as const;
  /** The ioredis client status when the call was refused (`reconnecting`, `end`, …). */
  readonly status: string;
  /** true when the command was sent but not answered in time. */
  readonly sent: boolean;
  constructor(description: string, options: RedisUnavailableErrorOptions) {
    super(description, options);
    this.status = options.clientStatus;
    this.sent = options.sent ?? false;
  }
}
