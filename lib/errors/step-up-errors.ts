import { OAuthError, oauthInit, type OAuthErrorJSON, type OAuthErrorOptions } from './oauth-error.js';
import { setErrorName } from './base.js';

/** Options of {@link InsufficientUserAuthenticationError}. */
export interface InsufficientUserAuthenticationErrorOptions extends OAuthErrorOptions {
  /** The authentication context classes the route accepts, most preferred first: the challenge's `acr_values`. */
  acrValues?: readonly string[];
  /** The most seconds since the user last actively authenticated that the route accepts: the challenge's `max_age`. */
  maxAgeSeconds?: number;
}

/**
 * 401 `insufficient_user_authentication` (RFC 9470 §3): the token is valid, but the user's sign-in
 * behind it is not strong enough (its `acr`) or not recent enough (its `auth_time`) for this route.
 * The client asks the authorization server for a new token with the challenge's `acr_values` and
 * `max_age`, which usually means the user signs in again or completes a second factor. Sent by
 * `requireAcr()` and `acrCheck()`.
 */
export class InsufficientUserAuthenticationError extends OAuthError {
  /** Always `"InsufficientUserAuthenticationError"`. */
  declare readonly name: 'InsufficientUserAuthenticationError';
  static {
    setErrorName(this, 'InsufficientUserAuthenticationError');
  }
  /** Always `'insufficient_user_authentication'`. */
  readonly code = 'insufficient_user_authentication' as const;
  /** The `acr` values the route accepts, as sent in the challenge's `acr_values` (empty when it names none). */
  readonly acrValues: readonly string[];
  /** The route's `max_age` in seconds, as sent in the challenge; undefined when it sets none. */
  readonly maxAgeSeconds: number | undefined;
  constructor(description: string, options?: InsufficientUserAuthenticationErrorOptions) {
    super(description, oauthInit(options, 'insufficient_user_authentication', 401));
    this.acrValues = options?.acrValues ?? [];
    this.maxAgeSeconds = options?.maxAgeSeconds;
  }
  /** The usual body, plus `acr_values` and `max_age` as in the challenge, for clients that read the body. */
  override toJSON(): OAuthErrorJSON {
    const body: OAuthErrorJSON = super.toJSON();
    if (this.acrValues.length) body.acr_values = this.acrValues.join(' ');
    if (this.maxAgeSeconds !== undefined) body.max_age = this.maxAgeSeconds;
    return body;
  }
}
