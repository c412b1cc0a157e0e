import { OAuthError, oauthInit, type OAuthErrorOptions } from './oauth-error.js';
import { setErrorName } from './base.js';

// Errors about the shape of an HTTP request to a proxy endpoint. On the wire they are all
// `invalid_request` (RFC 6749 §5.2); `code` tells them apart for callers.

/**
 * 413: the body is over `bodyLimit`. Still an OAuth-shaped `invalid_request` so clients parse one
 * format. Always sent with `Connection: close`.
 */
export class RequestTooLargeError extends OAuthError {
  /** Always `"RequestTooLargeError"`. */
  declare readonly name: 'RequestTooLargeError';
  static {
    setErrorName(this, 'RequestTooLargeError');
  }
  /** Always `'request_too_large'`. */
  readonly code = 'request_too_large' as const;
  /** @param description - e.g. `The request body is larger than 8192 bytes`. */
  constructor(description = 'The request body is too large', options?: OAuthErrorOptions) {
    // The unread rest of the body must not be parsed as a next request on this connection.
    super(description, oauthInit(options, 'invalid_request', 413, { ...options?.headers, Connection: 'close' }));
  }
}

/** 405 with `Allow: POST`: the proxies are POST endpoints (RFC 6749 §3.2, RFC 7009 §2.1). */
export class MethodNotAllowedError extends OAuthError {
  /** Always `"MethodNotAllowedError"`. */
  declare readonly name: 'MethodNotAllowedError';
  static {
    setErrorName(this, 'MethodNotAllowedError');
  }
  /** Always `'method_not_allowed'`. */
  readonly code = 'method_not_allowed' as const;
  constructor(description = 'Use POST', options?: OAuthErrorOptions) {
    super(description, oauthInit(options, 'invalid_request', 405, { ...options?.headers, Allow: 'POST' }));
  }
}

/**
 * 415: the body is neither application/x-www-form-urlencoded (RFC 6749 §3.2) nor application/json
 * in UTF-8. Refused rather than guessed at, so a rate limiter in front of the proxy and the proxy
 * itself always agree on what the request says. Always sent with `Connection: close`.
 */
export class UnsupportedMediaTypeError extends OAuthError {
  /** Always `"UnsupportedMediaTypeError"`. */
  declare readonly name: 'UnsupportedMediaTypeError';
  static {
    setErrorName(this, 'UnsupportedMediaTypeError');
  }
  /** Always `'unsupported_media_type'`. */
  readonly code = 'unsupported_media_type' as const;
  constructor(description: string, options?: OAuthErrorOptions) {
    // The body is not read; closing keeps it from being parsed as a next request.
    super(description, oauthInit(options, 'invalid_request', 415, { ...options?.headers, Connection: 'close' }));
  }
}
