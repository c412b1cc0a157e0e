/**
 * Every `code` an error of this package can carry, in one place with no imports, so the base class,
 * the classes and the union of classes can all name them without importing each other.
 */

/**
 * Every value `OAuthError.code` can take: one per error class, stable across versions.
 * Switch on it rather than on `message`, which is prose for logs and may change.
 *
 * Several codes share one wire `error` (for instance `request_too_large`, `method_not_allowed` and
 * `unsupported_media_type` are all `invalid_request` on the wire); the code tells them apart.
 */
export type OAuthErrorCode =
  | 'missing_token'
  | 'invalid_request'
  | 'request_too_large'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'invalid_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'jwks_unavailable'
  | 'introspection_unavailable'
  | 'misconfigured'
  | 'temporarily_unavailable'
  | 'idp_timeout'
  | 'idp_unavailable'
  | 'idp_bad_response'
  | 'idp_error'
  | 'server_error';

/**
 * Misconfiguration found when a factory is called. Thrown at start-up, never per request, so a
 * bad deployment fails before it serves traffic. `code` is stable and snake_case like the
 * OAuthError and store codes, with a `config_` prefix.
 */
export type ConfigErrorCode =
  | 'config_options'
  | 'config_issuer'
  | 'config_audience'
  | 'config_keys'
  | 'config_algorithms'
  | 'config_url'
  | 'config_client'
  | 'config_grants'
  | 'config_number'
  | 'config_token_location'
  | 'config_cookie'
  | 'config_store'
  | 'config_resource_metadata'
  | 'config_mtls';

/** A shared token store failed (`token_store_error`) or Redis was not connected (`redis_unavailable`). */
export type StoreErrorCode = 'token_store_error' | 'redis_unavailable';

/**
 * Every value `OAuthKitError.code` can take, across the package: the HTTP answers, the
 * start-up checks and the token store. `switch (err.code)` after `isOAuthKitError` narrows
 * to the one class.
 */
export type OAuthKitErrorCode = OAuthErrorCode | ConfigErrorCode | StoreErrorCode;
