import type { OAuthKitErrorCode } from './codes.js';

/** What every error constructor of this package accepts after its description. */
export interface OAuthKitErrorOptions {
  /** The error that led to this one (a network error, a callback's rejection); kept for logs, never sent to a client. */
  cause?: unknown;
}

/**
 * Base class of everything this package throws or reports: the HTTP answers (`OAuthError`),
 * start-up checks (`ConfigError`) and token store failures (`TokenStoreError`, and the
 * Redis store's `RedisUnavailableError`). Catch it to tell this package's errors from others; switch
 * on `OAuthKitError.code` (after `isOAuthKitError`, which narrows to the one class) rather
 * than on `message`, which is prose for logs.
 *
 * Every subclass has the same constructor shape, `(description, options?)`, and a literal `name`
 * (e.g. `"InvalidTokenError"`) set on its prototype, not taken from `constructor.name`, which
 * minifiers rename.
 *
 * @example
 * ```ts
 * import { isOAuthKitError } from 'express-oauth-kit';
 *
 * function describe(err: unknown): string {
 *   if (!isOAuthKitError(err)) return 'not ours';
 *   switch (err.code) {
 *     case 'insufficient_scope':
 *       return `needs ${err.requiredScopes.join(' ')}`;
 *     case 'token_store_error':
 *       return `store ${err.operation} failed`;
 *     default:
 *       return err.code;
 *   }
 * }
 * ```
 */
export abstract class OAuthKitError extends Error {
  static {
    setErrorName(this, 'OAuthKitError');
  }
  /** Stable identifier of the case, one per class (or per option kind for `ConfigError`); see {@link OAuthKitErrorCode}. */
  abstract readonly code: OAuthKitErrorCode;
  constructor(description: string, options?: OAuthKitErrorOptions) {
    // No `cause` key at all when none was given, as a plain Error would have none.
    super(description, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * Sets a class's `name` on its prototype, so `this.name` is right while the base constructor runs
 * (an instance field would be set only after it) and costs nothing per instance.
 * @internal
 */
export function setErrorName(cls: abstract new (...args: never[]) => Error, name: string): void {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true, enumerable: false });
}
